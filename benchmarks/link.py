"""Benchmark on a simulated link (issue 11): the widget vs Uppy 5 vs curl vs a plain XHR
page, side by side, through one shaping proxy to one moto server.

Run from the repo root:

    .venv/bin/python -m benchmarks.link                          # every profile, full sizes
    .venv/bin/python -m benchmarks.link --size-scale 0.1 --out /tmp/link   # smoke
    .venv/bin/python -m benchmarks.link --profiles far-many
    .venv/bin/python -m benchmarks.link_report                   # rewrite link.md

Profiles (shaping by tests/e2e/netproxy.py, on request bodies; ``rtt`` is added to every
request, half before it is forwarded, half before its answer):

- far: 80 ms round trip, 60 Mbit/s per connection, 400 Mbit/s in total; one 300 MiB file;
- home: 30 ms, 50 Mbit/s in total; one 100 MiB file;
- far-many: as far; 200 files of 256 KiB;
- far-mid: as far; one 32 MiB file (below the default multipart threshold).

``--size-scale`` scales the file of the one-file profiles and the count of far-many.
Everything on 127.0.0.0/8: moto (its own process, also at 127.0.0.2..8 for the
multi-host runs), JupyterLab and the pages at localhost (not proxied), headless Chromium
sending 127.0.0.x through the proxy. Writes results_link.json and link.md (in --out,
default benchmarks/); what each column means: link.md.

Profiling the widget's runs (into a folder, one file set per run label):
``S3UW_PROFILE=dir`` writes the page's JavaScript CPU profile (``.cpuprofile``; it slows
the page by half or more), its XHR resource timings (``.timing.json``) and, per XHR,
when the page called ``send()`` and when its ``loadend`` ran (``.timing.lag.json``: set
against the timings' ``responseEnd``, the page's own delay); add ``S3UW_PROFILE_CPU=0``
to skip the CPU profile, or ``S3UW_TRACE=1`` for a Chromium trace (layout, paint) instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from . import link_report
from . import many_common as C
from . import measure as M
from .many_files import environment
from .pages import log

MiB = M.MiB
KiB = 1024

PROFILES = {
    "far": {"rtt": 0.080, "per_connection_bps": 60e6, "total_bps": 400e6,
            "count": 1, "size": 300 * MiB},
    "home": {"rtt": 0.030, "per_connection_bps": None, "total_bps": 50e6,
             "count": 1, "size": 100 * MiB},
    "far-many": {"rtt": 0.080, "per_connection_bps": 60e6, "total_bps": 400e6,
                 "count": 200, "size": 256 * KiB},
    # the multipart threshold on the far link: a file below the old default (100 MiB)
    "far-mid": {"rtt": 0.080, "per_connection_bps": 60e6, "total_bps": 400e6,
                "count": 1, "size": 32 * MiB},
    # no added latency, 10 Gbit/s: the browser's CPU per GiB with checksums on and off
    "loopback": {"rtt": 0.0, "per_connection_bps": None, "total_bps": 10e9,
                 "count": 1, "size": 1024 * MiB},
}  # fmt: skip

STOP = threading.Event()  # SIGTERM / SIGINT: stop after the current run, cleanly
ALIASES = 7  # 127.0.0.2 .. 127.0.0.8: up to 8 names of the same S3


def split(size: int, parts: int) -> int:
    """The part size that cuts ``size`` bytes into ``parts`` equal parts (the last may be a
    few bytes shorter), at least S3's 5 MiB part minimum."""
    return max(5 * MiB, math.ceil(size / parts))


