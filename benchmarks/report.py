"""results.json -> results.md (tables). ``python benchmarks/report.py`` rewrites
results.md from results.json without running anything."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

# The defaults the run measured: results.md is written right after the run, same commit.
from measure import size_label  # noqa: E402  (benchmarks/ is on sys.path as the script's dir)

from s3_upload_widget._policy import DEFAULT_PART_SIZE  # noqa: E402
from s3_upload_widget._widget import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    DEFAULT_MULTIPART_THRESHOLD,
)

MiB = 1024**2
GiB = 1024**3
NOT_ATTEMPTED = "not attempted (Playwright limit)"


# --- small helpers ------------------------------------------------------------------------


def f(v, digits=1, unit=""):
    """A number for a table cell ("–" when unknown)."""
    if v is None:
        return "–"
    return f"{v:.{digits}f}{unit}"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def g(d, *path, default=None):
    """d[path[0]][path[1]]..., or ``default`` when a step is missing."""
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def header(*names) -> list[str]:
    return [row(*names), "|" + "---|" * len(names)]


def mib_s(size, seconds):
    return size / MiB / seconds if seconds else None


def _runs_by_size(runs):
    out: dict[int, list] = {}
    for r in runs:
        out.setdefault(r["size"], []).append(r)
    return out


def _per_gib(r: dict, group: str):
    """CPU seconds of a process group per GiB moved, during the run's parts phase."""
    used = g(r, "cpu", group, "cpu_s")
    return used / (r["size"] / GiB) if used is not None else None


def _rel_curl(r: dict):
    """Parts throughput of a sweep run relative to the curl run right after it."""
    c = r.get("curl_adjacent") or {}
    parts = g(r, "timing", "parts_s")
    if not (c.get("ok") and parts):
        return None
    return c["seconds"] / parts


def _overhead_ms(r: dict):
    """A part's time besides its bytes (medians, ms): PUT end -> next preflight arrives,
    the preflight itself, its answer -> the PUT arrives."""
    pp = g(r, "timing", "part_pipeline", default={}) or {}
    parts = [g(pp, k, "median") for k in ("refill_s", "preflight_s", "preflight_to_put_s")]
    if None in parts:
        return None
    return sum(parts) * 1000


def _config_label(cfg: dict) -> str:
    bits = []
    for k, v in cfg.items():
        name = k.replace("multipart_", "")
        bits.append(f"{name}={v // MiB}M" if isinstance(v, int) and v >= MiB else f"{name}={v}")
    return ", ".join(bits) or "defaults"


# --- progress lines (run.py prints them) -----------------------------------------------------


def describe_widget_run(r: dict) -> str:
    if r.get("exception"):
        return f"FAILED: {r['exception']}"
    t = r.get("timing", {})
    q = r.get("requests", {})
    tp = r.get("throughput_mib_s", {})
    return (
        f"{r.get('status')} ok={r.get('ok')} total {f(t.get('total_s'), 2)} s "
        f"({f(tp.get('total'), 0)} MiB/s), parts {f(t.get('parts_s'), 2)} s "
        f"({f(tp.get('parts'), 0)} MiB/s), completion {f(t.get('completion_s'), 2)} s; "
        f"PUTs {q.get('puts')}, preflights {q.get('preflights')}; kernel dHWM "
        f"{f(g(r, 'memory', 'kernel_hwm_growth_mib'))} MiB, renderer peak "
        f"+{f(g(r, 'memory', 'sampled_rss', 'renderer', 'peak_growth_mib'), 0)} MiB, moto "
        f"{f(g(r, 'cpu', 'moto', 'cores'), 2)} cores"
    )


def describe_fileupload_run(r: dict) -> str:
    if r.get("exception"):
        return f"FAILED: {r['exception']}"
    if not r.get("arrived"):
        return f"did not work: {r.get('error')}"
    t = r.get("timing", {})
    return (
        f"ok={r.get('ok')} arrived after {f(t.get('arrive_s'), 2)} s, "
        f"boto3 {f(t.get('boto3_upload_s'), 2)} s, total {f(t.get('total_s'), 2)} s; "
        f"kernel dHWM {f(g(r, 'memory', 'kernel_hwm_growth_mib'))} MiB"
    )


# --- main table -------------------------------------------------------------------------------


