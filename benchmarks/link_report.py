"""results_link.json → link.md (benchmarks/link.py writes both; run this module to rewrite
the markdown from the JSON: ``python -m benchmarks.link_report [folder]``)."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
from pathlib import Path

from . import many_common as C
from . import measure as M

PROFILE_TEXT = {  # in the report's order
    "far": "80 ms round trip, 60 Mbit/s per connection, 400 Mbit/s in total",
    "far-mid": "as far; a file below the old default multipart threshold (100 MiB)",
    "home": "30 ms round trip, 50 Mbit/s in total (no cap per connection)",
    "far-many": "as far: 80 ms, 60 Mbit/s per connection, 400 Mbit/s in total",
    "loopback": "no added latency, 10 Gbit/s: Chromium's CPU with checksums on and off",
}


def _get(path: str):
    """A reader of one figure of a run: "a.b.c" looks up nested keys."""

    def read(r: dict):
        v = r
        for k in path.split("."):
            v = v.get(k) if isinstance(v, dict) else None
        return v

    return read


# (header, reader, format, scale): a table column; medians over runs in summaries.
COLUMNS = (
    ("pick→done s", _get("pick_to_done_s"), "{:.2f}", 1),
    ("MiB/s", _get("pick_to_done_mib_s"), "{:.1f}", 1),
    ("window s", _get("link.window_s"), "{:.2f}", 1),
    ("goodput Mbit/s", _get("link.goodput_mbit_s"), "{:.0f}", 1),
    ("% of link", _get("link.pct_of_link"), "{:.0f} %", 1),
    ("% of its conns", _get("link.pct_of_its_connections"), "{:.0f} %", 1),
    ("PUTs open at once (max)", _get("link.puts_open_max"), "{:.0f}", 1),
    ("PUTs", _get("link.puts"), "{:.0f}", 1),
    ("preflights / PUT", _get("link.preflights_per_put"), "{:.2f}", 1),
    ("turnaround ms", _get("link.turnaround_s.median"), "{:.0f}", 1000),
    ("preflight → PUT ms", _get("link.preflight_to_put_s.median"), "{:.0f}", 1000),
    ("gap ms", _get("link.gap_s.median"), "{:.0f}", 1000),
    ("S3 answer ms", _get("link.s3_put_answer_s.median"), "{:.0f}", 1000),
    ("sign round trips", _get("sign_round_trips"), "{:.0f}", 1),
    ("pick→first byte s", _get("link.pick_to_first_byte_s"), "{:.2f}", 1),
    ("CPU cores: Chromium", _get("cpu_cores.chromium"), "{:.2f}", 1),
    ("moto", _get("cpu_cores.moto"), "{:.2f}", 1),
    ("kernel", _get("cpu_cores.kernel"), "{:.2f}", 1),
    ("proxy", _get("cpu_cores.benchmark_process"), "{:.2f}", 1),
    ("others", _get("cpu_cores.others"), "{:.2f}", 1),
)


HOST_COLUMNS = (
    ("pick→done s", _get("pick_to_done_s"), "{:.2f}", 1),
    ("goodput Mbit/s", _get("link.goodput_mbit_s"), "{:.0f}", 1),
    ("% of link", _get("link.pct_of_link"), "{:.0f} %", 1),
    ("PUTs open at once (max)", _get("link.puts_open_max"), "{:.0f}", 1),
    ("PUT bodies moving at once (max)", _get("link.puts_sending_max"), "{:.0f}", 1),
    ("connections to the proxy", _get("link.connections"), "{:.0f}", 1),
)


def table(groups: list[tuple[str, list[dict]]], columns=COLUMNS) -> list[str]:
    """One row per (label, runs): the median of each column over the runs that are ok."""
    head = ["run", "ok", *[c[0] for c in columns]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, runs in groups:
        good = [r for r in runs if r.get("ok")] or runs
        ok = f"{sum(bool(r.get('ok')) for r in runs)}/{len(runs)}"
        cells = [label, ok if len(runs) > 1 else ("ok" if runs[0].get("ok") else "**no**")]
        for _, read, fmt, scale in columns:
            values = [read(r) for r in good if isinstance(read(r), (int, float))]
            cells.append(fmt.format(statistics.median(values) * scale) if values else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_DEFINED = (
    ("pick→done s", "widget: `set_input_files` → the last record `done` in the kernel (its "
     "status observer; the kernel signs, creates and completes multipart uploads and checks "
     "each object, talking to moto directly, not through the proxy). Uppy: the pick → "
     "`uppy.upload()` resolved (its own server creates and completes, also directly). curl: "
     "the process's run. XHR page: the URLs are presigned before the clock starts; start → "
     "the last answer, + `CompleteMultipartUpload` for a multipart upload"),
    ("MiB/s", "the files' bytes / pick→done"),
    ("window s", "**transfer window**: the first body byte of the first PUT → the last body "
     "byte of the last PUT, at the proxy"),
    ("goodput Mbit/s", "PUT body bytes / window (1 Mbit = 10^6 bits)"),
    ("% of link", "goodput / **C6 = min(total cap, 6 × per-connection cap)**: the link's "
     "capacity for a browser talking to one S3 host name (Chromium opens 6 connections per "
     "host). far: min(400, 6 × 60) = 360 Mbit/s; home: 50 Mbit/s. Runs over several host "
     "names can pass 100 % (far's total cap is 111 % of C6)"),
    ("% of its conns", "goodput / min(total cap, n × per-connection cap), n = the most PUT "
     "bodies moving at once in that run: how busy the run kept the connections it used "
     "(a single PUT: n = 1)"),
    ("PUTs open at once", "the most PUT requests open at the same moment at the proxy "
     "(request head received, answer not yet sent): the concurrency the client reached"),
    ("turnaround ms", "median; on one connection, a PUT's answer leaves the proxy → the next "
     "request on that connection arrives (the next part's or file's preflight, or its PUT): "
     "the client's own time between two requests (ETag, next URL, a wait for signing, "
     "scheduling)"),
    ("preflight → PUT ms", "median; a preflight's answer leaves the proxy → its PUT (same "
     "URL) arrives"),
    ("PUTs, preflights / PUT", "PUT requests, and `OPTIONS` requests / PUTs (CORS "
     "preflights: every presigned URL differs, so Chromium caches none)"),
    ("gap ms", "median; on one connection, a PUT's last body byte → the next PUT's first "
     "body byte: the answer's half round trip, the client's turnaround (ETag, next URL, "
     "maybe a wait for signing), a preflight when it used that connection, the next "
     "request's half round trip"),
    ("S3 answer ms", "median; a PUT's last body byte → its answer leaves the proxy, less the "
     "half round trip the proxy adds there: the S3 server's (moto's) time to take the body "
     "and answer. moto is one Python process: the kernel's own calls (listings to check "
     "what landed) slow its answers to the browser"),
    ("sign round trips", "widget: kernel requests that sign (`sign-files`, `sign-parts`, "
     "`sign`), counted by wrapping the kernel's request handlers (every kind is in the "
     "JSON); Uppy: calls to its signing endpoints (`/sign`, `/mpu/sign`); curl and the XHR "
     "page: signed beforehand (–)"),
    ("pick→first byte s", "the pick → the first PUT body byte at the proxy"),
    ("CPU cores", "CPU time / pick→done of: every Chromium process; moto (its process, "
     "tornado included); the kernel (its handlers run in the kernel even in runs of other "
     "clients: idle then); the benchmark's own process, which runs the proxy (and the "
     "Playwright driver and the pages' server); others: the rest of the machine (other "
     "people's jobs; the Jupyter server and curl are counted apart, in the JSON). 2 cores "
     "in all"),
)  # fmt: skip

DEFINITIONS = "\n".join(
    ["## What the columns mean", "",
     "Everything but pick→done and sign round trips is read from the shaping proxy's log "
     "(`tests/e2e/netproxy.py`), which sees every request the browser (or curl) sends to S3.",
     "", "| column | meaning |", "|---|---|"]
    + [f"| {k} | {v} |" for k, v in _DEFINED]
)  # fmt: skip

CAVEATS = """\
## Caveats

