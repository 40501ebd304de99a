"""Small files as form POSTs (_form_post): which files go so, the policy the kernel signs,
and what S3 does with a form that breaks it.

The policy is shown enforced by ministack (tests/e2e/checksum_server.py), which checks a
POST's policy as S3 does (moto and s3rver do not; docs/LEARNED.md). The forms go out with
``requests`` as a browser sends them: the fields, then the file, an ``Origin`` header.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests
from checksums import verifying_server
from session_helpers import BUCKET, Harness

from s3_upload_widget import LocalS3, UploadError
from s3_upload_widget import _protocol as P
from s3_upload_widget._form_post import (
    FORM_POST_MAX_BYTES,
    form_fields,
    keys_are_private,
    plan_form_post,
    read_md5,
    resolve_form_posts,
)
from s3_upload_widget._signer import Signer

PAGE = "http://127.0.0.1:8888"


def md5_of(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def post(signed: dict, body: bytes, origin: str = PAGE) -> requests.Response:
    """The form a page sends: the signed fields, then the file, from ``origin``."""
    assert signed["method"] == "POST" and signed["headers"] == {}
    files = {"file": ("file", body)}
    return requests.post(signed["url"], data=signed["fields"], files=files,
                         headers={"Origin": origin}, timeout=60)  # fmt: skip


def policy_of(signed: dict) -> dict:
    return json.loads(base64.b64decode(signed["fields"]["policy"]))


# -- which files go as a form POST ----------------------------------------------------
def test_object_options_become_form_fields_or_keep_the_file_a_put():
    headers = {"x-amz-meta-project": "alpha", "x-amz-server-side-encryption": "aws:kms",
               "x-amz-server-side-encryption-aws-kms-key-id": "k1", "x-amz-acl": "private",
               "x-amz-storage-class": "STANDARD_IA", "Cache-Control": "no-cache"}  # fmt: skip
    assert form_fields(headers) == {
        "x-amz-meta-project": "alpha", "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "k1", "acl": "private",
        "x-amz-storage-class": "STANDARD_IA", "Cache-Control": "no-cache",
    }  # fmt: skip
    # POST takes tags as an XML document and has no bucket-key field: those go as PUTs.
    assert form_fields({"x-amz-tagging": "a=b"}) is None
    assert form_fields({"x-amz-server-side-encryption-bucket-key-enabled": "true"}) is None


def test_only_keys_no_other_upload_can_want_go_without_if_none_match():
    assert keys_are_private("{prefix}{filename}", overwrite=True)
    assert keys_are_private("{prefix}{batch}/{relpath}", overwrite=False)
    assert keys_are_private("{prefix}{uuid}-{filename}", overwrite=False)
    assert not keys_are_private("{prefix}{filename}", overwrite=False)
    assert not keys_are_private(lambda fields: "x", overwrite=False)
    # Escaped braces are literal text: every pick would get the same key.
    assert not keys_are_private("{prefix}{{batch}}/{filename}", overwrite=False)
    assert keys_are_private("{prefix}{{x}}{batch}/{filename}", overwrite=False)


@pytest.mark.parametrize("bad", [None, "", "abc", "A" * 24, "!" * 22 + "==", 5])
def test_a_bad_md5_from_the_page_is_refused_with_the_fix(bad):
    with pytest.raises(UploadError) as caught:
        read_md5(bad, "'a.csv'")
    assert caught.value.code == "bad-request"
    assert "no valid MD5 for 'a.csv'" in caught.value.message
    assert "Reload the page" in caught.value.hint


def plan(**changes):
    args = dict(enabled=True, size=10, extra_args={}, key_template="{prefix}{batch}/{relpath}",
                overwrite=False, checksum="CRC32C", md5=md5_of(b"0123456789"),
                what="'a'")  # fmt: skip
    return plan_form_post(**{**args, **changes})


def test_plan_form_post_says_which_files_go_as_posts():
    assert plan() == ({}, md5_of(b"0123456789"))
    assert plan(checksum=None, md5=None) == ({}, "")
    assert plan(extra_args={"Metadata": {"a": "b"}}) == ({"x-amz-meta-a": "b"}, plan()[1])
    assert plan(enabled=False) is None
    assert plan(size=FORM_POST_MAX_BYTES) is None
    assert plan(size=FORM_POST_MAX_BYTES - 1) is not None
    assert plan(key_template="{prefix}{filename}") is None
    assert plan(key_template="{prefix}{filename}", overwrite=True) is not None
    assert plan(extra_args={"Tagging": "a=b"}) is None
    assert plan(md5=None) is None  # an older page: the file goes as a PUT, with its CRC32C
    with pytest.raises(UploadError, match="no valid MD5"):
        plan(md5="nope")


def test_auto_posts_only_where_the_answer_can_be_read(s3_client):
    with LocalS3(bucket="form-auto", origins=[PAGE]) as local:
        assert resolve_form_posts("auto", local.client, local.bucket, PAGE)
        assert not resolve_form_posts("auto", local.client, local.bucket, "")  # no page yet
        assert not resolve_form_posts("auto", local.client, local.bucket, "http://other:1")
        # A rule written before form POSTs (PUT only): the uploads stay PUTs.
        rule = {"AllowedOrigins": [PAGE], "AllowedMethods": ["PUT"], "ExposeHeaders": ["ETag"]}
        local.client.put_bucket_cors(Bucket=local.bucket, CORSConfiguration={"CORSRules": [rule]})
        assert not resolve_form_posts("auto", local.client, local.bucket, PAGE)
        assert resolve_form_posts(True, local.client, local.bucket, PAGE)
        assert not resolve_form_posts(False, local.client, local.bucket, PAGE)
    # moto in process (no server that answers POSTs is known at its endpoint): PUTs.
    assert not resolve_form_posts("auto", s3_client, BUCKET, PAGE)


# -- the session signs a form POST ----------------------------------------------------
def test_the_session_signs_small_files_as_posts_and_larger_ones_as_puts(s3_client):
    h = Harness(s3_client, form_posts=True)
    small, large = h.ok(P.ADD_FILES, files=[
        {"name": "a.csv", "size": 10, "type": ""},
        {"name": "b.csv", "size": FORM_POST_MAX_BYTES, "type": ""},
    ])["uploads"]  # fmt: skip
    ids = [small["id"], large["id"]]
    md5 = md5_of(b"0123456789")
    first, second = h.ok(P.SIGN_FILES, upload_ids=ids, md5s={small["id"]: md5})["results"]
    signed = first["result"]
    assert signed["mode"] == "single" and signed["method"] == "POST"
    assert signed["fields"]["key"] == small["key"] and signed["fields"]["Content-MD5"] == md5
    assert second["result"]["method"] == "PUT" and "fields" not in second["result"]
    # An expired policy is signed again as a POST of the same file.
    again = h.ok(P.SIGN, upload_id=small["id"])
    assert again["method"] == "POST" and again["fields"]["Content-MD5"] == md5
    assert post(again, b"0123456789").status_code == 204
    etag = s3_client.head_object(Bucket=BUCKET, Key=small["key"])["ETag"]
    assert etag.strip('"') == hashlib.md5(b"0123456789").hexdigest()
    (done,) = h.ok(P.COMPLETE_FILES, uploads=[{"upload_id": small["id"], "etag": etag}])["results"]
    assert done["ok"] and done["status"] == "done"
    record = h.session.records[0]
    assert record["status"] == "done" and record["etag"] == etag
    assert record["checksum_crc32c"] == ""  # S3 checked its MD5 instead (the ETag)


def test_a_key_another_upload_could_want_goes_as_a_put_with_if_none_match(s3_client):
    h = Harness(s3_client, form_posts=True, key_template="{prefix}{filename}")
    (record,) = h.ok(P.ADD_FILES, files=[{"name": "a.csv", "size": 10, "type": ""}])["uploads"]
    (signed,) = h.ok(P.SIGN_FILES, upload_ids=[record["id"]], md5s={record["id"]: md5_of(b"x")})[
        "results"
    ]
    assert signed["result"]["method"] == "PUT"
    assert signed["result"]["headers"]["If-None-Match"] == "*"


# -- what S3 does with the policy -------------------------------------------------------
@pytest.fixture(scope="module")
def verifying_s3():
    with verifying_server() as server:
        server.make_bucket(BUCKET, cors_origins=[PAGE])
        yield server.client(retries={"max_attempts": 1})


def test_the_policy_pins_key_length_type_options_and_md5(verifying_s3):
    data = b"year,value\n2024,1.5\n" * 10
    signer = Signer(verifying_s3, BUCKET)
    signed = signer.presign_post(
        "uploads/b1/a.csv", size=len(data), content_type="text/csv",
        fields={"x-amz-meta-project": "alpha"}, content_md5=md5_of(data),
    ).as_dict()  # fmt: skip
    conditions = policy_of(signed)["conditions"]
    for pinned in ({"key": "uploads/b1/a.csv"}, {"Content-Type": "text/csv"},
                   {"x-amz-meta-project": "alpha"}, {"Content-MD5": md5_of(data)},
                   ["content-length-range", len(data), len(data)]):  # fmt: skip
        assert pinned in conditions
    # A page that changes the key, or sends another length, is refused by S3.
    moved = {**signed, "fields": {**signed["fields"], "key": "uploads/elsewhere.csv"}}
    refused = post(moved, data)
    assert refused.status_code == 403 and b"AccessDenied" in refused.content
    longer = post(signed, data + b"more")
    assert longer.status_code == 400 and b"EntityTooLarge" in longer.content
    retyped = {**signed, "fields": {**signed["fields"], "Content-Type": "text/html"}}
    assert post(retyped, data).status_code == 403
    # A field the policy does not name (here a public ACL) is refused too.
    public = {**signed, "fields": {**signed["fields"], "acl": "public-read"}}
    assert post(public, data).status_code == 403
    assert not verifying_s3.list_objects_v2(Bucket=BUCKET).get("Contents")
    # The form as signed is stored, and the page can read the answer (CORS) and its ETag.
    answer = post(signed, data)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert "etag" in answer.headers["Access-Control-Expose-Headers"].lower()
    assert answer.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    stored = verifying_s3.get_object(Bucket=BUCKET, Key="uploads/b1/a.csv")
    assert stored["Body"].read() == data and stored["Metadata"] == {"project": "alpha"}


def test_local_s3_answers_a_form_post_as_s3_does():
    with LocalS3(bucket="form-answer", origins=[PAGE]) as local:
        data = b"hello form"
        signed = Signer(local.client, local.bucket).presign_post(
            "k/a.txt", size=len(data), content_type="text/plain", fields={},
            content_md5=md5_of(data),
        ).as_dict()  # fmt: skip
        answer = post(signed, data)
        assert answer.status_code == 204
        assert answer.headers["Access-Control-Allow-Origin"] == PAGE
        assert answer.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest()
        assert local.read("k/a.txt") == data
        # Another origin gets the object stored (moto checks no policy) but no CORS headers.
        assert "Access-Control-Allow-Origin" not in post(signed, data, "http://evil:1").headers
