"""The pages of the simulated-link benchmark (benchmarks/link.py) and their server.

One small HTTP server on 127.0.0.1 in a thread of the benchmark process; the browser
opens it as ``http://localhost:PORT`` (exempt from the proxy), so only what the pages
send to S3 at 127.0.0.x crosses the shaping proxy. It serves:

- ``/xhr.html``: a plain page with ``<input type=file multiple>`` and
  ``window.__link.start(id, jobs, limit, progress)``: PUTs each job (a byte range of a
  picked file to a URL presigned in the benchmark process; or, for a job with ``fields``,
  POSTs it as a form with a presigned POST policy; a job with ``credentials`` goes with
  credentials, on the browser's other connection pool) with XMLHttpRequest, at most
  ``limit`` at once, and records each request's times, status and ETag. Nothing is signed
  while it runs: it is the network's part alone, as a hand-written page would do it.
- ``/uppy.html`` + ``/uppy-bundle.js``: Uppy 5 (benchmarks/uppy/link_entry.js, bundled
  with esbuild), and the endpoints its callbacks call: ``/sign`` (a single PUT),
  ``/mpu/create|sign|list|complete|abort`` (multipart, moto called directly, not through
  the proxy, as the widget's kernel does). Each call is counted (`PageServer.counts`):
  Uppy's signing round trips.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from . import measure as M
from .many_uppy import ESBUILD, UPPY_DIR
from .many_uppy import build as build_many_uppy

BUILD_DIR = M.WORK_DIR / "link" / "uppy-build"

XHR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>link benchmark: plain XHR page</title></head>
<body><input type="file" id="files" multiple>
<script>
window.__link = { ready: true, runs: {} };
window.__link.start = (id, jobs, limit, progress) => {
  const files = document.getElementById("files").files;
  const run = (window.__link.runs[id] = { done: false, t0: Date.now(), results: [] });
  let next = 0;
  const one = (job) => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const r = { i: job.i, t0: Date.now() };
    xhr.open(job.fields ? "POST" : "PUT", job.url);
    // With credentials: the browser's other pool of connections to the host (in-flight.js).
    if (job.credentials) xhr.withCredentials = true;
    // A listener on xhr.upload makes the request preflighted by itself (Fetch spec); a PUT
    // is preflighted anyway. Set like the widget's, which shows progress. A POST of a form
    // (presigned POST policy) without it is a "simple" request: no preflight.
    if (progress && !job.fields) xhr.upload.onprogress = () => {};
    xhr.onloadend = () => {
      r.t1 = Date.now();
      r.status = xhr.status;
      r.etag = xhr.getResponseHeader("ETag");
      run.results.push(r);
      resolve();
    };
    const body = files[job.file].slice(job.start, job.end);
    if (!job.fields) return xhr.send(body);
    const form = new FormData();
    for (const [name, value] of Object.entries(job.fields)) form.append(name, value);
    form.append("file", body);
    xhr.send(form);
  });
  const worker = async () => {
    while (next < jobs.length) await one(jobs[next++]);
  };
  Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker)).then(() => {
    run.t1 = Date.now();
    run.done = true;
  });
  return run.t0;
};
</script></body></html>
"""

UPPY_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>link benchmark: Uppy 5</title></head>
<body><input type="file" id="files" multiple><script src="/uppy-bundle.js"></script></body></html>
"""


def build_uppy() -> dict:
    """npm ci in benchmarks/uppy (once, as the many-files benchmark does) and this page's
    bundle; returns the versions used."""
    versions = build_many_uppy()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(ESBUILD), str(UPPY_DIR / "link_entry.js"), "--bundle", "--format=iife", "--minify",
         "--target=es2022", f"--outfile={BUILD_DIR / 'uppy-bundle.js'}", "--log-level=warning"],
        cwd=UPPY_DIR, check=True, timeout=120,
    )  # fmt: skip
    return versions


class PageServer:
    """The pages and Uppy's endpoints on 127.0.0.1:``port`` (`origin` uses localhost)."""

    def __init__(self, client):
        self.client = client  # signs for moto's 127.0.0.1 endpoint and calls it
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def take_counts(self) -> dict:
        """The endpoint calls since the last call, by path."""
        with self._lock:
            out = dict(self.counts)
            self.counts.clear()
        return out

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _count(self, path: str) -> None:
        with self._lock:
            self.counts[path] += 1

    def answer(self, path: str, q: dict, body: bytes) -> dict:
        """Uppy's endpoints: presign, or call moto (directly) for the multipart steps."""
        c, b, key = self.client, q.get("bucket"), q.get("key")
        if path == "/sign":
            params, headers = {"Bucket": b, "Key": key}, {}
            if q.get("type"):
                params["ContentType"] = headers["content-type"] = q["type"]
            url = c.generate_presigned_url("put_object", Params=params, ExpiresIn=900)
            return {"method": "PUT", "url": url, "headers": headers}
        if path == "/mpu/create":
            extra = {"ContentType": q["type"]} if q.get("type") else {}
            r = c.create_multipart_upload(Bucket=b, Key=key, **extra)
            return {"uploadId": r["UploadId"], "key": key}
        ids = {"Bucket": b, "Key": key, "UploadId": q.get("uploadId")}
        if path == "/mpu/sign":
            params = {**ids, "PartNumber": int(q["partNumber"])}
            return {"url": c.generate_presigned_url("upload_part", Params=params, ExpiresIn=900)}
        if path == "/mpu/list":
            parts = c.list_parts(**ids).get("Parts", [])
            return [{"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
                    for p in parts]  # fmt: skip
        if path == "/mpu/complete":
            parts = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in json.loads(body)]
            c.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
            return {"location": f"{b}/{key}"}
        if path == "/mpu/abort":
            c.abort_multipart_upload(**ids)
            return {}
        raise KeyError(path)

    def _handler(self):
        outer = self
        pages = {
            "/xhr.html": (XHR_PAGE.encode, "text/html"),
            "/uppy.html": (UPPY_PAGE.encode, "text/html"),
            "/uppy-bundle.js": ((BUILD_DIR / "uppy-bundle.js").read_bytes, "text/javascript"),
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _serve(self, body: bytes = b"") -> None:
                url = urlparse(self.path)
                if url.path in pages:
                    read, ctype = pages[url.path]
                    return self._send(200, read(), ctype)
                q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                outer._count(url.path)
                try:
                    result = outer.answer(url.path, q, body)
                except KeyError:
                    return self._send(404, b"not found", "text/plain")
                except Exception as exc:  # the page sees a 500 and Uppy retries or fails
                    return self._send(500, repr(exc).encode(), "text/plain")
                return self._send(200, json.dumps(result).encode(), "application/json")

            def do_GET(self):
                self._serve()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(self.rfile.read(length))

        return Handler
