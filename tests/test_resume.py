"""Resume after a page reload (issue 11 item 5), in the kernel: a new page that adds the
same file (name, path, size, last_modified) gets the interrupted upload back with the
part to hash; ADOPT with that part's CRC32C hands over the plan and the stored parts,
another checksum (a different file of that name) gets a new record and splices nothing.

moto in process lists no part checksums: the kernel then compares with the checksum it
signed for the part. ministack (verifying_server) lists S3's own, for the test that
says so.
"""

from __future__ import annotations

import http.client
import random
from urllib.parse import urlsplit

import pytest
from checksums import b64crc, verifying_server
from session_helpers import BUCKET, Harness, MiB

from s3_upload_widget import _protocol as P

MTIME = 1_733_000_000_123
DATA = random.Random(11).randbytes(12 * MiB)  # parts of 5 MiB: 5, 5, 2
SIZE = len(DATA)
BODIES = {1: DATA[: 5 * MiB], 2: DATA[5 * MiB : 10 * MiB], 3: DATA[10 * MiB :]}


@pytest.fixture
def s3(s3_client):
    """moto in process, with the bucket BUCKET."""
    return s3_client


def describe(name="big.bin", size=SIZE, mtime=MTIME, **extra):
    return {"name": name, "size": size, "type": "application/octet-stream",
            "last_modified": mtime, **extra}  # fmt: skip


def add(h, **file):
    (entry,) = h.ok(P.ADD_FILES, files=[describe(**file)])["uploads"]
    return entry


def put_part(h, record, n):
    """Sign part n with its true checksum and PUT it as a browser would."""
    sums = [b64crc(BODIES[n])]
    (signed,) = h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[n], checksums=sums)[
        "parts"
    ]
    url = urlsplit(signed["url"])
    if url.hostname in (None, "", "s3.amazonaws.com") or not url.port:
        # moto in process: no server to PUT to; the client stores the same part.
        upload = h.session._uploads[record["id"]]
        return h.client.upload_part(
            Bucket=BUCKET, Key=record["key"], UploadId=upload.s3_upload_id, PartNumber=n,
            Body=BODIES[n], ChecksumCRC32C=sums[0],
        )["ETag"]  # fmt: skip
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("PUT", f"{url.path}?{url.query}", body=BODIES[n], headers=signed["headers"])
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
        return answer.getheader("ETag")
    finally:
        conn.close()


def interrupted(h, parts=(1,)):
    """A file added and signed by a page that then went away after storing ``parts``."""
    record = add(h)
    plan = h.ok(P.SIGN, upload_id=record["id"])
    assert plan["mode"] == "multipart" and plan["checksum"] == "CRC32C"
    etags = {n: put_part(h, record, n) for n in parts}
    return record, etags


def harness(client, **options):
    return Harness(client, multipart_threshold=5 * MiB, part_size=5 * MiB, **options)


def resume_and_finish(h, record, etags):
    entry = add(h)  # the new page picks the same file
    assert entry["id"] == record["id"] and len(h.session.records) == 1
    first = min(etags)
    assert entry["resume"] == {"part_number": first, "offset": (first - 1) * 5 * MiB,
                               "length": len(BODIES[first])}  # fmt: skip
    result = h.ok(P.ADOPT, upload_id=record["id"], checksum=b64crc(BODIES[first]))
    assert result["adopted"] is True
    assert result["plan"] == {"mode": "multipart", "part_size": 5 * MiB, "part_count": 3,
                              "checksum": "CRC32C"}  # fmt: skip
    listed = {p["part_number"]: p["etag"] for p in result["parts"]}
    assert listed.keys() == etags.keys()
    assert h.session.records[0]["status"] == "uploading"
    for n in {1, 2, 3} - etags.keys():  # only the missing parts are sent
        etags[n] = put_part(h, record, n)
    parts = [{"part_number": n, "etag": etags[n]} for n in (1, 2, 3)]
    done = h.ok(P.COMPLETE, upload_id=record["id"], parts=parts)["record"]
    assert done["status"] == "done"
    return done


def test_the_same_file_resumes_and_only_missing_parts_are_sent(s3):
    h = harness(s3)
    record, etags = interrupted(h, parts=(2,))
    done = resume_and_finish(h, record, etags)
    assert s3.get_object(Bucket=BUCKET, Key=done["key"])["Body"].read() == DATA
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_paused_upload_resumes_too(s3):
    h = harness(s3)
    record, etags = interrupted(h, parts=(1, 3))
    h.ok(P.PAUSE, upload_id=record["id"])
    resume_and_finish(h, record, etags)


