"""Benchmark: many small files (issue 10). The widget vs Uppy 5 vs boto3, side by side.

Run from the repo root:

    .venv/bin/python -m benchmarks.many_files                      # 5000x10KiB,500x1MiB
    .venv/bin/python -m benchmarks.many_files --files 200x10KiB --out /tmp/mf   # smoke, ~1 min
    .venv/bin/python -m benchmarks.many_report                     # rewrite many_files.md

For each file set (N seeded random files of one size under benchmarks/_work/many/, made
once), in one run, against one moto server (its own process, 127.0.0.1):

1. the widget: JupyterLab in headless Chromium, a notebook cell makes
   ``S3UploadWidget(bucket, prefix, client)``; every file picked at once through its
   "Choose files" input (``--input folder``: its "Choose folder" input); timed from the
   pick to the last record ``done`` in the kernel;
2. Uppy 5 (@uppy/core + @uppy/aws-s3, defaults; ``getUploadParameters`` answered by a
   local signing endpoint) on a page of its own in the same Chromium: pick → upload()
   resolved;
3. boto3 ``upload_file`` from local disk in a ThreadPoolExecutor of 10 workers (boto3's
   default max_pool_connections): what a person would do in a terminal.

Every run is checked in S3: every key present with its size and an ETag equal to the
file's MD5, and the sha256 of a sample read back. Writes results_many_files.json and
many_files.md (in --out, default benchmarks/). Columns: benchmarks/many_files.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import many_common as C
from . import many_report
from . import measure as M
from .pages import log

SCENARIOS = ("widget", "uppy", "boto3")


def boto3_run(moto, client, fs: C.FileSet, args) -> dict:
    """``client.upload_file`` of every file, 10 at a time, from this process."""
    bucket = moto.make_bucket()
    prefix = "boto3/"
    out: dict = {"scenario": "boto3", "count": fs.count, "size": fs.size, "ok": False}
    try:
        workers = args.boto3_workers
        cpu0 = C.cpu_of({"moto": moto.pid})
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.time()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(client.upload_file, path, bucket, prefix + name)
                for name, path in zip(fs.names, fs.paths, strict=True)
            ]
            errors = []
            for f in futures:
                try:
                    f.result(timeout=args.timeout)
                except Exception as exc:
                    errors.append(repr(exc))
        seconds = time.time() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu1 = C.cpu_of({"moto": moto.pid})
        out["workers"] = workers
        out["errors"] = len(errors)
        out["errors_sample"] = errors[:5]
        out["timing"] = {"pick_to_done_s": seconds}
        out["cpu_ms_per_file"] = C.cpu_ms_per_file(cpu0, cpu1, fs.count)
        used = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        out["cpu_ms_per_file"]["boto3_process"] = 1000 * used / fs.count
        out["verify"] = C.verify(client, bucket, {n: prefix + n for n in fs.names}, fs,
                                 args.verify_sample)  # fmt: skip
        done = out["verify"]["files_found"]
        out["files_done"] = done
        out["files_per_s"] = done / seconds
        out["mib_per_s"] = done * fs.size / M.MiB / seconds
        out["ok"] = out["verify"]["ok"] and not errors
    except Exception as exc:
        out["exception"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()[-3000:]
        log(f"  boto3 run failed: {out['exception']}")
    finally:
        C.drop_bucket(client, bucket)
    return out


def describe(r: dict) -> str:
    """The progress line of a run."""
    if r.get("exception"):
        return f"FAILED: {r['exception']}"
    t = r.get("timing", {})
    cpu = r.get("cpu_ms_per_file", {})
    line = (
        f"ok={r.get('ok')} {r.get('files_done')}/{r['count']} files in "
        f"{t.get('pick_to_done_s', 0):.1f} s: {r.get('files_per_s') or 0:.1f} files/s, "
        f"{r.get('mib_per_s') or 0:.2f} MiB/s; moto {cpu.get('moto') or 0:.1f} CPU-ms/file"
    )
    if r["scenario"] == "widget":
        ws = r.get("ws_bytes_per_file", {})
        lt = r.get("page", {}).get("long_tasks", {})
        line += (
            f"; kernel {cpu.get('kernel') or 0:.1f} CPU-ms/file; ws/file "
            f"{ws.get('browser_to_kernel', 0):,.0f} B up, {ws.get('kernel_to_browser', 0):,.0f}"
            f" B down; longest task {lt.get('max_ms', 0):.0f} ms ({lt.get('over_200ms')} > 200 ms)"
        )
        rate = r.get("done_rate") or {}
        if rate:
            line += "; files/s by tenths: " + " → ".join(f"{v or 0:.1f}" for v in rate.values())
    elif r["scenario"] == "uppy":
        lt = r.get("page", {}).get("long_tasks", {})
        line += (
            f"; signer {cpu.get('signer') or 0:.1f} CPU-ms/file; longest task "
            f"{lt.get('max_ms', 0):.0f} ms ({lt.get('over_200ms')} > 200 ms)"
        )
    if r.get("timed_out"):
        line += " — TIMED OUT"
    return line


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.many_files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--files",
        default="5000x10KiB,500x1MiB",
        help="file sets, COUNTxSIZE, comma-separated (default 5000x10KiB,500x1MiB)",
    )
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="which of widget,uppy,boto3 to run (default all)",
    )
    p.add_argument("--repeats", type=int, default=1, help="runs of each scenario per set")
    p.add_argument(
        "--input",
        choices=("files", "folder"),
        default="files",
        help="the widget's input: 'Choose files' (default) or 'Choose folder'",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds one run may take before it is cut short (default 1800)",
    )
    p.add_argument(
        "--verify-sample",
        type=int,
        default=500,
        help="files per run whose bytes are read back and hashed (default 500; "
        "every file is checked by size and ETag = MD5)",
    )
    p.add_argument("--boto3-workers", type=int, default=10)
    p.add_argument("--out", default=str(M.BENCH_DIR),
                   help="folder for results_many_files.json and many_files.md")  # fmt: skip
    return p.parse_args(argv)


def _sources_sha256() -> str:
    """The widget's Python as the kernel imports it (editable install; other people may be
    changing it): one digest over s3_upload_widget/*.py."""
    h = hashlib.sha256()
    for path in sorted((M.REPO_ROOT / "s3_upload_widget").glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def environment(uppy_versions: dict | None) -> dict:
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "cpu_model": M.cpu_model(),
        "platform": platform.platform(),
        "versions": {**M.versions(), **(uppy_versions or {})},
        "git": {**M.git_state(), "python_sources_sha256": _sources_sha256()},
        "loadavg_start": M.loadavg(),
    }


def run_all(args, sets: list[C.FileSet], scenarios: list[str], results: dict, save) -> None:
    """Start moto, JupyterLab, Chromium and the Uppy page server; every set, every
    scenario, in order; stop them all whatever happens."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import launch_browser
    from tests.e2e.jupyter_server import JupyterServer

    from .many_uppy import UppyServer, uppy_run
    from .many_widget import widget_page, widget_run

    moto = M.RemoteMoto().start()
    uppy = pg = None
    try:
        client = moto.client()
        log(f"moto {moto.endpoint_url} (pid {moto.pid})")
        if "uppy" in scenarios:
            uppy = UppyServer(moto)
            log(f"Uppy page {uppy.origin} (pid {uppy.pid})")
        with JupyterServer("lab", env=moto.kernel_env()) as lab, sync_playwright() as pw:
            browser = launch_browser(pw, home=lab.tmp_dir / "chromium-home")
            try:
                for fs in sets:
                    for rep in range(args.repeats):
                        for name in scenarios:
                            log(f"{fs.label}: {name} (run {rep + 1}/{args.repeats}) ...")
                            if name == "widget":
                                # A fresh page and kernel per run: the kernel's memory
                                # and the page's records start from nothing.
                                pg = widget_page(browser, lab)
                                try:
                                    r = widget_run(pg, lab, moto, client, fs, args, args.input)
                                finally:
                                    pg.close()
                            elif name == "uppy":
                                r = uppy_run(browser, uppy, moto, client, fs, args)
                            else:
                                r = boto3_run(moto, client, fs, args)
                            r["repeat"] = rep
                            r["load_after"] = M.loadavg()
                            results["runs"].append(r)
                            save()
                            log("  " + describe(r))
            finally:
                browser.close()
    finally:
        if uppy is not None:
            uppy.stop()
        moto.stop()


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)} (choose from {SCENARIOS})")
    started = time.time()
    uppy_versions = None
    if "uppy" in scenarios:
        from .many_uppy import build

        uppy_versions = build()
    results = {"complete": False, "environment": environment(uppy_versions),
               "args": vars(args), "runs": []}  # fmt: skip
    json_path, md_path = out_dir / "results_many_files.json", out_dir / "many_files.md"

    def save():
        results["elapsed_s"] = time.time() - started
        json_path.write_text(json.dumps(results, indent=1, default=str))

    log(f"{os.cpu_count()} CPUs, load {M.loadavg()}; results: {json_path}")
    sets = []
    for spec in args.files.split(","):
        t0 = time.time()
        sets.append(C.file_set(*C.parse_spec(spec)))
        log(f"files {sets[-1].label}: {sets[-1].folder} ({time.time() - t0:.1f} s)")
    try:
        run_all(args, sets, scenarios, results, save)
        results["complete"] = True
    finally:
        results["environment"]["loadavg_end"] = M.loadavg()
        save()
        md_path.write_text(many_report.markdown(results))
    log(f"done in {(time.time() - started) / 60:.1f} min: {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
