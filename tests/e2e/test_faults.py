"""Faults survived (issue 11 item 2), with Chromium, JupyterLab and moto, through NetProxy:
a multipart file and 20 small files upload while 20% of PUTs are reset mid-body, 10% are
answered 503 SlowDown, one part stalls (no byte moving) and the network goes down in the
middle. Every file lands byte-identical, no multipart upload is left open, the stalled
part is cut and sent again long before the 60 s stall timeout, and the rows say "waiting
for the network" during the outage. The report (printed even without ``-s``) gives the
bytes sent again: what the proxy received for PUTs beyond the files' sizes.

The short version runs in ``make test``; the issue's own sizes (300 MB, a stall of a
minute, a 30 s outage) are marked ``slow_link`` (``pytest -m slow_link``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from s3_upload_widget._options import DEFAULT_CONCURRENCY
from s3_upload_widget._sizes import plan_parts

from .netproxy_faults import RequestHead, reset, s3_error, stall
from .support import make_random_file, sha256_bytes, sha256_file, wait_until, write_json
from .widget_helpers import MiB, RequestLog, assert_all_done, open_widget, wait_final

pytestmark = pytest.mark.e2e

WAITING = "waiting for the network"
ARTIFACTS = Path(__file__).parent / "_artifacts"
ABSOLUTE_STALL_S = 60  # the engine's stallTimeoutMs


@dataclass(frozen=True)
class Scenario:
    big: int  # bytes of the multipart file
    part_size: int | None  # None: the widget's choice (auto_part_size)
    small: int  # small files (single PUTs), 128 KiB-2 MiB each
    per_connection_bps: float  # NetProxy's cap per connection
    stall_s: float  # how long the stalled part's connection holds
    outage_s: float
    timeout_s: float  # for all records to be final


SHORT = Scenario(40 * MiB + 12345, 5 * MiB, 20, 8e6, 40, 8, 240)
FULL = Scenario(300_000_000, None, 20, 40e6, 60, 30, 900)
STALLED_PART = 3
FAULT_SEED = 8


def query(path_or_head) -> dict[str, list[str]]:
    q = path_or_head.query if isinstance(path_or_head, RequestHead) else path_or_head
    return parse_qs(q.partition("?")[2] if "?" in q else q)


# Every XHR of the page, as the page sees it: when it was sent, each upload progress event
# (ms, bytes), how it ended. For the report and for what Chromium does (the findings).
# XHR_TIMELINE_END returns it and puts XMLHttpRequest back (the page serves other tests).
XHR_TIMELINE = """() => {
  if (window.__s3uwXhr) return;
  const log = (window.__s3uwXhr = []);
  const send = XMLHttpRequest.prototype.send;
  const open = XMLHttpRequest.prototype.open;
  window.__s3uwXhrOriginal = { open, send };
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.__s3uw = { method, url: String(url), progress: [] };
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    const entry = this.__s3uw;
    if (entry && entry.method === "PUT") {
      entry.sent = performance.now();
      log.push(entry);
      const at = (e) => entry.progress.push([performance.now(), e.loaded]);
      this.upload.addEventListener("progress", at);
      for (const type of ["load", "error", "abort", "timeout"]) {
        this.addEventListener(type, () => {
          entry.end = [performance.now(), type, this.status];
        });
      }
    }
    return send.call(this, body);
  };
}"""
XHR_TIMELINE_END = """() => {
  const log = window.__s3uwXhr, original = window.__s3uwXhrOriginal;
  if (original) Object.assign(XMLHttpRequest.prototype, original);
  delete window.__s3uwXhr;
  delete window.__s3uwXhrOriginal;
  return log;
}"""


def part_of(rec) -> tuple[str, str] | None:
    """(uploadId, partNumber) of a part PUT record, else None."""
    q = query(rec.path)
    if rec.method != "PUT" or "partNumber" not in q:
        return None
    return q["uploadId"][0], q["partNumber"][0]


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(SHORT, id="short"),
        pytest.param(FULL, id="full", marks=[pytest.mark.slow_link, pytest.mark.timeout(1800)]),
    ],
)
def test_faults_survived(proxied_nb, proxy, s3, notebook_name, tmp_path, capsys, scenario):
    nb = proxied_nb
    sc = scenario
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    big = make_random_file(tmp_path / "big.bin", sc.big, seed="faults-big")
    smalls = [
        make_random_file(
            tmp_path / f"small-{i:02d}.bin", 128 * 1024 + (i * 97_531) % (2 * MiB), seed=f"s{i}"
        )
        for i in range(sc.small)
    ]
    sizes = {p.name: p.stat().st_size for p in [big, *smalls]}

    proxy.shape(per_connection_bps=sc.per_connection_bps)
    proxy.faults(
        [
            # The first PUT of part 3 stops taking bytes halfway and holds the connection.
            stall(
                sc.stall_s,
                then="reset",
                fraction=0.5,
                method="PUT",
                when=lambda h: query(h).get("partNumber") == [str(STALLED_PART)],
                times=1,
            ),
            reset(fraction=0.5, method="PUT", probability=0.2),
            # 10% of all PUTs: 0.125 of the 80% the reset rule let through.
            s3_error(503, "SlowDown", method="PUT", probability=0.125),
        ],
        # The n-th PUT meets the same fault on every run; with this seed the first 40 PUTs
        # meet 8 resets and 5 SlowDowns, spread out (seed 0: 2 resets).
        seed=FAULT_SEED,
    )
    part_size = f", part_size={sc.part_size}" if sc.part_size else ""
    open_widget(nb, notebook_name, bucket, f", multipart_threshold=5 * 1024**2{part_size}")
    page_puts = RequestLog(nb.page, s3.endpoint_url)
    nb.page.evaluate(XHR_TIMELINE)
    t0 = time.monotonic()
    nb.pick_files(0, [big, *smalls])

    # 1. The stalled part is cut by its siblings and sent again, long before 60 s.
    def stall_and_next():
        log = proxy.log()
        stalled = next((r for r in log if r.fault == "stall"), None)
        if stalled is None:
            return None
        key = part_of(stalled)
        again = [r for r in log if part_of(r) == key and r.started > stalled.started]
        return (stalled, again[0]) if again else None

    stalled, resent = wait_until(
        stall_and_next,
        timeout=ABSOLUTE_STALL_S + 30,
        page=nb.page,
        interval=0.25,
        message="the stalled part to be sent again",
    )
    cut_after = resent.started - stalled.started

    # 2. An outage in the middle of the big file, once the stalled part went again.
    part_count = plan_parts(sc.big, sc.part_size, DEFAULT_CONCURRENCY)[1]

    def parts_stored() -> int:
        return len({part_of(r) for r in proxy.log() if part_of(r) and r.status == 200})

    wait_until(
        lambda: parts_stored() >= part_count // 3,
        timeout=sc.timeout_s,
        page=nb.page,
        interval=0.25,
        message=f"{part_count // 3} parts stored before the outage",
    )
    stored_before = parts_stored()
    assert stored_before < part_count, "the big file ended before the outage: slow the link"
    outage_at = time.monotonic()
    proxy.offline(sc.outage_s)
    seen_waiting: list[float] = []
    statuses = nb.widget(0).locator(".s3uw-row .s3uw-status")
    while time.monotonic() < outage_at + sc.outage_s:
        if WAITING in statuses.all_text_contents():
            seen_waiting.append(time.monotonic() - outage_at)
        nb.page.wait_for_timeout(200)
    probes_during_outage = proxy.counters()["offline_resets"]

    records = wait_final(nb, 1 + sc.small, timeout=sc.timeout_s)
    elapsed = time.monotonic() - t0
    assert_all_done(records)
    waiting_after = WAITING in statuses.all_text_contents()

    # 3. Every byte in place, nothing left open.
    by_name = {r["name"]: r for r in records}
    assert set(by_name) == set(sizes)
    for path in [big, *smalls]:
        rec = by_name[path.name]
        assert rec["size"] == sizes[path.name], rec
        assert sha256_bytes(s3.get_bytes(bucket, rec["key"])) == sha256_file(path), path.name
    assert by_name[big.name]["multipart"] is True
    assert s3.list_multipart_uploads(bucket) == [], "a multipart upload was left open"

    # 4. The faults were applied, and what they cost.
    log = proxy.settle(timeout=sc.stall_s + 15)
    counts = proxy.counters()
    puts = [r for r in log if r.method == "PUT" and not r.outcome.startswith("refused")]
    faults = counts["faults"]
    resets = faults.get("reset", 0)
    slowdowns = faults.get("error", 0)
    offline = [r for r in log if r.outcome == "offline"]
    received = sum(r.body_received for r in puts)
    resent_bytes = received - sum(sizes.values())
    total = sum(sizes.values())
    report = {
        "scenario": "short" if sc is SHORT else "full",
        "seconds": round(elapsed, 1),
        "files": len(sizes),
        "bytes": total,
        "puts_at_proxy": len(puts),
        "puts_from_page": len(page_puts.methods("PUT")),
        "faults": faults,
        "resets_pct": round(100 * resets / len(puts), 1),
        "slowdown_pct": round(100 * slowdowns / len(puts), 1),
        "stalled_part_sent_again_after_s": round(cut_after, 1),
        "outage_s": sc.outage_s,
        "outage_requests_cut": len(offline),
        "outage_connections_refused": probes_during_outage,
        "waiting_shown_from_s": round(seen_waiting[0], 1) if seen_waiting else None,
        "waiting_shown_until_s": round(seen_waiting[-1], 1) if seen_waiting else None,
        "parts_stored_before_outage": f"{stored_before}/{part_count}",
        "resent_bytes": resent_bytes,
        "resent_pct": round(100 * resent_bytes / total, 1),
    }
    page_puts.stop()
    out = ARTIFACTS / f"faults-{report['scenario']}.json"
    xhrs = nb.page.evaluate(XHR_TIMELINE_END)
    write_json(out, {"report": report, "log": [r.as_dict() for r in log], "xhr": xhrs})
    with capsys.disabled():
        print(f"\nfaults survived: {json.dumps(report)} (proxy log: {out})")

    assert faults.get("stall") == 1, faults
    assert resets >= 2 and slowdowns >= 2, faults
    assert offline or probes_during_outage, "the outage cut nothing"
    assert resent_bytes > 0
    assert cut_after < 30, f"the stalled part was sent again only after {cut_after:.1f} s"
    assert cut_after >= 4, f"sent again after {cut_after:.1f} s: not by the stall rule?"
    assert seen_waiting, "no row said 'waiting for the network' during the outage"
    assert not waiting_after
