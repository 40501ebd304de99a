"""The checksum-verifying S3 of the tests (ministack, tests/e2e/checksum_server.py) does
verify: a presigned PUT or UploadPart whose body does not match its signed
``x-amz-checksum-crc32c`` header is refused, and a matching one is stored with its
checksum. moto does not verify (docs/LEARNED.md), which is why this server exists.

No browser: boto3 presigns, http.client sends what a browser would (the signed headers,
no Content-Type unless signed). The CRC32C values come from `crc32c` below, a table built
here from the Castagnoli polynomial and checked against the RFC 3720 vectors, so neither
side grades its own work.

Runs with the C CRC32C that ChecksumS3Server swaps in by default; the multipart case runs
once more with ministack's own CRC32C (pure Python, slow: ~1 s a MiB), which must give
the same verdicts.
"""

from __future__ import annotations

import base64
import functools
import http.client
import random
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError
from e2e.s3_servers import MotoS3Server

MiB = 1 << 20
ORIGIN = "http://127.0.0.1:8888"
HEADER = "x-amz-checksum-crc32c"


from checksums import b64crc, crc32c, verifying_server  # noqa: E402


def test_the_reference_crc32c_matches_published_vectors():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value
    # RFC 3720 (iSCSI), B.4
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert b64crc(b"") == "AAAAAA=="


# -- helpers --------------------------------------------------------------------------
@functools.cache
def payload(size: int, seed: int) -> bytes:
    """Seeded random bytes (a repeated pattern could hide a misplaced part)."""
    return random.Random(seed).randbytes(size)


def flipped(data: bytes, at: int) -> bytes:
    """``data`` with one bit of one byte changed."""
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def code(self) -> str:
        match = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return match.group(1).decode() if match else ""

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:300]!r})"


