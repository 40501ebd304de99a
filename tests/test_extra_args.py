"""extra_args: the object options (boto3 ExtraArgs) an upload carries.

The checks are tested directly (pure); the signing against botocore's own model and
against moto in process: a PUT sent with `requests` exactly as the browser sends it (the
URL and the returned headers) stores an object whose HEAD, tags and ACL show every
option, and so does a multipart upload. That S3 refuses a dropped or changed option
header is tested against s3rver, which verifies SigV4 (tests/test_signing_security.py).
"""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.stub import Stubber

from s3_upload_widget._errors import UploadError
from s3_upload_widget._extra_args import (
    CANNED_ACLS,
    HEADERS,
    MAX_METADATA_BYTES,
    SERVER_SIDE_ENCRYPTION,
    STORAGE_CLASSES,
    SUPPORTED,
    browser_headers,
    check_extra_args,
    header_names,
    headers_for,
    iam_hint,
    normalize_extra_args,
    resolve_extra_args,
)
from s3_upload_widget._signer import Signer

BUCKET = "test-bucket"  # made by conftest's s3_client
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MiB = 1024**2

ALL = {
    "ServerSideEncryption": "aws:kms",
    "SSEKMSKeyId": KMS_KEY,
    "BucketKeyEnabled": True,
    "Metadata": {"Owner": "data team", "classification": "internal"},
    "Tagging": {"project": "alpha", "path": "a b+c/d:e@f=g"},
    "StorageClass": "STANDARD_IA",
    "ContentDisposition": 'attachment; filename="report.csv"',
    "CacheControl": "no-cache",
    "ContentEncoding": "gzip",
    "ACL": "public-read",
}

FIELDS = {"name": "report.csv", "size": 3, "content_type": "text/csv", "key": "u/report.csv"}


def signed_headers(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";"))


def put_model():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client.meta.service_model


# --- the vocabulary agrees with botocore ----------------------------------------------------


@pytest.mark.parametrize("operation", ["PutObject", "CreateMultipartUpload"])
def test_every_option_is_a_parameter_of_the_operation_read_from_its_header(operation):
    members = put_model().operation_model(operation).input_shape.members
    for name, header in HEADERS.items():
        assert members[name].serialization["name"] == header, name


def test_the_value_lists_are_botocores():
    members = put_model().operation_model("PutObject").input_shape.members
    assert set(SERVER_SIDE_ENCRYPTION) <= set(members["ServerSideEncryption"].enum)
    assert set(STORAGE_CLASSES) <= set(members["StorageClass"].enum)
    assert set(CANNED_ACLS) == set(members["ACL"].enum)


def test_every_option_together_is_valid_and_normalized():
    args = normalize_extra_args(ALL)
    assert args["Metadata"] == {"owner": "data team", "classification": "internal"}
    assert args["Tagging"] == "project=alpha&path=a%20b%2Bc%2Fd%3Ae%40f%3Dg"
    assert headers_for(args) == {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY,
        "x-amz-server-side-encryption-bucket-key-enabled": "true",
        "x-amz-meta-owner": "data team",
        "x-amz-meta-classification": "internal",
        "x-amz-tagging": "project=alpha&path=a%20b%2Bc%2Fd%3Ae%40f%3Dg",
        "x-amz-storage-class": "STANDARD_IA",
        "Content-Disposition": 'attachment; filename="report.csv"',
        "Cache-Control": "no-cache",
        "Content-Encoding": "gzip",
        "x-amz-acl": "public-read",
    }


def test_tagging_as_a_string_is_checked_and_reencoded():
    assert normalize_extra_args({"Tagging": "a=1&b=two%20words&c="}) == {
        "Tagging": "a=1&b=two%20words&c="
    }
    assert normalize_extra_args({"Tagging": "k=a+b"})["Tagging"] == "k=a%20b"  # + is a space


