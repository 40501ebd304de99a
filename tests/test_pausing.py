"""Pause and resume in the kernel: a paused record refuses what only a moving upload may
do, keeps its multipart upload in S3, and resumes where it paused; w.pause() and
w.resume() ask the page, which owns the requests in flight.

Against moto in process (tests/conftest.py).
"""

from __future__ import annotations

import pytest
from session_helpers import BUCKET, Harness, MiB, start_multipart
from widget_wiring import Wired

from s3_upload_widget import S3UploadWidget
from s3_upload_widget import _protocol as P


@pytest.fixture
def s3(s3_client):
    """moto in process, with the bucket BUCKET."""
    return s3_client


def upload_part(s3, record, upload, n, body):
    return s3.upload_part(
        Bucket=BUCKET, Key=record["key"], UploadId=upload.s3_upload_id, PartNumber=n, Body=body
    )["ETag"]


def test_a_paused_multipart_upload_keeps_its_parts_and_resumes_where_it_was(s3):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 6 * MiB)
    upload = h.session._uploads[record["id"]]
    h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[1])
    first = upload_part(s3, record, upload, 1, bytes(5 * MiB))

    paused = h.ok(P.PAUSE, upload_id=record["id"])["record"]
    assert paused["status"] == "paused"
    h.request(P.PROGRESS, updates=[{"upload_id": record["id"], "loaded": 123}])
    assert h.session.records[0]["loaded"] == 0  # progress of a paused file is ignored
    assert len(s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]) == 1  # kept in S3

    assert h.ok(P.RESUME, upload_id=record["id"])["record"]["status"] == "uploading"
    (signed,) = h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[2])["parts"]
    assert signed["part_number"] == 2 and signed["length"] == MiB
    second = upload_part(s3, record, upload, 2, bytes(MiB))
    parts = [{"part_number": 1, "etag": first}, {"part_number": 2, "etag": second}]
    assert h.ok(P.COMPLETE, upload_id=record["id"], parts=parts)["record"]["status"] == "done"
    assert s3.head_object(Bucket=BUCKET, Key=record["key"])["ContentLength"] == 6 * MiB


def test_a_queued_file_pauses_and_resumes_queued(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.PAUSE, upload_id=record["id"])
    assert h.ok(P.RESUME, upload_id=record["id"])["record"]["status"] == "queued"
    assert h.ok(P.SIGN, upload_id=record["id"])["mode"] == "single"


@pytest.mark.parametrize(
    ("kind", "args"),
    [(P.SIGN_PARTS, {"part_numbers": [2]}), (P.COMPLETE, {"parts": []}), (P.SIGN, {})],
)
def test_a_page_that_moves_a_paused_upload_ends_it(s3, kind, args):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 6 * MiB)
    h.ok(P.PAUSE, upload_id=record["id"])
    err = h.error(kind, "bad-request", upload_id=record["id"], **args)
    assert "paused" in err["message"]
    assert h.session.records[0]["status"] == "error"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_pause_and_resume_out_of_turn_change_nothing_and_end_nothing(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    assert h.ok(P.RESUME, upload_id=record["id"])["record"]["status"] == "queued"
    h.ok(P.PAUSE, upload_id=record["id"])
    assert h.ok(P.PAUSE, upload_id=record["id"])["record"]["status"] == "paused"
    h.ok(P.CANCEL, upload_id=record["id"])
    assert h.ok(P.PAUSE, upload_id=record["id"])["record"]["status"] == "cancelled"
    assert h.ok(P.RESUME, upload_id=record["id"])["record"]["status"] == "cancelled"
    h.error(P.PAUSE, "unknown-upload", upload_id="nobody")


def test_cancelling_a_paused_multipart_upload_aborts_it_in_s3(s3):
    h = Harness(s3, multipart_threshold=5 * MiB)
    record, _ = start_multipart(h, 6 * MiB)
    h.ok(P.PAUSE, upload_id=record["id"])
    assert h.ok(P.CANCEL, upload_id=record["id"])["record"]["status"] == "cancelled"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_w_pause_and_w_resume_ask_the_page_for_the_files_they_name(s3):
    w = S3UploadWidget(bucket=BUCKET, client=s3)
    wired = Wired(w)
    added = wired.ok(P.ADD_FILES, files=[{"name": n, "size": 1, "type": ""} for n in "abc"])
    ids = [r["id"] for r in added["uploads"]]
    wired.ok(P.CANCEL, upload_id=ids[2])
    assert w.pause() == ids[:2]  # the cancelled file is not asked
    assert wired.sent[-1] == {"kind": P.PAUSE_UPLOADS, "upload_ids": ids[:2]}
    assert w.resume() == []  # the page has not paused anything yet
    wired.ok(P.PAUSE, upload_id=ids[0])
    assert w.uploads[0]["status"] == "paused"
    assert w.resume() == [ids[0]]
    assert wired.sent[-1] == {"kind": P.RESUME_UPLOADS, "upload_ids": [ids[0]]}
    assert w.pause(ids[1]) == [ids[1]]
    with pytest.raises(KeyError, match="nobody"):
        w.pause("nobody")