def _fileupload_cell(runs: list[dict], size: int, server: str) -> str:
    for r in runs:
        if r["size"] != size or r["server"] != server:
            continue
        if r.get("attempted") is False:
            return NOT_ATTEMPTED
        if r.get("exception"):
            return f"harness error: {r['exception'][:60]}"
        if r.get("arrived") and r.get("ok"):
            t = r["timing"]
            grow = g(r, "memory", "kernel_hwm_growth_mib")
            return (
                f"ok, {t['total_s']:.1f} s ({t['arrive_s']:.1f} s to the kernel + "
                f"{t['boto3_upload_s']:.1f} s boto3), kernel +{f(grow, 0)} MiB"
            )
        return f"**fails**: {r.get('error', '?')}"
    return "–"


def _pairs(widget_runs, curl_runs):
    """(widget run i, the curl run right after it): a pair sees about the same load."""
    by_rep = {c.get("repeat", 0): c for c in curl_runs if c.get("ok")}
    return [
        (w, by_rep[w.get("repeat", 0)])
        for w in widget_runs
        if w.get("ok")
        and w.get("repeat", 0) in by_rep
        and g(w, "timing", "total_s")
        and g(w, "timing", "parts_s")
    ]


def main_table(res: dict) -> list[str]:
    widget = _runs_by_size(res.get("widget", []))
    curl = _runs_by_size(res.get("curl", []))
    fu = res.get("fileupload", [])
    lines = header(
        "size", "widget: pick→done s", "MiB/s", "parts s (MiB/s)", "completion s", "parts",
        "PUTs", "preflights", "curl -T s", "curl MiB/s", "widget/curl, pick→done",
        "widget/curl, parts only", "FileUpload, default server", "FileUpload, ws limit 1 GiB",
        "kernel ΔHWM MiB", "browser peak Δ MiB: renderer / all Chromium", "JS heap peak MiB",
        "verified",
    )  # fmt: skip
    for size in sorted(set(widget) | set(curl)):
        runs = widget.get(size, [])
        ws = [r for r in runs if r.get("ok")]
        cs = [r for r in curl.get(size, []) if r.get("ok")]
        total = med([g(r, "timing", "total_s") for r in ws])
        parts = med([g(r, "timing", "parts_s") for r in ws])
        curl_s = med([r.get("seconds") for r in cs])
        nparts = med([g(r, "requests", "parts") for r in ws])
        pairs = _pairs(runs, curl.get(size, []))
        ratio_total = med([c["seconds"] / g(w, "timing", "total_s") for w, c in pairs])
        ratio_parts = med([c["seconds"] / g(w, "timing", "parts_s") for w, c in pairs])
        fresh = next((r for r in runs if r.get("fresh_kernel")), None) or {}
        mem = g(fresh, "memory", default={})
        rss = g(mem, "sampled_rss", default={})
        lines.append(
            row(
                size_label(size),
                f(total, 2),
                f(mib_s(size, total), 0),
                f"{f(parts, 2)} ({f(mib_s(size, parts), 0)})",
                f(med([g(r, "timing", "completion_s") for r in ws]), 2),
                f(nparts, 0) if nparts else "single PUT",
                f(med([g(r, "requests", "puts") for r in ws]), 0),
                f(med([g(r, "requests", "preflights") for r in ws]), 0),
                f(curl_s, 2),
                f(mib_s(size, curl_s), 0),
                f(ratio_total, 2, "×"),
                f(ratio_parts, 2, "×"),
                _fileupload_cell(fu, size, "default"),
                _fileupload_cell(fu, size, "ws_1GiB"),
                f(g(mem, "kernel_hwm_growth_mib")),
                f"{f(g(rss, 'renderer', 'peak_growth_mib'), 0)} / "
                f"{f(g(rss, 'chromium', 'peak_growth_mib'), 0)}",
                f(g(mem, "js_heap_mib", "peak_sampled"), 0),
                f"{len(ws)}/{len(runs)} sha256",
            )
        )
    return lines