- **The link is a model.** The proxy adds the round trip per request (half before it
  forwards the request, half before the answer) and paces request bodies with token
  buckets per connection and in total. It does not model TCP: no handshake for a new
  connection (a real one costs a round trip, TLS one or two more), no slow start, no
  loss. Real links punish new and idle connections more than this one does.
- **Only the browser ↔ S3 path is shaped.** The kernel's websocket (signing) and the
  kernel's and Uppy server's own calls to S3 (create, complete, checks) go direct: a
  JupyterHub far from its users would add round trips to every signing request.
- **moto is the S3 server**, adapted (`benchmarks/link_moto.py`): served by tornado's
  HTTP/1.1 server so that connections stay alive as with S3, and each body's MD5 computed
  while it arrives, so that moto answers soon after the last byte as S3 does. Its answer
  still grows with the part when several parts end together on busy cores ("S3 answer",
  up to ~0.5 s for 25 MiB parts), which understates plans with several rounds of big parts.
  Its `CompleteMultipartUpload` joins the parts in memory (about a second per 300 MiB here),
  inside pick→done but outside the transfer window.
- **The proxy's pacing** lets a connection that was idle send 20 ms of bytes at once, and
  records a body's last byte when it reads it (before pacing it): a window can come out a
  few % above the cap (% of link > 100 % on one host name).