def scenarios(name: str, size: int) -> list[tuple[str, dict]]:
    """(kind, options) of every run of a profile, in order. Widget configs are its
    constructor's keywords, plus ``hosts``: that many names of the same moto
    (``extra_endpoints``); labels are made by the runners."""
    # The kernel of these runs cannot tell that this moto answers form POSTs and
    # credentialed requests like S3 (LocalS3 registers its server only in its own
    # process), so "auto" is spelled out as it resolves on AWS with configure_cors()'s
    # rule: form POSTs on, two connection pools per host name.
    auto = {"connection_pools": 2}
    one = {"connection_pools": 1}
    two, eight = {"hosts": 2, **auto}, {"hosts": 8, **auto}
    if name == "far-many":
        posts = {"form_posts": True, **auto}
        widget = [("widget defaults (as 'auto' on AWS: form POSTs, 2 pools)", posts),
                  ("widget connection_pools=1 (6 connections per name)", {**posts, **one}),
                  ("widget form_posts=False (a PUT per file)", {**posts, "form_posts": False}),
                  ("widget, 2 host names", {**two, **posts}),
                  ("widget, 8 host names", {**eight, **posts})]  # fmt: skip
        peers = [("curl", {"parallel": 6}), ("xhr", {"limit": 6, "hosts": 1}),
                 ("xhr", {"limit": 6, "hosts": 1, "post": True}),
                 ("xhr", {"limit": 12, "hosts": 1, "post": True, "pools": 2}),
                 ("xhr", {"limit": 48, "hosts": 8})]  # fmt: skip
    elif name == "far-mid":
        widget = [("widget defaults (as 'auto' on AWS: 2 pools)", auto),
                  ("widget connection_pools=1", one),
                  ("widget multipart_threshold=100 MiB (one PUT: the old default)",
                   {"multipart_threshold": 100 * MiB, **auto})]  # fmt: skip
        peers = [("curl", {}), ("xhr", {"limit": 1, "hosts": 1, "label": "XHR, one PUT"})]
    elif name == "loopback":  # the CPU cost of checksums: the same file with and without
        widget = [("widget defaults (as 'auto' on AWS: 2 pools)", auto),
                  ("widget checksum=None", {"checksum": None, **auto}),
                  ("widget connection_pools=1", one)]  # fmt: skip
        return [("widget", {"label": label, "cfg": cfg}) for label, cfg in widget]
    else:
        widget = [("widget defaults (as 'auto' on AWS: 2 pools)", auto),
                  ("widget connection_pools=1", one),
                  ("widget, 2 host names", two)]  # fmt: skip
        if name == "far":
            old = {"multipart_threshold": 5 * MiB, "part_size": 16 * MiB, **auto}
            widget.insert(2, ("widget part_size=16 MiB (the old default)", old))
        peers = [("curl", {}), ("xhr", {"limit": 1, "hosts": 1, "label": "XHR, one PUT"})]
        if name == "far":
            peers.append(("xhr", {"limit": 12, "hosts": 2, "part_size": split(size, 12)}))
            peers.append(("xhr", {"limit": 12, "hosts": 1, "pools": 2,
                                  "part_size": split(size, 12)}))  # fmt: skip
    return [
        *[("widget", {"label": label, "cfg": cfg}) for label, cfg in widget],
        ("uppy", {}),
        *peers,
    ]