@pytest.mark.parametrize("empty", [None, {}, {"Metadata": {}, "Tagging": ""}, {"ACL": None}])
def test_nothing_to_set(empty):
    assert normalize_extra_args(empty) == {}
    assert resolve_extra_args(empty, FIELDS) == {}


def test_limits_are_inclusive():
    metadata = {"k": "v" * (MAX_METADATA_BYTES - 1)}
    assert normalize_extra_args({"Metadata": metadata})["Metadata"] == metadata
    tags = {str(i) + "k" * 127: "v" * 256 for i in range(10)}
    assert len(parse_qsl(normalize_extra_args({"Tagging": tags})["Tagging"])) == 10


def test_kms_options_need_kms_encryption_but_bucket_key_may_rely_on_the_bucket_default():
    assert normalize_extra_args({"BucketKeyEnabled": False}) == {"BucketKeyEnabled": False}
    dsse = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": "alias/data"}
    assert normalize_extra_args(dsse) == dsse
    assert headers_for({"BucketKeyEnabled": False}) == {
        "x-amz-server-side-encryption-bucket-key-enabled": "false"
    }


# --- what check_extra_args refuses, in words ------------------------------------------------


def refused(value) -> str:
    with pytest.raises(ValueError) as exc_info:
        check_extra_args(value)
    return str(exc_info.value)


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("ServerSideEncription", "ServerSideEncryption"),
        ("storageclass", "StorageClass"),
        ("Tags", "Tagging"),
        ("SSEKMSKeyID", "SSEKMSKeyId"),
        ("x-amz-server-side-encryption", "ServerSideEncryption"),
        ("Cache-Control", "CacheControl"),
    ],
)
def test_an_unknown_key_names_the_closest_and_every_valid_one(name, closest):
    message = refused({name: "x"})
    assert f"unknown key {name!r}" in message
    assert f"Did you mean {closest!r}" in message
    assert ", ".join(SUPPORTED) in message


def test_an_unknown_key_with_nothing_close_lists_the_valid_ones():
    message = refused({"Colour": "blue"})
    assert "unknown key 'Colour'" in message and "Did you mean" not in message
    assert "ServerSideEncryption" in message and "ACL" in message


def test_a_boto3_option_the_widget_does_not_pass_is_said_so():
    message = refused({"Expires": "tomorrow"})
    assert "boto3 option this widget does not pass" in message and "StorageClass" in message


@pytest.mark.parametrize("name", ["SSECustomerKey", "SSECustomerAlgorithm", "SSECustomerKeyMD5"])
def test_sse_c_is_refused_because_the_key_would_reach_the_browser(name):
    message = refused({name: "AES256"})
    assert "SSE-C" in message and "browser" in message
    assert "'ServerSideEncryption': 'aws:kms'" in message  # the fix


