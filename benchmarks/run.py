"""Benchmark: S3UploadWidget vs curl vs ipywidgets.FileUpload, on loopback.

    .venv/bin/python benchmarks/run.py                      # full run (~20-30 min)
    .venv/bin/python benchmarks/run.py --quick              # 10 MB + 100 MB, no sweep (<5 min)
    .venv/bin/python benchmarks/run.py --sizes 10MB,100MB,1GB --no-sweep

A real JupyterLab in headless Chromium (tests/e2e/harness.py) uploads seeded random
files to moto's S3 server, which runs in its own process with a request log
(benchmarks/moto_server.py). Writes benchmarks/results.json (every measurement) and
benchmarks/results.md (tables). What each column means: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))  # the repo root: tests.e2e.harness
sys.path.insert(0, str(BENCH_DIR))

import cells  # noqa: E402
import measure as M  # noqa: E402  (imports the harness first: moto's CORS flag)
import report  # noqa: E402

from tests.e2e.harness import (  # noqa: E402
    JupyterServer,
    NotebookDriver,
    launch_browser,
)

MiB = M.MiB
FINAL = ("done", "error", "cancelled")
BIG_WS = '{"websocket_max_message_size": 1073741824}'


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Page:
    """One browser context + page + notebook (so one kernel), with the page's requests
    (Playwright's view) and a CDP session for JS heap metrics."""

    counter = 0

    def __init__(self, browser, jupyter, cell_sources, *, init_script=None, name="bench"):
        Page.counter += 1
        self.jupyter = jupyter
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(30_000)
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.requests: list[tuple[float, str, str]] = []
        self.page.on("request", lambda r: self.requests.append((time.time(), r.method, r.url)))
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"[:500]))
        self.nb = NotebookDriver(self.page, jupyter)
        self.nb.create(f"{name}-{Page.counter}", cell_sources)
        self.nb.open()
        self.nb.run_cell(0, timeout=120)
        self.kernel_pid = int(self.nb.eval_json("os.getpid()"))
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")

    def metrics(self) -> dict:
        """The page's CDP Performance metrics (main-thread durations in s, counts)."""
        try:
            return {
                m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]
            }
        except Exception:
            return {}

    def js_heap_mib(self) -> float | None:
        try:
            metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        except Exception:
            return None
        for m in metrics:
            if m["name"] == "JSHeapUsedSize":
                return m["value"] / MiB
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nb.shutdown_kernel()
        with contextlib.suppress(Exception):
            self.context.close()


def page_renderer_pid() -> int | None:
    """The renderer with the most memory: the JupyterLab page (one page is open)."""
    renderers = [pid for pid, kind in M.chromium_pids().items() if kind == "renderer"]
    if not renderers:
        return None
    return max(renderers, key=lambda pid: M.proc_status(pid).get("VmRSS", 0))


def part_pipeline(puts: list[dict], preflights: list[dict], concurrency: int) -> dict:
    """Where a part's time goes besides its bytes, from the server's log (part numbers
    match each OPTIONS to its PUT):
    - preflight_s: moto's time to answer the OPTIONS;
    - preflight_to_put_s: the preflight's answer -> the PUT arrives (browser turnaround);
    - refill_s: a PUT ends -> the OPTIONS of the part that takes its slot arrives (the
      engine's turnaround: ETag, next signed URL, slice, XHR; includes waiting for a
      "sign-parts" answer when the batch was not signed in time)."""
    if len(puts) < 2:
        return {}
    opt_by_part = {r["part"]: r for r in preflights if r.get("part")}
    to_put = [
        p["t0"] - opt_by_part[p["part"]]["t1"]
        for p in puts
        if p.get("part") in opt_by_part and p["status"] < 300
    ]
    ends = sorted(p["t1"] for p in puts)
    starts = sorted(
        (opt_by_part[p["part"]]["t0"] if p.get("part") in opt_by_part else p["t0"]) for p in puts
    )
    refill = [starts[i] - ends[i - concurrency] for i in range(concurrency, len(starts))]
    return {
        "preflight_s": M.summary([r["t1"] - r["t0"] for r in preflights]),
        "preflight_to_put_s": M.summary(to_put),
        "refill_s": M.summary(refill),
    }


def hwm_kib(pid: int) -> int | None:
    return M.proc_status(pid).get("VmHWM")


