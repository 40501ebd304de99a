"""moto's S3 server in its own process, reachable under several loopback names (benchmark
of a simulated link, benchmarks/link.py).

S3 serves one bucket under several host names (``bucket.s3.amazonaws.com``,
``s3.REGION.amazonaws.com/bucket``, dual-stack names...); a browser opens at most 6
connections to each. To measure what a second name buys, this process serves the same
moto app (one store, the request log of benchmarks/moto_server.py) at
``127.0.0.1:PORT`` and at ``127.0.0.2:PORT`` ... ``127.0.0.N:PORT``: every address in
127.0.0.0/8 is this machine's loopback, and nothing is bound beyond it.

Keep-alive: werkzeug's server (moto's own) closes every connection after one request
(and, after each answer, reads whatever the client sent next for 10 ms and drops it, so it
cannot be patched into keep-alive). S3 keeps connections alive and a browser reuses them,
and the proxy's per-connection shaping should follow one connection over many requests.
So moto's WSGI app (global CORS off, as `MotoS3Server` checks) is served here by tornado's
HTTP/1.1 server (`WSGIContainer`, the app in a thread pool), which keeps connections
alive; moto's own werkzeug server is started (for its checks) but not used.

The time S3 takes to answer a PUT once its last byte arrived: S3 streams a body to storage
and hashes it as it comes, so it answers within milliseconds whatever the size. moto gets
the whole body first, then copies it and hashes it (~10 ms/MiB here, several times that
when parts end together on 2 busy cores): left alone, that would charge every part a
delay in proportion to its size, which S3 does not, and bias the comparison of part sizes.
So here each body's MD5 is computed as its bytes arrive (`_Streaming`) and handed to moto
for that request (`FakeKey.etag` uses it when the size matches), and moto reads the body
in one piece (``wsgi.input_terminated``); moto still stores every byte, and the ETags are
the MD5s of what arrived.

The join of a multipart upload: S3's CompleteMultipartUpload assembles parts it already
stores; moto's copies every part into one buffer, copies that again, and writes it into
the new object (~0.3 s per 100 MiB idle, 0.6 s while the page and the proxy are busy),
after the last byte: a cost S3 does not charge, and only to multipart uploads, which a
single PUT of the same bytes does not pay (its bytes are stored once, as they are here).
So here (`joined_by_reference`) the completed object reads its parts where they are;
the checks (ETags in order, the 5 MiB minimum, the ETag of ETags) and the checksums are
moto's own, computed over the parts' bytes as moto does, part by part.

Run by `LinkMoto` as ``python -m benchmarks.link_moto N``, never by hand. Prints
``ENDPOINT http://127.0.0.1:PORT`` then ``ALIASES url,url,...`` and serves until its stdin
closes or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request

from tests.e2e.s3_servers import MotoS3Server

from . import measure as M
from .moto_server import RequestLog


def alias_hosts(count: int) -> list[str]:
    """The extra names: 127.0.0.2 .. 127.0.0.(count+1)."""
    return [f"127.0.0.{i}" for i in range(2, 2 + count)]


_HINT = threading.local()  # (size, md5 hex) of the body of this thread's request


def precomputed_etags() -> None:
    """moto's FakeKey.etag takes the MD5 computed while the body arrived (this process)."""
    from moto.s3.models import FakeKey

    etag = FakeKey.etag.fget

    def with_hint(self):
        hint = getattr(_HINT, "md5", None)
        if self._etag is None and hint and hint[0] == self.contentsize:
            self._etag = hint[1]
        return etag(self)

    FakeKey.etag = property(with_hint)


class _Joined:
    """The parts (moto ``FakeKey``) of a completed multipart upload, in order."""

    def __init__(self, parts: list):
        self.parts = parts
        self.size = sum(part.contentsize for part in parts)


class _JoinedBuffer:
    """The file-like value of a completed object: reads its parts where moto keeps them,
    and disposes of them with the object."""

    def __init__(self, joined: _Joined):
        self.joined, self.position, self.closed = joined, 0, False

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.joined.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, count: int | None = -1) -> bytes:
        whole = b"".join(part.value for part in self.joined.parts)
        end = len(whole) if count is None or count < 0 else self.position + count
        chunk = whole[self.position : end]
        self.position += len(chunk)
        return chunk

    def close(self) -> None:
        if not self.closed:
            for part in self.joined.parts:
                part.dispose()
        self.closed = True