def targets(res: dict) -> list[str]:
    out = []
    widget = _runs_by_size(res.get("widget", []))
    curl = _runs_by_size(res.get("curl", []))
    if widget:
        big = max(widget)
        pairs = _pairs(widget[big], curl.get(big, []))
        total = med([c["seconds"] / g(w, "timing", "total_s") for w, c in pairs])
        parts = med([c["seconds"] / g(w, "timing", "parts_s") for w, c in pairs])
        if total and parts:
            out.append(
                f"- Widget ≥ 0.9× curl throughput at {size_label(big)}: pick→done "
                f"**{total:.2f}×** ({'met' if total >= 0.9 else 'not met'}); parts only "
                f"(without moto's assembly of the parts) **{parts:.2f}×** "
                f"({'met' if parts >= 0.9 else 'not met'})."
            )
    fresh = [r for r in res.get("widget", []) if r.get("fresh_kernel") and r.get("ok")]
    if fresh:
        worst = max(g(r, "memory", "kernel_hwm_growth_mib") or 0 for r in fresh)
        sizes = ", ".join(size_label(r["size"]) for r in fresh)
        out.append(
            f"- Kernel peak memory growth < 30 MB whatever the size: worst **{worst:.1f} MiB** "
            f"over {sizes} ({'met' if worst * MiB < 30e6 else 'not met'})."
        )
        rows = []
        for r in fresh:
            rss = g(r, "memory", "sampled_rss", default={})
            rows.append(
                f"{size_label(r['size'])}: renderer +{f(g(rss, 'renderer', 'peak_growth_mib'), 0)}"
                f" MiB, all Chromium +{f(g(rss, 'chromium', 'peak_growth_mib'), 0)} MiB"
            )
        sweep = [r for r in res.get("sweep", []) if r.get("ok")]
        worst_sweep = max(
            (g(r, "memory", "sampled_rss", "renderer", "peak_growth_mib") or 0 for r in sweep),
            default=None,
        )
        out.append(
            "- Browser memory bounded by about concurrency × part size + a constant "
            f"({DEFAULT_CONCURRENCY} × {DEFAULT_PART_SIZE // MiB} MiB = "
            f"{DEFAULT_CONCURRENCY * DEFAULT_PART_SIZE // MiB} MiB at the defaults): "
            f"{'; '.join(rows)}"
            + (
                f"; largest renderer growth over the whole sweep (up to 6 × 64 MiB = 384 MiB "
                f"in flight): +{worst_sweep:.0f} MiB."
                if worst_sweep is not None
                else "."
            )
        )
    return out


# --- per-run tables ---------------------------------------------------------------------------


def widget_detail_table(runs: list[dict]) -> list[str]:
    lines = header(
        "size", "config", "run", "status", "pick→done s", "setup s", "parts s", "transfer s",
        "completion s", "moto's complete s", "PUTs", "preflights", "PUTs in flight (avg)",
        "per-part overhead ms", "moto CPU", "Chromium CPU", "kernel CPU", "others' CPU",
        "kernel ΔHWM MiB", "renderer peak Δ MiB", "sha256",
    )  # fmt: skip
    for r in runs:
        t = r.get("timing", {})
        kernel_growth = g(r, "memory", "kernel_hwm_growth_mib")
        lines.append(
            row(
                size_label(r["size"]),
                _config_label(r.get("config") or {}),
                r.get("repeat", 0) + 1,
                r.get("status", r.get("exception", "?")),
                f(t.get("total_s"), 2),
                f(t.get("setup_s"), 2),
                f(t.get("parts_s"), 2),
                f(t.get("transfer_s"), 2),
                f(t.get("completion_s"), 2),
                f(med(t.get("server_complete_s") or []), 2),
                g(r, "requests", "puts", default="–"),
                g(r, "requests", "preflights", default="–"),
                f(t.get("puts_in_flight_avg"), 1),
                f(_overhead_ms(r), 0),
                f(g(r, "cpu", "moto", "cores"), 2),
                f(g(r, "cpu", "chromium", "cores"), 2),
                f(g(r, "cpu", "kernel", "cores"), 2),
                f(g(r, "cpu", "others_cores"), 2),
                f(kernel_growth) if r.get("fresh_kernel") else "(reused kernel)",
                f(g(r, "memory", "sampled_rss", "renderer", "peak_growth_mib"), 0),
                "ok" if r.get("ok") else "FAIL",
            )
        )
    return lines


def curl_table(runs) -> list[str]:
    lines = header(
        "size", "run", "HTTP", "seconds", "MiB/s", "moto CPU (cores)",
        "machine busy (cores, all processes)", "sha256",
    )  # fmt: skip
    for r in runs:
        lines.append(
            row(
                size_label(r["size"]),
                r.get("repeat", 0) + 1,
                r.get("http_status", "–"),
                f(r.get("seconds"), 2),
                f(r.get("throughput_mib_s"), 0),
                f(g(r, "cpu", "moto", "cores"), 2),
                f(g(r, "cpu", "system", "cores"), 2),
                "ok" if r.get("ok") else "FAIL",
            )
        )
    return lines


