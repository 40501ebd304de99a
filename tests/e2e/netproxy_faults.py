"""The faults `NetProxy` (netproxy.py) can inject, which requests they hit, and the S3 error
answers it makes up. Importable outside pytest (the benchmarks use it too).

A `Fault` says what to do (``kind``) and to which requests (``method``, ``path``,
``query``, ``when``, ``skip``, ``times``, ``probability``). Build them with the helpers::

    reset(fraction=0.5, query=PART)          # cut the client off mid-body
    s3_error(503, "SlowDown", method="PUT")  # S3's XML error, with S3's CORS headers
    stall(10, then="continue")               # hold the request, nothing moving, 10 s
    corrupt(fraction=0.5)                    # flip one byte of the body in flight
    reset_response(fraction=0.5)             # cut the client off mid-answer
    offline(3, skip=2)                       # the third request takes the network down 3 s

The first rule that matches a request (and wins its ``probability`` draw from the
proxy's seeded ``random.Random``) applies; at most one fault per request.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("reset", "error", "stall", "corrupt", "reset_response", "offline")
PART = "partNumber="  # in the query of a multipart part's PUT

S3_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
}
REASONS = {500: "Internal Server Error", 503: "Service Unavailable", 403: "Forbidden"}


@dataclass(frozen=True)
class RequestHead:
    """What a fault's predicate sees: one request as the proxy read it."""

    method: str
    target: str  # "127.0.0.1:PORT"
    path: str  # without the query
    query: str  # without the "?"
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    content_length: int | None = None

    @property
    def is_part(self) -> bool:
        """A multipart part's PUT (``partNumber=`` in the query)."""
        return self.method == "PUT" and PART in self.query


@dataclass(frozen=True)
class Fault:
    """One fault rule. ``kind`` is one of `KINDS`.

    Which requests: ``method`` (None: any method but OPTIONS, so preflights are left
    alone unless named; "*": any), ``path`` / ``query`` (substrings), ``when`` (a
    predicate on `RequestHead`), then ``skip`` (let that many matching requests through
    first), ``times`` (apply at most that often) and ``probability``.

    Where in the body (reset, stall, corrupt) or the answer (reset_response): byte
    ``after_bytes``, else ``fraction`` of the declared length (of the whole answer, head
    included, for reset_response); unknown length: at the end (corrupt: the first byte).
    ``seconds``: stall or offline time. ``then``: after a stall, "reset" or "continue".
    ``status`` / ``code`` / ``message`` / ``cors``: the S3 error answered (``cors``:
    with the CORS headers S3 sends when a rule matches the request's Origin).
    """

    kind: str
    method: str | None = None
    path: str | None = None
    query: str | None = None
    when: Callable[[RequestHead], bool] | None = None
    skip: int = 0
    times: int | None = None
    probability: float = 1.0
    after_bytes: int | None = None
    fraction: float | None = None
    seconds: float = 0.0
    then: str = "reset"
    status: int = 503
    code: str = "SlowDown"
    message: str | None = None
    cors: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if self.then not in ("reset", "continue"):
            raise ValueError(f"then must be 'reset' or 'continue', not {self.then!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], not {self.probability}")

    def matches(self, head: RequestHead) -> bool:
        if self.method is None:
            if head.method == "OPTIONS":
                return False
        elif self.method != "*" and head.method != self.method.upper():
            return False
        if self.path is not None and self.path not in head.path:
            return False
        if self.query is not None and self.query not in head.query:
            return False
        return self.when is None or bool(self.when(head))

    def position(self, length: int | None) -> int | None:
        """The byte offset the fault acts at, or None for "at the end"."""
        if self.after_bytes is not None:
            return max(0, self.after_bytes)
        if self.fraction is not None and length is not None:
            return int(length * self.fraction)
        return None

    def describe(self) -> str:
        if self.kind == "error":
            return f"{self.status} {self.code}"
        if self.kind in ("stall", "offline"):
            return f"{self.seconds:g} s" + (f" then {self.then}" if self.kind == "stall" else "")
        return ""


def _match(**when: Any) -> dict[str, Any]:
    unknown = set(when) - {"method", "path", "query", "when", "skip", "times", "probability"}
    if unknown:
        raise TypeError(f"unknown fault options: {sorted(unknown)}")
    return when


