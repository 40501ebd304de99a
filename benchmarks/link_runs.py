"""The runs of the simulated-link benchmark (benchmarks/link.py), each through the same
shaping proxy to the same moto server: the widget in JupyterLab, Uppy 5, ``curl -T``, and
a plain page's XHR PUTs (also over several S3 host names). Every run clears the proxy's
log first, then reads its figures from it (benchmarks/link_metrics.py), and checks what
landed in S3 (size and ETag, which moto computes from the bytes it stored).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import resource
import subprocess
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.browser import NotebookDriver

from . import cells
from . import many_common as C
from . import measure as M
from .link_metrics import summarize
from .pages import log

FINAL = ("done", "error", "cancelled", "unverified")

LINK_HELPERS = '''
import threading as _link_th
import s3_upload_widget as _link_pkg

def link_watch(path, n):
    """The records' status counts, written to a file when they change (a probe cell would
    queue behind the widget's own messages during the upload)."""
    def run():
        last = None
        while True:
            counts = {}
            for u in w.uploads:
                counts[u["status"]] = counts.get(u["status"], 0) + 1
            final = sum(counts.get(s, 0) for s in ("done", "error", "cancelled", "unverified"))
            state = {"counts": counts, "final": final, "records": sum(counts.values())}
            if state != last:
                last = dict(state)
                state["t"] = time.time()
                with open(path + ".tmp", "w") as fh:
                    json.dump(state, fh)
                os.replace(path + ".tmp", path)
            if state["records"] >= n and final >= n:
                return
            time.sleep(0.1)
    _link_th.Thread(target=run, daemon=True).start()

def link_state(bucket):
    rec = BENCH["runs"][bucket]
    hs = rec["handlers"]
    return {
        "module": _link_pkg.__file__,
        "requests": {k: len(v) for k, v in hs.items()},
        "handler_s": {k: sum(e["s"] for e in v) for k, v in hs.items()},
        "parts_signed": sum(e.get("n") or 0 for e in hs.get("sign-parts", [])),
        "done_t": [st["done"] for st in rec["status_t"].values() if "done" in st],
        "records": [{k: u.get(k) for k in ("name", "key", "size", "status", "error", "multipart")}
                    for u in w.uploads],
    }