def fileupload_table(runs) -> list[str]:
    lines = header(
        "size", "server", "result", "to the kernel s", "boto3 upload_fileobj s", "total s",
        "kernel ΔHWM MiB", "Jupyter server ΔHWM MiB", "renderer peak Δ MiB",
        "websocket closes seen",
    )  # fmt: skip
    for r in runs:
        t = r.get("timing", {})
        if r.get("attempted") is False:
            result = r["error"]
        elif r.get("arrived"):
            result = "ok (sha256 verified)" if r.get("ok") else f"upload failed: {r.get('error')}"
        else:
            result = r.get("exception") or r.get("error") or "?"
        closes = ", ".join(f"{c.get('code')} {c.get('reason') or ''}".strip()
                           for c in r.get("ws_closes", []))  # fmt: skip
        lines.append(
            row(
                size_label(r["size"]),
                r["server"],
                result,
                f(t.get("arrive_s"), 2),
                f(t.get("boto3_upload_s"), 2),
                f(t.get("total_s"), 2),
                f(g(r, "memory", "kernel_hwm_growth_mib")),
                f(g(r, "memory", "jupyter_server_hwm_growth_mib")),
                f(g(r, "memory", "sampled_rss", "renderer", "peak_growth_mib"), 0),
                closes or "–",
            )
        )
    return lines


def cpu_table(res: dict) -> list[str]:
    """CPU seconds per GiB moved: depends little on what else runs, unlike MiB/s."""
    widget = _runs_by_size(res.get("widget", []))
    curl = _runs_by_size(res.get("curl", []))
    out = header(
        "size", "widget: all Chromium", "renderer (page)", "browser process",
        "network service", "GPU process", "moto", "kernel", "curl: curl", "moto",
    )  # fmt: skip
    groups = ("chromium", "renderer", "chromium_browser", "chromium_network", "chromium_gpu",
              "moto", "kernel")  # fmt: skip
    for size in sorted(widget):
        ws = [r for r in widget[size] if r.get("ok")]
        cs = [r for r in curl.get(size, []) if r.get("ok")]
        gib = size / GiB
        curl_cpu = med([g(r, "cpu", "curl_cpu_s") for r in cs])
        curl_moto = med([g(r, "cpu", "moto", "cpu_s") for r in cs])
        out.append(
            row(
                size_label(size),
                *(f(med([_per_gib(r, k) for r in ws]), 1) for k in groups),
                f(curl_cpu / gib if curl_cpu is not None else None, 1),
                f(curl_moto / gib if curl_moto is not None else None, 1),
            )
        )
    return out


# --- sweeps -----------------------------------------------------------------------------------


def _grid(runs) -> tuple[list, list, dict]:
    grid: dict[tuple, list] = {}
    for r in runs:
        cfg = r.get("config") or {}
        if "part_size" in cfg and r.get("ok"):
            grid.setdefault((cfg["part_size"], cfg["concurrency"]), []).append(r)
    sizes = sorted({k[0] for k in grid})
    concs = sorted({k[1] for k in grid})
    return sizes, concs, grid


def _cell_throughput(runs):
    v = med([g(r, "throughput_mib_s", "parts") for r in runs])
    rel = med([_rel_curl(r) for r in runs])
    return f"{f(v, 0)} ({f(rel, 2, '×')})" if runs else "–"


def _cell_pipeline(runs):
    if not runs:
        return "–"
    inflight = med([g(r, "timing", "puts_in_flight_avg") for r in runs])
    return f"{f(inflight, 1)} / {f(med([_overhead_ms(r) for r in runs]), 0)} ms"


def _cell_cpu(runs):
    if not runs:
        return "–"
    chromium = med([_per_gib(r, "chromium") for r in runs])
    return f"{f(chromium, 1)} / {f(med([_per_gib(r, 'moto') for r in runs]), 1)}"


def _grid_table(runs, title, cell, extra_name="", extra=None) -> list[str]:
    sizes, concs, grid = _grid(runs)
    names = ["part size \\ concurrency", *map(str, concs)] + ([extra_name] if extra else [])
    out = [title, "", *header(*names)]
    for ps in sizes:
        cells = [cell(grid.get((ps, c), [])) for c in concs]
        out.append(row(f"{ps // MiB} MiB", *cells, *([extra(ps)] if extra else [])))
    return [*out, ""]


