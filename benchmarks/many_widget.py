"""The widget in the many-files benchmark: its notebook's cells and one run (every file
of a set picked at once through the widget's "Choose files" input).

The kernel is watched without probe cells during the upload (a probe would queue behind
the widget's own messages): ``w.on_upload`` stamps each ``done`` with the kernel's clock,
and a thread in the kernel writes the records' status counts to a JSON file every 0.2 s
when they change; this process reads that file. After the upload one probe call writes
the records, the done times and the records' memory to another file.
"""

from __future__ import annotations

import json
import time
import traceback

from . import cells
from . import many_common as C
from . import measure as M
from .pages import Page, log

PREFIX = "many/"

SETUP = (
    cells.CLIENT
    + '''import sys, threading, types
from s3_upload_widget import S3UploadWidget

FINAL = ("done", "error", "cancelled")
MF = {}
w = None

def _write_json(path, data):
    with open(path + ".tmp", "w") as fh:
        json.dump(data, fh)
    os.replace(path + ".tmp", path)

def _watch(widget, mf):
    """Status counts of the widget's records, written to a file when they change."""
    last = None
    while not mf["stop"].is_set():
        counts = {}
        for u in widget.uploads:
            counts[u["status"]] = counts.get(u["status"], 0) + 1
        state = {"records": sum(counts.values()), "counts": counts,
                 "final": sum(counts.get(s, 0) for s in FINAL)}
        if state != last:
            last = dict(state)
            state["t"] = time.time()
            _write_json(mf["progress_path"], state)
        if state["records"] >= mf["n"] and state["final"] >= mf["n"]:
            return
        time.sleep(0.2)

def make_widget(bucket, progress_path, n):
    """A fresh widget (the previous one closed) and its watcher."""
    global w
    if w is not None:
        MF["stop"].set()
        w.close()
    MF.clear()
    MF.update(done_t=[], progress_path=progress_path, n=n, stop=threading.Event())
    w = S3UploadWidget(bucket=bucket, prefix='''
    + repr(PREFIX)
    + ''', client=client)
    w.on_upload(lambda record: MF["done_t"].append(time.time()))
    threading.Thread(target=_watch, args=(w, MF), daemon=True).start()
    return w

_SKIP = (type, types.ModuleType, types.FunctionType, types.MethodType,
         types.BuiltinFunctionType)

def deep_size(*roots):
    """Bytes of the objects reachable from roots (containers, instances' __dict__ and
    __slots__), each counted once; classes, modules and functions left out."""
    seen, total, stack = set(), 0, list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _SKIP):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        else:
            if hasattr(o, "__dict__"):
                stack.append(vars(o))
            for name in getattr(type(o), "__slots__", ()):
                if hasattr(o, name):
                    stack.append(getattr(o, name))
    return total

def mf_dump(path):
    """The records, the done times and the records' memory, to a file; a summary back."""
    MF["stop"].set()
    session = getattr(w, "_session", None)
    held = getattr(session, "_uploads", None)
    sizes = {
        "session_records_bytes": deep_size(held) if held is not None else None,
        "uploads_trait_bytes": deep_size(w.uploads),
        "uploaded_keys_bytes": deep_size(w.uploaded_keys),
        "all_bytes": deep_size(held, w.uploads, w.uploaded_keys),
    }
    records = [{k: u.get(k) for k in ("name", "key", "size", "status", "error")}
               for u in w.uploads]
    _write_json(path, {"records": records, "done_t": MF["done_t"], "sizes": sizes})
    return {"records": len(records), "sizes": sizes}
'''
)

SHOW = "make_widget(**CFG)"


def widget_page(browser, lab) -> Page:
    return Page(browser, lab, [SETUP, SHOW], init_script=C.PAGE_INSTRUMENTS, name="many")


def _rss_kib(pid: int) -> int | None:
    return M.proc_status(pid).get("VmRSS")