class Bench:
    def __init__(self, args, moto: M.RemoteMoto, results: dict, save):
        self.args = args
        self.moto = moto
        self.client = moto.client()
        self.results = results
        self.save = save

    # --- the widget -----------------------------------------------------------------

    def widget_page(self, browser, lab) -> Page:
        return Page(browser, lab, [cells.WIDGET_SETUP, cells.WIDGET_SHOW], name="widget")

    def widget_run(
        self,
        pg: Page,
        lab,
        size: int,
        path: Path,
        sha: str,
        cfg: dict,
        *,
        label: str,
        fresh_kernel: bool,
        after_pick=None,
    ) -> dict:
        """Pick ``path`` in a new widget made with ``cfg``; time it from the pick to
        ``done`` in the kernel; count requests; sample memory; check the bytes."""
        nb, page = pg.nb, pg.page
        bucket = self.moto.make_bucket(cors_origins=[lab.origin])
        out: dict = {"label": label, "size": size, "config": dict(cfg), "bucket": bucket,
                     "fresh_kernel": fresh_kernel, "ok": False}  # fmt: skip
        try:
            nb.exec(f"CFG = {dict(bucket=bucket, **cfg)!r}")
            nb.run_cell(1, timeout=60)
            widget = nb.widget(1)
            widget.wait_for(state="visible", timeout=30_000)
            rows = widget.locator(".s3uw-row")
            if rows.count():
                raise RuntimeError("the new widget already shows rows: not the new widget?")
            page.wait_for_timeout(300)  # let the controller say hello to the kernel

            renderer = page_renderer_pid()
            kinds = M.chromium_pids()
            groups = {
                "renderer": [renderer] if renderer else [],
                "chromium": list(kinds),
                # where Chromium spends its CPU: the page, the network service, the
                # browser process (blob/file reads), the GPU process (compositing)
                "chromium_network": [p for p, k in kinds.items() if k == "network"],
                "chromium_browser": [p for p, k in kinds.items() if k == "browser"],
                "chromium_gpu": [p for p, k in kinds.items() if k == "gpu"],
                "kernel": [pg.kernel_pid],
                "jupyter_server": [lab.proc.pid],
                "moto": [self.moto.pid],
            }
            k_hwm0, s_hwm0 = hwm_kib(pg.kernel_pid), hwm_kib(lab.proc.pid)
            mark = self.moto.log_length()
            req0 = len(pg.requests)
            js0 = pg.js_heap_mib()
            js_peak = js0 or 0.0
            metrics0 = pg.metrics()
            out["load_before"] = M.loadavg()
            deadline = time.monotonic() + 180 + size / (2 * MiB)  # >= 2 MiB/s or fail
            statuses: list[str] = []
            last_js = 0.0
            with M.MemorySampler(groups) as sampler:
                t_pick = time.time()
                nb.pick_files(1, [path])
                if after_pick is not None:  # experiments only (e.g. hide the view)
                    after_pick(pg)
                while True:
                    statuses = rows.evaluate_all("rs => rs.map(r => r.dataset.status)")
                    if statuses and all(s in FINAL for s in statuses):
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"upload not final after the deadline: {statuses}")
                    if time.monotonic() - last_js > 0.5:
                        js = pg.js_heap_mib()
                        if js:
                            js_peak = max(js_peak, js)
                        last_js = time.monotonic()
                    page.wait_for_timeout(100)
                t_seen = time.time()
            out["dom_rows"] = rows.evaluate_all(
                "rs => rs.map(r => ({status: r.dataset.status, "
                "error: (r.querySelector('.s3uw-error') || {}).textContent || ''}))"
            )
            js1 = pg.js_heap_mib()
            metrics1 = pg.metrics()
            # The page's main thread during the upload: JS vs style/layout (the view).
            out["page_main_thread"] = {
                k: metrics1.get(k, 0) - metrics0.get(k, 0)
                for k in ("TaskDuration", "ScriptDuration", "LayoutDuration",
                          "RecalcStyleDuration", "LayoutCount", "RecalcStyleCount")
            }  # fmt: skip
            k_hwm1, s_hwm1 = hwm_kib(pg.kernel_pid), hwm_kib(lab.proc.pid)
            out["load_after"] = M.loadavg()

            # What the kernel recorded (read once the upload is over: a probe cell run
            # during the upload would hold up the widget's messages).
            kernel = nb.eval_json(
                f"{{'rec': BENCH['runs'][{bucket!r}], 'uploads': w.uploads, "
                f"'moto_complete': BENCH['moto_complete'][-5:]}}",
                timeout=60,
            )
            (record,) = kernel["uploads"]
            if record["status"] not in FINAL:
                # The row is final in the page but not yet in the kernel (e.g. the browser
                # failed the file and its "fail" request is on its way): wait for it.
                record = nb.wait_for_kernel(
                    "w.uploads[0]", lambda u: u["status"] in FINAL, timeout=60, interval=0.5
                )
                kernel = nb.eval_json(
                    f"{{'rec': BENCH['runs'][{bucket!r}], 'uploads': w.uploads, "
                    f"'moto_complete': BENCH['moto_complete'][-5:]}}",
                    timeout=60,
                )
                (record,) = kernel["uploads"]
            st = kernel["rec"]["status_t"].get(record["id"], {})
            out.update(status=record["status"], error=record["error"], key=record["key"],
                       etag=record["etag"], multipart=record["multipart"])  # fmt: skip
            t_up, t_comp, t_done = st.get("uploading"), st.get("completing"), st.get("done")
            handlers = kernel["rec"]["handlers"]
            out["timing"] = {
                "t_pick": t_pick,
                "kernel_status_t": st,
                "total_s": (t_done - t_pick) if t_done else None,
                "setup_s": (t_up - t_pick) if t_up else None,  # add-files + sign (+ create)
                "parts_s": (t_comp - t_pick) if t_comp else None,  # pick -> complete request
                "completion_s": (t_done - t_comp) if (t_done and t_comp) else None,
                "seen_in_browser_s": t_seen - t_pick,
                "kernel_complete_multipart_s": [
                    e["s"] for e in kernel["rec"]["complete_multipart"]
                ],
                "boto_complete_multipart_upload_s": [
                    e["s"] for e in kernel["moto_complete"] if e["key"] == record["key"]
                ],
                "handler_s": {k: M.summary([e["s"] for e in v]) for k, v in handlers.items()},
                "sign_parts_batches": [[e["n"], e["s"]] for e in handlers.get("sign-parts", [])],
                "presign_part_s": M.summary([e["s"] for e in kernel["rec"]["presign_part"]]),
            }
            # What the S3 server saw (every request, preflights included).
            server = M.requests_for_bucket(self.moto.log(mark), bucket)
            browser_reqs = [r for r in server if r["who"] == "browser"]
            puts = [r for r in browser_reqs if r["method"] == "PUT"]
            preflights = [r for r in browser_reqs if r["method"] == "OPTIONS"]
            completes = [r for r in server if r["method"] == "POST" and "uploadId" in r["query"]]
            out["requests"] = {
                "server_counts": M.count_requests(server),
                "puts": len(puts),
                "preflights": len(preflights),
                "puts_failed": sum(1 for r in puts if r["status"] >= 300),
                "parts": len({r["part"] for r in puts if r["part"]}),
                "playwright_puts": sum(
                    1
                    for _, m, u in pg.requests[req0:]
                    if m == "PUT" and u.startswith(self.moto.endpoint_url)
                ),
                "playwright_options": sum(
                    1
                    for _, m, u in pg.requests[req0:]
                    if m == "OPTIONS" and u.startswith(self.moto.endpoint_url)
                ),
            }
            if browser_reqs:
                first = min(r["t0"] for r in browser_reqs)
                last = max(r["t1"] for r in puts) if puts else first
                out["timing"]["transfer_s"] = last - first  # first preflight -> last PUT done
                # PUTs in flight on average over that window (concurrency actually used).
                out["timing"]["puts_in_flight_avg"] = (
                    sum(r["t1"] - r["t0"] for r in puts) / (last - first) if last > first else None
                )
                out["timing"]["server_put_s"] = M.summary([r["t1"] - r["t0"] for r in puts])
                out["timing"]["server_preflight_s"] = M.summary(
                    [r["t1"] - r["t0"] for r in preflights]
                )
            out["timing"]["server_complete_s"] = [r["t1"] - r["t0"] for r in completes]
            out["timing"]["part_pipeline"] = part_pipeline(
                puts, preflights, cfg.get("concurrency", 4)
            )
            t_parts_end = t_comp or t_seen
            out["cpu"] = {
                name: sampler.cpu_between(name, t_pick, t_parts_end)
                for name in (
                    "moto",
                    "chromium",
                    "renderer",
                    "chromium_network",
                    "chromium_browser",
                    "chromium_gpu",
                    "kernel",
                    "jupyter_server",
                    "system",
                )
            }
            ours = sum((out["cpu"][k] or {}).get("cores", 0)
                       for k in ("moto", "chromium", "kernel", "jupyter_server"))  # fmt: skip
            if out["cpu"]["system"]:
                # CPU used by everything else on the machine (other people's jobs, the
                # Playwright driver, this process) while the parts were uploading.
                out["cpu"]["others_cores"] = out["cpu"]["system"]["cores"] - ours
            out["memory"] = {
                "kernel_hwm_before_mib": k_hwm0 / 1024 if k_hwm0 else None,
                "kernel_hwm_growth_mib": (k_hwm1 - k_hwm0) / 1024 if k_hwm0 and k_hwm1 else None,
                "jupyter_server_hwm_growth_mib": (s_hwm1 - s_hwm0) / 1024
                if s_hwm0 and s_hwm1
                else None,
                "sampled_rss": sampler.result(),
                "js_heap_mib": {"before": js0, "peak_sampled": js_peak, "after": js1},
            }
            # The bytes: sha256 of the stored object against the file.
            if record["status"] == "done":
                t0 = time.time()
                got, n = M.s3_object_sha256(self.client, bucket, record["key"])
                out["verify"] = {
                    "sha256_match": got == sha,
                    "length": n,
                    "seconds": time.time() - t0,
                }
                out["ok"] = got == sha and n == size
            tm = out["timing"]
            out["throughput_mib_s"] = {
                "total": M.mib_s(size, tm["total_s"]),
                "parts": M.mib_s(size, tm["parts_s"]),
                "transfer": M.mib_s(size, tm.get("transfer_s")),
            }
        except Exception as exc:
            out["exception"] = f"{type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc()[-3000:]
            out["console_tail"] = pg.console[-20:]
            log(f"  widget run failed: {out['exception']}")
        finally:
            M.empty_bucket(self.client, bucket)
        return out

    # --- curl -----------------------------------------------------------------------

    def curl_run(self, size: int, path: Path, sha: str, *, full_check: bool = True) -> dict:
        """``curl -T`` of the same file to a presigned PUT URL (Content-Length signed).
        Checked by sha256 of the stored object, or (``full_check=False``, in the sweeps)
        by its ETag, the MD5 of the body moto received."""
        bucket = self.moto.make_bucket()
        key = f"curl/{path.name}"
        out: dict = {"size": size, "bucket": bucket, "ok": False}
        try:
            url = self.client.generate_presigned_url(
                "put_object",
                Params={"Bucket": bucket, "Key": key, "ContentLength": size},
                ExpiresIn=900,
            )
            cmd = ["curl", "-sS", "--noproxy", "*", "-H", "Expect:", "-T", str(path),
                   "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url]  # fmt: skip
            out["load_before"] = M.loadavg()
            with M.MemorySampler({"moto": [self.moto.pid]}) as sampler:
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.time()
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                t1 = time.time()
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            code, total = [*proc.stdout.split(), "0", "0"][:2]
            out.update(
                http_status=int(code),
                seconds=t1 - t0,
                curl_time_total_s=float(total),
                stderr=proc.stderr[-500:],
                cpu={
                    "moto": sampler.cpu_between("moto", t0, t1),
                    "system": sampler.cpu_between("system", t0, t1),
                    # curl's own CPU (the only child waited for in that window)
                    "curl_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
                },
            )
            out["throughput_mib_s"] = M.mib_s(size, t1 - t0)
            if int(code) == 200 and full_check:
                got, n = M.s3_object_sha256(self.client, bucket, key)
                out["verify"] = {"sha256_match": got == sha, "length": n}
                out["ok"] = got == sha and n == size
            elif int(code) == 200:
                head = self.client.head_object(Bucket=bucket, Key=key)
                md5_ok = head["ETag"].strip('"') == M.file_md5(path)
                out["verify"] = {"etag_is_md5": md5_ok, "length": head["ContentLength"]}
                out["ok"] = md5_ok and head["ContentLength"] == size
        except Exception as exc:
            out["exception"] = f"{type(exc).__name__}: {exc}"
            log(f"  curl run failed: {out['exception']}")
        finally:
            M.empty_bucket(self.client, bucket)
        return out

    # --- ipywidgets.FileUpload (today's path) -------------------------------------------

    def fileupload_run(self, browser, lab, size: int, path: Path, sha: str, server: str) -> dict:
        bucket = self.moto.make_bucket()
        out: dict = {"size": size, "server": server, "ok": False, "arrived": False}
        pg = None
        try:
            pg = Page(browser, lab, cells.fileupload_cells(bucket),
                      init_script=cells.WS_CLOSE_RECORDER, name="fileupload")  # fmt: skip
            nb, page = pg.nb, pg.page
            button = nb.cell(0).locator(".widget-upload").first
            button.wait_for(state="visible", timeout=30_000)
            renderer = page_renderer_pid()
            groups = {
                "renderer": [renderer] if renderer else [],
                "chromium": list(M.chromium_pids()),
                "kernel": [pg.kernel_pid],
                "jupyter_server": [lab.proc.pid],
            }
            k_hwm0, s_hwm0 = hwm_kib(pg.kernel_pid), hwm_kib(lab.proc.pid)
            js0 = pg.js_heap_mib()
            closes_before = len(page.evaluate("window.__s3uwBenchWs || []"))
            with M.MemorySampler(groups) as sampler:
                with page.expect_file_chooser() as chooser:
                    button.click()
                t_pick = time.time()
                chooser.value.set_files(str(path))
                ws_closed = None
                events: list = []
                # At default settings the websocket closes (1009) as soon as the browser
                # sends the message: watch for that before probing the kernel (a probe
                # sent on a dying websocket would wait for nothing).
                grace = time.monotonic() + 3 + size / (100 * MiB)
                while time.monotonic() < grace and ws_closed is None:
                    closes = page.evaluate("window.__s3uwBenchWs || []")[closes_before:]
                    ws_closed = closes[0] if closes else None
                    page.wait_for_timeout(200)
                if ws_closed is not None:
                    page.wait_for_timeout(4000)  # Lab reconnects the kernel
                    with contextlib.suppress(Exception):
                        events = nb.eval_json("FU['events']", timeout=20)
                        out["kernel_probe_after_close"] = "ok"
                else:
                    deadline = time.monotonic() + 60 + size / (2 * MiB)
                    while time.monotonic() < deadline and not events:
                        try:
                            # Queued behind the comm message: answers once it is handled.
                            events = nb.eval_json("FU['events']", timeout=60 + size / (2 * MiB))
                        except Exception as exc:
                            out.setdefault("probe_errors", []).append(str(exc)[:300])
                        if not events:
                            closes = page.evaluate("window.__s3uwBenchWs || []")[closes_before:]
                            ws_closed = closes[0] if closes else None
                            if ws_closed is not None:
                                break
                            page.wait_for_timeout(500)
                t_end = time.time()
            out["ws_closes"] = page.evaluate("window.__s3uwBenchWs || []")[closes_before:]
            out["button_text_after"] = (button.text_content() or "").strip()
            k_hwm1, s_hwm1 = hwm_kib(pg.kernel_pid), hwm_kib(lab.proc.pid)
            out["memory"] = {
                "kernel_hwm_growth_mib": (k_hwm1 - k_hwm0) / 1024 if k_hwm0 and k_hwm1 else None,
                "jupyter_server_hwm_growth_mib": (s_hwm1 - s_hwm0) / 1024
                if s_hwm0 and s_hwm1
                else None,
                "sampled_rss": sampler.result(),
                "js_heap_mib": {"before": js0, "after": pg.js_heap_mib()},
            }
            if events:
                ev = events[0]
                out.update(arrived=True, event=ev)
                out["timing"] = {
                    "arrive_s": ev["t_arrived"] - t_pick,
                    "boto3_upload_s": ev["upload_s"],
                    "total_s": ev["t_uploaded"] - t_pick,
                }
                out["memory"]["kernel_hwm_after_arrival_growth_mib"] = (
                    (ev["hwm_arrived_kib"] - k_hwm0) / 1024 if k_hwm0 else None
                )
                if ev.get("ok"):
                    got, n = M.s3_object_sha256(self.client, bucket, ev["key"])
                    out["verify"] = {"sha256_match": got == sha, "length": n}
                    out["ok"] = got == sha and n == size
                else:
                    out["error"] = ev.get("error")
            else:
                # The kernel uploads as soon as the value arrives: no object, no arrival.
                out["objects_in_bucket"] = len(self.moto.list_keys(bucket))
                code = (ws_closed or {}).get("code")
                out["error"] = (
                    f"never arrived in the kernel: websocket closed {code} "
                    f"{(ws_closed or {}).get('reason') or ''}".strip()
                    if ws_closed
                    else f"never arrived in the kernel within {t_end - t_pick:.0f} s"
                )
        except Exception as exc:
            out["exception"] = f"{type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc()[-3000:]
            log(f"  FileUpload run failed: {out['exception']}")
        finally:
            if pg is not None:
                pg.close()
            M.empty_bucket(self.client, bucket)
        return out


# --- signing cost (in this process) -----------------------------------------------------------


def measure_signing(moto: M.RemoteMoto, calls: int) -> dict:
    """Presigning is local computation: time Signer.presign_part and .presign_put, and
    the kernel's whole "sign-parts" handler (UploadSession.handle) per batch size."""
    from s3_upload_widget._policy import UploadPolicy
    from s3_upload_widget._session import SessionOptions, UploadSession
    from s3_upload_widget._signer import Signer

    client = moto.client()
    bucket = moto.make_bucket()
    signer = Signer(client, bucket, prefix="bench/")
    key = "bench/signing/file.bin"
    upload_id = signer.create_multipart(
        key, content_type="application/octet-stream", overwrite=True
    )

    def timed(fn, n):
        for _ in range(min(50, n)):  # warm up (botocore loads models, caches endpoints)
            fn(0)
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t0)
        return out

    part = timed(lambda i: signer.presign_part(key, upload_id, i % 10_000 + 1, 8 * MiB), calls)
    single = timed(
        lambda i: signer.presign_put(
            key, size=100 * MiB, content_type="application/octet-stream", overwrite=False
        ),
        max(200, calls // 4),
    )
    signer.abort_multipart(key, upload_id)
    url_len = len(signer.presign_part(key, upload_id, 1, 8 * MiB).url)

    # The kernel's handler: parse + check + presign every part + build the reply.
    session = UploadSession(
        policy=UploadPolicy(prefix="bench/"),
        signer=lambda: Signer(client, bucket, prefix="bench/"),
        options=SessionOptions(bucket=bucket, part_size=8 * MiB),
    )
    size = 10_000 * 8 * MiB  # 10,000 parts: every batch below signs parts not signed yet
    msg_id = iter(range(1, 1_000_000))
    files = [{"name": "x.bin", "size": size, "type": ""}]
    reply = session.handle({"id": next(msg_id), "kind": "add-files", "args": {"files": files}})
    upload = reply["result"]["uploads"][0]["id"]
    session.handle({"id": next(msg_id), "kind": "sign", "args": {"upload_id": upload}})
    batches = {}
    next_part = 1
    for batch, reps in ((1, 200), (2, 200), (4, 200), (6, 200), (16, 100), (64, 40)):
        times, sizes = [], []
        for _ in range(reps):
            numbers = list(range(next_part, next_part + batch))
            next_part += batch
            t0 = time.perf_counter()
            args = {"upload_id": upload, "part_numbers": numbers}
            r = session.handle({"id": next(msg_id), "kind": "sign-parts", "args": args})
            times.append(time.perf_counter() - t0)
            assert r["ok"], r
            sizes.append(len(json.dumps(r)))
        batches[str(batch)] = {
            "handler_ms": M.summary(times, 1000),
            "per_part_ms_median": M.summary(times, 1000)["median"] / batch,
            "reply_bytes": sizes[0],
        }
    session.close()
    M.empty_bucket(client, bucket)
    return {
        "presign_part_ms": M.summary(part, 1000),
        "presign_put_ms": M.summary(single, 1000),
        "part_url_chars": url_len,
        "sign_parts_handler": batches,
        "note": "in the benchmark process, against moto's endpoint; presigning sends nothing",
    }


# --- orchestration -------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        default="10MB,100MB,1GB",
        help="file sizes of the main table (MB = MiB here); default 10MB,100MB,1GB",
    )
    p.add_argument(
        "--quick", action="store_true", help="10MB,100MB, 2 repeats, no sweeps (< 5 min)"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="runs per size for widget and curl (default: 3 below 512 MiB, else 2)",
    )
    p.add_argument("--no-sweep", action="store_true", help="skip both tuning sweeps")
    p.add_argument(
        "--sweep-size",
        default="512MB",
        help="file of the part size x concurrency sweep (512MB: moto needs 10-25 s "
        "to assemble 1 GiB, which would double the sweep's time)",
    )
    p.add_argument("--part-sizes", default="8,16,32,64", help="MiB, for the sweep")
    p.add_argument("--concurrencies", default="2,4,6", help="for the sweep")
    p.add_argument(
        "--sweep-repeats",
        type=int,
        default=2,
        help="passes over the sweep (every other one in reverse order)",
    )
    p.add_argument(
        "--threshold-sizes",
        default="32MB,100MB",
        help="files uploaded as single PUT and as multipart (threshold sweep)",
    )
    p.add_argument("--threshold-repeats", type=int, default=3)
    p.add_argument(
        "--fileupload-max",
        default="100MB",
        help="largest file tried with ipywidgets.FileUpload (Playwright's driver "
        "copies every websocket message and crashes on several-hundred-MB ones)",
    )
    p.add_argument("--signing-calls", type=int, default=2000)
    p.add_argument("--out", default=str(BENCH_DIR), help="folder for results.json / results.md")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = "10MB,100MB"
        args.no_sweep = True
        args.repeats = args.repeats or 2
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = [M.parse_size(s) for s in args.sizes.split(",") if s.strip()]
    fileupload_max = M.parse_size(args.fileupload_max)
    out_dir = Path(args.out)
    started = time.time()
    results: dict = {
        "complete": False,
        "environment": {
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpu_count": os.cpu_count(),
            "cpu_model": M.cpu_model(),
            "platform": platform.platform(),
            "versions": M.versions(),
            "git": M.git_state(),
            "loadavg_start": M.loadavg(),
        },
        "args": vars(args),
        "signing": None,
        "widget": [],
        "curl": [],
        "fileupload": [],
        "sweep": [],
        "threshold": [],
    }

    def save():
        results["elapsed_s"] = time.time() - started
        (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))

    log(f"environment: {os.cpu_count()} CPUs, load {M.loadavg()}")
    M.WORK_DIR.mkdir(parents=True, exist_ok=True)
    free = os.statvfs(M.WORK_DIR)
    free_gib = free.f_bavail * free.f_frsize / M.GiB
    need = set(sizes) | ({M.parse_size(args.sweep_size)} if not args.no_sweep else set())
    need |= (
        {M.parse_size(s) for s in args.threshold_sizes.split(",")} if not args.no_sweep else set()
    )
    if free_gib < 3 * sum(need) / M.GiB + 2:
        log(f"only {free_gib:.1f} GiB free in {M.WORK_DIR}: not enough")
        return 2
    files = {}
    for size in sorted(need):
        t0 = time.time()
        files[size] = M.test_file(size)
        log(f"file {M.size_label(size)}: {files[size][0]} ({time.time() - t0:.1f} s)")

    from playwright.sync_api import sync_playwright

    moto = M.RemoteMoto().start()
    try:
        log(f"moto {moto.endpoint_url} (pid {moto.pid})")
        log("signing cost ...")
        results["signing"] = measure_signing(moto, args.signing_calls)
        save()
        bench = Bench(args, moto, results, save)

        with JupyterServer("lab", env=moto.kernel_env()) as lab, sync_playwright() as pw:
            home = lab.tmp_dir / "chromium-home"
            browser = launch_browser(pw, home=home)
            results["environment"]["jupyter_default"] = {"origin": lab.origin, "pid": lab.proc.pid}

            # 1 + 2. Widget and curl per size, interleaved; the first widget run of each
            # size in a fresh kernel and page (their peak memory is meaningful).
            for size in sizes:
                path, sha = files[size]
                repeats = args.repeats or (3 if size < 512 * MiB else 2)
                pg = bench.widget_page(browser, lab)
                try:
                    for rep in range(repeats):
                        log(f"widget {M.size_label(size)} run {rep + 1}/{repeats} ...")
                        r = bench.widget_run(pg, lab, size, path, sha, {}, label="default",
                                             fresh_kernel=rep == 0)  # fmt: skip
                        r["repeat"] = rep
                        results["widget"].append(r)
                        log("  " + report.describe_widget_run(r))
                        save()
                        log(f"curl {M.size_label(size)} run {rep + 1}/{repeats} ...")
                        c = bench.curl_run(size, path, sha)
                        c["repeat"] = rep
                        results["curl"].append(c)
                        mib = c.get("throughput_mib_s") or 0
                        log(f"  {c.get('seconds', 0):.2f} s, {mib:.0f} MiB/s, ok={c['ok']}")
                        save()
                finally:
                    pg.close()

            # 6. Sweeps.
            if not args.no_sweep:
                pg = bench.widget_page(browser, lab)
                try:
                    # Loopback only. Chromium's network emulation cannot stand in for a real
                    # link's round trips: its latency is a minimum time to the response
                    # headers (a PUT that takes longer is not delayed), and it did not delay
                    # the preflights (tried; see README).
                    sweep_size = M.parse_size(args.sweep_size)
                    path, sha = files[sweep_size]
                    configs = [
                        {"multipart_threshold": 5 * MiB, "part_size": int(ps) * MiB,
                         "concurrency": int(c)}
                        for ps in args.part_sizes.split(",")
                        for c in args.concurrencies.split(",")
                    ]  # fmt: skip
                    configs.append({"multipart_threshold": sweep_size + 1})  # a single PUT
                    for rep in range(args.sweep_repeats):
                        # Every other pass in reverse order: drift in the machine's load
                        # does not always favour the same configurations.
                        for cfg in configs if rep % 2 == 0 else configs[::-1]:
                            log(f"sweep {M.size_label(sweep_size)} {cfg} ...")
                            r = bench.widget_run(pg, lab, sweep_size, path, sha, cfg,
                                                 label="sweep", fresh_kernel=False)  # fmt: skip
                            r["repeat"] = rep
                            # curl right after, on the same file: the machine is shared,
                            # so each run is also given relative to curl at that moment.
                            r["curl_adjacent"] = bench.curl_run(
                                sweep_size, path, sha, full_check=False
                            )
                            results["sweep"].append(r)
                            log(
                                "  "
                                + report.describe_widget_run(r)
                                + f"; curl {r['curl_adjacent'].get('throughput_mib_s') or 0:.0f}"
                                + " MiB/s"
                            )
                            save()
                    for rep in range(args.threshold_repeats):
                        for s in args.threshold_sizes.split(","):
                            size = M.parse_size(s)
                            path, sha = files[size]
                            for mode, cfg in (
                                ("single", {"multipart_threshold": size + 1}),
                                ("multipart", {"multipart_threshold": 5 * MiB}),
                            ):
                                log(f"threshold {M.size_label(size)} {mode} run {rep + 1} ...")
                                r = bench.widget_run(pg, lab, size, path, sha, cfg, label=mode,
                                                     fresh_kernel=False)  # fmt: skip
                                r["repeat"] = rep
                                results["threshold"].append(r)
                                log("  " + report.describe_widget_run(r))
                                save()
                finally:
                    pg.close()

            # 3a. FileUpload at the default server settings (last: a crash of
            # Playwright's driver on a big websocket message must not cost the rest).
            for size in sizes:
                if size > fileupload_max:
                    continue
                path, sha = files[size]
                log(f"FileUpload {M.size_label(size)}, default server settings ...")
                r = bench.fileupload_run(browser, lab, size, path, sha, "default")
                results["fileupload"].append(r)
                log("  " + report.describe_fileupload_run(r))
                save()
            browser.close()

        # 3b. FileUpload with websocket_max_message_size = 1 GiB.
        if any(s <= fileupload_max for s in sizes):
            with JupyterServer("lab", env=moto.kernel_env(),
                               extra_args=[f"--ServerApp.tornado_settings={BIG_WS}"]) as lab2, \
                    sync_playwright() as pw:  # fmt: skip
                browser = launch_browser(pw, home=lab2.tmp_dir / "chromium-home")
                for size in sizes:
                    if size > fileupload_max:
                        continue
                    path, sha = files[size]
                    log(f"FileUpload {M.size_label(size)}, websocket_max_message_size=1 GiB ...")
                    r = bench.fileupload_run(browser, lab2, size, path, sha, "ws_1GiB")
                    results["fileupload"].append(r)
                    log("  " + report.describe_fileupload_run(r))
                    save()
                browser.close()
        for size in sizes:
            if size > fileupload_max:
                for server in ("default", "ws_1GiB"):
                    results["fileupload"].append({
                        "size": size, "server": server, "ok": False, "attempted": False,
                        "error": "not attempted: Playwright's driver copies every websocket "
                        "message and crashes on several-hundred-MB ones (testing.md); "
                        f"limit --fileupload-max {args.fileupload_max}",
                    })  # fmt: skip
    finally:
        moto.stop()
    results["environment"]["loadavg_end"] = M.loadavg()
    results["complete"] = True
    save()
    (out_dir / "results.md").write_text(report.markdown(results))
    log(f"done in {(time.time() - started) / 60:.1f} min: {out_dir / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
