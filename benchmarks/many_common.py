"""What the many-files benchmark's scenarios share (benchmarks/many_files.py): the file
sets, the check of what landed in S3, the instruments put in a browser page (long tasks,
kernel websocket bytes), CPU readings, emptying a bucket.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.support import make_random_file

from . import measure as M

KiB = 1024
MANY_DIR = M.WORK_DIR / "many"

# --- file sets -------------------------------------------------------------------------------


@dataclass
class FileSet:
    """``count`` seeded random files of ``size`` bytes in ``folder`` (f00000.bin, ...),
    with the MD5 (a single PUT's ETag in S3 and moto) and sha256 of each."""

    count: int
    size: int
    folder: Path
    md5: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f"f{i:05d}.bin" for i in range(self.count)]

    @property
    def paths(self) -> list[str]:
        return [str(self.folder / n) for n in self.names]

    @property
    def total_bytes(self) -> int:
        return self.count * self.size

    @property
    def label(self) -> str:
        return f"{self.count:,} × {size_label(self.size)}"


def size_label(size: int) -> str:
    if size >= M.MiB and size % M.MiB == 0:
        return f"{size // M.MiB} MiB"
    if size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} B"


def parse_spec(spec: str) -> tuple[int, int]:
    """'5000x10KiB' -> (5000, 10240); sizes in binary units (benchmarks.measure)."""
    m = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\S+)\s*", spec)
    if not m:
        raise ValueError(f"not a file set: {spec!r} (e.g. 5000x10KiB)")
    return int(m.group(1)), M.parse_size(m.group(2))


def file_set(count: int, size: int) -> FileSet:
    """The file set, made once under benchmarks/_work/many/ and reused (a manifest holds
    the digests; a set whose manifest does not match is made again)."""
    folder = MANY_DIR / f"{count}x{size}"
    manifest = folder.parent / f"{count}x{size}.json"
    fs = FileSet(count, size, folder)
    if manifest.exists():
        data = json.loads(manifest.read_text())
        paths_ok = all(
            (folder / n).exists() and (folder / n).stat().st_size == size for n in fs.names
        )
        if data.get("count") == count and data.get("size") == size and paths_ok:
            fs.md5, fs.sha256 = data["md5"], data["sha256"]
            return fs
    folder.mkdir(parents=True, exist_ok=True)
    for name in fs.names:
        path = make_random_file(folder / name, size, seed=f"s3uw-many-{size}-{name}")
        data = path.read_bytes()
        fs.md5[name] = hashlib.md5(data).hexdigest()
        fs.sha256[name] = hashlib.sha256(data).hexdigest()
    manifest.write_text(
        json.dumps({"count": count, "size": size, "md5": fs.md5, "sha256": fs.sha256})
    )
    return fs


# --- S3 -----------------------------------------------------------------------------------------


def list_objects(client, bucket: str) -> dict[str, tuple[int, str]]:
    """key -> (size, ETag without quotes), every object of the bucket."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["Size"], o["ETag"].strip('"'))
    return out


def verify(client, bucket: str, keys: dict[str, str], fs: FileSet, sample: int) -> dict:
    """Every file (``keys``: name -> key) is in the bucket with the right size and an ETag
    equal to its MD5 (moto: the MD5 of the body it stored); the sha256 of ``sample`` of
    them (all if ``sample`` >= the count), read back, equals the file's."""
    t0 = time.time()
    stored = list_objects(client, bucket)
    missing = [n for n in fs.names if keys.get(n) not in stored]
    wrong_size = [n for n in fs.names if keys.get(n) in stored and stored[keys[n]][0] != fs.size]
    bad_md5 = [n for n in fs.names if keys.get(n) in stored and stored[keys[n]][1] != fs.md5[n]]
    present = [n for n in fs.names if keys.get(n) in stored]
    chosen = present if sample >= len(present) else random.Random(7).sample(present, sample)
    bad_sha = []
    for name in chosen:
        body = client.get_object(Bucket=bucket, Key=keys[name])["Body"].read()
        if hashlib.sha256(body).hexdigest() != fs.sha256[name]:
            bad_sha.append(name)
    ok = not (missing or wrong_size or bad_md5 or bad_sha) and len(present) == fs.count
    return {
        "ok": ok,
        "objects_in_bucket": len(stored),
        "files_found": len(present),
        "missing": len(missing),
        "missing_sample": missing[:5],
        "wrong_size": len(wrong_size),
        "etag_not_md5": len(bad_md5),
        "sha256_checked": len(chosen),
        "sha256_mismatch": len(bad_sha),
        "seconds": time.time() - t0,
    }


def drop_bucket(client, bucket: str) -> None:
    """Delete every object (1,000 per request) and the bucket: moto holds them in memory."""
    try:
        keys = list(list_objects(client, bucket))
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        client.delete_bucket(Bucket=bucket)
    except Exception as exc:  # a leftover bucket costs moto memory, not the results
        print(f"  (could not drop bucket {bucket}: {exc})", flush=True)


# --- the page's instruments ----------------------------------------------------------------------

