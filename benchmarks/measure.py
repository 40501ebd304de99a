"""What the benchmark measures with: moto in its own process with a request log, /proc
readings (memory, CPU) of the kernel, the Jupyter server and Chromium's processes, test
files, statistics.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.e2e.s3_servers import MotoS3Server
from tests.e2e.support import make_random_file, sha256_file

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / "_work"

MiB = 1024**2
GiB = 1024**3
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --- sizes ------------------------------------------------------------------------------

_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1024, "kib": 1024,
    "m": MiB, "mb": MiB, "mib": MiB,
    "g": GiB, "gb": GiB, "gib": GiB,
}  # fmt: skip


def parse_size(text: str) -> int:
    """'10MB' -> 10 MiB. Units are binary here (MB = MiB = 2**20 bytes): ipywidgets'
    FileUpload limit is 10 MiB, so a "10 MB" row must be 10 MiB to show where it breaks."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (e.g. 10MB, 100MB, 1GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def size_label(size: int) -> str:
    if size % GiB == 0:
        return f"{size // GiB} GiB"
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    return f"{size:,} B"


def mib_s(size: int, seconds: float | None) -> float | None:
    if not seconds or seconds <= 0:
        return None
    return size / MiB / seconds


# --- statistics ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(values: list[float], scale: float = 1.0) -> dict:
    """count, median, p99, mean, min, max of ``values`` times ``scale``."""
    if not values:
        return {"count": 0}
    v = [x * scale for x in values]
    return {
        "count": len(v),
        "median": statistics.median(v),
        "p99": percentile(v, 99),
        "mean": statistics.fmean(v),
        "min": min(v),
        "max": max(v),
    }


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --- test files ---------------------------------------------------------------------------


def test_file(size: int) -> tuple[Path, str]:
    """A seeded random file of ``size`` bytes under _work/files (made once, then reused)
    and its sha256 (cached beside it)."""
    path = WORK_DIR / "files" / f"random-{size}.bin"
    sidecar = path.with_suffix(".sha256")
    if path.exists() and path.stat().st_size == size and sidecar.exists():
        return path, sidecar.read_text().strip()
    make_random_file(path, size, seed=f"s3uw-bench-{size}")
    digest = sha256_file(path)
    sidecar.write_text(digest)
    return path, digest


def file_md5(path: Path) -> str:
    """MD5 of a file (cached beside it): a single PUT's ETag in S3 and moto."""
    sidecar = Path(path).with_suffix(".md5")
    if sidecar.exists() and sidecar.stat().st_mtime >= Path(path).stat().st_mtime:
        return sidecar.read_text().strip()
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(4 * MiB), b""):
            h.update(block)
    sidecar.write_text(h.hexdigest())
    return h.hexdigest()


def s3_object_sha256(client, bucket: str, key: str) -> tuple[str, int]:
    """sha256 and length of an object, streamed (a 1 GiB object is never held whole)."""
    h = hashlib.sha256()
    n = 0
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(4 * MiB):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def empty_bucket(client, bucket: str) -> None:
    """Delete every object and open multipart upload of ``bucket`` (moto keeps them in
    memory or in spooled temp files)."""
    with contextlib.suppress(Exception):
        for up in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    with contextlib.suppress(Exception):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])


# --- /proc --------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (KiB) of a process; {} if it is gone."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        return {}
    return out


def cpu_seconds(pid: int) -> float | None:
    """user + system CPU seconds of a process (all its threads)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_cpu_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (/proc/stat, all but
    idle and iowait): with the groups' own CPU time, tells how much else was running."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) for x in fields[:8]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK


def _proc_table() -> dict[int, tuple[int, str]]:
    table = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        table[int(p.name)] = (ppid, cmd)
    return table


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` (pid -> command line)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = table[child][1]
            todo.append(child)
    return out


def chromium_kind(cmd: str) -> str:
    if "--type=renderer" in cmd:
        return "renderer"
    if "--type=utility" in cmd and "NetworkService" in cmd:
        return "network"
    if "--type=gpu-process" in cmd:
        return "gpu"
    if "--type=zygote" in cmd:
        return "zygote"
    if "--type=" in cmd:
        return "utility"
    return "browser"


def chromium_pids(root: int = 0) -> dict[int, str]:
    """Chromium processes started (through Playwright's driver) below ``root`` (default:
    this process), pid -> kind. Other people's browsers on the machine are not counted."""
    root = root or os.getpid()
    return {
        pid: chromium_kind(cmd)
        for pid, cmd in descendants(root).items()
        if "chromium" in cmd.split(" ", 1)[0]
    }


