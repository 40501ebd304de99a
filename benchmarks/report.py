"""results.json -> results.md (tables). ``python benchmarks/report.py`` rewrites
results.md from results.json without running anything."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
MiB = 1024**2
GiB = 1024**3


def size_label(size: int) -> str:
    if size % GiB == 0:
        return f"{size // GiB} GiB"
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    return f"{size:,} B"


def f(v, digits=1, unit=""):
    if v is None:
        return "–"
    return f"{v:.{digits}f}{unit}"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def g(d, *path, default=None):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def describe_widget_run(r: dict) -> str:
    if r.get("exception"):
        return f"FAILED: {r['exception']}"
    t = r.get("timing", {})
    q = r.get("requests", {})
    return (
        f"{r.get('status')} ok={r.get('ok')} total {f(t.get('total_s'), 2)} s "
        f"({f(g(r, 'throughput_mib_s', 'total'), 0)} MiB/s), parts {f(t.get('parts_s'), 2)} s "
        f"({f(g(r, 'throughput_mib_s', 'parts'), 0)} MiB/s), completion {f(t.get('completion_s'), 2)} s; "
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
        f"ok={r.get('ok')} arrived after {f(t.get('arrive_s'), 2)} s, boto3 {f(t.get('boto3_upload_s'), 2)} s, "
        f"total {f(t.get('total_s'), 2)} s; kernel dHWM {f(g(r, 'memory', 'kernel_hwm_growth_mib'))} MiB"
    )


def _fileupload_cell(runs: list[dict], size: int, server: str) -> str:
    for r in runs:
        if r["size"] == size and r["server"] == server:
            if r.get("attempted") is False:
                return "not attempted (Playwright limit)"
            if r.get("exception"):
                return f"harness error: {r['exception'][:60]}"
            if r.get("arrived") and r.get("ok"):
                t = r["timing"]
                return (
                    f"ok, {t['total_s']:.1f} s ({t['arrive_s']:.1f} s to kernel + "
                    f"{t['boto3_upload_s']:.1f} s boto3), kernel +{g(r, 'memory', 'kernel_hwm_growth_mib'):.0f} MiB"
                )
            return f"**fails**: {r.get('error', '?')}"
    return "–"


def _runs_by_size(runs):
    out: dict[int, list] = {}
    for r in runs:
        out.setdefault(r["size"], []).append(r)
    return out


def _pairs(widget_runs, curl_runs):
    by_rep = {c.get("repeat", 0): c for c in curl_runs if c.get("ok")}
    return [
        (w, by_rep[w.get("repeat", 0)])
        for w in widget_runs
        if w.get("ok") and w.get("repeat", 0) in by_rep
        and g(w, "timing", "total_s") and g(w, "timing", "parts_s")
    ]


def main_table(res: dict) -> list[str]:
    widget = _runs_by_size(res.get("widget", []))
    curl = _runs_by_size(res.get("curl", []))
    fu = res.get("fileupload", [])
    lines = [
        "| size | widget: pick→done s | MiB/s | parts s (MiB/s) | completion s | parts | PUTs | "
        "preflights | curl -T s | curl MiB/s | widget/curl throughput, pick→done | widget/curl, parts only | "
        "FileUpload, default server | FileUpload, ws limit 1 GiB | kernel ΔHWM MiB | "
        "browser: renderer / all Chromium peak Δ MiB | JS heap peak MiB | verified |",
        "|" + "---|" * 18,
    ]
    for size in sorted(set(widget) | set(curl)):
        ws = [r for r in widget.get(size, []) if r.get("status") == "done"]
        cs = [r for r in curl.get(size, []) if r.get("ok")]
        total = med([g(r, "timing", "total_s") for r in ws])
        parts = med([g(r, "timing", "parts_s") for r in ws])
        comp = med([g(r, "timing", "completion_s") for r in ws])
        curl_s = med([r.get("seconds") for r in cs])
        fresh = next((r for r in widget.get(size, []) if r.get("fresh_kernel")), None) or {}
        nparts = med([g(r, "requests", "parts") for r in ws])
        puts = med([g(r, "requests", "puts") for r in ws])
        pre = med([g(r, "requests", "preflights") for r in ws])
        ok = sum(1 for r in widget.get(size, []) if r.get("ok"))
        n = len(widget.get(size, []))
        # Paired: widget run i against the curl run right after it (the machine is
        # shared; a pair sees about the same load), median over the pairs.
        pairs = _pairs(widget.get(size, []), curl.get(size, []))
        ratio_total = med([c["seconds"] / g(w, "timing", "total_s") for w, c in pairs])
        ratio_parts = med([c["seconds"] / g(w, "timing", "parts_s") for w, c in pairs])
        mem = g(fresh, "memory", default={})
        lines.append(
            f"| {size_label(size)} | {f(total, 2)} | {f(size / MiB / total if total else None, 0)} | "
            f"{f(parts, 2)} ({f(size / MiB / parts if parts else None, 0)}) | {f(comp, 2)} | "
            f"{f(nparts, 0) if nparts else 'single PUT'} | {f(puts, 0)} | {f(pre, 0)} | "
            f"{f(curl_s, 2)} | {f(size / MiB / curl_s if curl_s else None, 0)} | "
            f"{f(ratio_total, 2, '×')} | {f(ratio_parts, 2, '×')} | "
            f"{_fileupload_cell(fu, size, 'default')} | {_fileupload_cell(fu, size, 'ws_1GiB')} | "
            f"{f(g(mem, 'kernel_hwm_growth_mib'))} | "
            f"{f(g(mem, 'sampled_rss', 'renderer', 'peak_growth_mib'), 0)} / "
            f"{f(g(mem, 'sampled_rss', 'chromium', 'peak_growth_mib'), 0)} | "
            f"{f(g(mem, 'js_heap_mib', 'peak_sampled'), 0)} | {ok}/{n} sha256 |"
        )
    return lines


def widget_detail_table(runs: list[dict], title_cols=("size", "run")) -> list[str]:
    lines = [
        "| size | config | run | status | pick→done s | setup s | parts s | transfer s | "
        "completion s | moto complete (server) s | PUTs | preflights | PUTs in flight (avg) | "
        "moto CPU (cores) | Chromium CPU (cores) | kernel CPU (cores) | others' CPU (cores) | "
        "kernel ΔHWM MiB | renderer peak Δ MiB | sha256 |",
        "|" + "---|" * 20,
    ]
    for r in runs:
        t = r.get("timing", {})
        cfg = r.get("config") or {}
        cfg_s = ", ".join(
            f"{k.replace('multipart_', '')}={v // MiB if isinstance(v, int) and v >= MiB else v}"
            + ("M" if isinstance(v, int) and v >= MiB else "")
            for k, v in cfg.items()
        ) or "defaults"
        lines.append(
            f"| {size_label(r['size'])} | {cfg_s} | {r.get('repeat', 0) + 1} | "
            f"{r.get('status', r.get('exception', '?'))} | {f(t.get('total_s'), 2)} | "
            f"{f(t.get('setup_s'), 2)} | {f(t.get('parts_s'), 2)} | {f(t.get('transfer_s'), 2)} | "
            f"{f(t.get('completion_s'), 2)} | {f(med(t.get('server_complete_s') or []), 2)} | "
            f"{g(r, 'requests', 'puts', default='–')} | {g(r, 'requests', 'preflights', default='–')} | "
            f"{f(t.get('puts_in_flight_avg'), 1)} | "
            f"{f(g(r, 'cpu', 'moto', 'cores'), 2)} | {f(g(r, 'cpu', 'chromium', 'cores'), 2)} | "
            f"{f(g(r, 'cpu', 'kernel', 'cores'), 2)} | {f(g(r, 'cpu', 'others_cores'), 2)} | "
            f"{f(g(r, 'memory', 'kernel_hwm_growth_mib')) if r.get('fresh_kernel') else '(reused kernel)'} | "
            f"{f(g(r, 'memory', 'sampled_rss', 'renderer', 'peak_growth_mib'), 0)} | "
            f"{'ok' if r.get('ok') else 'FAIL'} |"
        )
    return lines


def curl_table(runs):
    lines = ["| size | run | HTTP | seconds | MiB/s | moto CPU (cores) | machine CPU busy (cores, all processes) | sha256 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(
            f"| {size_label(r['size'])} | {r.get('repeat', 0) + 1} | {r.get('http_status', '–')} | "
            f"{f(r.get('seconds'), 2)} | {f(r.get('throughput_mib_s'), 0)} | "
            f"{f(g(r, 'cpu', 'moto', 'cores'), 2)} | {f(g(r, 'cpu', 'system', 'cores'), 2)} | "
            f"{'ok' if r.get('ok') else 'FAIL'} |"
        )
    return lines


def fileupload_table(runs):
    lines = [
        "| size | server | result | to kernel s | boto3 upload_fileobj s | total s | kernel ΔHWM MiB "
        "| Jupyter server ΔHWM MiB | renderer peak Δ MiB | websocket closes seen |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        t = r.get("timing", {})
        if r.get("attempted") is False:
            result = r["error"]
        elif r.get("arrived"):
            result = "ok (sha256 verified)" if r.get("ok") else f"arrived, upload failed: {r.get('error')}"
        else:
            result = r.get("exception") or r.get("error") or "?"
        closes = ", ".join(str(c.get("code")) for c in r.get("ws_closes", [])) or "–"
        lines.append(
            f"| {size_label(r['size'])} | {r['server']} | {result} | {f(t.get('arrive_s'), 2)} | "
            f"{f(t.get('boto3_upload_s'), 2)} | {f(t.get('total_s'), 2)} | "
            f"{f(g(r, 'memory', 'kernel_hwm_growth_mib'))} | "
            f"{f(g(r, 'memory', 'jupyter_server_hwm_growth_mib'))} | "
            f"{f(g(r, 'memory', 'sampled_rss', 'renderer', 'peak_growth_mib'), 0)} | {closes} |"
        )
    return lines


def _rel_curl(r: dict):
    """Parts throughput of a widget run relative to the curl run right after it."""
    c = r.get("curl_adjacent") or {}
    parts = g(r, "timing", "parts_s")
    if not (c.get("ok") and parts):
        return None
    return c["seconds"] / parts


def _per_gib(r: dict, group: str):
    used = g(r, "cpu", group, "cpu_s")
    return used / (r["size"] / GiB) if used is not None else None


def _overhead_ms(r: dict):
    """A part's time besides its bytes: PUT end -> next preflight, plus preflight
    answered -> PUT sent (medians), in ms."""
    pp = g(r, "timing", "part_pipeline", default={}) or {}
    a, b = g(pp, "refill_s", "median"), g(pp, "preflight_to_put_s", "median")
    pre = g(pp, "preflight_s", "median")
    if a is None or b is None:
        return None
    return (a + b + (pre or 0)) * 1000


def _grid(runs, cell) -> tuple[list, list, dict]:
    grid: dict[tuple, list] = {}
    for r in runs:
        cfg = r.get("config") or {}
        if "part_size" in cfg:
            grid.setdefault((cfg["part_size"], cfg["concurrency"]), []).append(r)
    return sorted({k[0] for k in grid}), sorted({k[1] for k in grid}), grid


def _grid_table(runs, title, cell, extra=None) -> list[str]:
    sizes, concs, grid = _grid(runs, cell)
    out = [title, "", "| part size \\ concurrency | " + " | ".join(map(str, concs)) + " |"
           + (f" {extra[0]} |" if extra else ""),
           "|---|" + "---|" * (len(concs) + (1 if extra else 0))]  # fmt: skip
    for ps in sizes:
        cells = [cell([r for r in grid.get((ps, c), []) if r.get("ok")]) for c in concs]
        out.append(f"| {ps // MiB} MiB | " + " | ".join(cells) + " |"
                   + (f" {extra[1](ps)} |" if extra else ""))  # fmt: skip
    return out + [""]


def sweep_tables(runs: list[dict]) -> list[str]:
    if not runs:
        return ["(not run)"]
    out = []
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault((r["size"], r.get("latency_ms", 0)), []).append(r)
    for (size, latency), rs in sorted(groups.items(), key=lambda kv: kv[0][1]):
        passes = len({r.get("repeat", 0) for r in rs})
        head = (
            f"### {size_label(size)} file, "
            + ("loopback" if not latency else f"{latency:g} ms latency added to every browser request")
            + f" ({passes} pass{'es' if passes > 1 else ''}; medians)"
        )
        out += [head, ""]
        if latency:
            out += [
                "Chromium's network emulation delays every request of the page (each part's "
                "preflight and PUT) by this much; bandwidth stays unlimited. A first-order "
                "model of a real link: per-part round trips cost what they would, TCP's "
                "window and bandwidth limits are not modelled.",
                "",
            ]
        with_curl = any(r.get("curl_adjacent") for r in rs)

        def tput(cell_runs):
            if not cell_runs:
                return "FAIL"
            v = med([g(r, "throughput_mib_s", "parts") for r in cell_runs])
            rel = med([_rel_curl(r) for r in cell_runs]) if with_curl else None
            return f"{f(v, 0)}" + (f" ({f(rel, 2, '×')})" if rel is not None else "")

        out += _grid_table(
            rs,
            "Parts-upload throughput, MiB/s (pick → the browser's `complete` request)"
            + (", and in brackets relative to a `curl -T` of the same file run right after "
               "(median of the per-run ratios)" if with_curl else "") + ":",
            tput,
            ("parts", lambda ps: str(-(-size // ps))),
        )
        out += _grid_table(
            rs,
            "PUTs in flight on average (of `concurrency`), and the per-part time besides its "
            "bytes in ms (PUT end → next preflight + preflight + preflight → PUT; medians):",
            lambda c: (f"{f(med([g(r, 'timing', 'puts_in_flight_avg') for r in c]), 1)} / "
                       f"{f(med([_overhead_ms(r) for r in c]), 0)} ms") if c else "FAIL",
        )  # fmt: skip
        out += _grid_table(
            rs,
            "CPU seconds per GiB moved while the parts went up: all Chromium processes "
            "(renderer + browser + network service + GPU) / moto:",
            lambda c: (f"{f(med([_per_gib(r, 'chromium') for r in c]), 1)} / "
                       f"{f(med([_per_gib(r, 'moto') for r in c]), 1)}") if c else "FAIL",
            ("completion s", lambda ps: f(med([
                g(r, "timing", "completion_s") for r in rs
                if (r.get("config") or {}).get("part_size") == ps and r.get("ok")]), 1)),
        )  # fmt: skip
        single = [r for r in rs if "part_size" not in (r.get("config") or {}) and r.get("ok")]
        if single:
            out += [
                f"Reference, the same file as one single PUT: pick → done "
                f"{f(med([g(r, 'timing', 'total_s') for r in single]), 2)} s = "
                f"{f(med([g(r, 'throughput_mib_s', 'total') for r in single]), 0)} MiB/s"
                + (f" ({f(med([_rel_curl(r) for r in single]), 2, '×')} curl)" if with_curl else "")
                + f"; Chromium {f(med([_per_gib(r, 'chromium') for r in single]), 1)} CPU-s/GiB.",
                "",
            ]
    out += ["### Every sweep run", ""] + widget_detail_table(runs)
    return out


def cpu_table(res: dict) -> list[str]:
    """CPU seconds per GiB moved: a figure that depends little on what else runs."""
    widget = _runs_by_size(res.get("widget", []))
    curl = _runs_by_size(res.get("curl", []))
    out = [
        "| size | widget: Chromium total | renderer (page) | browser process | network service "
        "| GPU | moto | kernel | curl: curl | moto |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sorted(widget):
        ws = [r for r in widget[size] if r.get("ok")]
        cs = [r for r in curl.get(size, []) if r.get("ok")]
        curl_cpu = med([g(r, "cpu", "curl_cpu_s") / (size / GiB) if g(r, "cpu", "curl_cpu_s") is not None else None for r in cs])
        curl_moto = med([g(r, "cpu", "moto", "cpu_s") / (size / GiB) if g(r, "cpu", "moto", "cpu_s") is not None else None for r in cs])
        out.append(
            f"| {size_label(size)} | " + " | ".join(
                f(med([_per_gib(r, k) for r in ws]), 1)
                for k in ("chromium", "renderer", "chromium_browser", "chromium_network", "chromium_gpu", "moto", "kernel")
            ) + f" | {f(curl_cpu, 1)} | {f(curl_moto, 1)} |"
        )  # fmt: skip
    return out


def threshold_table(runs: list[dict]) -> list[str]:
    if not runs:
        return ["(not run)"]
    by: dict[tuple, list] = {}
    for r in runs:
        by.setdefault((r["size"], r["label"]), []).append(r)
    out = [
        "| size | mode | runs ok | pick→done s (median) | MiB/s | parts s | completion s | PUTs | preflights |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (size, mode), rs in sorted(by.items()):
        ok = [r for r in rs if r.get("ok")]
        total = med([g(r, "timing", "total_s") for r in ok])
        out.append(
            f"| {size_label(size)} | {mode} | {len(ok)}/{len(rs)} | {f(total, 2)} | "
            f"{f(size / MiB / total if total else None, 0)} | "
            f"{f(med([g(r, 'timing', 'parts_s') for r in ok]), 2)} | "
            f"{f(med([g(r, 'timing', 'completion_s') for r in ok]), 2)} | "
            f"{f(med([g(r, 'requests', 'puts') for r in ok]), 0)} | "
            f"{f(med([g(r, 'requests', 'preflights') for r in ok]), 0)} |"
        )
    return out


def signing_table(res: dict) -> list[str]:
    s = res.get("signing") or {}
    if not s:
        return ["(not run)"]
    pp, pu = s["presign_part_ms"], s["presign_put_ms"]
    out = [
        "| what | calls | median ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
        f"| `Signer.presign_part` (in process) | {pp['count']} | {pp['median']:.3f} | {pp['p99']:.3f} | {pp['mean']:.3f} |",
        f"| `Signer.presign_put` (in process) | {pu['count']} | {pu['median']:.3f} | {pu['p99']:.3f} | {pu['mean']:.3f} |",
    ]
    for batch, b in s["sign_parts_handler"].items():
        h = b["handler_ms"]
        out.append(
            f"| `sign-parts` handler, batch of {batch} (in process; reply {b['reply_bytes']:,} B) | "
            f"{h['count']} | {h['median']:.3f} | {h['p99']:.3f} | {h['mean']:.3f} |"
        )
    # In the kernel during the real runs.
    runs = [r for r in res.get("widget", []) + res.get("sweep", []) if r.get("ok")]
    kernel_pp, kernel_batches = [], []
    for r in runs:
        p = g(r, "timing", "presign_part_s")
        if p and p.get("count"):
            kernel_pp.append(p["median"] * 1000)
        kernel_batches += [(n, s_ * 1000) for n, s_ in g(r, "timing", "sign_parts_batches", default=[])]
    if kernel_pp:
        out.append(
            f"| `presign_part` in the kernel during the uploads (median of per-run medians) | "
            f"{len(kernel_pp)} runs | {med(kernel_pp):.3f} | – | – |"
        )
    if kernel_batches:
        times = sorted(t for _, t in kernel_batches)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        out.append(
            f"| `sign-parts` handler in the kernel during the uploads (batches of "
            f"{min(n for n, _ in kernel_batches)}–{max(n for n, _ in kernel_batches)}) | "
            f"{len(times)} | {statistics.median(times):.3f} | {p99:.3f} | {statistics.fmean(times):.3f} |"
        )
    out.append(f"\nA part URL is {s.get('part_url_chars')} characters long.")
    return out


def targets(res: dict) -> list[str]:
    out = []
    widget = _runs_by_size(res.get("widget", []))
    curl = _runs_by_size(res.get("curl", []))
    big = max(widget) if widget else None
    if big:
        ws = [r for r in widget[big] if r.get("ok")]
        cs = [r for r in curl.get(big, []) if r.get("ok")]
        total = med([g(r, "timing", "total_s") for r in ws])
        parts = med([g(r, "timing", "parts_s") for r in ws])
        c = med([r.get("seconds") for r in cs])
        if total and c:
            out.append(
                f"- Widget ≥ 0.9× curl throughput at {size_label(big)}: pick→done "
                f"**{c / total:.2f}×** ({'met' if c / total >= 0.9 else 'not met'}); parts only "
                f"(excluding moto's assembly) **{c / parts:.2f}×** "
                f"({'met' if c / parts >= 0.9 else 'not met'})."
            )
    fresh = [r for r in res.get("widget", []) if r.get("fresh_kernel") and r.get("ok")]
    if fresh:
        worst = max(g(r, "memory", "kernel_hwm_growth_mib") or 0 for r in fresh)
        out.append(
            f"- Kernel peak memory growth < 30 MB whatever the size: worst "
            f"**{worst:.1f} MiB** over {', '.join(size_label(r['size']) for r in fresh)} "
            f"({'met' if worst * MiB < 30e6 else 'not met'})."
        )
        rows = []
        for r in fresh:
            conc = 4
            part = 8 * MiB
            grow = g(r, "memory", "sampled_rss", "renderer", "peak_growth_mib")
            allg = g(r, "memory", "sampled_rss", "chromium", "peak_growth_mib")
            rows.append(f"{size_label(r['size'])}: renderer +{f(grow, 0)} MiB, all Chromium +{f(allg, 0)} MiB")
        out.append(
            "- Browser memory bounded by about concurrency × part size + a constant "
            f"(4 × 8 MiB = 32 MiB at the defaults): {'; '.join(rows)}."
        )
    return out


def markdown(res: dict) -> str:
    env = res.get("environment", {})
    v = env.get("versions", {})
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `benchmarks/run.py` ({'complete run' if res.get('complete') else 'INCOMPLETE run'}, "
        f"{(res.get('elapsed_s') or 0) / 60:.1f} min) on {env.get('date')}. Loopback only: "
        "JupyterLab + headless Chromium → moto's S3 server (its own process). How to read "
        "it and its caveats: [README.md](README.md).",
        "",
        f"Machine: {env.get('cpu_count')} CPUs ({env.get('cpu_model')}), load average at start "
        f"{env.get('loadavg_start')}, at end {env.get('loadavg_end')}. {v.get('chromium')}; "
        f"JupyterLab {v.get('jupyterlab')}, jupyter_server {v.get('jupyter_server')}, "
        f"ipywidgets {v.get('ipywidgets')}, anywidget {v.get('anywidget')}, moto {v.get('moto')}, "
        f"boto3 {v.get('boto3')}, Playwright {v.get('playwright')}, {v.get('curl')}. Commit "
        f"{(env.get('git') or {}).get('commit', '')[:10]}"
        + (" (with uncommitted changes)" if (env.get("git") or {}).get("dirty_files") else "")
        + ".",
        "",
        "## Main comparison (defaults: threshold 64 MiB, part size 8 MiB, concurrency 4)",
        "",
        "Times are medians over the runs of each size; memory is from the first run of each "
        "size (a fresh kernel and page). MiB = 2^20 bytes.",
        "",
        *main_table(res),
        "",
        "Targets (reported, not enforced):",
        "",
        *targets(res),
        "",
        "### Every widget run",
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
        "### CPU seconds per GiB moved (parts phase for the widget; medians)",
        "",
        "Independent of how busy the machine was, unlike MiB/s. The widget's figures "
        "cover pick → `complete` request.",
        "",
        *cpu_table(res),
        "",
        "## Sweep: part size × concurrency",
        "",
        *sweep_tables(res.get("sweep", [])),
        "",
        "## Sweep: multipart threshold (defaults otherwise: part size 8 MiB, concurrency 4)",
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