# What a kernel websocket message is, as a JS arrow function: its Jupyter msg_type and, for
# a widget's custom message, the protocol kind it names (or a status message's state).
# Read off the text: the v1 protocol's frames are binary. Benchmark pages only.
WS_MESSAGE_KIND_JS = r"""((decoder) => (d) => {
  const text = typeof d === "string" ? d : d instanceof ArrayBuffer ? decoder.decode(d) : "";
  const type = /"msg_type":\s*"(\w+)"/.exec(text);
  const kind = /"kind":\s*"([\w-]+)"/.exec(text);
  const state = /"execution_state":\s*"(\w+)"/.exec(text);
  return (type ? type[1] : "?") + (kind ? ":" + kind[1] : state ? ":" + state[1] : "");
})(new TextDecoder())"""

# Installed in every page before its own scripts (benchmark-only):
# - every long task (> 50 ms on the main thread), from a buffered PerformanceObserver;
# - bytes of every WebSocket message sent and received, per socket URL (without query).
#   Counted in the page rather than from CDP Network.webSocketFrame* events: CDP would
#   ship every frame's payload (base64 for binary frames) to this process, gigabytes
#   when each record change re-sends the whole record list. A string counts its length
#   (the messages are JSON, ASCII but for file names), a binary message its byteLength.
PAGE_INSTRUMENTS = """
(() => {
  const S = (window.__mfBench = { long: [], ws: {} });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) S.long.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { S.longtaskError = String(e); }
  const size = (d) => (typeof d === "string" ? d.length : (d && (d.byteLength ?? d.size)) || 0);
  const kindOf = __WS_MESSAGE_KIND__;
  const kinds = (S.kinds = { sent: {}, received: {} });
  const tally = (side, d) => {
    const key = kindOf(d);
    kinds[side][key] = (kinds[side][key] || 0) + 1;
  };
  const Orig = window.WebSocket;
  if (!Orig) return;
  class Counting extends Orig {
    constructor(...args) {
      super(...args);
      const url = String(args[0]).split("?")[0];
      const c = (S.ws[url] = S.ws[url] || { sent: 0, received: 0, sent_n: 0, received_n: 0 });
      this.__mfCount = c;
      this.__mfKernel = url.includes("/api/kernels/");
      this.addEventListener("message", (e) => {
        c.received += size(e.data);
        c.received_n++;
        if (this.__mfKernel) tally("received", e.data);
      });
    }
    send(data) {
      this.__mfCount.sent += size(data);
      this.__mfCount.sent_n++;
      if (this.__mfKernel) tally("sent", data);
      return super.send(data);
    }
  }
  window.WebSocket = Counting;
})();
""".replace("__WS_MESSAGE_KIND__", WS_MESSAGE_KIND_JS)

_SNAPSHOT = (
    "() => ({now: performance.now(), ws: (window.__mfBench || {}).ws || {},"
    " kinds: JSON.parse(JSON.stringify((window.__mfBench || {}).kinds || {}))})"
)
_LONG_TASKS = "() => ((window.__mfBench || {}).long || [])"


def page_snapshot(page) -> dict:
    """The page's clock and websocket counters now."""
    return page.evaluate(_SNAPSHOT)


def page_window(page, before: dict, after: dict, url_part: str = "/api/kernels/") -> dict:
    """What the page did between two snapshots: long tasks that started in the window,
    and websocket bytes on sockets whose URL contains ``url_part`` (the kernel's)."""
    tasks = [d for start, d in page.evaluate(_LONG_TASKS) if before["now"] <= start <= after["now"]]
    ws = {"sent": 0, "received": 0, "sent_n": 0, "received_n": 0}
    for url, c in after["ws"].items():
        if url_part not in url:
            continue
        c0 = before["ws"].get(url, {})
        for k in ws:
            ws[k] += c[k] - c0.get(k, 0)
    return {
        "long_tasks": {
            "count": len(tasks),
            "over_200ms": sum(1 for d in tasks if d > 200),
            "max_ms": max(tasks, default=0.0),
            "total_ms": sum(tasks),
        },
        "websocket": ws,
        "websocket_kinds": {
            side: {
                k: n - before.get("kinds", {}).get(side, {}).get(k, 0)
                for k, n in after.get("kinds", {}).get(side, {}).items()
                if n - before.get("kinds", {}).get(side, {}).get(k, 0)
            }
            for side in ("sent", "received")
        },
    }


# --- CPU --------------------------------------------------------------------------------


def cpu_of(pids: dict[str, int | list[int]]) -> dict[str, float | None]:
    """utime + stime (s) of each named process (or group of processes: the sum), from
    /proc."""
    out: dict[str, float | None] = {}
    for name, pid in pids.items():
        if isinstance(pid, list):
            out[name] = sum(M.cpu_seconds(p) or 0.0 for p in pid)
        else:
            out[name] = M.cpu_seconds(pid)
    return out


def chromium() -> list[int]:
    """Every process of the benchmark's Chromium (browser, renderers, network, GPU)."""
    return list(M.chromium_pids())


def cpu_ms_per_file(before: dict, after: dict, count: int) -> dict[str, float | None]:
    return {
        name: (1000 * (after[name] - before[name]) / count)
        if before.get(name) is not None and after.get(name) is not None
        else None
        for name in before
    }
