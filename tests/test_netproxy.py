"""NetProxy (tests/e2e/netproxy.py), without a browser: forwarding (signatures stay valid,
bytes exact, keep-alive, chunked), loopback only, every fault seen from the client's side,
seeded draws, shaping caps (lower bounds only), and its log."""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from e2e.netproxy import NetProxy
from e2e.netproxy_faults import (
    PART,
    FaultPlan,
    RequestHead,
    corrupt,
    offline,
    reset,
    reset_response,
    s3_error,
    stall,
)
from e2e.netproxy_wire import is_loopback
from e2e.s3_servers import MotoS3Server

pytest_plugins = ["fixtures_s3rver"]

ORIGIN = "http://localhost:8888"
KiB, MiB = 1024, 1024**2
BROKEN = (ConnectionError, http.client.HTTPException, OSError)


def payload(size: int, seed: int | str = 0) -> bytes:
    return random.Random(seed).randbytes(size)


class Recorder(ThreadingHTTPServer):
    """A loopback HTTP/1.1 server that keeps every request it read to the end: ``got``
    holds (method, path, body) of complete requests, ``partial`` bodies cut short."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.got: list[tuple[str, str, bytes]] = []
        self.partial: list[tuple[str, int]] = []
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def bodies(self, path: str) -> list[bytes]:
        return [b for _, p, b in self.got if p == path]


class _RecorderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = bytearray()
            while n := int(self.rfile.readline().split(b";")[0], 16):
                out += self.rfile.read(n)
                self.rfile.readline()
            self.rfile.readline()
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        if len(data) < n:
            self.server.partial.append((self.path, len(data)))
            self.close_connection = True
            return None
        return data

    def _handle(self) -> None:
        body = self._body()
        if body is None:
            return
        self.server.got.append((self.command, self.path, body))
        answer = json.dumps({"len": len(body), "sha": hashlib.sha256(body).hexdigest()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("ETag", '"etag-from-upstream"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.encode())

    do_GET = do_PUT = do_POST = do_OPTIONS = do_HEAD = _handle


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy():
    with NetProxy(seed=0) as p:
        yield p


@pytest.fixture(scope="module")
def moto():
    with MotoS3Server() as server:
        yield server


def through(
    proxy: NetProxy,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 10,
    conn: http.client.HTTPConnection | None = None,
    **request_kw,
) -> tuple[int, dict[str, str], bytes]:
    """One request through the proxy (absolute-form, as a browser sends it)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)
    try:
        conn.request(method, url, body=body, headers=dict(headers or {}), **request_kw)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        if own:
            conn.close()


def presigned_put(client, bucket: str, key: str) -> str:
    return client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )


# --- forwarding ------------------------------------------------------------------------


def test_presigned_put_through_the_proxy_stores_the_exact_bytes(proxy, moto):
    bucket = moto.make_bucket()
    data = payload(3 * MiB + 17, "moto")
    url = presigned_put(moto.client(), bucket, "a/b c.bin")
    status, _, body = through(proxy, "PUT", url, data)
    assert status == 200, body
    assert moto.get_bytes(bucket, "a/b c.bin") == data
    (rec,) = proxy.settle()
    assert (rec.method, rec.status, rec.outcome) == ("PUT", 200, "ok"), rec
    assert rec.body_received == rec.body_forwarded == len(data), rec
    assert rec.target == moto.endpoint_url.removeprefix("http://"), rec
    assert rec.path.startswith(f"/{bucket}/a/b%20c.bin?X-Amz-"), rec


def test_sigv4_signatures_stay_valid_through_the_proxy(proxy, s3rver):
    """s3rver verifies SigV4 (host included): it accepts the proxied PUT, and refuses a
    tampered one through the same proxy (so the check is live)."""
    client = s3rver.make_bucket("netproxy-sigv4")
    data = payload(100 * KiB, "sig")
    url = presigned_put(client, "netproxy-sigv4", "signed.bin")
    status, _, body = through(proxy, "PUT", url, data)
    assert status == 200, body
    stored = client.get_object(Bucket="netproxy-sigv4", Key="signed.bin")["Body"].read()
    assert stored == data
    sig = re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1)
    tampered = url.replace(sig, sig[:-1] + ("1" if sig.endswith("0") else "0"))
    status, _, body = through(proxy, "PUT", tampered, data)
    assert status == 403, body


def test_keep_alive_many_requests_on_one_connection(proxy, recorder):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    base = f"http://127.0.0.1:{recorder.port}"
    bodies = [payload(n, n) for n in (0, 1, 70_000, 1 * MiB)]
    for i, data in enumerate(bodies):
        status, _, answer = through(proxy, "PUT", f"{base}/k{i}", data, conn=conn)
        assert status == 200 and json.loads(answer)["len"] == len(data)
    assert through(proxy, "GET", f"{base}/get", conn=conn)[0] == 200
    conn.close()
    assert [recorder.bodies(f"/k{i}") for i in range(4)] == [[b] for b in bodies]
    counts = proxy.counters()
    assert counts["connections"] == 1, counts
    assert counts["requests"] == 5 and counts["by_method"] == {"PUT": 4, "GET": 1}, counts


