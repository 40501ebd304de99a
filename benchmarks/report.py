"""results.json -> results.md: the document, its main comparison and targets, and the
progress lines the run prints.

    .venv/bin/python -m benchmarks.report [results.json]   # rewrites results.md beside it
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The defaults the run measured: results.md is written right after the run, same commit.
from s3_upload_widget._options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
)

from .measure import BENCH_DIR, MiB, size_label
from .tables import (
    cpu_table,
    curl_table,
    f,
    fileupload_table,
    g,
    header,
    med,
    mib_s,
    row,
    runs_by_size,
    signing_table,
    sweep_tables,
    threshold_table,
    widget_detail_table,
)

NOT_ATTEMPTED = "not attempted (Playwright limit)"


# --- progress lines (the run prints them) ----------------------------------------------------


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
    widget = runs_by_size(res.get("widget", []))
    curl = runs_by_size(res.get("curl", []))
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
    widget = runs_by_size(res.get("widget", []))
    curl = runs_by_size(res.get("curl", []))
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


# --- the document -----------------------------------------------------------------------------


def markdown(res: dict) -> str:
    env = res.get("environment", {})
    v = env.get("versions", {})
    git = env.get("git") or {}
    state = "complete run" if res.get("complete") else "INCOMPLETE run"
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `python -m benchmarks.run` ({state}, "
        f"{(res.get('elapsed_s') or 0) / 60:.1f} min) on {env.get('date')}. Loopback only: "
        "JupyterLab + headless Chromium → moto's S3 server (in its own process). What each "
        "column means, and the caveats: [README.md](README.md).",
        "",
        "Many small files (5,000 × 10 KiB, 500 × 1 MiB; the widget vs Uppy 5 vs boto3): "
        "[many_files.md](many_files.md), from `python -m benchmarks.many_files`.",
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