- **Profiles may come from different invocations** (`--update`): each says when it ran.
- **The machine is shared** (2 cores): each profile gives the load during its runs, and
  the CPU columns what every process group used. Under load, moto, the proxy and Chromium
  compete for the cores: compare within a pass, or by the medians.
"""


def _f(v, fmt="{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def describe(r: dict) -> str:
    """The progress line of a run."""
    if r.get("exception"):
        return f"{r['label']}: FAILED {r['exception']}"
    ln = r.get("link", {})
    return (
        f"{r['label']}: ok={r['ok']} {_f(r.get('pick_to_done_s'))} s "
        f"({_f(r.get('pick_to_done_mib_s'), '{:.1f}')} MiB/s); window {_f(ln.get('window_s'))} s,"
        f" {_f(ln.get('goodput_mbit_s'), '{:.0f}')} Mbit/s = "
        f"{_f(ln.get('pct_of_link'), '{:.0f}')} % of link; {ln.get('puts')} PUTs, "
        f"{_f(ln.get('preflights_per_put'))} preflights/PUT, {ln.get('puts_open_max')} open at "
        f"once, turnaround {_f(_get('turnaround_s.median')(ln), '{:.3f}')} s; "
        f"sign round trips {r.get('sign_round_trips', '–')}"
    )


def _pass(r: dict) -> str:
    return f" (pass {r['repeat'] + 1})" if r.get("repeat") else ""


def by_label(runs: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r)
    return list(groups.items())


def medians(runs: list[dict]) -> dict[str, dict]:
    """Per label: median pick→done MiB/s and % of link over its good runs."""
    out: dict[str, dict] = {}
    for r in runs:
        if not r.get("ok"):
            continue
        d = out.setdefault(r["label"], {"kind": r["kind"], "mib_s": [], "pct": [], "config":
                                        r.get("config", {})})  # fmt: skip
        d["mib_s"].append(r.get("pick_to_done_mib_s"))
        d["pct"].append(r.get("link", {}).get("pct_of_link"))
    for d in out.values():
        d["mib_s"] = statistics.median([v for v in d["mib_s"] if v] or [0])
        d["pct"] = statistics.median([v for v in d["pct"] if v] or [0])
    return out


def verdicts(name: str, runs: list[dict]) -> list[str]:
    m = medians(runs)
    widgets = {k: v for k, v in m.items() if v["kind"] == "widget"}
    uppy = next((v for v in m.values() if v["kind"] == "uppy"), None)
    if not widgets:
        return []
    # "widget defaults (...)": the defaults, with what they resolve to said in the label.
    default_label = next((k for k in widgets if k.startswith("widget defaults")), "")
    default = widgets.get(default_label)
    best_label = max(widgets, key=lambda k: widgets[k]["mib_s"])
    best = widgets[best_label]
    pairs = [(default_label, default)] + ([(best_label, best)] if best is not default else [])
    if name == "loopback":
        return checksum_cpu(runs)
    lines = [f"- Best widget settings here: **{best_label}**, {best['mib_s']:.1f} MiB/s "
             f"pick→done, {best['pct']:.0f} % of the link in its window."]  # fmt: skip
    if name != "far-many":
        for label, v in pairs:
            if v:
                ok = "met" if v["pct"] >= 90 else "not met"
                lines.append(f"- ≥ 90 % of the link (window), {label}: "
                             f"**{v['pct']:.0f} %** ({ok}).")  # fmt: skip
    if uppy and uppy["mib_s"]:
        need = 2.0 if name == "far-many" else 1.0
        for label, v in pairs:
            if v:
                x = v["mib_s"] / uppy["mib_s"]
                ok = "met" if x >= need else "not met"
                lines.append(f"- ≥ {need:g}× Uppy 5's throughput (pick→done), {label}: "
                             f"**{x:.2f}×** ({ok}).")  # fmt: skip
    return lines


def checksum_cpu(runs: list[dict]) -> list[str]:
    """Chromium's CPU-seconds per GiB by widget run (median): what checksums cost."""
    per: dict[str, list[float]] = {}
    for r in runs:
        cores, seconds = r.get("cpu_cores", {}).get("chromium"), r.get("pick_to_done_s")
        if r.get("ok") and cores and seconds:
            per.setdefault(r["label"], []).append(cores * seconds / (r["bytes"] / M.GiB))
    return [f"- {label}: **{statistics.median(v):.1f} Chromium CPU-s per GiB** "
            f"({', '.join(f'{x:.1f}' for x in v)})" for label, v in per.items()]  # fmt: skip