def test_chunked_body_and_expect_100_continue(proxy, recorder):
    data = payload(300 * KiB, "chunked")
    chunks = [data[i : i + 50_000] for i in range(0, len(data), 50_000)]
    url = f"http://127.0.0.1:{recorder.port}/chunked"
    status, _, _ = through(proxy, "PUT", url, iter(chunks), encode_chunked=True)
    assert status == 200
    assert recorder.bodies("/chunked") == [data]
    # Expect: 100-continue (curl sends it): the proxy says "continue" itself.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        head = f"PUT http://127.0.0.1:{recorder.port}/expect HTTP/1.1\r\nHost: x\r\n"
        s.sendall(f"{head}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode())
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"hello")
        assert s.recv(1000).startswith(b"HTTP/1.1 200")
    assert recorder.bodies("/expect") == [b"hello"]
    assert proxy.settle()[0].body_received == len(data)


# Documentation addresses (RFC 5737, RFC 3849): never routed, even if the proxy broke.
@pytest.mark.parametrize(
    "url",
    ["http://192.0.2.1/x", "http://198.51.100.7:9000/bucket/key", "http://[2001:db8::1]/x"],
)
def test_refuses_targets_off_loopback(proxy, url):
    status, _, body = through(proxy, "GET", url)
    assert status == 403 and b"not a loopback target" in body, (status, body)
    (rec,) = proxy.settle()
    assert rec.status == 403 and rec.outcome.startswith("refused"), rec
    counts = proxy.counters()
    assert counts["refused"] == 1 and counts["requests"] == 0, counts


