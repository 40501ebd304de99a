"""Uppy 5 in the many-files benchmark: its page (benchmarks/uppy/entry.js, bundled with
esbuild), the small server that serves the page and signs (run as
``python -m benchmarks.many_uppy serve`` by `UppyServer`, never by hand), and one run.

Signing: Uppy's ``getUploadParameters`` fetches ``/sign?bucket&key&type`` from the page's
own origin; the server presigns a single PUT with boto3 against moto (no request to moto:
presigning is local). That is what an Uppy user without Companion writes, and it costs
one HTTP request per file, as the widget costs one kernel round trip per file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from . import many_common as C
from . import measure as M
from .pages import log

UPPY_DIR = M.BENCH_DIR / "uppy"
BUILD_DIR = C.MANY_DIR / "uppy-build"
ESBUILD = M.REPO_ROOT / "js" / "node_modules" / ".bin" / "esbuild"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Uppy 5 many-files benchmark</title></head>
<body><input type="file" id="files" multiple><script src="/bundle.js"></script></body></html>
"""


def build() -> dict:
    """npm ci in benchmarks/uppy (once) and the bundle; returns the versions used."""
    if not (UPPY_DIR / "node_modules" / "@uppy" / "core").exists():
        log("npm ci in benchmarks/uppy ...")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=UPPY_DIR, check=True,
                       timeout=600)  # fmt: skip
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(ESBUILD), str(UPPY_DIR / "entry.js"), "--bundle", "--format=iife", "--minify",
         "--target=es2022", f"--outfile={BUILD_DIR / 'bundle.js'}", "--log-level=warning"],
        cwd=UPPY_DIR, check=True, timeout=120,
    )  # fmt: skip
    (BUILD_DIR / "index.html").write_text(PAGE)

    def version(pkg: str) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            path = UPPY_DIR / "node_modules" / pkg / "package.json"
            return json.loads(path.read_text())["version"]
        return None

    esbuild = subprocess.run([str(ESBUILD), "--version"], capture_output=True, text=True)
    return {
        "@uppy/core": version("@uppy/core"),
        "@uppy/aws-s3": version("@uppy/aws-s3"),
        "esbuild": esbuild.stdout.strip(),
    }


# --- the server (its own process) ------------------------------------------------------------


def _handler(client, folder: Path):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/sign":
                q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                params = {"Bucket": q["bucket"], "Key": q["key"]}
                headers = {}
                if q.get("type"):
                    params["ContentType"] = headers["content-type"] = q["type"]
                signed = client.generate_presigned_url("put_object", Params=params, ExpiresIn=900)
                body = json.dumps({"method": "PUT", "url": signed, "headers": headers})
                return self._send(200, body.encode(), "application/json")
            name = {"/": "index.html", "/bundle.js": "bundle.js"}.get(url.path)
            if name is None:
                return self._send(404, b"not found", "text/plain")
            ctype = "text/html" if name.endswith(".html") else "text/javascript"
            return self._send(200, (folder / name).read_bytes(), ctype)

    return Handler


def serve(endpoint: str, folder: Path) -> None:
    """Serve the page and /sign on 127.0.0.1 until stdin closes."""
    from s3_upload_widget._local import loopback_client

    client = loopback_client(
        endpoint, os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(client, folder))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"ORIGIN http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    server.shutdown()


class UppyServer:
    """`serve` in a process of its own (its CPU time is the signing cost)."""

    def __init__(self, moto: M.RemoteMoto):
        env = {**os.environ, **moto.kernel_env(), "NO_PROXY": "127.0.0.1,localhost"}
        for k in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(k, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.many_uppy", "serve", moto.endpoint_url,
             str(BUILD_DIR)],
            cwd=M.REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        line = self.proc.stdout.readline().strip()
        if not line.startswith("ORIGIN "):
            self.stop()
            raise RuntimeError(f"the Uppy page server did not start: {line!r}")
        self.origin = line.split(" ", 1)[1]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=5)


# --- one run ------------------------------------------------------------------------------------


def uppy_run(browser, server: UppyServer, moto, client, fs: C.FileSet, args) -> dict:
    """Pick every file of ``fs`` in the Uppy page; wait for Uppy's upload() to resolve."""
    bucket = moto.make_bucket(cors_origins=[server.origin])
    prefix = "uppy/"
    out: dict = {"scenario": "uppy", "count": fs.count, "size": fs.size, "ok": False}
    context = browser.new_context()
    try:
        context.add_init_script(C.PAGE_INSTRUMENTS)
        page = context.new_page()
        page.goto(f"{server.origin}/?bucket={bucket}&prefix={prefix}")
        page.wait_for_function("window.__mfUppy && window.__mfUppy.ready", timeout=30_000)
        pids = {"moto": moto.pid, "signer": server.pid, "chromium": C.chromium()}
        cpu0, snap0 = C.cpu_of(pids), C.page_snapshot(page)
        t_pick = time.time()
        page.locator("#files").set_input_files(fs.paths, timeout=600_000)
        t_set = time.time()
        deadline = time.monotonic() + args.timeout
        state: dict = {}
        while time.monotonic() < deadline:
            state = page.evaluate("window.__mfUppy")
            if state.get("done"):
                break
            page.wait_for_timeout(250)
        cpu1, snap1 = C.cpu_of(pids), C.page_snapshot(page)
        out["page_state"] = state
        out["timed_out"] = not state.get("done")
        t_end = state["t_complete"] / 1000 if state.get("done") else time.time()
        seconds = t_end - t_pick
        out["timing"] = {
            "pick_to_done_s": seconds,
            "set_input_files_s": t_set - t_pick,
            "pick_to_added_s": (state["t_added"] / 1000 - t_pick) if state.get("t_added") else None,
        }
        out["cpu_ms_per_file"] = C.cpu_ms_per_file(cpu0, cpu1, fs.count)
        out["page"] = C.page_window(page, snap0, snap1)
        keys = {n: prefix + n for n in fs.names}
        out["verify"] = C.verify(client, bucket, keys, fs, args.verify_sample)
        done = out["verify"]["files_found"]
        out["files_done"] = done
        out["files_per_s"] = done / seconds if seconds > 0 else None
        out["mib_per_s"] = done * fs.size / M.MiB / seconds if seconds > 0 else None
        out["ok"] = out["verify"]["ok"] and not out["timed_out"] and state.get("failed") == 0
    except Exception as exc:
        out["exception"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()[-3000:]
        log(f"  Uppy run failed: {out['exception']}")
    finally:
        with contextlib.suppress(Exception):
            context.close()
        C.drop_bucket(client, bucket)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m benchmarks.many_uppy")
    p.add_argument("command", choices=["serve"])
    p.add_argument("endpoint")
    p.add_argument("folder")
    a = p.parse_args()
    serve(a.endpoint, Path(a.folder))
