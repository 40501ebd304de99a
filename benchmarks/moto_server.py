"""moto's S3 server in its own process, with a request log (benchmark-only).

Run by ``benchmarks/measure.py`` (``RemoteMoto``) as ``python -m benchmarks.moto_server``
from the repo root, not by hand. Why a separate process:
moto is pure Python, so in the benchmark's own process it would share the GIL with the
Playwright driver, the memory sampler and the signing micro-benchmark, and its CPU time
could not be told apart. Here ``/proc/PID`` of this process is moto and nothing else.

The log: a WSGI middleware in front of moto's app records every request (wall-clock
start and end, method, path, query keys, who sent it by User-Agent, body length, status).
``GET /__bench__/log?since=N`` returns the records from index N on, as JSON;
``GET /__bench__/count`` their number. CORS
preflights (``OPTIONS``) are counted here because Chromium answers some of its own
network-service requests out of sight of Playwright's ``page.on("request")``.

Prints ``ENDPOINT http://127.0.0.1:PORT`` on stdout when ready; stops when stdin closes
or on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

# LocalS3's server, moto's global CORS off: bucket CORS rules apply as on AWS.
from tests.e2e.s3_servers import MotoS3Server

LOG_PATH = "/__bench__/log"
COUNT_PATH = "/__bench__/count"


def _who(user_agent: str) -> str:
    ua = user_agent.lower()
    if "mozilla" in ua or "chrome" in ua:
        return "browser"
    if ua.startswith("curl"):
        return "curl"
    if "boto" in ua:
        return "boto"
    return "other"


class RequestLog:
    """WSGI middleware: one record per request; serves the log at LOG_PATH."""

    def __init__(self, app):
        self.app = app
        self.records: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == COUNT_PATH:
            body = json.dumps({"count": len(self.records)}).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if path == LOG_PATH:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            since = int(query.get("since", ["0"])[0])
            with self.lock:
                body = json.dumps(self.records[since:]).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        t0 = time.time()
        status_holder: list[str] = []

        def _start_response(status, headers, exc_info=None):
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, _start_response)
            # moto answers with a list; materialise it so the time covers the response.
            result = list(result)
            return result
        finally:
            query = environ.get("QUERY_STRING", "")
            keys = sorted(parse_qs(query, keep_blank_values=True))
            rec = {
                "t0": t0,
                "t1": time.time(),
                "method": environ.get("REQUEST_METHOD", ""),
                "path": path,
                "query": keys,
                "part": parse_qs(query).get("partNumber", [None])[0],
                "who": _who(environ.get("HTTP_USER_AGENT", "")),
                "length": int(environ.get("CONTENT_LENGTH") or 0),
                "status": int(status_holder[0].split()[0]) if status_holder else 0,
            }
            with self.lock:
                self.records.append(rec)


def main() -> None:
    server = MotoS3Server().start()
    server.wrap_app(RequestLog)  # every request from here on is logged
    print(f"ENDPOINT {server.endpoint_url}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin():
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