def test_content_type_is_the_kernels():
    message = refused({"ContentType": "text/html"})
    assert "kernel picks each file's type" in message and "Remove ContentType" in message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("aws:kms", "must be a dict"),
        ({"ServerSideEncryption": "aws:KMS"}, "Did you mean 'aws:kms'?"),
        ({"ServerSideEncryption": "SSE-KMS"}, "'AES256', 'aws:kms', 'aws:kms:dsse'"),
        ({"SSEKMSKeyId": KMS_KEY}, "needs ServerSideEncryption 'aws:kms'"),
        ({"ServerSideEncryption": "AES256", "SSEKMSKeyId": KMS_KEY}, "got 'AES256'"),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": ""}, "non-empty str"),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "my key"}, "contains spaces"),
        ({"BucketKeyEnabled": "true"}, "True or False"),
        ({"ServerSideEncryption": "AES256", "BucketKeyEnabled": True}, "SSE-KMS only"),
        ({"Metadata": "owner=me"}, "dict of str to str"),
        ({"Metadata": {"owner": "Zoë"}}, "printable ASCII"),
        ({"Metadata": {"owner": 3}}, "printable ASCII"),
        ({"Metadata": {"owner": "a\nb"}}, "printable ASCII"),
        ({"Metadata": {"my key": "v"}}, "becomes the header x-amz-meta-<key>"),
        ({"Metadata": {"": "v"}}, "non-empty name"),
        ({"Metadata": {"x-amz-meta-owner": "v"}}, "without 'x-amz-meta-' ('owner')"),
        ({"Metadata": {"Owner": "a", "owner": "b"}}, "names 'owner' twice"),
        ({"Metadata": {"k": "v" * MAX_METADATA_BYTES}}, "2,049 bytes"),
        ({"Tagging": {f"t{i}": "v" for i in range(11)}}, "11 tags; S3 allows at most 10"),
        ({"Tagging": "project"}, "not URL-encoded 'key=value' pairs"),
        ({"Tagging": "a=1&a=2"}, "names a more than once"),
        ({"Tagging": ["a", "b"]}, "must be a dict"),
        ({"Tagging": {"k" * 129: "v"}}, "129 characters; S3 allows at most 128"),
        ({"Tagging": {"k": "v" * 257}}, "257 characters; S3 allows at most 256"),
        ({"Tagging": {"k": "a#b"}}, "contains '#'"),
        ({"Tagging": {"k": 1}}, "must be a str"),
        ({"Tagging": {"aws:owner": "me"}}, "'aws:' keys are AWS's own"),
        ({"Tagging": {"": "v"}}, "empty tag key"),
        ({"StorageClass": "standard"}, "Did you mean 'STANDARD'?"),
        ({"StorageClass": "COLD"}, "'GLACIER'"),
        ({"ACL": "public"}, "'public-read'"),
        ({"ContentDisposition": 'attachment; filename="résumé.pdf"'}, "filename*=UTF-8''"),
        ({"CacheControl": ""}, "non-empty str"),
        ({"ContentEncoding": 3}, "non-empty str"),
        ({"CacheControl": "max-age=60\r\nx-amz-acl: public-read"}, "printable ASCII"),
    ],
)
def test_bad_values_are_refused_with_the_problem_and_the_fix(value, words):
    assert words in refused(value)


def test_a_callable_passes_and_a_dict_is_copied():
    def per_file(fields):
        return {}

    assert check_extra_args(per_file) is per_file
    assert check_extra_args(None) is None
    given = {"Metadata": {"owner": "me"}, "StorageClass": "STANDARD"}
    kept = check_extra_args(given)
    assert kept == given
    given["Metadata"]["owner"] = "someone else"  # later changes do not reach the widget
    assert kept["Metadata"] == {"owner": "me"}


# --- resolve_extra_args: one file's options ---------------------------------------------------


def test_a_callable_gets_the_files_fields_and_its_answer_is_checked():
    seen = []

    def per_file(fields):
        seen.append(fields)
        fields["key"] = "changed"  # a copy: the caller's fields stay
        return {"Tagging": {"source": fields["name"].split(".")[-1]}}

    assert resolve_extra_args(per_file, FIELDS) == {"Tagging": "source=csv"}
    assert seen[0]["size"] == 3 and FIELDS["key"] == "u/report.csv"
    assert resolve_extra_args(lambda fields: None, FIELDS) == {}


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (lambda fields: 1 / 0, "raised ZeroDivisionError: division by zero"),
        (lambda fields: "aws:kms", "returned str, not a dict"),
        (lambda fields: {"SSECustomerKey": "k"}, "SSE-C"),
        (lambda fields: {"StorageClass": "FAST"}, "'STANDARD'"),
    ],
)
def test_a_failing_callable_fails_that_file_in_words(function, words):
    with pytest.raises(UploadError) as exc_info:
        resolve_extra_args(function, FIELDS)
    error = exc_info.value
    assert error.code == "bad-request"
    assert "'report.csv'" in error.message and words in error.message
    assert "extra_args" in error.hint