def test_with_s3s_own_part_checksums():
    with verifying_server() as server:
        server.make_bucket(BUCKET, cors_origins=["http://127.0.0.1:8888"])
        client = server.client(retries={"max_attempts": 1})
        h = harness(client)
        record, _ = interrupted(h, parts=(1,))
        listed = client.list_parts(
            Bucket=BUCKET, Key=record["key"], UploadId=h.session._uploads[record["id"]].s3_upload_id
        )["Parts"]
        assert listed[0]["ChecksumCRC32C"] == b64crc(BODIES[1])  # S3's word is compared
        signed = h.session._uploads[record["id"]].part_checksums
        signed[1] = b64crc(b"not what was signed")  # so only S3's word can match
        assert "resume" in add(h)
        sums = [b64crc(BODIES[1]), signed[1]]
        assert h.ok(P.ADOPT, upload_id=record["id"], checksum=sums[1])["adopted"] is False
        assert h.ok(P.ADOPT, upload_id=record["id"], checksum=sums[0])["adopted"] is True


def test_another_file_of_that_name_is_never_spliced_in(s3):
    h = harness(s3)
    record, _ = interrupted(h, parts=(1,))
    entry = add(h)
    other = b64crc(b"another file's first part")
    result = h.ok(P.ADOPT, upload_id=entry["id"], checksum=other)
    assert result["adopted"] is False
    fresh = result["record"]
    assert fresh["id"] != record["id"] and fresh["status"] == "queued"
    assert fresh["key"] != record["key"]
    old = h.session._uploads[record["id"]]
    assert old.record["status"] == "uploading" and old.s3_upload_id  # left as it was
    assert len(s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]) == 1
    assert h.ok(P.SIGN, upload_id=fresh["id"])["mode"] == "multipart"  # uploads anew


def test_an_upload_s3_holds_no_part_of_is_aborted_and_the_file_starts_anew(s3):
    h = harness(s3)
    record, _ = interrupted(h, parts=())
    entry = add(h)
    assert "resume" not in entry and entry["id"] != record["id"]
    assert entry["status"] == "queued"
    assert h.session._uploads[record["id"]].record["status"] == "cancelled"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


@pytest.mark.parametrize(
    "change",
    [{"name": "other.bin"}, {"size": len(DATA) + 1}, {"mtime": MTIME + 1}, {"mtime": None},
     {"relative_path": "folder/big.bin"}],
)  # fmt: skip
def test_a_file_that_differs_in_name_size_mtime_or_path_is_not_offered(s3, change):
    h = harness(s3)
    record, _ = interrupted(h, parts=(1,))
    file = describe(**change)
    if file["last_modified"] is None:
        del file["last_modified"]
    (entry,) = h.ok(P.ADD_FILES, files=[file])["uploads"]
    assert "resume" not in entry and entry["id"] != record["id"]
    assert h.session._uploads[record["id"]].record["status"] == "uploading"


def test_an_upload_without_checksums_is_never_offered(s3):
    h = harness(s3, checksum=None)
    record = add(h)
    h.ok(P.SIGN, upload_id=record["id"])
    upload = h.session._uploads[record["id"]]
    s3.upload_part(Bucket=BUCKET, Key=record["key"], UploadId=upload.s3_upload_id,
                   PartNumber=1, Body=BODIES[1])  # fmt: skip
    entry = add(h)
    assert "resume" not in entry and entry["id"] != record["id"]
    h.error(P.ADOPT, "bad-request", upload_id=record["id"], checksum=b64crc(BODIES[1]))
    assert upload.record["status"] == "uploading"  # the refusal ended nothing


@pytest.mark.parametrize("checksum", [None, "", "nope", 12, "AAAAAAA="])
def test_a_malformed_adopt_is_a_bad_request_that_ends_nothing(s3, checksum):
    h = harness(s3)
    record, _ = interrupted(h, parts=(1,))
    err = h.error(P.ADOPT, "bad-request", upload_id=record["id"], checksum=checksum)
    assert "CRC32C" in err["message"]
    assert h.session._uploads[record["id"]].record["status"] == "uploading"
    h.error(P.ADOPT, "unknown-upload", upload_id="nobody", checksum=b64crc(b""))
    h.error(P.ADOPT, "unknown-upload", checksum=b64crc(b""))


@pytest.mark.parametrize("value", [-1, 1.5, "1", True])
def test_last_modified_must_be_a_non_negative_int(s3, value):
    h = harness(s3)
    err = h.error(P.ADD_FILES, "bad-request", files=[describe(mtime=value)])
    assert "last_modified" in err["message"]


def test_the_record_keeps_last_modified(s3):
    h = harness(s3)
    assert add(h)["last_modified"] == MTIME
    assert h.session.records[0]["last_modified"] == MTIME


def test_a_one_file_widget_takes_the_same_file_back_to_resume_it(s3):
    h = harness(s3, multiple=False)
    interrupted(h, parts=(1,))
    assert add(h)["resume"]["part_number"] == 1
    h.error(P.ADD_FILES, "too-many-files", files=[describe(name="other.bin")])
