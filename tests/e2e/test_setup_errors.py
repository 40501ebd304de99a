"""End-to-end: mistakes a person makes while setting up, and what the widget tells them.

A bucket whose CORS lacks the notebook's origin (the message names the origin and the
``configure_cors`` call that fixes it; running that call makes the next upload work), a
CORS rule that does not expose ETag, and files refused by ``max_size`` / ``accept``
before a single byte is sent. moto's S3 server on 127.0.0.1 (global CORS off), and
s3rver for the CORS test with two rules (see its docstring).
"""

from __future__ import annotations

import re
import uuid

import pytest
import s3rver_server  # tests/ is on sys.path (see pytest_plugins below)

from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import (
    MiB,
    RequestLog,
    assert_all_done,
    check_colours,
    open_widget,
    row,
    wait_final,
    wait_row_error,
    wait_row_status,
)

# tests/ is on sys.path (tests/conftest.py is a rootdir conftest outside any package).
pytest_plugins = ["fixtures_s3rver"]

pytestmark = pytest.mark.e2e


OTHER_ORIGIN = "http://example.test"
# The fix the error message spells out: configure_cors("<bucket>", ["<origin>"])
FIX_CALL = re.compile(r'configure_cors\("([^"]+)", \["([^"]+)"\]\)')


def test_cors_missing_origin_then_configure_cors_fixes_it(
    nb, s3rver, jupyter, notebook_name, tmp_path
):
    """The bucket has a CORS rule, for another origin only: the row's error names this
    page's origin and the ``configure_cors(...)`` call; running that call (it keeps the
    other rule) makes the next upload of the same file work.

    Runs on s3rver, which picks the first CORS rule matching the origin as S3 does.
    moto 5.2 can't run it: its preflight answers 403 unless *every* rule of the bucket
    matches the origin (moto/s3/responses.py ``_set_cors_headers_options``), so a
    bucket with rules for two origins refuses both.
    """
    bucket = f"s3uw-e2e-{uuid.uuid4().hex[:12]}"
    client = s3rver.make_bucket(bucket, cors_origins=[OTHER_ORIGIN])  # not this page's
    path = make_random_file(tmp_path / "measurements.bin", 300_000, seed="cors-fix")
    open_widget(
        nb,
        notebook_name,
        bucket,
        endpoint=s3rver.endpoint_url,
        access_key=s3rver_server.ACCESS_KEY,
        secret_key=s3rver_server.SECRET_KEY,
    )

    nb.pick_files(0, [path])
    (failed,) = wait_final(nb, 1, timeout=60)
    assert failed["status"] == "error", failed
    assert failed["error_code"] == "cors", failed
    error = failed["error"]
    for needle in (jupyter.origin, "configure_cors", "CORS"):
        assert needle in error, f"the error does not mention {needle!r}: {error!r}"
    text = wait_row_error(nb, failed["id"], jupyter.origin)
    assert "configure_cors" in text, text
    check_colours(nb, "light, CORS error row")
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

    # Run the fix the message gives (with the widget's client: this S3 is not AWS).
    match = FIX_CALL.search(error)
    assert match, f"no configure_cors(...) call in the error: {error!r}"
    assert match.groups() == (bucket, jupyter.origin), match.groups()
    nb.exec(f"from s3_upload_widget import configure_cors\n{match.group(0)[:-1]}, client=client)")
    rules = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    origins = [o for r in rules for o in r["AllowedOrigins"]]
    assert OTHER_ORIGIN in origins and jupyter.origin in origins, rules

    nb.pick_files(0, [path])  # the same file again
    records = wait_final(nb, 2, timeout=60)
    assert records[0]["status"] == "error", records  # the first record stays as it was
    ok = records[1]
    assert_all_done([ok])
    wait_row_status(nb, ok["id"], "done")
    data = client.get_object(Bucket=bucket, Key=ok["key"])["Body"].read()
    assert sha256_bytes(data) == sha256_file(path)
    stored = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert stored == [ok["key"]], stored
    assert nb.eval_json("w.uploaded_keys") == [ok["key"]]


