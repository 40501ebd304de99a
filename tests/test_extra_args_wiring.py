"""extra_args through the session and the widget (suggested for the lead)."""

from __future__ import annotations

import pytest
import requests
from session_helpers import BUCKET, Harness, s3

from s3_upload_widget import InvalidOption, S3UploadWidget
from s3_upload_widget import _protocol as P

__all__ = ["s3"]  # the fixture, used by name

KMS = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/uploads"}


def test_the_session_signs_each_files_options_and_s3_stores_them(s3):
    seen = []

    def per_file(fields):
        seen.append(fields)
        return {**KMS, "Tagging": {"kind": fields["content_type"].split("/")[0]}}

    h = Harness(s3, extra_args=per_file)
    record = h.add("data.csv", 3, "text/csv")
    signed = h.ok(P.SIGN, upload_id=record["id"])
    assert signed["headers"]["x-amz-server-side-encryption"] == "aws:kms"
    assert signed["headers"]["x-amz-tagging"] == "kind=text"
    assert requests.put(signed["url"], data=b"a,b", headers=signed["headers"], timeout=10).ok
    h.ok(P.COMPLETE, upload_id=record["id"], etag="")
    assert seen == [{"name": "data.csv", "size": 3, "content_type": "text/csv",
                     "key": record["key"], "bucket": BUCKET}]  # fmt: skip
    assert s3.head_object(Bucket=BUCKET, Key=record["key"])["SSEKMSKeyId"] == "alias/uploads"
    # Each file gets its own answer.
    again = h.ok(P.SIGN, upload_id=h.add("b.png", 1, "image/png")["id"])
    assert again["headers"]["x-amz-tagging"] == "kind=image"


def test_multipart_gets_the_options_at_create(s3):
    h = Harness(s3, extra_args={"Tagging": {"big": "yes"}}, multipart_threshold=5 * 1024**2)
    record = h.add("big.bin", 6 * 1024**2, "application/octet-stream")
    assert h.ok(P.SIGN, upload_id=record["id"])["mode"] == "multipart"
    (upload,) = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert upload["Key"] == record["key"]


def test_a_failing_function_fails_that_file_only(s3):
    h = Harness(s3, extra_args=lambda fields: 1 / 0)
    record = h.add()
    error = h.error(P.SIGN, "bad-request", upload_id=record["id"])
    assert "ZeroDivisionError" in error["message"]
    assert h.session.records[0]["status"] == "error"


def test_the_widget_checks_extra_args_now_and_later():
    with pytest.raises(InvalidOption, match="SSE-C"):
        S3UploadWidget(bucket="b", extra_args={"SSECustomerKey": "k"})
    w = S3UploadWidget(bucket="b", extra_args=KMS)
    assert w.extra_args == KMS and "extra_args" not in w.get_state()
    with pytest.raises(InvalidOption, match="unknown key"):
        w.extra_args = {"Colour": "blue"}
    assert w.extra_args == KMS
    w.extra_args = None
    assert w._session.options.extra_args is None