# --- browser_headers and iam_hint -----------------------------------------------------------


def test_browser_headers_keeps_the_signed_drops_the_hoisted_and_refuses_the_rest():
    base = "https://b.s3.amazonaws.com/k?X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-acl"
    headers = {"Content-Type": "a/b", "x-amz-acl": "private"}
    assert browser_headers(base, headers) == headers
    hoisted = base.replace("%3Bx-amz-acl", "") + "&x-amz-acl=private"
    assert browser_headers(hoisted, headers) == {"Content-Type": "a/b"}
    with pytest.raises(ValueError, match="does not sign x-amz-acl"):
        browser_headers(base.replace("%3Bx-amz-acl", ""), headers)
    with pytest.raises(ValueError, match="signs x-amz-acl that the browser would not send"):
        browser_headers(base, {"Content-Type": "a/b"})


def test_header_names_for_a_cors_check():
    assert header_names(None) == header_names(lambda fields: ALL) == ()
    assert header_names({"Metadata": {"Owner": "me"}, "CacheControl": "no-cache"}) == (
        "x-amz-meta-owner",
        "cache-control",
    )


def test_iam_hint_names_what_the_options_need():
    assert iam_hint({}) == iam_hint({"StorageClass": "GLACIER"}) == ""
    hint = iam_hint(normalize_extra_args(ALL))
    assert f"kms:GenerateDataKey and kms:Decrypt on {KMS_KEY}" in hint
    assert "s3:PutObjectTagging" in hint and "s3:PutObjectAcl" in hint
    assert "the bucket's KMS key" in iam_hint({"ServerSideEncryption": "aws:kms"})


# --- signed and stored: moto ------------------------------------------------------------------


@pytest.fixture
def signer(s3_client):
    return Signer(s3_client, BUCKET, expires_in=300)


def assert_stored_with_every_option(s3_client, key, *, multipart=False):
    head = s3_client.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == KMS_KEY
    if not multipart:  # moto does not report it for a multipart object
        assert head["BucketKeyEnabled"] is True
    assert head["Metadata"] == {"owner": "data team", "classification": "internal"}
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ContentDisposition"] == 'attachment; filename="report.csv"'
    assert head["CacheControl"] == "no-cache"
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentType"] == "text/csv"
    tags = s3_client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"project": "alpha", "path": "a b+c/d:e@f=g"}
    grants = s3_client.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert any(
        g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ"
        for g in grants
    )