'''


@dataclass
class Ctx:
    """What every run uses: servers, browser, the widget's notebook, the profile."""

    moto: object
    client: object
    proxy: object
    pages: object  # link_pages.PageServer
    browser: object
    lab: object
    nb: NotebookDriver | None = None
    kernel_pid: int | None = None
    profile: dict = field(default_factory=dict)
    timeout: float = 600
    work: Path = M.WORK_DIR / "link"


def widget_notebook(ctx: Ctx) -> NotebookDriver:
    """One JupyterLab page at localhost (so its websockets skip the proxy) with the
    instrumented widget notebook (cells.py + LINK_HELPERS); reused by every widget run."""
    context = ctx.browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    nb = NotebookDriver(context.new_page(), ctx.lab, host="localhost")
    nb.create("link", [cells.WIDGET_SETUP + LINK_HELPERS, cells.WIDGET_SHOW])
    nb.open()
    nb.run_cell(0, timeout=120)
    ctx.kernel_pid = int(nb.eval_json("os.getpid()"))
    return nb


def _result(label: str, kind: str, files: list, cfg: dict | None = None) -> dict:
    return {"label": label, "kind": kind, "config": cfg or {}, "files": len(files),
            "bytes": sum(Path(p).stat().st_size for p in files), "ok": False}  # fmt: skip


def cpu_snapshot(ctx: Ctx) -> dict:
    """CPU seconds so far of moto, Chromium (every process), the kernel, the Jupyter
    server, this process (the proxy, the page server, the driver) and curl (children),
    and of the whole machine."""
    out = {"moto": M.cpu_seconds(ctx.moto.pid), "jupyter_server": M.cpu_seconds(ctx.lab.proc.pid),
           "kernel": M.cpu_seconds(ctx.kernel_pid) if ctx.kernel_pid else None,
           "chromium": sum(M.cpu_seconds(p) or 0.0 for p in M.chromium_pids())}  # fmt: skip
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    out["benchmark_process"] = me.ru_utime + me.ru_stime
    out["curl"] = kids.ru_utime + kids.ru_stime
    out["machine"], out["t"] = M.system_cpu_busy_seconds(), time.monotonic()
    return out


def cpu_cores(before: dict, after: dict) -> dict:
    """Cores each used between two snapshots (1.0 = one core all along); "others": the
    rest of the machine (other people's jobs)."""
    dt = after["t"] - before["t"]
    out = {k: (after[k] - before[k]) / dt for k in before
           if k not in ("t",) and before[k] is not None and after[k] is not None}  # fmt: skip
    out["others"] = out["machine"] - sum(v for k, v in out.items() if k != "machine")
    return out


def _finish(ctx: Ctx, out: dict, t0_mono: float, cpu0: dict, hosts: int = 1, cpu1=None) -> None:
    out["cpu_cores"] = cpu_cores(cpu0, cpu1 or cpu_snapshot(ctx))
    out["link"] = summarize(ctx.proxy.settle(timeout=30), ctx.profile, t0=t0_mono, hosts=hosts)
    total = out.get("pick_to_done_s")
    if total:
        out["pick_to_done_mib_s"] = out["bytes"] / total / M.MiB
    out["load_after"] = M.loadavg()


def _failed(out: dict, exc: Exception) -> None:
    out["exception"] = f"{type(exc).__name__}: {exc}"
    out["traceback"] = traceback.format_exc()[-3000:]
    log(f"  run failed: {out['exception']}")


# --- checks ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def etag_of(path: str, part_size: int | None) -> str:
    """The ETag S3 (and moto) gives the file: MD5 of a single PUT; of a multipart upload
    in parts of ``part_size``, MD5 of the parts' MD5s and ``-N``."""
    if not part_size:
        return M.file_md5(Path(path))
    digests = []
    with open(path, "rb") as fh:
        while block := fh.read(part_size):
            digests.append(hashlib.md5(block).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def check_object(client, bucket: str, key: str, path: str, part_size: int | None) -> dict:
    head = client.head_object(Bucket=bucket, Key=key)
    etag, want = head["ETag"].strip('"'), etag_of(str(path), part_size)
    size = Path(path).stat().st_size
    ok = head["ContentLength"] == size and etag == want
    return {"ok": ok, "etag": etag, "expected_etag": want, "length": head["ContentLength"]}


def check_files(ctx: Ctx, bucket: str, files: list, keys: dict, part_size: int | None) -> dict:
    """Every file (``keys``: path -> key) stored whole: one object by ETag, many by
    many_common.verify (size, ETag = MD5, the sha256 of a sample)."""
    if len(files) == 1:
        (path,) = files
        if path not in keys:
            return {"ok": False, "missing": 1}
        return check_object(ctx.client, bucket, keys[path], path, part_size)
    folder = Path(files[0]).parent
    count, size = folder.name.split("x")
    fs = C.file_set(int(count), int(size))
    by_name = {Path(p).name: k for p, k in keys.items()}
    return C.verify(ctx.client, bucket, by_name, fs, sample=5)


def widget_part_size(size: int, cfg: dict) -> int | None:
    """The part size the widget uses for ``size`` bytes with ``cfg`` (None: one PUT)."""
    from s3_upload_widget._options import DEFAULT_CONCURRENCY, DEFAULT_MULTIPART_THRESHOLD
    from s3_upload_widget._sizes import plan_parts

    if size < cfg.get("multipart_threshold", DEFAULT_MULTIPART_THRESHOLD):
        return None
    # The runs spell connection_pools out (1 or 2): their kernel's "auto" would mean 1.
    pools = cfg.get("connection_pools", 1)
    pools = pools if isinstance(pools, int) else 1
    in_flight = cfg.get("concurrency", DEFAULT_CONCURRENCY) * cfg.get("hosts", 1) * pools
    return plan_parts(size, cfg.get("part_size"), in_flight)[0]


def widget_options(ctx: Ctx, cfg: dict) -> dict:
    """``cfg`` as the widget's keywords: ``hosts`` (N) becomes ``extra_endpoints``, N - 1
    other names of the same moto."""
    options = {k: v for k, v in cfg.items() if k != "hosts"}
    if cfg.get("hosts", 1) > 1:
        options["extra_endpoints"] = ctx.moto.aliases[: cfg["hosts"] - 1]
    return options


# --- the widget ------------------------------------------------------------------------------


def _wait_progress(page, path: Path, count: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(path.read_text())
        if state.get("records", 0) >= count and state.get("final", 0) >= count:
            return state
        page.wait_for_timeout(100)
    raise TimeoutError(f"not final after {timeout:.0f} s: {state}")


def widget_run(ctx: Ctx, files: list, cfg: dict, label: str) -> dict:
    """Pick ``files`` in a new widget made with ``cfg``; pick → every record done in the
    kernel (status observer, same clock); the kernel's requests by kind."""
    out = _result(label, "widget", files, cfg)
    nb = ctx.nb
    bucket = ctx.moto.make_bucket(cors_origins=[nb.origin])
    progress = ctx.work / f"{bucket}-progress.json"
    try:
        nb.exec(f"CFG = {dict(bucket=bucket, **widget_options(ctx, cfg))!r}")
        nb.run_cell(1, timeout=60)
        widget = nb.widget(1)
        widget.wait_for(state="visible", timeout=30_000)
        nb.page.wait_for_timeout(300)  # the view says hello to the kernel
        nb.exec(f"link_watch({str(progress)!r}, {len(files)})")
        ctx.proxy.clear()
        profiler = _start_profile(nb.page)
        nb.page.evaluate(
            "performance.clearResourceTimings(); performance.setResourceTimingBufferSize(1e5)"
        )
        if os.environ.get("S3UW_PROFILE"):
            nb.page.evaluate(XHR_LAG_JS)
        cpu0 = cpu_snapshot(ctx)
        if os.environ.get("S3UW_PROFILE"):
            nb.page.evaluate("window.__pickT = performance.now()")
        t0, m0 = time.time(), time.monotonic()
        widget.locator(".s3uw-input").set_input_files([str(p) for p in files])
        out["progress"] = _wait_progress(nb.page, progress, len(files), ctx.timeout)
        _stop_profile(profiler, label)
        if os.environ.get("S3UW_PROFILE"):  # when each request of the page started and ended
            timings = nb.page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.initiatorType === "
                "'xmlhttprequest').map(e => e.toJSON())"
            )
            name = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
            timing = Path(os.environ["S3UW_PROFILE"]) / f"{name}.timing.json"
            timing.write_text(json.dumps(timings))
            lag = nb.page.evaluate("window.__xhrLag || []")
            timing.with_suffix(".lag.json").write_text(json.dumps(lag))
            ws = nb.page.evaluate("({pick: window.__pickT, log: window.__wsLog || []})")
            timing.with_suffix(".ws.json").write_text(json.dumps(ws))
        cpu1 = cpu_snapshot(ctx)
        state = nb.eval_json(f"link_state({bucket!r})", timeout=60)
        out["module"] = state["module"]
        out["kernel_requests"] = state["requests"]
        out["kernel_handler_s"] = state["handler_s"]
        out["parts_signed"] = state["parts_signed"]
        sign = sum(state["requests"].get(k, 0) for k in ("sign", "sign-files", "sign-parts"))
        out["sign_round_trips"] = sign
        records = state["records"]
        out["statuses"] = {s: sum(r["status"] == s for r in records) for s in FINAL}
        out["errors"] = [r["error"] for r in records if r["error"]][:5]
        if state["done_t"]:
            out["pick_to_done_s"] = max(state["done_t"]) - t0
        _finish(ctx, out, m0, cpu0, hosts=cfg.get("hosts", 1), cpu1=cpu1)
        by_name = {Path(p).name: p for p in files}
        keys = {by_name[r["name"]]: r["key"] for r in records if r["status"] == "done"}
        part = widget_part_size(Path(files[0]).stat().st_size, cfg)
        out["verify"] = check_files(ctx, bucket, files, keys, part)
        out["ok"] = out["verify"]["ok"] and out["statuses"]["done"] == len(files)
    except Exception as exc:
        _failed(out, exc)
    finally:
        M.empty_bucket(ctx.client, bucket)
    return out


# --- Uppy 5 ----------------------------------------------------------------------------------


def uppy_run(ctx: Ctx, files: list, label: str = "Uppy 5 (defaults)") -> dict:
    """Uppy 5 on its page (localhost): pick → ``upload()`` resolved."""
    out = _result(label, "uppy", files)
    bucket = ctx.moto.make_bucket(cors_origins=[ctx.pages.origin])
    context = ctx.browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{ctx.pages.origin}/uppy.html?bucket={bucket}&prefix=uppy/")
        page.wait_for_function("window.__linkUppy && window.__linkUppy.ready", timeout=30_000)
        ctx.pages.take_counts()
        ctx.proxy.clear()
        cpu0 = cpu_snapshot(ctx)
        t0, m0 = time.time(), time.monotonic()
        page.locator("#files").set_input_files([str(p) for p in files])
        page.wait_for_function("window.__linkUppy.done", timeout=ctx.timeout * 1000, polling=100)
        state = page.evaluate("window.__linkUppy")
        out["page_state"] = {k: v for k, v in state.items() if k != "ready"}
        out["pick_to_done_s"] = state["t_complete"] / 1000 - t0
        counts = ctx.pages.take_counts()
        out["signing_requests"] = counts
        out["sign_round_trips"] = counts.get("/sign", 0) + counts.get("/mpu/sign", 0)
        _finish(ctx, out, m0, cpu0)
        size = Path(files[0]).stat().st_size
        part = max(5 * M.MiB, math.ceil(size / 10_000)) if size > 100 * M.MiB else None
        keys = {p: "uppy/" + Path(p).name for p in files}
        out["verify"] = check_files(ctx, bucket, files, keys, part)
        out["ok"] = out["verify"]["ok"] and state.get("failed") == 0
    except Exception as exc:
        _failed(out, exc)
    finally:
        context.close()
        M.empty_bucket(ctx.client, bucket)
    return out


# --- curl ------------------------------------------------------------------------------------


def curl_run(ctx: Ctx, files: list, parallel: int = 1, label: str | None = None) -> dict:
    """``curl -T`` of presigned PUTs through the proxy: one file, or every file of a set
    with ``--parallel --parallel-max N`` (N connections, no preflights)."""
    label = label or ("curl -T" if len(files) == 1 else f"curl -T --parallel-max {parallel}")
    out = _result(label, "curl", files, {"parallel": parallel})
    bucket = ctx.moto.make_bucket()
    keys = {p: "curl/" + Path(p).name for p in files}
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    try:
        common = ["curl", "-sS", "--fail", "-x", ctx.proxy.url, "-H", "Expect:"]
        url = functools.partial(ctx.client.generate_presigned_url, "put_object", ExpiresIn=3600)
        with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as cfg:
            for p in files:
                u = url(Params={"Bucket": bucket, "Key": keys[p]})
                cfg.write(f'upload-file = "{p}"\nurl = "{u}"\noutput = "/dev/null"\n')
        cmd = [*common, "-K", cfg.name]
        if len(files) > 1:
            cmd[1:1] = ["--parallel", "--parallel-max", str(parallel), "--parallel-immediate"]
        ctx.proxy.clear()
        cpu0 = cpu_snapshot(ctx)
        t0, m0 = time.time(), time.monotonic()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=ctx.timeout)
        out["pick_to_done_s"] = time.time() - t0
        out["returncode"], out["stderr"] = done.returncode, done.stderr[-500:]
        os.unlink(cfg.name)
        _finish(ctx, out, m0, cpu0)
        out["verify"] = check_files(ctx, bucket, files, keys, None)
        out["ok"] = out["verify"]["ok"] and done.returncode == 0
    except Exception as exc:
        _failed(out, exc)
    finally:
        M.empty_bucket(ctx.client, bucket)
    return out


# When the page called send() and when its load event ran, by URL: set against the
# resource timings (when the network stack sent and received), the gaps are the page's.
# Also each kernel websocket message (when, which way, its msg_type and protocol kind),
# and the pick (``window.__pickT``, set just before the files are picked).
XHR_LAG_JS = """(() => {
  window.__xhrLag = [];
  window.__wsLog = [];
  if (window.__xhrLagWrapped) return; // one page serves every run: wrap once
  window.__xhrLagWrapped = true;
  const kind = __WS_MESSAGE_KIND__;
  const wsSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!this.__logged) {
      this.__logged = true;
      const log = (e) => window.__wsLog.push([performance.now(), "in", kind(e.data)]);
      this.addEventListener("message", log);
    }
    window.__wsLog.push([performance.now(), "out", kind(data)]);
    return wsSend.call(this, data);
  };
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (m, url, ...rest) {
    this.__lag = { url: String(url), method: m };
    return open.call(this, m, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    const e = this.__lag;
    if (e) {
      e.send = performance.now();
      window.__xhrLag.push(e);
      this.addEventListener("loadend", () => { e.loadend = performance.now(); });
    }
    return send.apply(this, args);
  };
})()""".replace("__WS_MESSAGE_KIND__", C.WS_MESSAGE_KIND_JS)


def _start_profile(page):
    """With S3UW_PROFILE=folder: the page's JavaScript CPU profile of the run (CDP)."""
    if not os.environ.get("S3UW_PROFILE") or os.environ.get("S3UW_PROFILE_CPU") == "0":
        return None
    if os.environ.get("S3UW_TRACE"):  # a Chromium trace instead: style, layout, paint...
        page.context.browser.start_tracing(page=page, categories=["devtools.timeline"])
        return page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 500})
    cdp.send("Profiler.start")
    return cdp


def _stop_profile(cdp, label: str) -> None:
    if cdp is None:
        return
    folder = Path(os.environ["S3UW_PROFILE"])
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    if os.environ.get("S3UW_TRACE"):
        (folder / f"{name}.trace.json").write_bytes(cdp.context.browser.stop_tracing())
        return
    profile = cdp.send("Profiler.stop")["profile"]
    (folder / f"{name}.cpuprofile").write_text(json.dumps(profile))
    cdp.detach()


# --- a plain page's XHR PUTs, on one or more host names -----------------------------------------


def xhr_run(ctx: Ctx, files: list, *, limit: int, hosts: int = 1, part_size: int | None = None,
            label: str | None = None, post: bool = False, pools: int = 1) -> dict:  # fmt: skip
    """PUTs from the plain page (`link_pages.XHR_PAGE`), ``limit`` at once, URLs presigned
    here before the clock starts, spread over ``hosts`` names of the same S3 (127.0.0.1,
    127.0.0.2, ...; round robin). One file: a single PUT, or with ``part_size`` a multipart
    upload (created and completed here, directly to moto; the completion is timed in).
    ``post``: each small file POSTed as a form with a presigned POST policy (no preflight).
    ``pools``: 2 sends every other request with credentials (the browser's second pool of
    connections to each name: js/src/in-flight.js)."""
    size = Path(files[0]).stat().st_size
    parts = f"{part_size / M.MiB:.3g} MiB parts, " if part_size else ""
    how = "POST forms, " if post else parts
    names = f"{hosts} host name{'s' * (hosts > 1)}" + (", 2 pools" if pools > 1 else "")
    label = label or f"XHR, {how}{limit} in flight, {names}"
    cfg = {"limit": limit, "hosts": hosts, "part_size": part_size, "post": post, "pools": pools}
    out = _result(label, "xhr", files, cfg)
    bucket = ctx.moto.make_bucket(cors_origins=[ctx.pages.origin])
    endpoints = [ctx.moto.endpoint_url, *ctx.moto.aliases][:hosts]
    signers = [ctx.moto.client_for(e) for e in endpoints]
    keys = {p: "xhr/" + Path(p).name for p in files}
    context = ctx.browser.new_context()
    try:
        jobs, upload_id = [], None
        if part_size:
            key = keys[files[0]]
            upload_id = ctx.client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            for i in range(math.ceil(size / part_size)):
                params = {"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": i + 1}
                u = signers[i % hosts].generate_presigned_url("upload_part", Params=params)
                jobs.append({"i": i + 1, "file": 0, "start": i * part_size,
                             "end": min(size, (i + 1) * part_size), "url": u,
                             "credentials": pools > 1 and i % 2 == 1})  # fmt: skip
        else:
            for j, p in enumerate(files):
                params = {"Bucket": bucket, "Key": keys[p]}
                end = Path(p).stat().st_size
                job = {
                    "i": j,
                    "file": j,
                    "start": 0,
                    "end": end,
                    "credentials": pools > 1 and j % 2 == 1,
                }
                if post:
                    form = signers[j % hosts].generate_presigned_post(
                        bucket, keys[p], Conditions=[["content-length-range", end, end]]
                    )
                    job.update(url=form["url"], fields=form["fields"])
                else:
                    u = signers[j % hosts].generate_presigned_url("put_object", Params=params)
                    job["url"] = u
                jobs.append(job)
        page = context.new_page()
        page.goto(f"{ctx.pages.origin}/xhr.html")
        page.locator("#files").set_input_files([str(p) for p in files])
        ctx.proxy.clear()
        cpu0 = cpu_snapshot(ctx)
        t0, m0 = time.time(), time.monotonic()
        page.evaluate("([j, l]) => window.__link.start('r', j, l, true)", [jobs, limit])
        page.wait_for_function("window.__link.runs.r.done", timeout=ctx.timeout * 1000, polling=100)
        run = page.evaluate("window.__link.runs.r")
        results = run["results"]
        out["statuses"] = {str(s): sum(r["status"] == s for r in results) for s in
                           sorted({r["status"] for r in results})}  # fmt: skip
        if upload_id:
            parts = sorted((r["i"], r["etag"]) for r in results)
            t_c = time.time()
            ctx.client.complete_multipart_upload(
                Bucket=bucket, Key=keys[files[0]], UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )  # fmt: skip
            out["complete_s"] = time.time() - t_c
        out["pick_to_done_s"] = time.time() - t0 if upload_id else run["t1"] / 1000 - t0
        _finish(ctx, out, m0, cpu0, hosts=hosts)
        out["verify"] = check_files(ctx, bucket, files, keys, part_size)
        # moto answers a form POST without CORS headers (status 0 in the page, the bytes
        # stored all the same); S3, with POST in the bucket's CORS rule, sends them.
        answered = all(r["status"] in (200, 204) or (post and r["status"] == 0) for r in results)
        out["ok"] = out["verify"]["ok"] and answered
    except Exception as exc:
        _failed(out, exc)
    finally:
        context.close()
        M.empty_bucket(ctx.client, bucket)
    return out