class MemorySampler:
    """Samples VmRSS and CPU time of groups of processes every ``interval`` s in a thread
    (reading /proc is cheap and needs no Playwright call): keeps the baseline and peak
    RSS, and a CPU-time series to tell how busy each group was in a time window.

    ``groups``: name -> list of pids; a group's value is the sum over its processes.
    """

    def __init__(self, groups: dict[str, list[int]], interval: float = 0.1):
        self.groups = groups
        self.interval = interval
        self.baseline = self._rss()
        self.peak = dict(self.baseline)
        self.cpu_series: list[tuple[float, dict[str, float]]] = [(time.time(), self._cpu())]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> dict[str, int]:
        return {
            name: sum(proc_status(pid).get("VmRSS", 0) for pid in pids)
            for name, pids in self.groups.items()
        }

    def _cpu(self) -> dict[str, float]:
        out = {
            name: sum(cpu_seconds(pid) or 0.0 for pid in pids) for name, pids in self.groups.items()
        }
        out["system"] = system_cpu_busy_seconds()  # the whole machine, every process
        return out

    def _run(self):
        while not self._stop.wait(self.interval):
            for k, v in self._rss().items():
                self.peak[k] = max(self.peak.get(k, 0), v)
            self.cpu_series.append((time.time(), self._cpu()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.cpu_series.append((time.time(), self._cpu()))

    def cpu_between(self, name: str, t0: float, t1: float) -> dict | None:
        """CPU seconds group ``name`` used between the samples nearest to t0 and t1, and
        that as a share of one core (1.0 = one core busy all the time)."""
        if t1 <= t0 or len(self.cpu_series) < 2:
            return None
        a = min(self.cpu_series, key=lambda s: abs(s[0] - t0))
        b = min(self.cpu_series, key=lambda s: abs(s[0] - t1))
        if b[0] <= a[0]:
            return None
        used = b[1][name] - a[1][name]
        return {"cpu_s": used, "cores": used / (b[0] - a[0])}

    def result(self) -> dict:
        """Per group: baseline and peak RSS, and the peak's growth, in MiB."""
        return {
            name: {
                "baseline_mib": self.baseline[name] / 1024,
                "peak_mib": self.peak[name] / 1024,
                "peak_growth_mib": (self.peak[name] - self.baseline[name]) / 1024,
            }
            for name in self.groups
        }


# --- moto in its own process ----------------------------------------------------------------


class RemoteMoto(MotoS3Server):
    """The harness's MotoS3Server API (client, make_bucket, kernel_env, ...) for a moto
    server running in its own process (``python -m benchmarks.moto_server``) with a request
    log."""

    def start(self) -> RemoteMoto:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.moto_server"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ENDPOINT "):
            self.proc.kill()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self.endpoint_url = line.split(" ", 1)[1]
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, since: int = 0) -> list[dict]:
        with self._opener.open(f"{self.endpoint_url}/__bench__/log?since={since}", timeout=30) as r:
            return json.loads(r.read())

    def log_length(self) -> int:
        """The log's current length: records after it belong to what happens next."""
        with self._opener.open(f"{self.endpoint_url}/__bench__/count", timeout=30) as r:
            return json.loads(r.read())["count"]

    def stop(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is None:
            return
        with contextlib.suppress(Exception):
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=5)
        self.proc = None


def requests_for_bucket(records: list[dict], bucket: str) -> list[dict]:
    prefix = f"/{bucket}"
    return [r for r in records if r["path"] == prefix or r["path"].startswith(prefix + "/")]


def count_requests(records: list[dict]) -> dict:
    """What the server saw, by sender and method (PUT of parts vs single PUT, OPTIONS...)."""
    out: dict[str, int] = {}
    for r in records:
        kind = r["method"]
        if r["method"] == "PUT" and r.get("part"):
            kind = "PUT-part"
        elif r["method"] == "POST" and "uploadId" in r["query"]:
            kind = "POST-complete"
        elif r["method"] == "POST" and "uploads" in r["query"]:
            kind = "POST-create"
        out[f"{r['who']}:{kind}"] = out.get(f"{r['who']}:{kind}", 0) + 1
    return dict(sorted(out.items()))


# --- environment -----------------------------------------------------------------------------


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("jupyterlab", "jupyter_server", "ipywidgets", "anywidget", "moto", "boto3",
                 "botocore", "playwright", "werkzeug", "tornado", "s3-upload-widget"):  # fmt: skip
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    try:
        out["chromium"] = subprocess.run(
            ["chromium", "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except Exception as exc:
        out["chromium"] = f"unknown ({exc})"
    try:
        out["curl"] = subprocess.run(
            ["curl", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()[0]
    except Exception as exc:
        out["curl"] = f"unknown ({exc})"
    return out


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            ).stdout.rstrip()  # not strip(): `status --porcelain` lines start with a space
        except Exception:
            return ""

    js = REPO_ROOT / "s3_upload_widget" / "static" / "widget.js"
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty_files": [line[3:] for line in git("status", "--porcelain").splitlines()][:50],
        "widget_js_sha256": hashlib.sha256(js.read_bytes()).hexdigest() if js.exists() else None,
    }


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return ""
