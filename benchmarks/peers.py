"""What the widget is compared with: ``curl -T`` to a presigned URL, and ipywidgets'
FileUpload followed by boto3 in the kernel (today's path)."""

from __future__ import annotations

import contextlib
import resource
import subprocess
import time
import traceback
from pathlib import Path

from . import cells
from . import measure as M
from .pages import Page, hwm_kib, log, page_renderer_pid

_WS_CLOSES = "window.__s3uwBenchWs || []"  # recorded by cells.WS_CLOSE_RECORDER


# --- curl ----------------------------------------------------------------------------------


def curl_run(
    moto: M.RemoteMoto, client, size: int, path: Path, sha: str, *, full_check: bool = True
) -> dict:
    """``curl -T`` of the same file to a presigned PUT URL (Content-Length signed).
    Checked by sha256 of the stored object, or (``full_check=False``, in the sweeps)
    by its ETag, the MD5 of the body moto received."""
    bucket = moto.make_bucket()
    key = f"curl/{path.name}"
    out: dict = {"size": size, "bucket": bucket, "ok": False}
    try:
        url = client.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ContentLength": size},
            ExpiresIn=900,
        )
        cmd = ["curl", "-sS", "--noproxy", "*", "-H", "Expect:", "-T", str(path),
               "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url]  # fmt: skip
        out["load_before"] = M.loadavg()
        with M.MemorySampler({"moto": [moto.pid]}) as sampler:
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
            got, n = M.s3_object_sha256(client, bucket, key)
            out["verify"] = {"sha256_match": got == sha, "length": n}
            out["ok"] = got == sha and n == size
        elif int(code) == 200:
            head = client.head_object(Bucket=bucket, Key=key)
            md5_ok = head["ETag"].strip('"') == M.file_md5(path)
            out["verify"] = {"etag_is_md5": md5_ok, "length": head["ContentLength"]}
            out["ok"] = md5_ok and head["ContentLength"] == size
    except Exception as exc:
        out["exception"] = f"{type(exc).__name__}: {exc}"
        log(f"  curl run failed: {out['exception']}")
    finally:
        M.empty_bucket(client, bucket)
    return out


# --- ipywidgets.FileUpload (today's path) ------------------------------------------------


def fileupload_run(
    moto: M.RemoteMoto, client, browser, lab, size: int, path: Path, sha: str, server: str
) -> dict:
    """Pick ``path`` in a FileUpload in a new notebook on ``lab`` (``server`` names its
    settings); the kernel uploads the bytes with boto3 as soon as they arrive."""
    bucket = moto.make_bucket()
    out: dict = {"size": size, "server": server, "ok": False, "arrived": False}
    pg = None
    try:
        pg = Page(browser, lab, cells.fileupload_cells(bucket),
                  init_script=cells.WS_CLOSE_RECORDER, name="fileupload")  # fmt: skip
        button = pg.nb.cell(0).locator(".widget-upload").first
        button.wait_for(state="visible", timeout=30_000)
        renderer = page_renderer_pid()
        groups = {
            "renderer": [renderer] if renderer else [],
            "chromium": list(M.chromium_pids()),
            "kernel": [pg.kernel_pid],
            "jupyter_server": [lab.proc.pid],
        }
        hwm0 = (hwm_kib(pg.kernel_pid), hwm_kib(lab.proc.pid))
        js0 = pg.js_heap_mib()
        closes_before = len(pg.page.evaluate(_WS_CLOSES))
        with M.MemorySampler(groups) as sampler:
            with pg.page.expect_file_chooser() as chooser:
                button.click()
            t_pick = time.time()
            chooser.value.set_files(str(path))
            events, ws_closed = _wait_for_arrival(pg, size, closes_before, out)
            t_end = time.time()
        out["ws_closes"] = pg.page.evaluate(_WS_CLOSES)[closes_before:]
        out["button_text_after"] = (button.text_content() or "").strip()
        (k_hwm0, s_hwm0), (k_hwm1, s_hwm1) = hwm0, (hwm_kib(pg.kernel_pid), hwm_kib(lab.proc.pid))
        out["memory"] = {
            "kernel_hwm_growth_mib": (k_hwm1 - k_hwm0) / 1024 if k_hwm0 and k_hwm1 else None,
            "jupyter_server_hwm_growth_mib": (s_hwm1 - s_hwm0) / 1024
            if s_hwm0 and s_hwm1
            else None,
            "sampled_rss": sampler.result(),
            "js_heap_mib": {"before": js0, "after": pg.js_heap_mib()},
        }
        if events:
            _arrived(out, events[0], client, bucket, size, sha, t_pick, k_hwm0)
        else:
            # The kernel uploads as soon as the value arrives: no object, no arrival.
            out["objects_in_bucket"] = len(moto.list_keys(bucket))
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
        M.empty_bucket(client, bucket)
    return out


def _first_close(pg: Page, closes_before: int) -> dict | None:
    closes = pg.page.evaluate(_WS_CLOSES)[closes_before:]
    return closes[0] if closes else None


def _wait_for_arrival(pg: Page, size: int, closes_before: int, out: dict) -> tuple[list, dict]:
    """Wait until the kernel has the file (its upload events) or the websocket closed;
    returns the events and the first websocket close (or None)."""
    nb, page = pg.nb, pg.page
    ws_closed = None
    events: list = []
    # At default settings the websocket closes (1009) as soon as the browser sends the
    # message: watch for that before probing the kernel (a probe sent on a dying
    # websocket would wait for nothing).
    grace = time.monotonic() + 3 + size / (100 * M.MiB)
    while time.monotonic() < grace and ws_closed is None:
        ws_closed = _first_close(pg, closes_before)
        page.wait_for_timeout(200)
    if ws_closed is not None:
        page.wait_for_timeout(4000)  # Lab reconnects the kernel
        with contextlib.suppress(Exception):
            events = nb.eval_json("FU['events']", timeout=20)
            out["kernel_probe_after_close"] = "ok"
        return events, ws_closed
    deadline = time.monotonic() + 60 + size / (2 * M.MiB)
    while time.monotonic() < deadline and not events:
        try:
            # Queued behind the comm message: answers once it is handled.
            events = nb.eval_json("FU['events']", timeout=60 + size / (2 * M.MiB))
        except Exception as exc:
            out.setdefault("probe_errors", []).append(str(exc)[:300])
        if not events:
            ws_closed = _first_close(pg, closes_before)
            if ws_closed is not None:
                break
            page.wait_for_timeout(500)
    return events, ws_closed


def _arrived(out, ev, client, bucket, size, sha, t_pick, k_hwm0) -> None:
    """The file reached the kernel: its times and memory, and whether boto3's upload
    stored the same bytes."""
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
        got, n = M.s3_object_sha256(client, bucket, ev["key"])
        out["verify"] = {"sha256_match": got == sha, "length": n}
        out["ok"] = got == sha and n == size
    else:
        out["error"] = ev.get("error")