def test_a_single_put_signs_every_option_and_s3_stores_them(signer, s3_client):
    args = resolve_extra_args(ALL, FIELDS)
    signed = signer.presign_put(
        "u/one.csv", size=3, content_type="text/csv", overwrite=False, extra_args=args
    )
    assert signed.headers == {"Content-Type": "text/csv", "If-None-Match": "*", **headers_for(args)}
    # botocore signs each option as a header (none is moved into the query string).
    assert signed_headers(signed.url) == {"content-length", "host"} | {
        h.lower() for h in signed.headers
    }
    query = parse_qs(urlsplit(signed.url).query)
    assert not [k for k in query if k.lower().startswith("x-amz-") and "X-Amz-" not in k]
    answer = requests.put(signed.url, data=b"a,b", headers=signed.headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert_stored_with_every_option(s3_client, "u/one.csv")


def test_a_multipart_upload_passes_the_options_to_create_only(signer, s3_client):
    args = resolve_extra_args(ALL, FIELDS)
    body = b"x" * (5 * MiB) + b"tail"
    upload_id = signer.create_multipart(
        "u/big.csv", content_type="text/csv", overwrite=False, extra_args=args
    )
    parts = []
    for number, chunk in ((1, body[: 5 * MiB]), (2, body[5 * MiB :])):
        signed = signer.presign_part("u/big.csv", upload_id, number, len(chunk))
        assert signed.headers == {}
        assert signed_headers(signed.url) == {"content-length", "host"}
        answer = requests.put(signed.url, data=chunk, timeout=30)
        assert answer.status_code == 200, answer.text
        parts.append({"part_number": number, "etag": answer.headers["ETag"]})
    signer.complete_multipart(
        "u/big.csv", upload_id, parts, expected_size=len(body), overwrite=False
    )
    assert s3_client.get_object(Bucket=BUCKET, Key="u/big.csv")["Body"].read() == body
    assert_stored_with_every_option(s3_client, "u/big.csv", multipart=True)


def test_a_callable_gives_each_file_its_own_options(signer, s3_client):
    def per_file(fields):
        return {
            "Tagging": {"kind": fields["content_type"].split("/")[0]},
            "Metadata": {"original-name": fields["name"]},
        }

    for name, ctype in (("a.csv", "text/csv"), ("b.png", "image/png")):
        fields = {"name": name, "size": 1, "content_type": ctype, "key": f"u/{name}"}
        args = resolve_extra_args(per_file, fields)
        signed = signer.presign_put(
            f"u/{name}", size=1, content_type=ctype, overwrite=True, extra_args=args
        )
        assert requests.put(signed.url, data=b"1", headers=signed.headers, timeout=10).ok
    tags = s3_client.get_object_tagging(Bucket=BUCKET, Key="u/b.png")["TagSet"]
    assert tags == [{"Key": "kind", "Value": "image"}]
    head = s3_client.head_object(Bucket=BUCKET, Key="u/a.csv")
    assert head["Metadata"] == {"original-name": "a.csv"}


@pytest.mark.parametrize("nothing", [None, {}])
def test_without_options_nothing_changes(signer, nothing):
    signed = signer.presign_put(
        "u/k", size=1, content_type="text/csv", overwrite=False, extra_args=nothing
    )
    assert signed.headers == {"Content-Type": "text/csv", "If-None-Match": "*"}
    assert signed_headers(signed.url) == {"content-length", "content-type", "host", "if-none-match"}


def test_the_signer_refuses_unchecked_options(signer):
    with pytest.raises(ValueError, match="SSE-C"):
        signer.presign_put(
            "u/k",
            size=1,
            content_type="text/csv",
            overwrite=True,
            extra_args={"SSECustomerKey": "k"},
        )
    with pytest.raises(ValueError, match="unknown key"):
        signer.create_multipart(
            "u/k", content_type="text/csv", overwrite=True, extra_args={"Colour": "blue"}
        )


def test_a_header_botocore_signs_but_the_browser_would_not_send_is_caught(s3_client):
    # A handler that adds a signed header the widget knows nothing about (as a future
    # botocore might): the signer says so instead of handing out a URL S3 would refuse.
    client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))

    def add_header(request, **kwargs):
        request.headers["x-amz-expected-bucket-owner"] = "123456789012"

    client.meta.events.register("before-sign.s3.PutObject", add_header)
    with pytest.raises(UploadError) as exc_info:
        Signer(client, BUCKET).presign_put("u/k", size=1, content_type="a/b", overwrite=True)
    assert exc_info.value.code == "internal"
    assert "x-amz-expected-bucket-owner" in exc_info.value.message


def test_denied_create_names_what_the_options_need(aws_credentials):
    client = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("create_multipart_upload", "AccessDenied", "Access Denied", 403)
    with stub, pytest.raises(UploadError) as exc_info:
        Signer(client, BUCKET, prefix="u/").create_multipart(
            "u/k", content_type="a/b", overwrite=True, extra_args=resolve_extra_args(ALL, FIELDS)
        )
    error = exc_info.value
    assert error.code == "access-denied"
    assert '"s3:PutObject" on "arn:aws:s3:::test-bucket/u/*"' in error.hint
    assert "kms:GenerateDataKey and kms:Decrypt" in error.hint
    assert "s3:PutObjectTagging" in error.hint and "s3:PutObjectAcl" in error.hint