def test_etag_not_exposed_says_so(nb, s3, jupyter, notebook_name, tmp_path):
    """The CORS rule allows the origin but does not expose ETag: the browser's PUTs
    succeed, yet it cannot read the part ETags needed to complete a multipart upload.
    The error says so and gives the fix; the multipart upload is aborted.

    A single PUT goes up at the same time: S3 stores it whole, and the browser cannot
    read its ETag either; it needs none (the kernel reads it with HEAD), so that file
    is done, and no object is left behind that no record points to.
    """
    bucket = s3.make_bucket()
    s3.client().put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [jupyter.origin],
                    "AllowedMethods": ["PUT", "POST", "GET", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 3000,
                }  # no "ExposeHeaders": ["ETag"]
            ]
        },
    )
    parts = make_random_file(tmp_path / "parts.bin", 7 * MiB + 5, seed="etag")  # 2 parts
    single = make_random_file(tmp_path / "single.bin", 50_000, seed="etag-single")
    kwargs = ", multipart_threshold=5 * 1024**2, part_size=5 * 1024**2, concurrency=2"
    open_widget(nb, notebook_name, bucket, kwargs)

    nb.pick_files(0, [parts, single])
    records = {r["name"]: r for r in wait_final(nb, 2, timeout=60)}
    record = records[parts.name]
    assert record["multipart"] is True, record
    assert (record["status"], record["error_code"]) == ("error", "etag-unreadable"), record
    for needle in ("ETag", "configure_cors", "ExposeHeaders"):
        assert needle in record["error"], f"no {needle!r}: {record['error']!r}"
    text = wait_row_error(nb, record["id"], "ETag")
    assert "configure_cors" in text, text

    done = records[single.name]
    assert (done["multipart"], done["status"]) == (False, "done"), done
    head = s3.client().head_object(Bucket=bucket, Key=done["key"])
    assert done["etag"] == head["ETag"], (done, head["ETag"])
    assert sha256_bytes(s3.get_bytes(bucket, done["key"])) == sha256_file(single)
    assert nb.eval_json("w.uploaded_keys") == [done["key"]]

    # Nothing half-written: the multipart upload was aborted, no object completed.
    wait_until(
        lambda: s3.list_multipart_uploads(bucket) == [],
        timeout=15,
        page=nb.page,
        message="the failed multipart upload to be aborted (list_multipart_uploads empty)",
    )
    assert s3.list_keys(bucket) == [done["key"]]


def test_too_large_refused_before_any_byte(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    too_big = tmp_path / "too big.csv"
    too_big.write_text("x,y\n" + "1,2\n" * 499, encoding="utf-8")  # 2000 bytes
    assert too_big.stat().st_size == 2000
    wrong_type = make_random_file(tmp_path / "tiny.bin", 100, seed="type")
    fine = tmp_path / "fine.csv"
    fine.write_text("a,b\n1,2\n", encoding="utf-8")

    open_widget(nb, notebook_name, bucket, ', max_size=1000, accept=".csv"')
    assert nb.widget(0).locator(".s3uw-input").get_attribute("accept") == ".csv"
    log = RequestLog(nb.page, s3.endpoint_url)
    nb.pick_files(0, [too_big, wrong_type, fine])
    records = {r["name"]: r for r in wait_final(nb, 3, timeout=60)}

    big = records[too_big.name]
    assert (big["status"], big["error_code"]) == ("error", "too-large"), big
    for needle in (too_big.name, "max_size=1,000"):
        assert needle in big["error"], f"the too-large error lacks {needle!r}: {big['error']!r}"
    assert big["loaded"] == 0, big
    wait_row_error(nb, big["id"], "max_size=1,000")

    typ = records[wrong_type.name]
    assert (typ["status"], typ["error_code"]) == ("error", "not-accepted"), typ
    for needle in (wrong_type.name, ".csv"):
        assert needle in typ["error"], f"the not-accepted error lacks {needle!r}: {typ['error']!r}"
    wait_row_error(nb, typ["id"], ".csv")

    ok = records[fine.name]
    assert_all_done([ok])
    wait_row_status(nb, ok["id"], "done")

    # Not a byte of the refused files left the browser: the only PUT is fine.csv's.
    puts = log.methods("PUT")
    assert len(puts) == 1 and "fine.csv" in puts[0], f"PUTs to S3: {puts}"
    assert s3.list_keys(bucket) == [ok["key"]], s3.list_keys(bucket)
    assert nb.eval_json("w.uploaded_keys") == [ok["key"]]
    for r in (big, typ):
        assert r["key"] == "" or r["key"] not in s3.list_keys(bucket), r
        assert row(nb, r["id"]).locator(".s3uw-cancel").is_hidden()
