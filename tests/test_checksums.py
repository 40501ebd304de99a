"""Checksums S3 verifies: the page computes each body's CRC32C, the kernel signs it as
``x-amz-checksum-crc32c``, and S3 refuses a body whose bytes changed on the way.

The refusals are shown against ministack (tests/e2e/checksum_server.py), which verifies
checksums as S3 does; moto does not. The page's checksum arrives in the sign requests
and is checked before anything is signed. Bodies go out with http.client as a browser
sends them: the signed headers, nothing else.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from checksums import b64crc, verifying_server
from session_helpers import BUCKET, Harness, MiB

from s3_upload_widget import _protocol as P

HEADER = "x-amz-checksum-crc32c"


@pytest.fixture(scope="module")
def verifying_s3():
    """ministack on 127.0.0.1 with the bucket BUCKET: a client of it."""
    with verifying_server() as server:
        server.make_bucket(BUCKET, cors_origins=["http://127.0.0.1:8888"])
        yield server.client(retries={"max_attempts": 1})


@pytest.fixture
def s3(s3_client):
    """moto in process, with the bucket BUCKET."""
    return s3_client


def send(signed: dict, body: bytes) -> tuple[int, bytes]:
    """PUT ``body`` to a signed request as a browser would; (status, response body)."""
    url = urlsplit(signed["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("PUT", f"{url.path}?{url.query}", body=body, headers=signed["headers"])
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_single_put_carries_its_crc32c_and_s3_refuses_other_bytes(verifying_s3):
    h = Harness(verifying_s3)
    data = b"year,month,value\n2024,05,1.5\n" * 100
    record = h.add("a.csv", len(data))
    signed = h.ok(P.SIGN, upload_id=record["id"], checksum=b64crc(data))
    assert signed["headers"][HEADER] == b64crc(data)
    status, body = send(signed, flipped(data, 7))
    assert status == 400 and b"BadDigest" in body
    status, _ = send(signed, data)
    assert status == 200
    etag = verifying_s3.head_object(Bucket=BUCKET, Key=record["key"])["ETag"]
    done = h.ok(P.COMPLETE, upload_id=record["id"], etag=etag)["record"]
    assert done["status"] == "done" and done["checksum_crc32c"] == b64crc(data)
    stored = verifying_s3.get_object(Bucket=BUCKET, Key=record["key"])["Body"].read()
    assert stored == data


def test_multipart_parts_carry_their_checksums_and_completion_checks_them(verifying_s3):
    h = Harness(verifying_s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    data = bytes(range(256)) * (11 * MiB // 256)
    record = h.add("big.bin", len(data), "application/octet-stream")
    assert h.ok(P.SIGN, upload_id=record["id"])["mode"] == "multipart"
    bodies = {1: data[: 5 * MiB], 2: data[5 * MiB : 10 * MiB], 3: data[10 * MiB :]}
    sums = [b64crc(bodies[n]) for n in (1, 2, 3)]
    parts = h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[1, 2, 3], checksums=sums)
    etags = []
    for signed in parts["parts"]:
        n = signed["part_number"]
        assert signed["headers"][HEADER] == sums[n - 1]
        if n == 2:  # damaged on the way: refused, then sent again as it is
            status, body = send(signed, flipped(bodies[n], 12345))
            assert status == 400 and b"BadDigest" in body
        status, _ = send(signed, bodies[n])
        assert status == 200
    listed = verifying_s3.list_parts(
        Bucket=BUCKET, Key=record["key"], UploadId=h.session._uploads[record["id"]].s3_upload_id
    )["Parts"]
    etags = [{"part_number": p["PartNumber"], "etag": p["ETag"]} for p in listed]
    done = h.ok(P.COMPLETE, upload_id=record["id"], parts=etags)["record"]
    assert done["status"] == "done" and done["checksum_crc32c"].endswith("-3")
    head = verifying_s3.head_object(Bucket=BUCKET, Key=record["key"], ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == done["checksum_crc32c"]
    stored = verifying_s3.get_object(Bucket=BUCKET, Key=record["key"])["Body"].read()
    assert stored == data


@pytest.mark.parametrize("checksum", [None, "", "abc", 1234, "AAAAAAA=", "AAAA AA==", "A" * 300])
def test_a_single_put_without_a_valid_checksum_is_not_signed(s3, checksum):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    err = h.error(P.SIGN, "bad-request", upload_id=record["id"], checksum=checksum)
    assert "CRC32C" in err["message"] and "'a.csv'" in err["message"]
    assert "Reload the page" in err["hint"]
    assert h.session.records[0]["status"] == "error"


@pytest.mark.parametrize(
    "checksums", [None, [], ["AAAAAA=="], ["AAAAAA==", "nope"], "AAAAAA==", {"1": "AAAAAA=="}]
)
def test_parts_without_a_valid_checksum_each_are_not_signed(s3, checksums):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record = h.add("big.bin", 11 * MiB, "application/octet-stream")
    h.ok(P.SIGN, upload_id=record["id"])
    h.error(P.SIGN_PARTS, "bad-request", upload_id=record["id"], part_numbers=[1, 2],
            checksums=checksums)  # fmt: skip
    assert h.session.records[0]["status"] == "error"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []  # aborted


def test_each_file_of_a_batch_is_signed_with_its_own_checksum(s3):
    h = Harness(s3)
    added = h.ok(P.ADD_FILES, files=[{"name": f"f{i}.csv", "size": 5, "type": ""} for i in "ab"])
    ids = [r["id"] for r in added["uploads"]]
    sums = {ids[0]: b64crc(b"aaaaa"), ids[1]: "nope"}
    first, second = h.ok(P.SIGN_FILES, upload_ids=ids, checksums=sums)["results"]
    assert first["result"]["headers"][HEADER] == b64crc(b"aaaaa")
    assert second["ok"] is False and "CRC32C" in second["error"]["message"]


def test_with_checksum_off_nothing_is_asked_or_signed(s3):
    h = Harness(s3, checksum=None, multipart_threshold=5 * MiB, part_size=5 * MiB)
    small = h.add("a.csv", 5)
    signed = h.ok(P.SIGN, upload_id=small["id"], checksum=None)
    assert HEADER not in signed["headers"]
    assert "checksum" not in signed["url"].lower()
    big = h.add("big.bin", 6 * MiB, "application/octet-stream")
    h.ok(P.SIGN, upload_id=big["id"])
    (part,) = h.ok(P.SIGN_PARTS, upload_id=big["id"], part_numbers=[1], checksums=None)["parts"]
    assert HEADER not in part["headers"]


def test_add_files_names_part_1_of_a_multipart_file_as_sign_will_plan_it(s3):
    h = Harness(s3, multipart_threshold=8 * MiB, concurrency=3)
    size = 40 * MiB + 7
    big = h.add("big.bin", size, "application/octet-stream")
    plan = h.ok(P.SIGN, upload_id=big["id"])
    assert plan["mode"] == "multipart" and plan["checksum"] == "CRC32C"
    assert big["first_part"] == {"part_number": 1, "offset": 0, "length": plan["part_size"]}
    assert big["first_part"]["length"] < size
    # Not in the record the kernel keeps (nor in the `uploads` trait): a hint for this answer.
    assert "first_part" not in h.session.records[0]
    # A file that goes as one PUT, and any file with checksums off, get no hint.
    assert "first_part" not in h.add("small.csv", 8 * MiB - 1)
    off = Harness(s3, multipart_threshold=8 * MiB, checksum=None)
    assert "first_part" not in off.add("big.bin", size, "application/octet-stream")
    # Nor does a refused file.
    strict = Harness(s3, multipart_threshold=8 * MiB, max_size=MiB)
    refused = strict.add("big.bin", size, "application/octet-stream")
    assert refused["status"] == "error" and "first_part" not in refused