def profile_files(name: str, scale: float) -> tuple[dict, list[str]]:
    prof = dict(PROFILES[name])
    if prof["count"] > 1:
        prof["count"] = max(6, round(prof["count"] * scale))
        fs = C.file_set(prof["count"], prof["size"])
        return prof, fs.paths
    prof["size"] = max(MiB, int(prof["size"] * scale) // MiB * MiB)
    path, _ = M.test_file(prof["size"])
    return prof, [str(path)]


def run_profile(ctx, name: str, prof: dict, files: list[str], args, save) -> list[dict]:
    from .link_runs import curl_run, uppy_run, widget_run, xhr_run

    ctx.profile = prof
    ctx.proxy.shape(per_connection_bps=prof["per_connection_bps"],
                    total_bps=prof["total_bps"], rtt=prof["rtt"])  # fmt: skip
    plan = scenarios(name, prof["size"])
    only = [s.strip() for s in args.kinds.split(",")] if args.kinds else None
    plan = [p for p in plan if only is None or p[0] in only]
    runs: list[dict] = []
    for rep in range(args.repeats):
        for kind, opt in plan if rep % 2 == 0 else plan[::-1]:
            if STOP.is_set():
                raise KeyboardInterrupt("stopped by a signal")
            if kind == "widget":
                r = widget_run(ctx, files, opt["cfg"], opt["label"])
            elif kind == "uppy":
                r = uppy_run(ctx, files)
            elif kind == "curl":
                r = curl_run(ctx, files, parallel=opt.get("parallel", 1))
            else:
                r = xhr_run(ctx, files, **opt)
            r["repeat"] = rep
            runs.append(r)
            save(name, runs)
            log(f"  {name}: {link_report.describe(r)}")
    ctx.proxy.shape()
    return runs


def profile_record(results: dict, prof: dict, args) -> dict:
    """A profile's entry in the results: its shaping and files, when and how it ran."""
    invocation = {"date": results["environment"]["date"], "args": vars(args)}
    return {**prof, "runs": [], "loadavg_start": M.loadavg(), "started": time.time(),
            "invocation": invocation}  # fmt: skip


def run_all(args, profiles: list[str], results: dict, save) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import launch_browser
    from tests.e2e.jupyter_server import JupyterServer
    from tests.e2e.netproxy import NetProxy

    from .link_moto import LinkMoto
    from .link_pages import PageServer
    from .link_runs import Ctx, widget_notebook

    moto = LinkMoto(ALIASES).start()
    pages = None
    try:
        client = moto.client()
        pages = PageServer(client)
        log(f"moto {moto.endpoint_url} (+ {len(moto.aliases)} names), pages {pages.origin}")
        env = {**moto.kernel_env(), "PYTHONPATH": str(M.REPO_ROOT)}
        with NetProxy(seed=0) as proxy, JupyterServer("lab", env=env) as lab, \
                sync_playwright() as pw:  # fmt: skip
            browser = launch_browser(pw, home=lab.tmp_dir / "chromium-home", proxy_port=proxy.port)
            try:
                ctx = Ctx(moto, client, proxy, pages, browser, lab, timeout=args.timeout)
                ctx.work.mkdir(parents=True, exist_ok=True)
                if args.kinds is None or "widget" in args.kinds:
                    ctx.nb = widget_notebook(ctx)
                for name in profiles:
                    prof, files = profile_files(name, args.size_scale)
                    results["profiles"][name] = profile_record(results, prof, args)
                    log(f"{name}: {prof['count']} × {prof['size']:,} B ...")
                    run_profile(ctx, name, prof, files, args, save)
                    done = results["profiles"][name]
                    done["loadavg_end"], done["elapsed_s"] = (
                        M.loadavg(),
                        time.time() - done["started"],
                    )
            finally:
                browser.close()
    finally:
        if pages is not None:
            pages.stop()
        moto.stop()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.link", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--profiles", default=",".join(PROFILES),
                   help=f"comma-separated, of {', '.join(PROFILES)} (default all)")  # fmt: skip
    p.add_argument("--size-scale", type=float, default=1.0,
                   help="scale file sizes (far, home) and the file count (far-many): "
                   "0.1 for a smoke run")  # fmt: skip
    p.add_argument("--kinds", default=None,
                   help="only these runners: widget,uppy,curl,xhr (default all)")  # fmt: skip
    p.add_argument("--repeats", type=int, default=2, help="passes over each profile's runs "
                   "(the second in reverse order)")  # fmt: skip
    p.add_argument("--update", action="store_true",
                   help="keep the other profiles of an existing results_link.json in --out "
                   "(rerun some profiles only)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=600, help="seconds one run may take")
    p.add_argument(
        "--out",
        default=str(M.BENCH_DIR),
        help="folder for results_link.json and link.md (default: benchmarks/)",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    profiles = [s.strip() for s in args.profiles.split(",") if s.strip()]
    unknown = set(profiles) - set(PROFILES)
    if unknown:
        raise SystemExit(f"unknown profiles: {sorted(unknown)} (choose from {list(PROFILES)})")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    from .link_pages import build_uppy

    json_path, md_path = out_dir / "results_link.json", out_dir / "link.md"
    kept = {}
    if args.update and json_path.exists():
        kept = json.loads(json_path.read_text()).get("profiles", {})
        kept = {k: v for k, v in kept.items() if k not in profiles}
    results = {"complete": False, "environment": environment(build_uppy()),
               "args": vars(args), "profiles": kept}  # fmt: skip

    def save(name: str | None = None, runs: list | None = None) -> None:
        if name is not None:
            results["profiles"][name]["runs"] = runs
        results["elapsed_s"] = time.time() - started
        json_path.write_text(json.dumps(results, indent=1, default=str))

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    log(f"{os.cpu_count()} CPUs, load {M.loadavg()}; results: {json_path}")
    try:
        run_all(args, profiles, results, save)
        results["complete"] = True
    finally:
        results["environment"]["loadavg_end"] = M.loadavg()
        save()
        md_path.write_text(link_report.markdown(results))
    log(f"done in {(time.time() - started) / 60:.1f} min: {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