def reset(after_bytes: int | None = None, fraction: float | None = 0.5, **when: Any) -> Fault:
    """Forward the body up to a point, then reset the client's connection (and drop the
    upstream one). Chromium re-sends, unseen by the page, a request reset before any
    answer byte: see `reset_response`."""
    return Fault("reset", after_bytes=after_bytes, fraction=fraction, **_match(**when))


def s3_error(
    status: int = 503,
    code: str = "SlowDown",
    message: str | None = None,
    *,
    cors: bool = True,
    **when: Any,
) -> Fault:
    """Read the whole body, forward nothing, answer S3's XML error (503 SlowDown, 500
    InternalError...) with the CORS headers S3 would send for the request's Origin."""
    return Fault("error", status=status, code=code, message=message, cors=cors, **_match(**when))


def stall(
    seconds: float,
    then: str = "reset",
    after_bytes: int | None = None,
    fraction: float | None = 1.0,
    **when: Any,
) -> Fault:
    """Take the body up to a point (default: all of it) without forwarding any of it,
    then move no bytes either way for ``seconds``; then reset, or forward everything and
    carry on."""
    return Fault(
        "stall",
        seconds=seconds,
        then=then,
        after_bytes=after_bytes,
        fraction=fraction,
        **_match(**when),
    )


def corrupt(after_bytes: int | None = None, fraction: float | None = 0.5, **when: Any) -> Fault:
    """Flip one byte of the body (at ``after_bytes``, else ``fraction`` of it) on its way
    upstream; the length stays the same."""
    return Fault("corrupt", after_bytes=after_bytes, fraction=fraction, **_match(**when))


def reset_response(
    after_bytes: int | None = None, fraction: float | None = 0.5, **when: Any
) -> Fault:
    """Forward the request; send part of the answer (at least one byte), then reset."""
    return Fault("reset_response", after_bytes=after_bytes, fraction=fraction, **_match(**when))


def offline(seconds: float, **when: Any) -> Fault:
    """The matching request takes the network down: every connection is reset now and
    every new one for ``seconds``."""
    return Fault("offline", seconds=seconds, **_match(**when))


class FaultPlan:
    """The rules in force and a seeded random stream; picks the fault of each request.
    Thread-safe; the draws depend only on the order of the matching requests."""

    def __init__(self, rules: Sequence[Fault] = (), seed: int | str | None = 0):
        self.rules = tuple(rules)
        for rule in self.rules:
            if not isinstance(rule, Fault):
                raise TypeError(f"not a Fault: {rule!r}")
        self.seed = seed
        self._rng = random.Random(seed)
        self._matched = [0] * len(self.rules)
        self._applied = [0] * len(self.rules)
        self._lock = threading.Lock()

    def pick(self, head: RequestHead) -> Fault | None:
        with self._lock:
            for i, rule in enumerate(self.rules):
                if not rule.matches(head):
                    continue
                self._matched[i] += 1
                if self._matched[i] <= rule.skip:
                    continue
                if rule.times is not None and self._applied[i] >= rule.times:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                self._applied[i] += 1
                return rule
        return None

    def applied(self) -> list[tuple[Fault, int]]:
        """Each rule with how many times it has applied."""
        with self._lock:
            return list(zip(self.rules, self._applied, strict=True))


def s3_error_response(fault: Fault, head: RequestHead, *, keep_alive: bool) -> bytes:
    """An S3 error answer (status line, headers, XML body) for ``head``."""
    request_id = uuid.uuid4().hex[:16].upper()
    message = fault.message or S3_MESSAGES.get(fault.code, fault.code)
    resource = head.path
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{fault.code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId>"
        f"<HostId>s3uw-netproxy</HostId></Error>"
    ).encode()
    headers = [
        ("x-amz-request-id", request_id),
        ("x-amz-id-2", "s3uw-netproxy"),
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Server", "AmazonS3"),
    ]
    origin = head.headers.get("origin")
    if origin and fault.cors:
        # What S3 sends on any answer, errors included, when a CORS rule matches Origin.
        headers += [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", "PUT, POST, GET, HEAD"),
            ("Access-Control-Expose-Headers", "ETag"),
            ("Access-Control-Max-Age", "3000"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
        ]
    if not keep_alive:
        headers.append(("Connection", "close"))
    return simple_response(fault.status, headers, body)


def simple_response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    reason = REASONS.get(status, "Error")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def replace(fault: Fault, **changes: Any) -> Fault:
    """A copy of ``fault`` with ``changes`` (dataclasses.replace, re-checked)."""
    return dataclasses.replace(fault, **changes)