def test_refuses_connect_and_https(proxy):
    assert through(proxy, "GET", "https://127.0.0.1:1/x")[0] == 403
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        s.sendall(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n")
        assert s.recv(1000).startswith(b"HTTP/1.1 403")


def test_loopback_means_loopback_without_dns():
    assert all(map(is_loopback, ["127.0.0.1", "127.9.9.9", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["example.com", "10.0.0.1", "0.0.0.0", "localhost.evil"]))


# --- faults ----------------------------------------------------------------------------


def test_reset_mid_body_cuts_the_client_off(proxy, recorder):
    proxy.faults([reset(fraction=0.5, method="PUT")])
    data = payload(2 * MiB, "reset")
    with pytest.raises(BROKEN):
        through(proxy, "PUT", f"http://127.0.0.1:{recorder.port}/cut", data)
    (rec,) = proxy.settle()
    assert rec.fault == "reset" and rec.outcome == "reset", rec
    assert rec.body_forwarded == MiB, rec
    assert rec.status is None, rec
    time.sleep(0.2)
    assert recorder.bodies("/cut") == [], "the upstream server got the whole body"
    # The next request (a new connection) goes through: the rule matches PUT only.
    assert through(proxy, "GET", f"http://127.0.0.1:{recorder.port}/next")[0] == 200


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_s3_error_answer_has_xml_and_s3s_cors_headers(proxy, recorder, status, code):
    proxy.faults([s3_error(status, code, query=PART)])
    url = f"http://127.0.0.1:{recorder.port}/b/k?partNumber=3&uploadId=u"
    got, headers, body = through(proxy, "PUT", url, b"x" * 1000, {"Origin": ORIGIN})
    assert got == status
    assert f"<Code>{code}</Code>".encode() in body and body.startswith(b"<?xml"), body
    assert headers["content-type"] == "application/xml"
    assert headers["access-control-allow-origin"] == ORIGIN, headers
    assert "Origin" in headers["vary"] and "ETag" in headers["access-control-expose-headers"]
    assert recorder.got == [], "a faulted request reached the server"
    # Not a part: forwarded. Without Origin, or cors=False: no CORS headers.
    assert through(proxy, "PUT", f"http://127.0.0.1:{recorder.port}/b/k", b"y")[0] == 200
    got, headers, _ = through(proxy, "PUT", url, b"x")
    assert got == status and "access-control-allow-origin" not in headers
    proxy.faults([s3_error(status, code, cors=False)])
    got, headers, _ = through(proxy, "PUT", url, b"x", {"Origin": ORIGIN})
    assert got == status and "access-control-allow-origin" not in headers
    recs = proxy.settle()
    assert [r.fault for r in recs] == ["error", None, "error", "error"], recs
    assert recs[0].body_received == 1000 and recs[0].body_forwarded == 0, recs[0]


def test_preflights_are_spared_unless_named(proxy, recorder):
    proxy.faults([s3_error()])
    url = f"http://127.0.0.1:{recorder.port}/b/k"
    assert through(proxy, "OPTIONS", url, headers={"Origin": ORIGIN})[0] == 200
    proxy.faults([s3_error(method="OPTIONS")])
    assert through(proxy, "OPTIONS", url, headers={"Origin": ORIGIN})[0] == 503
    assert proxy.counters()["preflights"] == 2


def test_corrupt_flips_exactly_one_byte_and_keeps_the_length(proxy, moto):
    bucket = moto.make_bucket()
    data = payload(MiB + 3, "corrupt")
    proxy.faults([corrupt(fraction=0.25, method="PUT")])
    status, _, _ = through(proxy, "PUT", presigned_put(moto.client(), bucket, "c"), data)
    assert status == 200
    stored = moto.get_bytes(bucket, "c")
    assert len(stored) == len(data)
    diff = [i for i in range(len(data)) if stored[i] != data[i]]
    assert diff == [len(data) // 4], diff[:5]
    (rec,) = proxy.settle()
    assert rec.fault == "corrupt" and str(len(data) // 4) in rec.fault_detail, rec


def test_stall_answers_nothing_then_resets(proxy, recorder):
    proxy.faults([stall(1.5, then="reset")])
    url = f"http://127.0.0.1:{recorder.port}/stalled"
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # nothing within the stall
        through(proxy, "PUT", url, payload(200 * KiB), timeout=1.0)
    assert time.monotonic() - started >= 1.0
    assert recorder.got == [] and recorder.partial == [], "bytes moved during the stall"
    (rec,) = proxy.settle(timeout=5)
    assert rec.fault == "stall" and rec.outcome == "reset" and rec.body_forwarded == 0, rec
    assert rec.body_received == 200 * KiB, rec


def test_stall_mid_body_then_continue_delivers_everything(proxy, recorder):
    proxy.faults([stall(1.0, then="continue", after_bytes=300 * KiB)])
    data = payload(MiB, "stall")
    started = time.monotonic()
    status, _, _ = through(proxy, "PUT", f"http://127.0.0.1:{recorder.port}/late", data)
    assert status == 200 and time.monotonic() - started >= 1.0
    assert recorder.bodies("/late") == [data]
    (rec,) = proxy.settle()
    assert rec.last_body_byte - rec.first_body_byte >= 0.95, rec  # no byte moved meanwhile
    assert rec.body_forwarded == len(data), rec


def test_reset_after_part_of_the_answer(proxy, recorder):
    proxy.faults([reset_response(after_bytes=20)])
    data = payload(10 * KiB, "answer")
    with pytest.raises(BROKEN):
        through(proxy, "PUT", f"http://127.0.0.1:{recorder.port}/stored", data)
    (rec,) = proxy.settle()
    assert rec.fault == "reset_response" and rec.response_bytes == 20, rec
    assert recorder.bodies("/stored") == [data], "the request must reach the server"


def test_offline_window_resets_everything_then_recovers(proxy, recorder):
    url = f"http://127.0.0.1:{recorder.port}/on"
    idle = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    assert through(proxy, "GET", url, conn=idle)[0] == 200  # an open keep-alive connection
    proxy.offline(1.0)
    time.sleep(0.1)
    with pytest.raises(BROKEN):
        through(proxy, "GET", url, conn=idle)  # the existing connection is gone
    with pytest.raises(BROKEN):
        through(proxy, "GET", url)  # and new ones are reset
    assert proxy.counters()["offline_resets"] >= 1
    time.sleep(1.0)
    assert through(proxy, "GET", url)[0] == 200
    # The fault form: the 2nd GET takes the network down.
    proxy.faults([offline(0.5, method="GET", skip=1)])
    assert through(proxy, "GET", url)[0] == 200
    with pytest.raises(BROKEN):
        through(proxy, "GET", url)
    with pytest.raises(BROKEN):
        through(proxy, "PUT", url, b"x")
    time.sleep(0.6)
    assert through(proxy, "PUT", url, b"x")[0] == 200
    assert [r.fault for r in proxy.settle()].count("offline") == 1


def run_pattern(recorder, seed) -> list[int]:
    with NetProxy(seed=seed, faults=[s3_error(probability=0.5)]) as p:
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=5)
        url = f"http://127.0.0.1:{recorder.port}/r"
        return [through(p, "PUT", url, b"z", conn=conn)[0] for _ in range(24)]


def test_fault_draws_are_seeded(recorder):
    first, again, other = (
        run_pattern(recorder, 7),
        run_pattern(recorder, 7),
        run_pattern(recorder, 8),
    )
    assert first == again
    assert 503 in first and 200 in first, first
    assert first != other
    # And the plan alone: skip/times counted per rule.
    plan = FaultPlan([s3_error(skip=1, times=2)])
    head = RequestHead("PUT", "127.0.0.1:1", "/k", "", {}, 0)
    assert [plan.pick(head) is not None for _ in range(5)] == [False, True, True, False, False]


# --- shaping ---------------------------------------------------------------------------


def test_per_connection_cap(proxy, recorder):
    proxy.shape(per_connection_bps=8e6)
    data = payload(2 * MiB, "cap")
    started = time.monotonic()
    assert through(proxy, "PUT", f"http://127.0.0.1:{recorder.port}/slow", data)[0] == 200
    assert time.monotonic() - started >= 1.5  # 2 MiB at 8 Mbit/s: 2.1 s
    proxy.shape()  # off again
    started = time.monotonic()
    assert through(proxy, "PUT", f"http://127.0.0.1:{recorder.port}/fast", data)[0] == 200
    assert time.monotonic() - started < 1.5, "shape() did not lift the cap"


def test_total_cap_is_shared_across_connections(proxy, recorder):
    proxy.shape(total_bps=8e6)
    data = payload(MiB, "total")
    url = f"http://127.0.0.1:{recorder.port}/t"
    statuses = []
    threads = [
        threading.Thread(target=lambda: statuses.append(through(proxy, "PUT", url, data)[0]))
        for _ in range(2)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [200, 200]
    assert time.monotonic() - started >= 1.5  # 2 MiB in all at 8 Mbit/s: 2.1 s
    assert proxy.counters()["connections"] == 2


def test_added_round_trip_per_request(proxy, recorder):
    proxy.shape(rtt=0.2)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    started = time.monotonic()
    for _ in range(5):
        assert through(proxy, "GET", f"http://127.0.0.1:{recorder.port}/", conn=conn)[0] == 200
    assert time.monotonic() - started >= 0.95  # 5 requests, 0.2 s each


# --- the log ---------------------------------------------------------------------------


def test_log_counters_and_transfer_window(proxy, recorder):
    base = f"http://127.0.0.1:{recorder.port}/b/{uuid.uuid4().hex}"
    proxy.faults([s3_error(query="partNumber=2", times=1)])
    through(proxy, "OPTIONS", base + "?partNumber=1", headers={"Origin": ORIGIN})
    t0 = time.monotonic()
    for part, size in ((1, 300 * KiB), (2, 200 * KiB), (2, 200 * KiB)):
        through(proxy, "PUT", f"{base}?partNumber={part}&uploadId=u", payload(size, part))
    through(proxy, "POST", base + "?uploadId=u", b"<Complete/>")
    t1 = time.monotonic()
    log = proxy.settle()
    assert [(r.method, r.status, r.fault) for r in log] == [
        ("OPTIONS", 200, None),
        ("PUT", 200, None),
        ("PUT", 503, "error"),
        ("PUT", 200, None),
        ("POST", 200, None),
    ], log
    assert [r.id for r in log] == [1, 2, 3, 4, 5]
    assert all(r.started <= r.ended and r.outcome == "ok" for r in log), log
    counts = proxy.counters()
    assert counts["by_method"] == {"OPTIONS": 1, "PUT": 3, "POST": 1}, counts
    assert counts["part_puts"] == 3 and counts["preflights"] == 1, counts
    assert counts["body_bytes_received"] == 700 * KiB + 11, counts
    assert counts["body_bytes_forwarded"] == 500 * KiB + 11, counts  # the 503 kept its body
    assert counts["faults"] == {"error": 1} and counts["statuses"] == {200: 4, 503: 1}, counts
    start, end = proxy.transfer_window("PUT")
    assert t0 <= start == log[1].first_body_byte < end == log[3].last_body_byte <= t1
    assert proxy.transfer_window("DELETE") is None
    assert log[1].as_dict()["path"].endswith("?partNumber=1&uploadId=u")
    proxy.clear()
    assert proxy.log() == []


def test_settings_are_safe_to_change_from_other_threads(proxy, recorder):
    url = f"http://127.0.0.1:{recorder.port}/busy"
    errors: list[BaseException] = []

    def client() -> None:
        for _ in range(15):
            try:
                through(proxy, "PUT", url, payload(20 * KiB))
            except BROKEN:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        proxy.shape(per_connection_bps=None if i % 2 else 50e6)
        proxy.faults([] if i % 3 else [reset(probability=0.3)], seed=i)
        time.sleep(0.01)
    for t in threads:
        t.join(30)
    proxy.faults([])
    proxy.shape()
    assert not errors, errors
    log = proxy.settle()
    assert len(log) == 45 and all(r.outcome in ("ok", "reset") for r in log), log
    assert through(proxy, "PUT", url, b"ok")[0] == 200