def send(url: str, body: bytes = b"", headers: dict | None = None, method="PUT") -> Response:
    """One request as a browser sends it: these headers and Content-Length only."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(method, f"{parts.path}?{parts.query}", body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def signed_headers(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")


def presign_put(client, bucket: str, key: str, checksum: str) -> str:
    return client.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ChecksumCRC32C": checksum},
        ExpiresIn=300,
    )


def presign_part(client, bucket: str, key: str, upload_id: str, n: int, checksum: str) -> str:
    return client.generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": n,
            "ChecksumCRC32C": checksum,
        },
        ExpiresIn=300,
    )


def error_code(exc: BaseException) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


# -- fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    with verifying_server() as s3:
        yield s3


@pytest.fixture(scope="module")
def bucket(server) -> str:
    return server.make_bucket(cors_origins=[ORIGIN])


@pytest.fixture
def client(server):
    return server.client(retries={"max_attempts": 1})


# -- the server -------------------------------------------------------------------------
def test_the_server_runs_the_crc32c_asked_for(server):
    assert server.fast_crc32c and server.crc32c_impl.startswith("crc32c "), server.crc32c_impl


def test_boto3_signs_the_checksum_as_a_header(client, bucket):
    """What the kernel must hand the browser: the value goes in a signed header (not in
    the query), so the browser must send ``x-amz-checksum-crc32c: <value>``."""
    value = b64crc(b"x")
    for url in (
        presign_put(client, bucket, "k", value),
        presign_part(client, bucket, "k", "upload-id", 1, value),
    ):
        assert HEADER in signed_headers(url)
        assert not [k for k in parse_qs(urlsplit(url).query) if "checksum" in k.lower()]


def test_single_put_with_the_right_crc32c_is_stored_with_it(server, client, bucket):
    body = payload(256 * 1024, seed=1)
    r = send(presign_put(client, bucket, "single/ok", b64crc(body)), body, {HEADER: b64crc(body)})
    assert r.status == 200, r
    assert server.get_bytes(bucket, "single/ok") == body
    assert server.checksums(bucket, "single/ok") == {
        "ChecksumCRC32C": b64crc(body),
        "ChecksumType": "FULL_OBJECT",
    }


@pytest.mark.parametrize("at", [0, 131_072, 256 * 1024 - 1])
def test_single_put_with_a_flipped_bit_is_refused(server, client, bucket, at):
    body = payload(256 * 1024, seed=2)
    key = f"single/corrupt-{at}"
    url = presign_put(client, bucket, key, b64crc(body))
    r = send(url, flipped(body, at), {HEADER: b64crc(body), "Origin": ORIGIN})
    assert (r.status, r.code) == (400, "BadDigest"), r
    # A browser can read the refusal: it carries the bucket's CORS headers.
    assert r.headers.get("access-control-allow-origin") == ORIGIN
    assert key not in server.list_keys(bucket)


def test_the_signed_checksum_header_must_be_sent_as_signed(client, bucket):
    body, other = payload(4096, seed=3), payload(4096, seed=4)
    url = presign_put(client, bucket, "single/header", b64crc(body))
    assert send(url, body).status == 403  # header left out
    # Another body with its own, correct checksum: the signature no longer matches.
    r = send(url, other, {HEADER: b64crc(other)})
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r
    assert send(url, body, {HEADER: b64crc(body)}).status == 200


def test_parts_are_verified_and_completed_with_a_composite(server, client, bucket):
    parts_verified_and_completed(server, client, bucket)


def test_ministacks_own_crc32c_gives_the_same_verdicts():
    """ministack's own CRC32C (pure Python) in place of the C one: the same refusal of a
    flipped bit, the same stored checksums and composite."""
    with verifying_server(fast_crc32c=False) as server:
        assert server.crc32c_impl.startswith("ministack"), server.crc32c_impl
        bucket = server.make_bucket(cors_origins=[ORIGIN])
        parts_verified_and_completed(server, server.client(retries={"max_attempts": 1}), bucket)


def parts_verified_and_completed(server, client, bucket: str) -> None:
    """A part with a flipped bit is refused (with CORS headers), the right parts are
    stored with their checksums, completion checks part checksums and the object size,
    and the object carries the composite CRC32C."""
    key = "multi/object"
    parts = {1: payload(5 * MiB, seed=5), 2: payload(300_001, seed=6)}
    sums = {n: b64crc(data) for n, data in parts.items()}
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32C")
    assert upload.get("ChecksumAlgorithm") == "CRC32C"
    upload_id = upload["UploadId"]

    url1 = presign_part(client, bucket, key, upload_id, 1, sums[1])
    r = send(url1, flipped(parts[1], 4 * MiB + 17), {HEADER: sums[1], "Origin": ORIGIN})
    assert (r.status, r.code) == (400, "BadDigest"), r
    assert r.headers.get("access-control-allow-origin") == ORIGIN
    assert client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts", []) == []

    etags = {}
    for n, data in parts.items():
        r = send(presign_part(client, bucket, key, upload_id, n, sums[n]), data, {HEADER: sums[n]})
        assert r.status == 200, r
        assert r.headers.get(HEADER) == sums[n]
        etags[n] = r.headers["etag"]
    listed = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert {p["PartNumber"]: p.get("ChecksumCRC32C") for p in listed} == sums

    def complete(part_sums: dict[int, str], size: int):
        return client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MpuObjectSize=size,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": n, "ETag": etags[n], "ChecksumCRC32C": part_sums[n]}
                    for n in sorted(parts)
                ]
            },
        )

    total = sum(map(len, parts.values()))
    with pytest.raises(ClientError) as refused:
        complete({1: sums[2], 2: sums[2]}, total)  # a part checksum it was not stored with
    assert error_code(refused.value) == "InvalidPart"
    with pytest.raises(ClientError) as refused:
        complete(sums, total + 1)  # x-amz-mp-object-size
    assert error_code(refused.value) == "InvalidRequest"

    done = complete(sums, total)
    composite = b64crc(b"".join(base64.b64decode(sums[n]) for n in sorted(parts))) + "-2"
    assert done["ChecksumCRC32C"] == composite
    assert done["ETag"].strip('"').endswith("-2")
    assert server.checksums(bucket, key) == {
        "ChecksumCRC32C": composite,
        "ChecksumType": "COMPOSITE",
    }
    assert server.get_bytes(bucket, key) == parts[1] + parts[2]


# -- moto, for the record ----------------------------------------------------------------
def test_moto_stores_a_wrong_checksum_without_complaint():
    """docs/LEARNED.md: moto never rejects a checksum mismatch. If this fails, moto
    started verifying: update LEARNED and testing.md."""
    with MotoS3Server() as moto:
        bucket = moto.make_bucket()
        client = moto.client()
        body = payload(64 * 1024, seed=7)
        bad = flipped(body, 100)
        r = send(presign_put(client, bucket, "k", b64crc(body)), bad, {HEADER: b64crc(body)})
        assert r.status == 200, r
        assert moto.get_bytes(bucket, "k") == bad

        upload_id = client.create_multipart_upload(
            Bucket=bucket, Key="m", ChecksumAlgorithm="CRC32C"
        )["UploadId"]
        url = presign_part(client, bucket, "m", upload_id, 1, b64crc(body))
        assert send(url, bad, {HEADER: b64crc(body)}).status == 200
        client.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)


def test_a_put_whose_answer_was_lost_is_found_done_by_its_checksum(server):
    """A browser's single PUT is stored but its answer is lost; the retry meets the 412 of
    the signed If-None-Match and the page reports a failure. The kernel reads the object's
    CRC32C (HeadObject, ChecksumMode) and size: they are the ones it signed, written after
    the signature, so the upload is done. moto cannot show it: it keeps a checksum only
    when an SDK names the algorithm (x-amz-sdk-checksum-algorithm), never for a browser."""
    from session_helpers import BUCKET, Harness

    from s3_upload_widget import _protocol as P

    client = server.client(retries={"max_attempts": 1})
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    h = Harness(client)
    body = payload(40_000, seed=7)
    record = h.add("lost-answer.bin", len(body), "application/octet-stream")
    signed = h.ok(P.SIGN, upload_id=record["id"], checksum=b64crc(body))
    assert send(signed["url"], body, signed["headers"]).status == 200  # the answer is lost
    retry = send(signed["url"], body, signed["headers"])
    assert (retry.status, retry.code) == (412, "PreconditionFailed"), retry
    failure = {"reason": "http", "status": 412, "s3_code": "PreconditionFailed"}
    done = h.ok(P.FAIL, upload_id=record["id"], error=failure)["record"]
    assert (done["status"], done["checksum_crc32c"]) == ("done", b64crc(body)), done
    assert server.get_bytes(BUCKET, record["key"]) == body
