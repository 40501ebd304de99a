"""End-to-end on an S3 that verifies SigV4: the same pick-and-upload scenario as
test_upload.py's, but the kernel signs for @20minutes/s3rver 4.0.4 (tests/s3rver_server.py)
instead of moto, which accepts anything.

s3rver checks each request's signature, expiry and every signed header (Content-Type,
Content-Length, If-None-Match), so a file that lands there proves the browser sent
exactly the request the kernel signed. s3rver lacks ListParts and AbortMultipartUpload,
so every file here goes as a single PUT (``multipart_threshold`` above the largest).

The Jupyter server's kernels are pointed at moto (S3UW_TEST_ENDPOINT); the cell names
s3rver's endpoint and its public test credentials S3RVER / S3RVER explicitly.
"""

from __future__ import annotations

import unicodedata
import uuid

import pytest
import s3rver_server  # tests/ is on sys.path (see pytest_plugins below)

from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import (
    RECORD_FIELDS,
    MiB,
    RequestLog,
    assert_all_done,
    open_widget,
    unquote,
    wait_final,
    wait_rows,
)

# tests/ is on sys.path (tests/conftest.py is a rootdir conftest outside any package).
pytest_plugins = ["fixtures_s3rver"]

pytestmark = pytest.mark.e2e


def test_upload_to_sigv4_verifying_s3(nb, s3rver, jupyter, notebook_name, tmp_path):
    bucket = f"s3uw-e2e-{uuid.uuid4().hex[:12]}"
    client = s3rver.make_bucket(bucket, cors_origins=[jupyter.origin])

    csv_name = unicodedata.normalize("NFC", "données brutes été 2024.csv")
    csv = tmp_path / csv_name
    csv.write_text(
        "id,ville,valeur\n" + "".join(f"{i},Zürich-{i % 7},{i * 3.5}\n" for i in range(2000)),
        encoding="utf-8",
    )
    empty = tmp_path / "empty file.txt"
    empty.write_bytes(b"")
    big = make_random_file(tmp_path / "blob.bin", 3 * MiB + 321, seed="s3rver")
    files = [csv, empty, big]

    open_widget(
        nb,
        notebook_name,
        bucket,
        ", multipart_threshold=1024**3",  # single PUTs only: s3rver has no ListParts
        endpoint=s3rver.endpoint_url,
        access_key=s3rver_server.ACCESS_KEY,
        secret_key=s3rver_server.SECRET_KEY,
    )
    log = RequestLog(nb.page, s3rver.endpoint_url)
    nb.pick_files(0, files)
    records = wait_final(nb, 3, timeout=90)
    assert_all_done(records)

    state = nb.eval_json("{'key': w.key, 'keys': w.uploaded_keys}")
    assert sorted(state["keys"]) == sorted(r["key"] for r in records), state
    assert state["key"] == state["keys"][-1], state

    by_name = {r["name"]: r for r in records}
    assert set(by_name) == {p.name for p in files}, list(by_name)
    for path in files:
        r = by_name[path.name]
        assert set(r) >= RECORD_FIELDS, f"record lacks {RECORD_FIELDS - set(r)}: {r}"
        assert not r["multipart"], r
        assert r["size"] == r["loaded"] == path.stat().st_size, r
        assert r["key"].startswith("uploads/") and r["key"].endswith("/" + path.name), r
        obj = client.get_object(Bucket=bucket, Key=r["key"])
        data = obj["Body"].read()
        assert sha256_bytes(data) == sha256_file(path), f"bytes differ for {path.name}"
        assert obj["ContentType"] == r["content_type"], (r, obj["ContentType"])
        assert unquote(obj["ETag"]) == unquote(r["etag"]), (r, obj["ETag"])
    assert by_name[csv_name]["content_type"].startswith("text/csv"), by_name[csv_name]

    stored = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))
    assert stored == sorted(state["keys"]), stored
    wait_rows(nb, "done", 3)

    # One signed PUT per file reached s3rver: none was refused and retried.
    puts = log.methods("PUT")
    assert len(puts) == 3, f"expected 3 PUTs to s3rver, saw {len(puts)}: {puts}"
    assert all("X-Amz-Signature=" in u for u in puts), puts


def test_wrong_signature_is_refused(nb, s3rver, jupyter, notebook_name, tmp_path):
    """The control: a kernel signing with the wrong secret gets its upload refused, so
    the passing upload above really went through s3rver's signature check."""
    bucket = f"s3uw-e2e-{uuid.uuid4().hex[:12]}"
    client = s3rver.make_bucket(bucket, cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / "forged.bin", 64 * 1024, seed="forged")

    open_widget(
        nb,
        notebook_name,
        bucket,
        ", multipart_threshold=1024**3",
        endpoint=s3rver.endpoint_url,
        access_key=s3rver_server.ACCESS_KEY,
        secret_key="not-the-secret",
    )
    log = RequestLog(nb.page, s3rver.endpoint_url)
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=90)
    assert record["status"] == "error", record
    print(f"error with a wrong secret: [{record['error_code']}] {record['error']}")
    # The browser's PUT was refused (not a kernel call), once: a 403 is not retried.
    assert len(log.methods("PUT")) == 1, log.requests
    assert "SignatureDoesNotMatch" in record["error"], record
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    wait_rows(nb, "error", 1)