def _incremental_checksum(parts: list, algorithm: str | None) -> str | None:
    """A full-object checksum computed part by part, where that gives moto's own value
    (its CRC32, and its CRC32 fallback for CRC64NVME without awscrt); else None."""
    import base64
    import binascii

    from moto.core.compat import HAS_CRT

    if not (algorithm == "CRC32" or (algorithm in (None, "CRC64NVME") and not HAS_CRT)):
        return None
    crc = 0
    for part in parts:
        crc = binascii.crc32(part.value, crc)
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def joined_by_reference():
    """Make moto complete a multipart upload without copying its bytes (see the module's
    docstring); returns a function that puts moto's own code back."""
    import hashlib

    from moto.s3 import models
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML

    complete, value = models.FakeMultipart.complete, models.FakeKey.value

    def complete_by_reference(self, body):
        parts = []
        for number, etag in body:
            part = self.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise InvalidPart()
            if parts and parts[-1].contentsize < models.S3_UPLOAD_PART_MIN_SIZE:
                raise EntityTooSmall()
            parts.append(part)
        if not parts:
            raise MalformedXML
        md5s = b"".join(bytes.fromhex(part.etag.replace('"', "")) for part in parts)
        etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(parts)}"
        algorithm = self.metadata.get("x-amz-checksum-algorithm")
        kind = self.metadata.get("x-amz-checksum-type")
        builder = models.MultipartChecksumBuilder(algorithm, kind)
        full = builder.checksum_type == "FULL_OBJECT"
        checksum = _incremental_checksum(parts, algorithm) if full else None
        if checksum is None:
            for part in parts:
                builder.addPart(part.value)
            details = builder.build()
        else:
            details = ("FULL_OBJECT", checksum, 1)
        # The parts now belong to the object: moto disposes of the upload's parts when it
        # forgets the upload, right after this.
        self.parts = {}
        return _Joined(parts), etag, details

    def set_value(self, new_value):
        if isinstance(new_value, _Joined):
            self._value_buffer.close()
            self._value_buffer, self.contentsize = _JoinedBuffer(new_value), new_value.size
            return
        if isinstance(self._value_buffer, _JoinedBuffer):  # a joined object written over
            self._value_buffer.close()
            self._value_buffer = models.tempfile.SpooledTemporaryFile(self._max_buffer_size)
        value.fset(self, new_value)

    models.FakeMultipart.complete = complete_by_reference
    models.FakeKey.value = value.setter(set_value)

    def restore() -> None:
        models.FakeMultipart.complete, models.FakeKey.value = complete, value

    return restore


def _with_hint(app):
    def call(environ, start_response):
        _HINT.md5 = environ.get("link.md5")
        try:
            return list(app(environ, start_response))
        finally:
            _HINT.md5 = None

    return call


def _tornado_classes():
    import hashlib

    from tornado import httputil
    from tornado.httpserver import _CallableAdapter
    from tornado.wsgi import WSGIContainer

    class Adapter(_CallableAdapter):  # tornado's own, hashing the body as it arrives
        def data_received(self, chunk):
            if not hasattr(self, "md5"):
                self.md5 = hashlib.md5(usedforsecurity=False)
            self.md5.update(chunk)
            return super().data_received(chunk)

        def finish(self):
            if hasattr(self, "md5"):
                self.request.link_md5 = (len(self._chunks), self.md5.hexdigest())
            super().finish()

    class Streaming(httputil.HTTPServerConnectionDelegate):
        def __init__(self, container):
            self.container = container

        def start_request(self, server_conn, request_conn):
            return Adapter(self.container, request_conn)

    class Container(WSGIContainer):
        def environ(self, request):
            env = super().environ(request)
            env["wsgi.input_terminated"] = True  # a BytesIO of the whole body: read at once
            env["link.md5"] = getattr(request, "link_md5", None)
            return env

    return Streaming, Container


async def _serve(app, hosts: list[str], ready: threading.Event, out: list) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    streaming, container = _tornado_classes()
    wsgi = container(_with_hint(app), executor=ThreadPoolExecutor(32, "moto"))
    server = HTTPServer(streaming(wsgi), max_body_size=6 * 1024**3,
                        max_buffer_size=6 * 1024**3, idle_connection_timeout=600)  # fmt: skip
    port = 0
    for host in hosts:
        sockets = bind_sockets(port, host)
        port = sockets[0].getsockname()[1]
        server.add_sockets(sockets)
        out.append(f"http://{host}:{port}")
    ready.set()


def main(count: int) -> None:
    import asyncio

    precomputed_etags()
    joined_by_reference()
    moto = MotoS3Server().start()
    app = moto.wrap_app(RequestLog)  # one app, one log, one store for every name
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    ready, urls = threading.Event(), []
    asyncio.run_coroutine_threadsafe(
        _serve(app, ["127.0.0.1", *alias_hosts(count)], ready, urls), loop
    )
    if not ready.wait(30):
        raise SystemExit("tornado did not start")
    print(f"ENDPOINT {urls[0]}", flush=True)
    print("ALIASES " + ",".join(urls[1:]), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin():
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    loop.call_soon_threadsafe(loop.stop)
    moto.stop()


class LinkMoto(M.RemoteMoto):
    """`RemoteMoto` (client, make_bucket, kernel_env, log, pid) with ``aliases``: the same
    server's URLs under the other loopback names."""

    def __init__(self, aliases: int = 1):
        super().__init__()
        self.alias_count = aliases
        self.aliases: list[str] = []

    def start(self) -> LinkMoto:
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}  # fmt: skip
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.link_moto", str(self.alias_count)],
            cwd=M.REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, text=True,
        )  # fmt: skip
        line = self.proc.stdout.readline().strip()
        aliases = self.proc.stdout.readline().strip()
        if not line.startswith("ENDPOINT ") or not aliases.startswith("ALIASES"):
            self.proc.kill()
            raise RuntimeError(f"moto server did not start: {line!r} {aliases!r}")
        self.endpoint_url = line.split(" ", 1)[1]
        self.aliases = [u for u in aliases.partition(" ")[2].split(",") if u]
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return self

    def client_for(self, endpoint: str):
        """A boto3 client that signs for ``endpoint`` (one of the names)."""
        from s3_upload_widget._local import loopback_client

        return loopback_client(endpoint, self.access_key, self.secret_key, region=self.region)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