def _read_json(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def widget_run(pg: Page, lab, moto, client, fs: C.FileSet, args, input_kind: str) -> dict:
    """Pick every file of ``fs`` in a new widget (``input_kind``: "files" through
    ``.s3uw-input``, "folder" through ``.s3uw-folder-input``); wait until every record is
    final in the kernel; read the costs; check S3."""
    bucket = moto.make_bucket(cors_origins=[lab.origin])
    work = C.MANY_DIR / "runs"
    work.mkdir(parents=True, exist_ok=True)
    progress_path, dump_path = work / f"{bucket}-progress.json", work / f"{bucket}-dump.json"
    out: dict = {"scenario": "widget", "input": input_kind, "count": fs.count,
                 "size": fs.size, "ok": False}  # fmt: skip
    nb, page = pg.nb, pg.page
    try:
        cfg = {"bucket": bucket, "progress_path": str(progress_path), "n": fs.count}
        nb.exec(f"CFG = {cfg!r}")
        nb.run_cell(1, timeout=60)
        widget = nb.widget(1)
        widget.wait_for(state="visible", timeout=30_000)
        page.wait_for_timeout(500)  # the view says hello to the kernel
        pids = {"kernel": pg.kernel_pid, "moto": moto.pid, "jupyter_server": lab.proc.pid,
                "chromium": C.chromium()}  # fmt: skip
        rss0, cpu0, snap0 = _rss_kib(pg.kernel_pid), C.cpu_of(pids), C.page_snapshot(page)
        t_pick = time.time()
        if input_kind == "folder":
            widget.locator(".s3uw-folder-input").set_input_files(str(fs.folder), timeout=600_000)
        else:
            widget.locator(".s3uw-input").set_input_files(fs.paths, timeout=600_000)
        t_set = time.time()
        progress, t_added = _wait_final(page, progress_path, fs.count, args.timeout)
        cpu1, snap1, rss1 = C.cpu_of(pids), C.page_snapshot(page), _rss_kib(pg.kernel_pid)
        out["timed_out"] = progress.get("final", 0) < fs.count
        out["progress"] = progress
        summary = nb.eval_json(f"mf_dump({str(dump_path)!r})", timeout=300)
        dump = _read_json(dump_path)
        records = dump.get("records", [])
        done = [r for r in records if r["status"] == "done"]
        done_t = dump.get("done_t", [])
        if out["timed_out"] or not done_t:
            t_end = progress.get("t") or time.time()
        else:
            t_end = max(max(done_t), progress.get("t", 0) if len(done) < fs.count else 0)
        seconds = t_end - t_pick
        out["records"] = len(records)
        out["statuses"] = progress.get("counts")
        out["errors_sample"] = [r["error"] for r in records if r["status"] == "error"][:5]
        out["timing"] = {
            "pick_to_done_s": seconds,
            "set_input_files_s": t_set - t_pick,
            "pick_to_records_s": (t_added - t_pick) if t_added else None,
            "first_done_s": (min(done_t) - t_pick) if done_t else None,
        }
        out["done_rate"] = done_rate(done_t)
        out["files_done"] = len(done)
        out["files_per_s"] = len(done) / seconds if seconds > 0 else None
        out["mib_per_s"] = len(done) * fs.size / M.MiB / seconds if seconds > 0 else None
        out["cpu_ms_per_file"] = C.cpu_ms_per_file(cpu0, cpu1, fs.count)
        out["page"] = C.page_window(page, snap0, snap1)
        ws = out["page"]["websocket"]
        out["ws_bytes_per_file"] = {
            "browser_to_kernel": ws["sent"] / fs.count,
            "kernel_to_browser": ws["received"] / fs.count,
        }
        sizes = summary.get("sizes", {})
        out["memory"] = {
            "rss_growth_kib_per_record": (rss1 - rss0) / fs.count if rss0 and rss1 else None,
            "deep_bytes": sizes,
            "deep_bytes_per_record": {
                k: v / fs.count for k, v in sizes.items() if isinstance(v, (int, float))
            },
        }
        keys = {r["name"]: r["key"] for r in records if r.get("key")}
        out["verify"] = C.verify(client, bucket, keys, fs, args.verify_sample)
        out["ok"] = out["verify"]["ok"] and len(done) == fs.count
    except Exception as exc:
        out["exception"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()[-3000:]
        out["console_tail"] = pg.console[-20:]
        log(f"  widget run failed: {out['exception']}")
    finally:
        C.drop_bucket(client, bucket)
    return out


def done_rate(done_t: list[float]) -> dict:
    """Files/s over the first, middle and last tenth of the done records (by the kernel's
    clock): whether the pace drops as the widget holds more records."""
    t = sorted(done_t)
    n = len(t) // 10
    if n < 2:
        return {}

    def rate(a: int, b: int) -> float | None:
        return (b - a) / (t[b] - t[a]) if t[b] > t[a] else None

    mid = len(t) // 2 - n // 2
    return {"first_10pct": rate(0, n), "middle_10pct": rate(mid, mid + n),
            "last_10pct": rate(len(t) - 1 - n, len(t) - 1)}  # fmt: skip


def _wait_final(page, progress_path, count: int, timeout: float) -> tuple[dict, float | None]:
    """Poll the kernel watcher's file until ``count`` records are final (or the deadline);
    returns its last state and when the kernel first held ``count`` records."""
    deadline = time.monotonic() + timeout
    progress: dict = {}
    t_added = None
    last_log = time.monotonic()
    while time.monotonic() < deadline:
        progress = _read_json(progress_path) or progress
        if t_added is None and progress.get("records", 0) >= count:
            t_added = progress.get("t")
        if progress.get("records", 0) >= count and progress.get("final", 0) >= count:
            break
        if time.monotonic() - last_log > 30:
            log(f"    ... {progress.get('counts')}")
            last_log = time.monotonic()
        page.wait_for_timeout(200)
    return progress, t_added