def multihost(runs: list[dict]) -> list[str]:
    xs = [r for r in runs if r["kind"] == "xhr" and r.get("config", {}).get("limit", 1) > 1]
    if not xs:
        return []
    return ["", "More than 6 in flight: the plain page's PUTs over one or more S3 host names "
            "(127.0.0.1, 127.0.0.2, ...: one moto). Chromium's connection limits show in the "
            "most requests open at once:", "", *table(by_label(xs), HOST_COLUMNS)]  # fmt: skip


def when(prof: dict) -> str:
    """When a profile ran and how busy the machine was."""
    loads = [r["load_after"][0] for r in prof.get("runs", []) if r.get("load_after")]
    out = []
    if prof.get("started"):
        t = dt.datetime.fromtimestamp(prof["started"], dt.timezone.utc)
        out.append(f"Run {t:%Y-%m-%d %H:%M} UTC, {prof.get('elapsed_s', 0) / 60:.1f} min")
    args = prof.get("invocation", {}).get("args")
    if args:
        out.append(f"`python -m benchmarks.link --profiles {args['profiles']} --repeats "
                   f"{args['repeats']}{' --update' if args.get('update') else ''}`")  # fmt: skip
    if loads:
        out.append(f"1-min load average after each run: {min(loads):.1f}–{max(loads):.1f} "
                   "(2 cores)")  # fmt: skip
    return "; ".join(out) + "."


def markdown(results: dict) -> str:
    env = results["environment"]
    v = env.get("versions", {})
    git = env.get("git", {})
    state = "complete" if results.get("complete") else "INCOMPLETE"
    shown = {k: results["args"][k] for k in ("profiles", "size_scale", "repeats")}
    curl = " ".join(str(v.get("curl", "")).split()[:2])
    dirty = " (uncommitted changes)" if git.get("dirty_files") else ""
    head = [
        "# Benchmark on a simulated link: the widget vs Uppy 5 vs curl vs a plain XHR page",
        "",
        f"Generated by `benchmarks/link.py`; last invocation ({state}, "
        f"{results.get('elapsed_s', 0) / 60:.1f} min) on {env.get('date')}, "
        f"arguments `{json.dumps(shown)}`; each profile says when it ran."
        " Findings and recommended defaults: [README.md](README.md#a-simulated-link).",
        "",
        f"Machine: {env.get('cpu_count')} CPUs, shared: load average {env.get('loadavg_start')} at "
        f"the start, {env.get('loadavg_end')} at the end (after each run: in the JSON). "
        f"{v.get('chromium', '')}; JupyterLab {v.get('jupyterlab')}, anywidget "
        f"{v.get('anywidget')}, moto {v.get('moto')}, Uppy: @uppy/core {v.get('@uppy/core')}, "
        f"@uppy/aws-s3 {v.get('@uppy/aws-s3')}; {curl}. "
        f"Commit {str(git.get('commit', ''))[:10]}{dirty}.",
    ]  # fmt: skip
    body: list[str] = []
    order = list(PROFILE_TEXT)
    profiles = results.get("profiles", {})
    for name in sorted(profiles, key=lambda n: order.index(n) if n in order else len(order)):
        prof = profiles[name]
        runs = prof.get("runs", [])
        size = C.size_label(prof["size"])
        body += ["", f"## {name}: {prof['count']} × {size}; {PROFILE_TEXT.get(name, '')}", ""]
        body += [when(prof), ""]
        passes = max((r.get("repeat", 0) for r in runs), default=0) + 1
        if passes > 1:
            body += [f"Medians over {passes} passes (the second in reverse order):", ""]
        body += [*table(by_label(runs)), "", *verdicts(name, runs), *multihost(runs)]
        if passes > 1:
            body += ["", "Every run:", "", *table([(r["label"] + _pass(r), [r]) for r in runs])]
        modules = {r.get("module") for r in runs if r.get("module")}
        if modules:
            body += ["", f"The kernel imported the widget from: {', '.join(sorted(modules))}."]
        failed = [r for r in runs if not r.get("ok")]
        for r in failed:
            why = r.get("exception") or r.get("errors") or r.get("verify") or r.get("stderr")
            body.append(f"- {r['label']}: not ok: `{str(why)[:300]}`")
    return "\n".join(head + body + ["", DEFINITIONS, "", CAVEATS])


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else M.BENCH_DIR
    results = json.loads((folder / "results_link.json").read_text())
    (folder / "link.md").write_text(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
