"""Benchmark: S3UploadWidget vs curl vs ipywidgets.FileUpload, on loopback.

Run from the repo root:

    .venv/bin/python -m benchmarks.run                      # full run (~20-30 min)
    .venv/bin/python -m benchmarks.run --quick              # 10 MB + 100 MB, no sweep (<5 min)
    .venv/bin/python -m benchmarks.run --sizes 10MB,100MB,1GB --no-sweep

A real JupyterLab in headless Chromium (the e2e harness, tests/e2e/) uploads seeded random
files to moto's S3 server, which runs in its own process with a request log
(benchmarks/moto_server.py). Writes benchmarks/results.json (every measurement) and
benchmarks/results.md (tables). What each column means: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

from tests.e2e.browser import launch_browser
from tests.e2e.jupyter_server import JupyterServer

from . import cells, report
from . import measure as M
from .pages import Page, log
from .peers import curl_run, fileupload_run
from .signing import measure_signing
from .widget_run import WidgetRun

MiB = M.MiB
BIG_WS = '{"websocket_max_message_size": 1073741824}'
FILEUPLOAD_SERVERS = {
    "default": "default server settings",
    "ws_1GiB": "websocket_max_message_size=1 GiB",
}


class Bench:
    """The runs of one benchmark against one moto server; every run lands in ``results``
    (saved with ``save``) as soon as it is over."""

    def __init__(self, moto: M.RemoteMoto, results: dict, save):
        self.moto = moto
        self.client = moto.client()
        self.results = results
        self.save = save

    # --- single runs ------------------------------------------------------------------

    def widget_page(self, browser, lab) -> Page:
        return Page(browser, lab, [cells.WIDGET_SETUP, cells.WIDGET_SHOW], name="widget")

    def widget_run(
        self, pg: Page, lab, size: int, path: Path, sha: str, cfg: dict, *, label: str,
        fresh_kernel: bool, after_pick=None,
    ) -> dict:  # fmt: skip
        """Pick ``path`` in a new widget made with ``cfg``; see `WidgetRun`."""
        run = WidgetRun(self.moto, self.client, pg, lab, cfg, label=label,
                        fresh_kernel=fresh_kernel, after_pick=after_pick)  # fmt: skip
        return run.run(size, path, sha)

    def curl_run(self, size: int, path: Path, sha: str, *, full_check: bool = True) -> dict:
        return curl_run(self.moto, self.client, size, path, sha, full_check=full_check)

    def fileupload_run(self, browser, lab, size: int, path: Path, sha: str, server: str) -> dict:
        return fileupload_run(self.moto, self.client, browser, lab, size, path, sha, server)

    def _keep(self, table: str, run: dict, line: str) -> None:
        self.results[table].append(run)
        log("  " + line)
        self.save()

    # --- the phases -------------------------------------------------------------------

    def widget_and_curl(self, browser, lab, sizes: list[int], files: dict, repeats: int) -> None:
        """Widget and curl per size, interleaved; the first widget run of each size in a
        fresh kernel and page (their peak memory is meaningful)."""
        for size in sizes:
            path, sha = files[size]
            reps = repeats or (3 if size < 512 * MiB else 2)
            pg = self.widget_page(browser, lab)
            try:
                for rep in range(reps):
                    log(f"widget {M.size_label(size)} run {rep + 1}/{reps} ...")
                    r = self.widget_run(pg, lab, size, path, sha, {}, label="default",
                                        fresh_kernel=rep == 0)  # fmt: skip
                    r["repeat"] = rep
                    self._keep("widget", r, report.describe_widget_run(r))
                    log(f"curl {M.size_label(size)} run {rep + 1}/{reps} ...")
                    c = self.curl_run(size, path, sha)
                    c["repeat"] = rep
                    mib = c.get("throughput_mib_s") or 0
                    self._keep("curl", c, f"{c.get('seconds', 0):.2f} s, {mib:.0f} MiB/s, "
                                          f"ok={c['ok']}")  # fmt: skip
            finally:
                pg.close()

    def sweep(self, pg: Page, lab, args, files: dict) -> None:
        """Part size x concurrency, and one single PUT, on the same file.

        Loopback only. Chromium's network emulation cannot stand in for a real link's
        round trips: its latency is a minimum time to the response headers (a PUT that
        takes longer is not delayed), and it did not delay the preflights (tried; see
        README)."""
        sweep_size = M.parse_size(args.sweep_size)
        path, sha = files[sweep_size]
        configs = [
            {"multipart_threshold": 5 * MiB, "part_size": int(ps) * MiB, "concurrency": int(c)}
            for ps in args.part_sizes.split(",")
            for c in args.concurrencies.split(",")
        ]
        configs.append({"multipart_threshold": sweep_size + 1})  # a single PUT
        for rep in range(args.sweep_repeats):
            # Every other pass in reverse order: drift in the machine's load does not
            # always favour the same configurations.
            for cfg in configs if rep % 2 == 0 else configs[::-1]:
                log(f"sweep {M.size_label(sweep_size)} {cfg} ...")
                r = self.widget_run(pg, lab, sweep_size, path, sha, cfg, label="sweep",
                                    fresh_kernel=False)  # fmt: skip
                r["repeat"] = rep
                # curl right after, on the same file: the machine is shared, so each run
                # is also given relative to curl at that moment.
                r["curl_adjacent"] = self.curl_run(sweep_size, path, sha, full_check=False)
                curl_mib = r["curl_adjacent"].get("throughput_mib_s") or 0
                line = f"{report.describe_widget_run(r)}; curl {curl_mib:.0f} MiB/s"
                self._keep("sweep", r, line)

    def threshold(self, pg: Page, lab, args, files: dict) -> None:
        """Each threshold size as a single PUT and as multipart."""
        for rep in range(args.threshold_repeats):
            for s in args.threshold_sizes.split(","):
                size = M.parse_size(s)
                path, sha = files[size]
                for mode, cfg in (
                    ("single", {"multipart_threshold": size + 1}),
                    ("multipart", {"multipart_threshold": 5 * MiB}),
                ):
                    log(f"threshold {M.size_label(size)} {mode} run {rep + 1} ...")
                    r = self.widget_run(pg, lab, size, path, sha, cfg, label=mode,
                                        fresh_kernel=False)  # fmt: skip
                    r["repeat"] = rep
                    self._keep("threshold", r, report.describe_widget_run(r))

    def fileupload(self, browser, lab, sizes: list[int], files: dict, server: str) -> None:
        """ipywidgets.FileUpload for each size, on a Jupyter server with ``server``'s
        settings (FILEUPLOAD_SERVERS)."""
        for size in sizes:
            path, sha = files[size]
            log(f"FileUpload {M.size_label(size)}, {FILEUPLOAD_SERVERS[server]} ...")
            r = self.fileupload_run(browser, lab, size, path, sha, server)
            self._keep("fileupload", r, report.describe_fileupload_run(r))

    def fileupload_not_attempted(self, sizes: list[int], limit: str) -> None:
        for size in sizes:
            for server in FILEUPLOAD_SERVERS:
                self.results["fileupload"].append({
                    "size": size, "server": server, "ok": False, "attempted": False,
                    "error": "not attempted: Playwright's driver copies every websocket "
                    "message and crashes on several-hundred-MB ones (testing.md); "
                    f"limit --fileupload-max {limit}",
                })  # fmt: skip


# --- orchestration -------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    p.add_argument("--out", default=str(M.BENCH_DIR), help="folder for results.json / results.md")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = "10MB,100MB"
        args.no_sweep = True
        args.repeats = args.repeats or 2
    return args


def new_results(args) -> dict:
    return {
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


def prepare_files(args, sizes: list[int]) -> dict[int, tuple[Path, str]] | None:
    """Every file the run needs, made once and reused: {size: (path, sha256)}; None when
    the disk is too full for them."""
    M.WORK_DIR.mkdir(parents=True, exist_ok=True)
    free = os.statvfs(M.WORK_DIR)
    free_gib = free.f_bavail * free.f_frsize / M.GiB
    need = set(sizes)
    if not args.no_sweep:
        need |= {M.parse_size(args.sweep_size)}
        need |= {M.parse_size(s) for s in args.threshold_sizes.split(",")}
    if free_gib < 3 * sum(need) / M.GiB + 2:
        log(f"only {free_gib:.1f} GiB free in {M.WORK_DIR}: not enough")
        return None
    files = {}
    for size in sorted(need):
        t0 = time.time()
        files[size] = M.test_file(size)
        log(f"file {M.size_label(size)}: {files[size][0]} ({time.time() - t0:.1f} s)")
    return files


def run_in_browsers(bench: Bench, args, sizes: list[int], files: dict) -> None:
    """Everything that needs JupyterLab and Chromium."""
    from playwright.sync_api import sync_playwright

    fileupload_max = M.parse_size(args.fileupload_max)
    small = [s for s in sizes if s <= fileupload_max]
    env = bench.moto.kernel_env()
    with JupyterServer("lab", env=env) as lab, sync_playwright() as pw:
        browser = launch_browser(pw, home=lab.tmp_dir / "chromium-home")
        bench.results["environment"]["jupyter_default"] = {
            "origin": lab.origin,
            "pid": lab.proc.pid,
        }
        bench.widget_and_curl(browser, lab, sizes, files, args.repeats)
        if not args.no_sweep:
            pg = bench.widget_page(browser, lab)
            try:
                bench.sweep(pg, lab, args, files)
                bench.threshold(pg, lab, args, files)
            finally:
                pg.close()
        # FileUpload last: a crash of Playwright's driver on a big websocket message must
        # not cost the rest.
        bench.fileupload(browser, lab, small, files, "default")
        browser.close()
    if small:
        big_ws = [f"--ServerApp.tornado_settings={BIG_WS}"]
        with JupyterServer("lab", env=env, extra_args=big_ws) as lab2, sync_playwright() as pw:
            browser = launch_browser(pw, home=lab2.tmp_dir / "chromium-home")
            bench.fileupload(browser, lab2, small, files, "ws_1GiB")
            browser.close()
    bench.fileupload_not_attempted([s for s in sizes if s > fileupload_max], args.fileupload_max)


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = [M.parse_size(s) for s in args.sizes.split(",") if s.strip()]
    out_dir = Path(args.out)
    started = time.time()
    results = new_results(args)

    def save():
        results["elapsed_s"] = time.time() - started
        (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))

    log(f"environment: {os.cpu_count()} CPUs, load {M.loadavg()}")
    files = prepare_files(args, sizes)
    if files is None:
        return 2
    moto = M.RemoteMoto().start()
    try:
        log(f"moto {moto.endpoint_url} (pid {moto.pid})")
        log("signing cost ...")
        results["signing"] = measure_signing(moto, args.signing_calls)
        save()
        run_in_browsers(Bench(moto, results, save), args, sizes, files)
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
