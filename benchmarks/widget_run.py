"""One file uploaded through the widget, measured from the pick to ``done`` in the kernel."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from . import measure as M
from .pages import FINAL, Page, hwm_kib, log, page_renderer_pid

# What the kernel recorded for this run's bucket (the widget notebook's BENCH, cells.py).
_KERNEL_STATE = (
    "{{'rec': BENCH['runs'][{bucket!r}], 'uploads': w.uploads, "
    "'moto_complete': BENCH['moto_complete'][-5:]}}"
)
_CPU_GROUPS = (
    "moto", "chromium", "renderer", "chromium_network", "chromium_browser", "chromium_gpu",
    "kernel", "jupyter_server", "system",
)  # fmt: skip


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


class WidgetRun:
    """Pick ``path`` in a new widget made with ``cfg`` in ``pg``'s notebook (cell 1); time
    it from the pick to ``done`` in the kernel; count requests; sample memory and CPU;
    check the bytes. `run` returns every measurement as one dict."""

    def __init__(
        self,
        moto: M.RemoteMoto,
        client,
        pg: Page,
        lab,
        cfg: dict,
        *,
        label: str,
        fresh_kernel: bool,
        after_pick=None,
    ):
        self.moto, self.client, self.pg, self.lab = moto, client, pg, lab
        self.nb, self.page = pg.nb, pg.page
        self.cfg = dict(cfg)
        self.label = label
        self.fresh_kernel = fresh_kernel
        self.after_pick = after_pick  # experiments only (e.g. hide the view)

    def run(self, size: int, path: Path, sha: str) -> dict:
        self.size = size
        self.bucket = self.moto.make_bucket(cors_origins=[self.lab.origin])
        out = self.out = {
            "label": self.label, "size": size, "config": dict(self.cfg), "bucket": self.bucket,
            "fresh_kernel": self.fresh_kernel, "ok": False,
        }  # fmt: skip
        try:
            rows = self._show_widget()
            groups = self._process_groups()
            self._read_before()
            with M.MemorySampler(groups) as sampler:
                t_pick, t_seen = self._upload(rows, path)
            self._read_after(rows)
            record, kernel = self._kernel_state()
            t_comp = self._timing(record, kernel, t_pick, t_seen)
            self._server_requests()
            self._cpu(sampler, t_pick, t_comp or t_seen)
            self._memory(sampler)
            if record["status"] == "done":
                self._verify(record, sha)
            self._throughput()
        except Exception as exc:
            out["exception"] = f"{type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc()[-3000:]
            out["console_tail"] = self.pg.console[-20:]
            log(f"  widget run failed: {out['exception']}")
        finally:
            M.empty_bucket(self.client, self.bucket)
        return out

    # --- the steps, in order --------------------------------------------------------------

    def _show_widget(self):
        """A new widget for this run's bucket and config in cell 1; returns its rows."""
        self.nb.exec(f"CFG = {dict(bucket=self.bucket, **self.cfg)!r}")
        self.nb.run_cell(1, timeout=60)
        widget = self.nb.widget(1)
        widget.wait_for(state="visible", timeout=30_000)
        rows = widget.locator(".s3uw-row")
        if rows.count():
            raise RuntimeError("the new widget already shows rows: not the new widget?")
        self.page.wait_for_timeout(300)  # let the controller say hello to the kernel
        return rows

    def _process_groups(self) -> dict[str, list[int]]:
        """The processes whose memory and CPU are sampled, by group."""
        renderer = page_renderer_pid()
        kinds = M.chromium_pids()
        return {
            "renderer": [renderer] if renderer else [],
            "chromium": list(kinds),
            # where Chromium spends its CPU: the page, the network service, the
            # browser process (blob/file reads), the GPU process (compositing)
            "chromium_network": [p for p, k in kinds.items() if k == "network"],
            "chromium_browser": [p for p, k in kinds.items() if k == "browser"],
            "chromium_gpu": [p for p, k in kinds.items() if k == "gpu"],
            "kernel": [self.pg.kernel_pid],
            "jupyter_server": [self.lab.proc.pid],
            "moto": [self.moto.pid],
        }

    def _read_before(self) -> None:
        """Peak memory, the server log's length, the page's requests, JS heap, metrics."""
        self.hwm0 = (hwm_kib(self.pg.kernel_pid), hwm_kib(self.lab.proc.pid))
        self.log_mark = self.moto.log_length()
        self.requests0 = len(self.pg.requests)
        self.js0 = self.pg.js_heap_mib()
        self.js_peak = self.js0 or 0.0
        self.metrics0 = self.pg.metrics()
        self.out["load_before"] = M.loadavg()

    def _upload(self, rows, path: Path) -> tuple[float, float]:
        """Pick the file and wait until every row is final, sampling the JS heap; returns
        the wall-clock times of the pick and of the final rows."""
        deadline = time.monotonic() + 180 + self.size / (2 * M.MiB)  # >= 2 MiB/s or fail
        last_js = 0.0
        t_pick = time.time()
        self.nb.pick_files(1, [path])
        if self.after_pick is not None:
            self.after_pick(self.pg)
        while True:
            statuses = rows.evaluate_all("rs => rs.map(r => r.dataset.status)")
            if statuses and all(s in FINAL for s in statuses):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload not final after the deadline: {statuses}")
            if time.monotonic() - last_js > 0.5:
                js = self.pg.js_heap_mib()
                if js:
                    self.js_peak = max(self.js_peak, js)
                last_js = time.monotonic()
            self.page.wait_for_timeout(100)
        return t_pick, time.time()

    def _read_after(self, rows) -> None:
        out = self.out
        out["dom_rows"] = rows.evaluate_all(
            "rs => rs.map(r => ({status: r.dataset.status, "
            "error: (r.querySelector('.s3uw-error') || {}).textContent || ''}))"
        )
        self.js1 = self.pg.js_heap_mib()
        metrics1 = self.pg.metrics()
        # The page's main thread during the upload: JS vs style/layout (the view).
        out["page_main_thread"] = {
            k: metrics1.get(k, 0) - self.metrics0.get(k, 0)
            for k in ("TaskDuration", "ScriptDuration", "LayoutDuration",
                      "RecalcStyleDuration", "LayoutCount", "RecalcStyleCount")
        }  # fmt: skip
        self.hwm1 = (hwm_kib(self.pg.kernel_pid), hwm_kib(self.lab.proc.pid))
        out["load_after"] = M.loadavg()

    def _kernel_state(self) -> tuple[dict, dict]:
        """The upload's record and what the notebook's instruments recorded, read once the
        upload is over (a probe cell run during the upload would hold up the widget's
        messages)."""
        query = _KERNEL_STATE.format(bucket=self.bucket)
        kernel = self.nb.eval_json(query, timeout=60)
        (record,) = kernel["uploads"]
        if record["status"] not in FINAL:
            # The row is final in the page but not yet in the kernel (e.g. the browser
            # failed the file and its "fail" request is on its way): wait for it.
            self.nb.wait_for_kernel(
                "w.uploads[0]", lambda u: u["status"] in FINAL, timeout=60, interval=0.5
            )
            kernel = self.nb.eval_json(query, timeout=60)
            (record,) = kernel["uploads"]
        return record, kernel

    def _timing(self, record: dict, kernel: dict, t_pick: float, t_seen: float) -> float | None:
        """The phases of the upload as the kernel saw them; returns when the browser asked
        for the completion (None for a single PUT)."""
        st = kernel["rec"]["status_t"].get(record["id"], {})
        self.out.update(status=record["status"], error=record["error"], key=record["key"],
                        etag=record["etag"], multipart=record["multipart"])  # fmt: skip
        t_up, t_comp, t_done = st.get("uploading"), st.get("completing"), st.get("done")
        handlers = kernel["rec"]["handlers"]
        self.out["timing"] = {
            "t_pick": t_pick,
            "kernel_status_t": st,
            "total_s": (t_done - t_pick) if t_done else None,
            "setup_s": (t_up - t_pick) if t_up else None,  # add-files + sign (+ create)
            "parts_s": (t_comp - t_pick) if t_comp else None,  # pick -> complete request
            "completion_s": (t_done - t_comp) if (t_done and t_comp) else None,
            "seen_in_browser_s": t_seen - t_pick,
            "kernel_complete_multipart_s": [e["s"] for e in kernel["rec"]["complete_multipart"]],
            "boto_complete_multipart_upload_s": [
                e["s"] for e in kernel["moto_complete"] if e["key"] == record["key"]
            ],
            "handler_s": {k: M.summary([e["s"] for e in v]) for k, v in handlers.items()},
            "sign_parts_batches": [[e["n"], e["s"]] for e in handlers.get("sign-parts", [])],
            "presign_part_s": M.summary([e["s"] for e in kernel["rec"]["presign_part"]]),
        }
        return t_comp

    def _server_requests(self) -> None:
        """What the S3 server saw (every request, preflights included), and what
        Playwright saw of the page's requests to it."""
        server = M.requests_for_bucket(self.moto.log(self.log_mark), self.bucket)
        browser_reqs = [r for r in server if r["who"] == "browser"]
        puts = [r for r in browser_reqs if r["method"] == "PUT"]
        preflights = [r for r in browser_reqs if r["method"] == "OPTIONS"]
        completes = [r for r in server if r["method"] == "POST" and "uploadId" in r["query"]]
        seen = [
            m for _, m, u in self.pg.requests[self.requests0 :]
            if u.startswith(self.moto.endpoint_url)
        ]  # fmt: skip
        self.out["requests"] = {
            "server_counts": M.count_requests(server),
            "puts": len(puts),
            "preflights": len(preflights),
            "puts_failed": sum(1 for r in puts if r["status"] >= 300),
            "parts": len({r["part"] for r in puts if r["part"]}),
            "playwright_puts": seen.count("PUT"),
            "playwright_options": seen.count("OPTIONS"),
        }
        timing = self.out["timing"]
        if browser_reqs:
            first = min(r["t0"] for r in browser_reqs)
            last = max(r["t1"] for r in puts) if puts else first
            timing["transfer_s"] = last - first  # first preflight -> last PUT done
            # PUTs in flight on average over that window (concurrency actually used).
            timing["puts_in_flight_avg"] = (
                sum(r["t1"] - r["t0"] for r in puts) / (last - first) if last > first else None
            )
            timing["server_put_s"] = M.summary([r["t1"] - r["t0"] for r in puts])
            timing["server_preflight_s"] = M.summary([r["t1"] - r["t0"] for r in preflights])
        timing["server_complete_s"] = [r["t1"] - r["t0"] for r in completes]
        timing["part_pipeline"] = part_pipeline(puts, preflights, self.cfg.get("concurrency", 4))

    def _cpu(self, sampler: M.MemorySampler, t_pick: float, t_parts_end: float) -> None:
        """CPU of each process group while the parts went up."""
        cpu = self.out["cpu"] = {
            name: sampler.cpu_between(name, t_pick, t_parts_end) for name in _CPU_GROUPS
        }
        ours = sum((cpu[k] or {}).get("cores", 0)
                   for k in ("moto", "chromium", "kernel", "jupyter_server"))  # fmt: skip
        if cpu["system"]:
            # CPU used by everything else on the machine (other people's jobs, the
            # Playwright driver, this process) while the parts were uploading.
            cpu["others_cores"] = cpu["system"]["cores"] - ours

    def _memory(self, sampler: M.MemorySampler) -> None:
        (k_hwm0, s_hwm0), (k_hwm1, s_hwm1) = self.hwm0, self.hwm1
        self.out["memory"] = {
            "kernel_hwm_before_mib": k_hwm0 / 1024 if k_hwm0 else None,
            "kernel_hwm_growth_mib": (k_hwm1 - k_hwm0) / 1024 if k_hwm0 and k_hwm1 else None,
            "jupyter_server_hwm_growth_mib": (s_hwm1 - s_hwm0) / 1024
            if s_hwm0 and s_hwm1
            else None,
            "sampled_rss": sampler.result(),
            "js_heap_mib": {"before": self.js0, "peak_sampled": self.js_peak, "after": self.js1},
        }

    def _verify(self, record: dict, sha: str) -> None:
        """The bytes: sha256 of the stored object against the file."""
        t0 = time.time()
        got, n = M.s3_object_sha256(self.client, self.bucket, record["key"])
        self.out["verify"] = {"sha256_match": got == sha, "length": n, "seconds": time.time() - t0}
        self.out["ok"] = got == sha and n == self.size

    def _throughput(self) -> None:
        tm = self.out["timing"]
        self.out["throughput_mib_s"] = {
            "total": M.mib_s(self.size, tm["total_s"]),
            "parts": M.mib_s(self.size, tm["parts_s"]),
            "transfer": M.mib_s(self.size, tm.get("transfer_s")),
        }