def sweep_tables(runs: list[dict]) -> list[str]:
    if not runs:
        return ["(not run)"]
    size = runs[0]["size"]
    passes = len({r.get("repeat", 0) for r in runs})

    by_size: dict[int, list] = {}
    for r in runs:
        ps = (r.get("config") or {}).get("part_size")
        if ps and r.get("ok"):
            by_size.setdefault(ps, []).append(r)
    out = [f"The {size_label(size)} file on loopback, {passes} pass(es); medians.", ""]
    out += _grid_table(
        runs,
        "Parts-upload throughput, MiB/s (pick → the browser's `complete` request), and in "
        "brackets relative to a `curl -T` of the same file run right after each widget run "
        "(median of the per-run ratios):",
        _cell_throughput,
        "parts",
        lambda ps: str(-(-size // ps)),
    )
    out += _grid_table(
        runs,
        "PUTs in flight on average (out of `concurrency`) / per-part time besides its bytes "
        "(PUT end → next preflight arrives, + the preflight, + preflight answered → PUT "
        "arrives; medians):",
        _cell_pipeline,
    )
    out += _grid_table(
        runs,
        "CPU seconds per GiB moved while the parts went up, all Chromium processes / moto; "
        "and moto's completion time:",
        _cell_cpu,
        "completion s",
        lambda ps: f(med([g(r, "timing", "completion_s") for r in by_size.get(ps, [])]), 1),
    )
    single = [r for r in runs if "part_size" not in (r.get("config") or {}) and r.get("ok")]
    if single:
        total = med([g(r, "timing", "total_s") for r in single])
        out += [
            f"Reference, the same file as one single PUT: pick → done {f(total, 2)} s = "
            f"{f(mib_s(size, total), 0)} MiB/s ({f(med([_rel_curl(r) for r in single]), 2, '×')}"
            f" curl); Chromium {f(med([_per_gib(r, 'chromium') for r in single]), 1)} CPU-s "
            "per GiB.",
            "",
        ]
    return [*out, "Every sweep run:", "", *widget_detail_table(runs)]


def threshold_table(runs: list[dict]) -> list[str]:
    if not runs:
        return ["(not run)"]
    by: dict[tuple, list] = {}
    for r in runs:
        by.setdefault((r["size"], r["label"]), []).append(r)
    out = header(
        "size", "mode", "runs ok", "pick→done s", "MiB/s", "parts s", "completion s", "PUTs",
        "preflights", "Chromium CPU-s/GiB",
    )  # fmt: skip
    for (size, mode), rs in sorted(by.items()):
        ok = [r for r in rs if r.get("ok")]
        total = med([g(r, "timing", "total_s") for r in ok])
        out.append(
            row(
                size_label(size),
                mode,
                f"{len(ok)}/{len(rs)}",
                f(total, 2),
                f(mib_s(size, total), 0),
                f(med([g(r, "timing", "parts_s") for r in ok]), 2),
                f(med([g(r, "timing", "completion_s") for r in ok]), 2),
                f(med([g(r, "requests", "puts") for r in ok]), 0),
                f(med([g(r, "requests", "preflights") for r in ok]), 0),
                f(med([_per_gib(r, "chromium") for r in ok]), 1),
            )
        )
    return out


# --- signing ----------------------------------------------------------------------------------


def signing_table(res: dict) -> list[str]:
    s = res.get("signing") or {}
    if not s:
        return ["(not run)"]
    out = header("what", "calls", "median ms", "p99 ms", "mean ms")

    def line(what, summ):
        return row(what, summ["count"], f(summ["median"], 3), f(summ["p99"], 3), f(summ["mean"], 3))

    out.append(line("`Signer.presign_part` (in process)", s["presign_part_ms"]))
    out.append(line("`Signer.presign_put` (in process)", s["presign_put_ms"]))
    for batch, b in s["sign_parts_handler"].items():
        out.append(
            line(
                f"`sign-parts` handler, batch of {batch} (in process; reply "
                f"{b['reply_bytes']:,} B)",
                b["handler_ms"],
            )
        )
    # Measured in the kernel during the real uploads.
    runs = [r for r in res.get("widget", []) + res.get("sweep", []) if r.get("ok")]
    per_run = [g(r, "timing", "presign_part_s", "median") for r in runs]
    per_run = [v * 1000 for v in per_run if v is not None]
    batches = [
        (n, sec * 1000) for r in runs for n, sec in g(r, "timing", "sign_parts_batches", default=[])
    ]
    if per_run:
        out.append(
            row(
                "`presign_part` in the kernel during the uploads (median of the per-run medians)",
                f"{len(per_run)} runs",
                f(statistics.median(per_run), 3),
                "–",
                "–",
            )
        )
    if batches:
        times = sorted(t for _, t in batches)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        sizes = sorted({n for n, _ in batches})
        out.append(
            row(
                f"`sign-parts` handler in the kernel during the uploads (batches of "
                f"{sizes[0]}–{sizes[-1]} parts)",
                len(times),
                f(statistics.median(times), 3),
                f(p99, 3),
                f(statistics.fmean(times), 3),
            )
        )
    out += ["", f"A part URL is {s.get('part_url_chars')} characters long."]
    return out


# --- the document -----------------------------------------------------------------------------


def markdown(res: dict) -> str:
    env = res.get("environment", {})
    v = env.get("versions", {})
    git = env.get("git") or {}
    state = "complete run" if res.get("complete") else "INCOMPLETE run"
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `benchmarks/run.py` ({state}, {(res.get('elapsed_s') or 0) / 60:.1f} min)"
        f" on {env.get('date')}. Loopback only: JupyterLab + headless Chromium → moto's S3 "
        "server (in its own process). What each column means, and the caveats: "
        "[README.md](README.md).",
        "",
        f"Machine: {env.get('cpu_count')} CPUs ({env.get('cpu_model')}), shared: load average "
        f"{env.get('loadavg_start')} at the start, {env.get('loadavg_end')} at the end. "
        f"{v.get('chromium')}; JupyterLab {v.get('jupyterlab')}, jupyter_server "
        f"{v.get('jupyter_server')}, ipywidgets {v.get('ipywidgets')}, anywidget "
        f"{v.get('anywidget')}, moto {v.get('moto')}, boto3 {v.get('boto3')}, Playwright "
        f"{v.get('playwright')}, {(v.get('curl') or '').split(' (')[0]}. Commit "
        f"{git.get('commit', '')[:10]}"
        + (" plus uncommitted changes" if git.get("dirty_files") else "")
        + ".",
        "",
        f"## Main comparison (defaults: threshold {DEFAULT_MULTIPART_THRESHOLD // MiB} MiB, "
        f"part size {DEFAULT_PART_SIZE // MiB} MiB, concurrency {DEFAULT_CONCURRENCY})",
        "",
        "Times are medians over the runs of each size; widget/curl are medians of paired "
        "ratios (each widget run and the curl run right after it). Memory is from the first "
        "run of each size (a fresh kernel and page). MiB = 2^20 bytes.",
        "",
        *main_table(res),
        "",
        "Targets (reported, not enforced):",
        "",
        *targets(res),
        "",
        "### CPU seconds per GiB moved (medians)",
        "",
        "Unlike MiB/s, this hardly depends on what else runs on the machine. The widget's "
        "figures cover pick → `complete` request; curl's its whole run.",
        "",
        *cpu_table(res),
        "",
        "### Every widget run",
        "",
        "CPU columns in cores (1.0 = one core busy all along) while the parts went up; "
        '"others\'" is every other process on the machine.',
        "",
        *widget_detail_table(res.get("widget", [])),
        "",
        "### Every curl run",
        "",
        *curl_table(res.get("curl", [])),
        "",
        "### ipywidgets.FileUpload + boto3.upload_fileobj (today's path)",
        "",
        *fileupload_table(res.get("fileupload", [])),
        "",
        "## Sweep: part size × concurrency",
        "",
        *sweep_tables(res.get("sweep", [])),
        "",
        f"## Sweep: multipart threshold (part size {DEFAULT_PART_SIZE // MiB} MiB, "
        f"concurrency {DEFAULT_CONCURRENCY})",
        "",
        *threshold_table(res.get("threshold", [])),
        "",
        "## Signing cost",
        "",
        *signing_table(res),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH_DIR / "results.json"
    res = json.loads(path.read_text())
    (path.parent / "results.md").write_text(markdown(res))
    print(path.parent / "results.md")
