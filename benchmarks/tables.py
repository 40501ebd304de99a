"""The tables of results.md: cell formatting, every run, the sweeps, signing cost."""

from __future__ import annotations

import statistics

from .measure import GiB, MiB, size_label

# --- cells --------------------------------------------------------------------------------


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


def runs_by_size(runs):
    out: dict[int, list] = {}
    for r in runs:
        out.setdefault(r["size"], []).append(r)
    return out


def per_gib(r: dict, group: str):
    """CPU seconds of a process group per GiB moved, during the run's parts phase."""
    used = g(r, "cpu", group, "cpu_s")
    return used / (r["size"] / GiB) if used is not None else None


def rel_curl(r: dict):
    """Parts throughput of a sweep run relative to the curl run right after it."""
    c = r.get("curl_adjacent") or {}
    parts = g(r, "timing", "parts_s")
    if not (c.get("ok") and parts):
        return None
    return c["seconds"] / parts


def overhead_ms(r: dict):
    """A part's time besides its bytes (medians, ms): PUT end -> next preflight arrives,
    the preflight itself, its answer -> the PUT arrives."""
    pp = g(r, "timing", "part_pipeline", default={}) or {}
    parts = [g(pp, k, "median") for k in ("refill_s", "preflight_s", "preflight_to_put_s")]
    if None in parts:
        return None
    return sum(parts) * 1000


def config_label(cfg: dict) -> str:
    bits = []
    for k, v in cfg.items():
        name = k.replace("multipart_", "")
        bits.append(f"{name}={v // MiB}M" if isinstance(v, int) and v >= MiB else f"{name}={v}")
    return ", ".join(bits) or "defaults"


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
                config_label(r.get("config") or {}),
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
                f(overhead_ms(r), 0),
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
    widget = runs_by_size(res.get("widget", []))
    curl = runs_by_size(res.get("curl", []))
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
                *(f(med([per_gib(r, k) for r in ws]), 1) for k in groups),
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
    rel = med([rel_curl(r) for r in runs])
    return f"{f(v, 0)} ({f(rel, 2, '×')})" if runs else "–"


def _cell_pipeline(runs):
    if not runs:
        return "–"
    inflight = med([g(r, "timing", "puts_in_flight_avg") for r in runs])
    return f"{f(inflight, 1)} / {f(med([overhead_ms(r) for r in runs]), 0)} ms"


def _cell_cpu(runs):
    if not runs:
        return "–"
    chromium = med([per_gib(r, "chromium") for r in runs])
    return f"{f(chromium, 1)} / {f(med([per_gib(r, 'moto') for r in runs]), 1)}"


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
            f"{f(mib_s(size, total), 0)} MiB/s ({f(med([rel_curl(r) for r in single]), 2, '×')}"
            f" curl); Chromium {f(med([per_gib(r, 'chromium') for r in single]), 1)} CPU-s "
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
                f(med([per_gib(r, "chromium") for r in ok]), 1),
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
