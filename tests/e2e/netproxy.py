"""A network between the browser and a loopback S3 that tests can slow down and break: a
forward HTTP proxy on 127.0.0.1, in a thread with its own asyncio loop.

Importable outside pytest (the benchmarks use it too). It forwards only to loopback
targets (anything else: 403, no DNS lookup). Request line absolute-form → origin-form,
headers unchanged but ``Proxy-Connection`` and ``Expect`` (the proxy answers
``100 Continue`` itself), so ``Host`` and SigV4 signatures stay valid; bodies streamed
(Content-Length and chunked); keep-alive on both sides. No CONNECT (so no websockets:
open the Jupyter page at ``localhost``, which Chromium's bypass list exempts; see
``launch_browser(proxy_port=...)`` and ``NotebookDriver(host="localhost")`` in browser.py).
Faults and their helpers (``reset``, ``s3_error``, ``stall``...): netproxy_faults.py.

    with NetProxy(seed=1) as proxy:
        proxy.shape(per_connection_bps=80e6, rtt=0.05)
        proxy.faults([s3_error(503, "SlowDown", query=PART, times=2)])
        ... curl -x http://127.0.0.1:{proxy.port} / Chromium ...
        proxy.offline(3)
        proxy.counters(), proxy.log(), proxy.transfer_window()

Shaping applies to request bodies (uploads); answers are small. Times in the log are
``time.monotonic()`` of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit

from .netproxy_faults import Fault, FaultPlan, RequestHead, s3_error_response, simple_response
from .netproxy_wire import (
    BUFFER,
    CHUNK,
    SHAPED_BUFFER,
    Conn,
    Pacer,
    RequestRecord,
    Reset,
    Shaping,
    Upstream,
    framing,
    is_loopback,
    parse_headers,
    pieces,
)


class NetProxy:
    """A forward HTTP proxy on 127.0.0.1:``port`` (0: any free port) in a background
    thread. Every setter (`shape`, `faults`, `offline`) is thread-safe and takes effect
    for the next chunk or request; `log` and `counters` may be read at any time."""

    def __init__(
        self,
        port: int = 0,
        *,
        seed: int | str | None = 0,
        per_connection_bps: float | None = None,
        total_bps: float | None = None,
        rtt: float = 0.0,
        faults: Sequence[Fault] = (),
    ) -> None:
        self.requested_port = port
        self.port = 0
        self.seed = seed
        self._shaping = Shaping(per_connection_bps, total_bps, rtt)
        self._plan = FaultPlan(faults, seed)
        self._total = Pacer()
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._conns: set[Conn] = set()
        self._next_conn = 0
        self._offline_until = 0.0
        self._refused = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # -- life
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NetProxy:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netproxy", daemon=True)
        self._thread.start()
        self._server = self._call(
            asyncio.start_server(self._serve, "127.0.0.1", self.requested_port, limit=BUFFER)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _call(self, coro, timeout: float = 10.0):
        assert self._loop is not None, "the proxy is not running"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            tasks = [c.task for c in self._conns if c.task is not None]
            for conn in list(self._conns):
                conn.writer.transport.abort()
                conn.drop_upstream()
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=5)

        with contextlib.suppress(Exception):
            self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> NetProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- settings
    def shape(
        self,
        per_connection_bps: float | None = None,
        total_bps: float | None = None,
        rtt: float = 0.0,
    ) -> None:
        """Replace the shaping (no arguments: none). Caps in bits/s on request bodies."""
        self._shaping = Shaping(per_connection_bps, total_bps, rtt)

    def faults(self, rules: Sequence[Fault] = (), seed: int | str | None = None) -> None:
        """Replace the fault rules (none: a clean network) and reseed (default: the
        constructor's seed), so the same requests meet the same faults."""
        self._plan = FaultPlan(rules, self.seed if seed is None else seed)

    def fault_counts(self) -> list[tuple[Fault, int]]:
        return self._plan.applied()

    def offline(self, seconds: float) -> None:
        """Reset every connection now and every new one for ``seconds``."""
        assert self._loop is not None, "the proxy is not running"
        self._loop.call_soon_threadsafe(self._go_offline, seconds)

    def _go_offline(self, seconds: float) -> None:
        self._offline_until = max(self._offline_until, time.monotonic() + seconds)
        for conn in list(self._conns):
            if conn.rec is not None and not conn.rec.outcome:
                conn.rec.outcome = "offline"
            conn.reset()
            if conn.task is not None and conn.task is not asyncio.current_task():
                conn.task.cancel()

    def is_offline(self) -> bool:
        return time.monotonic() < self._offline_until

    # -- what happened
    def log(self) -> list[RequestRecord]:
        """Copies of the records of every request seen, in arrival order."""
        with self._lock:
            return [copy.copy(r) for r in self._log]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def counters(self) -> dict:
        """Totals over the log. Requests refused for their target (Chromium's own calls
        to Google, say) count only as ``refused``, in the log with a "refused" outcome."""
        everything = self.log()
        log = [r for r in everything if not r.outcome.startswith("refused")]
        return {
            "requests": len(log),
            "refused": len(everything) - len(log),
            "by_method": dict(Counter(r.method for r in log)),
            "part_puts": sum(r.is_part for r in log),
            "preflights": sum(r.method == "OPTIONS" for r in log),
            "body_bytes_received": sum(r.body_received for r in log),
            "body_bytes_forwarded": sum(r.body_forwarded for r in log),
            "faults": dict(Counter(r.fault for r in log if r.fault)),
            "statuses": dict(Counter(r.status for r in log if r.status)),
            "connections": self._next_conn,
            "offline_resets": self._refused,  # connections reset on arrival while offline
        }

    def transfer_window(self, method: str = "PUT") -> tuple[float, float] | None:
        """(first body byte of the first ``method`` request, last body byte of the last)."""
        times = [
            (r.first_body_byte, r.last_body_byte)
            for r in self.log()
            if r.method == method and r.first_body_byte is not None
        ]
        if not times:
            return None
        return min(t[0] for t in times), max(t[1] for t in times)

    def settle(self, timeout: float = 10.0) -> list[RequestRecord]:
        """Wait until no request is in flight; return the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if all(r.ended is not None for r in log):
                return log
            if time.monotonic() > deadline:
                raise TimeoutError(f"requests still in flight after {timeout} s")
            time.sleep(0.02)

    # -- the proxy
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self._next_conn += 1
            conn = Conn(self._next_conn, reader, writer)
        conn.task = asyncio.current_task()
        sock = writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._shaping.per_connection_bps or self._shaping.total_bps:
                # Small buffers: the client's progress then follows the shaped rate.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        if self.is_offline():
            self._refused += 1
            conn.reset()
            return
        self._conns.add(conn)
        try:
            while await self._exchange(conn):
                pass
            await writer.drain()
        except Reset:
            self._finish(conn.rec, "reset")
            conn.reset()
        except asyncio.CancelledError:
            self._finish(conn.rec, "cancelled")
            conn.reset()
        except (ConnectionError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            self._finish(conn.rec, f"error: {exc!r}"[:200])
            conn.reset()
        except asyncio.LimitOverrunError:  # a head longer than the buffer
            self._finish(conn.rec, "error: head too long")
            conn.reset()
        finally:
            self._conns.discard(conn)
            self._finish(conn.rec, "client closed")
            conn.drop_upstream()
            with contextlib.suppress(Exception):
                writer.close()

    def _finish(self, rec: RequestRecord | None, outcome: str) -> None:
        if rec is not None and rec.ended is None:
            rec.outcome = rec.outcome or outcome
            rec.ended = time.monotonic()

    def _piece_size(self) -> int:
        s = self._shaping
        rates = [r for r in (s.per_connection_bps, s.total_bps) if r]
        return max(1024, min(CHUNK, int(min(rates) / 8 / 100))) if rates else CHUNK

    async def _pace(self, conn: Conn, n: int) -> None:
        s = self._shaping
        delay = max(
            conn.pacer.reserve(n, s.per_connection_bps), self._total.reserve(n, s.total_bps)
        )
        if delay > 0:
            await asyncio.sleep(delay)

    async def _exchange(self, conn: Conn) -> bool:
        """One request and its answer; whether the connection stays open."""
        conn.rec = None
        shaped = self._shaping.per_connection_bps or self._shaping.total_bps
        # asyncio reads ahead up to twice the limit: keep it small under a cap, so the
        # client's progress follows the shaped rate (private, but stable since 3.4).
        conn.reader._limit = SHAPED_BUFFER if shaped else BUFFER
        try:
            raw = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed between requests
        lines = raw[:-4].split(b"\r\n")
        method, target, version = lines[0].decode("latin-1").split(" ", 2)
        headers = parse_headers(lines[1:])
        url = urlsplit(f"//{target}" if method == "CONNECT" else target)
        origin_form = (url.path or "/") + (f"?{url.query}" if url.query else "")
        host = url.hostname or ""
        port = url.port or 80
        kind, length = framing(headers)
        rec = conn.rec = RequestRecord(
            0, conn.id, method, f"{host}:{port}", origin_form, length, time.monotonic()
        )
        with self._lock:
            rec.id = len(self._log) + 1
            self._log.append(rec)
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if method == "CONNECT" or url.scheme != "http" or not is_loopback(host):
            why = "not a loopback target"
            if method == "CONNECT" or url.scheme != "http":
                why = "only http:// targets (no CONNECT, no TLS)"
            rec.status, rec.outcome = 403, f"refused: {why}"
            body = f"netproxy: {why}: {target}\n".encode()
            conn.writer.write(simple_response(403, [("Content-Length", str(len(body)))], body))
            self._finish(rec, "")
            return False
        if headers.get("expect", "").lower() == "100-continue":
            conn.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        head = RequestHead(method, rec.target, url.path, url.query, headers, length)
        fault = self._plan.pick(head)
        if fault is not None:
            rec.fault, rec.fault_detail = fault.kind, fault.describe()
        if fault is not None and fault.kind == "offline":
            self._go_offline(fault.seconds)
            raise Reset
        if self._shaping.rtt:
            await asyncio.sleep(self._shaping.rtt / 2)
        if fault is not None and fault.kind == "error":
            async for data, payload in pieces(conn.reader, kind, length, self._piece_size):
                if payload:
                    self._got(rec, len(data))
                    await self._pace(conn, len(data))
            if self._shaping.rtt:
                await asyncio.sleep(self._shaping.rtt / 2)
            answer = s3_error_response(fault, head, keep_alive=keep)
            rec.status, rec.response_bytes = fault.status, len(answer)
            conn.writer.write(answer)
            await conn.writer.drain()
            self._finish(rec, "ok")
            return keep
        out = [lines[0].replace(target.encode("latin-1"), origin_form.encode("latin-1"), 1)]
        out += [
            ln for ln in lines[1:] if not ln.lower().startswith((b"proxy-connection:", b"expect:"))
        ]
        up_head = b"\r\n".join(out) + b"\r\n\r\n"
        sender = Upstream(conn, rec, up_head, hold=fault is not None and fault.kind == "stall")
        if not sender.hold and not await sender.open():
            return False
        await self._body(conn, rec, fault, sender, kind, length)
        return await self._answer(conn, rec, fault, method) and keep

    def _got(self, rec: RequestRecord, n: int) -> None:
        now = time.monotonic()
        if rec.first_body_byte is None:
            rec.first_body_byte = now
        rec.last_body_byte = now
        rec.body_received += n

    async def _body(self, conn, rec, fault, sender, kind, length) -> None:
        acts = fault is not None and fault.kind in ("reset", "stall", "corrupt")
        at = fault.position(length) if acts else None
        if acts and at is None and fault.kind == "corrupt":
            at = 0
        done = not acts
        received = 0
        async for data, payload in pieces(conn.reader, kind, length, self._piece_size):
            if not payload:
                await sender.send(data)
                continue
            parts = [data]
            if not done and at is not None and received < at < received + len(data):
                parts = [data[: at - received], data[at - received :]]
            for piece in parts:
                if not done and at is not None and received >= at:
                    done = True
                    if fault.kind == "corrupt":
                        piece = bytes([piece[0] ^ 0xFF]) + piece[1:]
                        rec.fault_detail = f"byte {received} flipped"
                    else:
                        await self._act(rec, fault, sender, received)
                received += len(piece)
                self._got(rec, len(piece))
                await self._pace(conn, len(piece))
                await sender.send(piece, payload=True)
        if not done and fault.kind != "corrupt":
            await self._act(rec, fault, sender, received)

    async def _act(self, rec, fault: Fault, sender: Upstream, at: int) -> None:
        if fault.kind == "reset":
            rec.fault_detail = f"after {at} body bytes"
            await sender.flush()
            raise Reset
        await self._stall(rec, fault, sender, at)

    async def _stall(self, rec, fault: Fault, sender: Upstream, at: int | None = None) -> None:
        if not sender.hold:
            return
        rec.fault_detail = f"{fault.seconds:g} s after {at} body bytes, then {fault.then}"
        await asyncio.sleep(fault.seconds)
        if fault.then == "reset":
            raise Reset
        await sender.release()

    async def _answer(self, conn: Conn, rec: RequestRecord, fault, method: str) -> bool:
        up_reader = conn.up[1]
        while True:  # skip interim answers (the client had our own 100 Continue)
            raw = await up_reader.readuntil(b"\r\n\r\n")
            lines = raw[:-4].split(b"\r\n")
            version, status = lines[0].decode("latin-1").split(" ", 2)[:2]
            if not 100 <= int(status) < 200:
                break
        headers = parse_headers(lines[1:])
        rec.status = int(status)
        kind, length = framing(headers)
        if method == "HEAD" or rec.status in (204, 304):
            kind, length = "length", 0
        elif kind == "length" and "content-length" not in headers:
            kind = "close"
        keep = kind != "close" and version == "HTTP/1.1"
        keep = keep and headers.get("connection", "").lower() != "close"
        if self._shaping.rtt:
            await asyncio.sleep(self._shaping.rtt / 2)
        cut = None
        if fault is not None and fault.kind == "reset_response":
            total = len(raw) + (length or 0)
            at = fault.position(total)
            cut = max(1, min(total // 2 if at is None else at, total - 1))
            rec.fault_detail = f"after {cut} of {total} answer bytes"

        async def emit(data: bytes) -> None:
            if cut is not None and rec.response_bytes + len(data) >= cut:
                conn.writer.write(data[: cut - rec.response_bytes])
                rec.response_bytes = cut
                await conn.writer.drain()
                raise Reset
            conn.writer.write(data)
            rec.response_bytes += len(data)
            await conn.writer.drain()

        await emit(raw)
        async for data, _ in pieces(up_reader, kind, length, lambda: CHUNK):
            await emit(data)
        self._finish(rec, "ok")
        if not keep:
            conn.drop_upstream()
        return keep
