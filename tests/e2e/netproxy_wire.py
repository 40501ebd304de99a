"""The wire under `NetProxy` (netproxy.py): its log records, HTTP/1.1 heads and bodies
read as streams, one client connection, its way upstream, the pacer that shapes it.
Importable outside pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
import time
from dataclasses import asdict, dataclass

from .netproxy_faults import PART, simple_response

BUFFER = 1 << 20  # stream buffer (asyncio pauses reading above 2x) and longest head
SHAPED_BUFFER = 64 * 1024  # the same on a shaped connection: little read-ahead
CHUNK = 1 << 20  # unshaped read size


@dataclass
class RequestRecord:
    """One request the proxy saw. ``fault``: the kind applied (or None), ``outcome``: "ok",
    "reset", "offline", "refused", "client closed", "upstream error: ...". Times are
    ``time.monotonic()``; the body fields count payload bytes (no chunk framing)."""

    id: int
    conn: int
    method: str
    target: str
    path: str  # path and query, as forwarded
    content_length: int | None
    started: float
    body_received: int = 0  # from the client
    body_forwarded: int = 0  # to the upstream server
    first_body_byte: float | None = None
    last_body_byte: float | None = None
    status: int | None = None  # of the answer sent to the client (upstream's or ours)
    response_bytes: int = 0  # sent to the client, head included
    fault: str | None = None
    fault_detail: str = ""
    outcome: str = ""
    ended: float | None = None

    @property
    def is_part(self) -> bool:
        return self.method == "PUT" and PART in self.path.partition("?")[2]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Shaping:
    per_connection_bps: float | None = None  # bits/s, each client connection
    total_bps: float | None = None  # bits/s, all connections together
    rtt: float = 0.0  # seconds added to every request (half before it, half before its answer)


class Reset(Exception):
    """Reset the client's connection (a fault, or the network going offline)."""


class Pacer:
    """A token bucket as a virtual clock (GCRA): each reservation pushes it forward."""

    def __init__(self) -> None:
        self._t = 0.0

    def reserve(self, nbytes: int, bps: float | None, burst: float = 0.02) -> float:
        if not bps:
            return 0.0
        now = time.monotonic()
        self._t = max(self._t, now - burst) + nbytes * 8 / bps
        return self._t - now


class Conn:
    def __init__(self, cid: int, reader, writer) -> None:
        self.id, self.reader, self.writer = cid, reader, writer
        self.pacer = Pacer()
        self.task: asyncio.Task | None = None
        self.up: tuple[str, asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.rec: RequestRecord | None = None

    def reset(self) -> None:
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()  # closes with RST (linger 0)
        self.drop_upstream()

    def drop_upstream(self) -> None:
        if self.up is not None:
            self.up[2].transport.abort()
            self.up = None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False


def parse_headers(lines: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        out[name.strip().lower()] = value.strip()
    return out


def framing(headers: dict[str, str]) -> tuple[str, int | None]:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked", None
    if "content-length" in headers:
        return "length", int(headers["content-length"])
    return "length", 0


async def pieces(reader: asyncio.StreamReader, kind: str, length: int | None, size):
    """Yield (bytes, is_payload) of one message body: framing bytes are not payload."""
    if kind == "length":
        remaining = length or 0
        while remaining > 0:
            data = await reader.read(min(size(), remaining))
            if not data:
                raise ConnectionError("connection closed mid-body")
            remaining -= len(data)
            yield data, True
    elif kind == "close":  # an answer that ends when the server closes
        while data := await reader.read(CHUNK):
            yield data, True
    else:  # chunked
        while True:
            line = await reader.readuntil(b"\r\n")
            yield line, False
            n = int(line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    yield trailer, False
                yield trailer, False
                return
            async for data, _ in pieces(reader, "length", n, size):
                yield data, True
            yield await reader.readexactly(2), False


class Upstream:
    """The request's way upstream: the connection (reused while the target stays the
    same), its head sent first; with ``hold`` everything waits in memory until
    `release`."""

    def __init__(self, conn: Conn, rec: RequestRecord, head: bytes, hold: bool):
        self.conn, self.rec, self.head, self.hold = conn, rec, head, hold
        self.held = bytearray()
        self.held_payload = 0

    async def open(self) -> bool:
        conn, target = self.conn, self.rec.target
        if conn.up is not None and (conn.up[0] != target or conn.up[1].at_eof()):
            conn.drop_upstream()
        if conn.up is None:
            host, _, port = target.rpartition(":")
            host = "127.0.0.1" if host == "localhost" else host.strip("[]")
            try:
                reader, writer = await asyncio.open_connection(host, int(port), limit=BUFFER)
            except OSError as exc:  # answer 502 and close
                self.rec.outcome, self.rec.status = f"upstream error: {exc}", 502
                body = f"netproxy: cannot reach {target}: {exc}\n".encode()
                conn.writer.write(simple_response(502, [("Content-Length", str(len(body)))], body))
                return False
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.up = (target, reader, writer)
        conn.up[2].write(self.head)
        return True

    async def send(self, data: bytes, payload: bool = False) -> None:
        if self.hold:
            self.held += data
            self.held_payload += len(data) if payload else 0
            return
        writer = self.conn.up[2]
        writer.write(data)
        if payload:
            self.rec.body_forwarded += len(data)
        await writer.drain()

    async def flush(self) -> None:
        if not self.hold and self.conn.up is not None:
            await self.conn.up[2].drain()

    async def release(self) -> None:
        self.hold = False
        if not await self.open():
            raise Reset
        await self.send(bytes(self.held))
        self.rec.body_forwarded += self.held_payload
        self.held.clear()
