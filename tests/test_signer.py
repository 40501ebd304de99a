"""The boto3 side: region, presigned URLs, multipart create/complete/abort, HEAD.

Moto (in process) does not verify signatures, so URLs are checked by parsing them, and
S3's state through the client. Moto does honour If-None-Match, on PUT and on
CompleteMultipartUpload, so those guards are exercised for real. Calls moto cannot fail
the way AWS does (access denied, region lookups refused) use botocore's Stubber.
"""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions as bex
import pytest
import requests
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from s3_upload_widget._client import default_client, is_aws_endpoint
from s3_upload_widget._errors import UploadError
from s3_upload_widget._options import MAX_EXPIRES_IN
from s3_upload_widget._signer import SignedRequest, Signer

MiB = 1024**2
BUCKET = "test-bucket"  # created by the s3_client fixture (conftest.py)
KEY = "uploads/abc/data.csv"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def random_bytes(n: int, seed: int = 1) -> bytes:
    # Seeded random data: a part stored twice or in the wrong slot changes the object.
    return random.Random(seed).randbytes(n)


@pytest.fixture(scope="module")
def shared_client():
    # Creating a boto3 client takes ~0.1 s; one per module keeps the suite fast. Moto
    # hooks into every botocore client, so it serves this one inside each test's mock.
    return boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture
def s3_client(aws_credentials, shared_client):
    """Like conftest's ``s3_client`` (fresh moto state and bucket per test), but reusing
    one client. Tests that register event handlers make their own client."""
    with mock_aws():
        shared_client.create_bucket(Bucket=BUCKET)
        yield shared_client


def fresh_client():
    return boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))


@pytest.fixture
def signer(s3_client):
    return Signer(s3_client, BUCKET, expires_in=300)


def no_uploads_left(client, bucket=BUCKET) -> bool:
    return not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


# --- construction --------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", [0, -1, True, 1.5, "900", MAX_EXPIRES_IN + 1])
def test_expires_in_must_be_sane(s3_client, expires_in):
    with pytest.raises(ValueError, match="expires_in"):
        Signer(s3_client, BUCKET, expires_in=expires_in)


def test_bucket_must_be_named(s3_client):
    with pytest.raises(ValueError, match="bucket"):
        Signer(s3_client, "")


def test_constructing_a_signer_sends_nothing(aws_credentials):
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client):  # any API call would fail: nothing is stubbed
        Signer(client, BUCKET)


def test_default_client_signs_v4_on_regional_endpoints(aws_credentials):
    client = default_client()
    assert client.meta.config.signature_version == "s3v4"
    assert client.meta.config.s3["addressing_style"] == "virtual"


# --- presign_put ---------------------------------------------------------------------


def test_presign_put_signs_type_length_and_if_none_match(signer):
    signed = signer.presign_put(KEY, size=1234, content_type="text/csv", overwrite=False)
    assert isinstance(signed, SignedRequest) and signed.method == "PUT"
    q = query(signed.url)
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert q["X-Amz-SignedHeaders"] == "content-length;content-type;host;if-none-match"
    assert q["X-Amz-Expires"] == "300"
    # Exactly the headers the browser must send; Content-Length is set by the browser.
    assert signed.headers == {"Content-Type": "text/csv", "If-None-Match": "*"}
    assert urlsplit(signed.url).path.endswith("/uploads/abc/data.csv")
    # A checksum parameter would oblige the browser to send a checksum header.
    assert not [k for k in q if "checksum" in k.lower()]
    assert signed.as_dict() == {"method": "PUT", "url": signed.url, "headers": signed.headers}


def test_presign_put_with_overwrite_does_not_sign_if_none_match(signer):
    signed = signer.presign_put(KEY, size=5, content_type="image/png", overwrite=True)
    assert query(signed.url)["X-Amz-SignedHeaders"] == "content-length;content-type;host"
    assert signed.headers == {"Content-Type": "image/png"}


def test_presign_put_encodes_the_key(signer):
    signed = signer.presign_put(
        "u/résumé final.csv", size=1, content_type="text/csv", overwrite=True
    )
    assert urlsplit(signed.url).path.endswith("/u/r%C3%A9sum%C3%A9%20final.csv")


def test_presigned_put_uploads_and_refuses_to_overwrite(signer, s3_client):
    body = random_bytes(1000)
    signed = signer.presign_put(KEY, size=len(body), content_type="text/csv", overwrite=False)
    first = requests.put(signed.url, data=body, headers=signed.headers, timeout=10)
    assert first.status_code == 200
    stored = s3_client.get_object(Bucket=BUCKET, Key=KEY)
    assert stored["Body"].read() == body and stored["ContentType"] == "text/csv"
    # The same URL again: the signed If-None-Match makes S3 (and moto) refuse it.
    second = requests.put(signed.url, data=b"x" * 1000, headers=signed.headers, timeout=10)
    assert second.status_code == 412
    assert s3_client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == body


@pytest.mark.parametrize("size", [-1, True, 1.5, 5 * 1024**3 + 1])
def test_presign_put_refuses_impossible_sizes(signer, size):
    with pytest.raises(ValueError):
        signer.presign_put(KEY, size=size, content_type="text/csv", overwrite=True)


# --- region --------------------------------------------------------------------------


def test_bucket_in_another_region_is_signed_for_its_region(s3_client):
    s3_client = fresh_client()
    s3_client.create_bucket(
        Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    calls = []
    s3_client.meta.events.register("before-call.s3.GetBucketLocation", lambda **kw: calls.append(1))
    signer = Signer(s3_client, "eu-bucket")
    signed = signer.presign_put("k.csv", size=1, content_type="text/csv", overwrite=False)
    assert signer.region == "eu-west-1"
    assert "/eu-west-1/s3/aws4_request" in query(signed.url)["X-Amz-Credential"]
    # The regional host: the global one would redirect, and a redirect breaks CORS.
    assert urlsplit(signed.url).hostname == "eu-bucket.s3.eu-west-1.amazonaws.com"
    assert signer.signing_client is not s3_client and signer.client is s3_client
    signer.presign_part("k.csv", "upload-id", 1, 5 * MiB)
    assert calls == [1]  # the region is found once


def test_client_in_another_region_signs_for_the_bucket(s3_client):
    client = boto3.client("s3", region_name="eu-central-1", config=Config(signature_version="s3v4"))
    signer = Signer(client, BUCKET)
    signed = signer.presign_put("k", size=1, content_type="text/csv", overwrite=True)
    assert signer.region == "us-east-1"
    assert "/us-east-1/s3/aws4_request" in query(signed.url)["X-Amz-Credential"]


def test_a_right_client_is_used_as_is(signer, s3_client):
    assert signer.signing_client is s3_client


def test_default_client_in_the_buckets_region_is_used_as_is(s3_client, monkeypatch):
    s3_client.create_bucket(
        Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = default_client()
    signer = Signer(client, "eu-bucket")
    signed = signer.presign_put("k", size=1, content_type="a/b", overwrite=False)
    assert signer.signing_client is client
    assert urlsplit(signed.url).hostname == "eu-bucket.s3.eu-west-1.amazonaws.com"


def test_a_sigv2_client_still_gets_sigv4_urls(s3_client):
    # Without signature_version, botocore presigns SigV2 in us-east-1 and on custom
    # endpoints: SigV2 signs neither Content-Length nor If-None-Match.
    client = boto3.client("s3", region_name="us-east-1")
    signed = Signer(client, BUCKET).presign_put("k", size=1, content_type="a/b", overwrite=False)
    q = query(signed.url)
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "content-length" in q["X-Amz-SignedHeaders"].split(";")
    assert "if-none-match" in q["X-Amz-SignedHeaders"].split(";")


def test_the_signing_clone_keeps_the_clients_own_credentials(s3_client):
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXPLICIT",
        aws_secret_access_key="secret",
        aws_session_token="session-token",
    )
    signed = Signer(client, BUCKET).presign_put("k", size=1, content_type="a/b", overwrite=True)
    q = query(signed.url)
    assert q["X-Amz-Credential"].startswith("AKIAEXPLICIT/")
    assert q["X-Amz-Security-Token"] == "session-token"


def test_custom_endpoint_is_kept_and_needs_no_region_lookup(aws_credentials):
    # Nothing listens on port 1: a request would fail. Presigning is offline.
    client = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:1")
    signer = Signer(client, BUCKET)
    signed = signer.presign_put("k.csv", size=3, content_type="text/csv", overwrite=False)
    assert signed.url.startswith("http://127.0.0.1:1/test-bucket/k.csv?")
    q = query(signed.url)
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "/us-east-1/s3/aws4_request" in q["X-Amz-Credential"]


@pytest.mark.parametrize(
    ("endpoint", "aws"),
    [
        (None, True),
        ("https://s3.eu-west-1.amazonaws.com", True),
        ("https://s3.dualstack.us-east-2.amazonaws.com", True),
        ("https://s3.cn-north-1.amazonaws.com.cn", True),
        ("http://127.0.0.1:5000", False),
        ("https://acct.r2.cloudflarestorage.com", False),
        ("https://bucket.vpce-0a1b.s3.us-east-1.vpce.amazonaws.com", False),
    ],
)
def test_is_aws_endpoint(aws_credentials, endpoint, aws):
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    assert is_aws_endpoint(client) is aws


def stubbed_client():
    client = boto3.client("s3", region_name="us-west-2", config=Config(signature_version="s3v4"))
    return client, Stubber(client)


@pytest.mark.parametrize(
    ("location", "region"), [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1")]
)
def test_legacy_locations(aws_credentials, location, region):
    client, stub = stubbed_client()
    answer = {"LocationConstraint": location} if location is not None else {}
    stub.add_response("get_bucket_location", answer, {"Bucket": BUCKET})
    with stub:
        assert Signer(client, BUCKET).region == region


def test_region_from_head_bucket_when_location_is_denied(aws_credentials):
    client, stub = stubbed_client()
    stub.add_client_error("get_bucket_location", "AccessDenied", "Access Denied", 403)
    stub.add_client_error(
        "head_bucket",
        "403",
        "Forbidden",
        403,
        response_meta={"HTTPHeaders": {"x-amz-bucket-region": "ap-southeast-2"}},
    )
    with stub:
        assert Signer(client, BUCKET).region == "ap-southeast-2"


def test_region_falls_back_to_the_clients(aws_credentials):
    client, stub = stubbed_client()
    stub.add_client_error("get_bucket_location", "NotImplemented", "no", 501)
    stub.add_client_error("head_bucket", "403", "Forbidden", 403)
    with stub:
        assert Signer(client, BUCKET).region == "us-west-2"


@pytest.mark.parametrize(
    ("errors", "code"),
    [
        ([("get_bucket_location", "NoSuchBucket", 404)], "no-such-bucket"),
        (
            [("get_bucket_location", "AccessDenied", 403), ("head_bucket", "404", 404)],
            "no-such-bucket",
        ),
        ([("get_bucket_location", "InvalidAccessKeyId", 403)], "invalid-credentials"),
        ([("get_bucket_location", "ExpiredToken", 400)], "expired-credentials"),
    ],
)
def test_region_lookup_errors(aws_credentials, errors, code):
    client, stub = stubbed_client()
    for method, error_code, status in errors:
        stub.add_client_error(method, error_code, "", status)
    with stub, pytest.raises(UploadError) as exc_info:
        Signer(client, BUCKET).presign_put("k", size=1, content_type="a/b", overwrite=True)
    assert exc_info.value.code == code
    assert BUCKET in str(exc_info.value)


def test_missing_bucket_on_moto(s3_client):
    with pytest.raises(UploadError) as exc_info:
        Signer(s3_client, "no-such-bucket-here").presign_put(
            "k", size=1, content_type="text/csv", overwrite=False
        )
    assert exc_info.value.code == "no-such-bucket"
    assert '"no-such-bucket-here"' in exc_info.value.message


# --- credentials and network ---------------------------------------------------------


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """An environment in which boto3 finds no credentials anywhere (and does not wait for
    an EC2 metadata service)."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:1"])
def test_no_credentials(no_credentials, endpoint):
    client = boto3.Session().client("s3", region_name="us-east-1", endpoint_url=endpoint)
    signer = Signer(client, BUCKET)
    with pytest.raises(UploadError) as exc_info:
        signer.presign_put("k", size=1, content_type="text/csv", overwrite=False)
    error = exc_info.value
    assert error.code == "no-credentials"
    assert "No AWS credentials were found in the Python kernel" in error.message
    assert "AWS_ACCESS_KEY_ID" in error.hint and "client=" in error.hint
    assert isinstance(error.__cause__, bex.NoCredentialsError)


def test_unreachable_endpoint(aws_credentials):
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(UploadError) as exc_info:
        Signer(client, BUCKET).head("k")
    assert exc_info.value.code == "endpoint-unreachable"
    assert "http://127.0.0.1:1" in exc_info.value.message


# --- HEAD ----------------------------------------------------------------------------


def test_head_and_exists(signer, s3_client):
    assert signer.exists(KEY) is False
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b"hello", ContentType="text/plain")
    assert signer.exists(KEY) is True
    head = signer.head(KEY)
    assert head == {
        "size": 5,
        "etag": '"5d41402abc4b2a76b9719d911017c592"',
        "content_type": "text/plain",
    }


def test_head_of_a_missing_key(signer):
    with pytest.raises(UploadError) as exc_info:
        signer.head("nope")
    assert (
        exc_info.value.code == "s3-rejected" and "s3://test-bucket/nope" in exc_info.value.message
    )


def test_denied_head(aws_credentials):
    client, stub = stubbed_client()
    stub.add_client_error("head_object", "403", "Forbidden", 403)
    stub.add_client_error("head_object", "403", "Forbidden", 403)
    stub.add_client_error("head_object", "403", "Forbidden", 403)
    signer = Signer(client, BUCKET, prefix="uploads/")
    with stub:
        for call in (signer.head, signer.exists):
            with pytest.raises(UploadError) as exc_info:
                call(KEY)
            assert exc_info.value.code == "access-denied"
            assert '"s3:GetObject" on "arn:aws:s3:::test-bucket/uploads/*"' in exc_info.value.hint
        # For the early overwrite check a refused HEAD means "don't know": If-None-Match
        # still guards the write.
        assert signer.exists_if_allowed(KEY) is False


# --- multipart -----------------------------------------------------------------------


def upload_parts(signer, key, upload_id, body, part_size=5 * MiB, numbers=None):
    """Upload ``body`` part by part through presigned URLs, like the browser does."""
    count = max(1, -(-len(body) // part_size))
    parts = []
    for number in numbers or range(1, count + 1):
        chunk = body[(number - 1) * part_size : number * part_size]
        signed = signer.presign_part(key, upload_id, number, len(chunk))
        answer = requests.put(signed.url, data=chunk, headers=signed.headers, timeout=30)
        assert answer.status_code == 200, answer.text
        parts.append({"part_number": number, "etag": answer.headers["ETag"]})
    return parts


BODY = random_bytes(5 * MiB + 1000)


def test_presign_part_url(signer):
    signed = signer.presign_part(KEY, "the-upload", 3, 5 * MiB)
    q = query(signed.url)
    assert signed.method == "PUT" and signed.headers == {}
    assert q["partNumber"] == "3" and q["uploadId"] == "the-upload"
    assert q["X-Amz-SignedHeaders"] == "content-length;host"
    assert q["X-Amz-Expires"] == "300"


@pytest.mark.parametrize(
    ("number", "length"), [(0, 1), (10_001, 1), (True, 1), (1, -1), (1, 5 * 1024**3 + 1), (1, 1.5)]
)
def test_presign_part_refuses_bad_numbers_and_lengths(signer, number, length):
    with pytest.raises(ValueError):
        signer.presign_part(KEY, "u", number, length)


def test_multipart_end_to_end(signer, s3_client):
    upload_id = signer.create_multipart(KEY, content_type="text/csv", overwrite=False)
    parts = upload_parts(signer, KEY, upload_id, BODY)
    parts = [{**p, "etag": p["etag"].strip('"').upper()} for p in reversed(parts)]  # any order
    result = signer.complete_multipart(
        KEY, upload_id, parts, expected_size=len(BODY), overwrite=False
    )
    assert result["size"] == len(BODY) and result["etag"].endswith('-2"')
    stored = s3_client.get_object(Bucket=BUCKET, Key=KEY)
    assert stored["Body"].read() == BODY and stored["ContentType"] == "text/csv"
    assert no_uploads_left(s3_client)


def test_complete_sends_if_none_match_only_without_overwrite(s3_client):
    s3_client = fresh_client()
    signer = Signer(s3_client, BUCKET)
    sent = []
    s3_client.meta.events.register(
        "before-send.s3.CompleteMultipartUpload",
        lambda request, **kw: sent.append(request.headers.get("If-None-Match")),
    )
    for overwrite in (False, True):
        upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=overwrite)
        parts = upload_parts(signer, KEY, upload_id, b"small")
        signer.complete_multipart(KEY, upload_id, parts, expected_size=5, overwrite=overwrite)
    assert sent == [b"*", None]


def test_size_mismatch_aborts(signer, s3_client):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    parts = upload_parts(signer, KEY, upload_id, BODY)
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(
            KEY, upload_id, parts, expected_size=len(BODY) + 1, overwrite=False
        )
    error = exc_info.value
    assert error.code == "size-mismatch"
    assert f"S3 holds {len(BODY):,} bytes but the file has {len(BODY) + 1:,}" in error.message
    assert "aborted" in error.message and KEY in error.message
    assert no_uploads_left(s3_client) and not signer.exists(KEY)


def test_missing_part_aborts(signer, s3_client):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    parts = upload_parts(signer, KEY, upload_id, BODY, numbers=[1])
    parts.append({"part_number": 2, "etag": '"0123456789abcdef0123456789abcdef"'})
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(KEY, upload_id, parts, expected_size=len(BODY), overwrite=False)
    assert exc_info.value.code == "size-mismatch"
    assert "S3 has no part 2" in exc_info.value.message
    assert no_uploads_left(s3_client)


def test_wrong_etag_aborts(signer, s3_client):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    parts = upload_parts(signer, KEY, upload_id, BODY)
    parts[0]["etag"] = '"ffffffffffffffffffffffffffffffff"'
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(KEY, upload_id, parts, expected_size=len(BODY), overwrite=False)
    assert exc_info.value.code == "size-mismatch" and "ETag of part 1" in exc_info.value.message
    assert no_uploads_left(s3_client)


@pytest.mark.parametrize(
    ("parts", "words"),
    [
        ([], "non-empty list"),
        ("parts", "non-empty list"),
        ([{"part_number": 1}], "no ETag"),
        ([{"part_number": 1, "etag": '""'}], "no ETag"),
        ([{"part_number": True, "etag": "e"}], "not an int"),
        ([{"part_number": "1", "etag": "e"}], "not an int"),
        ([{"part_number": 0, "etag": "e"}], "between 1 and 10000"),
        ([{"part_number": 10_001, "etag": "e"}], "between 1 and 10000"),
        ([{"part_number": 1, "etag": "e"}, {"part_number": 1, "etag": "e"}], "twice"),
        (["junk"], "not an int"),
    ],
)
def test_malformed_parts_are_refused_and_aborted(signer, s3_client, parts, words):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(KEY, upload_id, parts, expected_size=1, overwrite=False)
    assert exc_info.value.code == "bad-request" and words in exc_info.value.message
    assert no_uploads_left(s3_client)


def test_complete_of_an_unknown_upload(signer):
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(
            KEY,
            "no-such-upload",
            [{"part_number": 1, "etag": "e"}],
            expected_size=1,
            overwrite=True,
        )
    assert exc_info.value.code == "unknown-upload"


def test_existing_key_is_refused_before_creating(signer, s3_client):
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b"old")
    with pytest.raises(UploadError) as exc_info:
        signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    assert exc_info.value.code == "key-exists" and KEY in exc_info.value.message
    assert no_uploads_left(s3_client)


def test_key_created_during_upload_is_not_overwritten(signer, s3_client):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    parts = upload_parts(signer, KEY, upload_id, BODY)
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b"someone else's")
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(KEY, upload_id, parts, expected_size=len(BODY), overwrite=False)
    assert exc_info.value.code == "key-exists"
    assert no_uploads_left(s3_client)
    assert s3_client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"someone else's"


def test_if_none_match_guards_completion_when_head_is_not_allowed(signer, s3_client, monkeypatch):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    parts = upload_parts(signer, KEY, upload_id, BODY)
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b"someone else's")
    monkeypatch.setattr(signer, "exists_if_allowed", lambda key: False)  # HEAD refused
    with pytest.raises(UploadError) as exc_info:
        signer.complete_multipart(KEY, upload_id, parts, expected_size=len(BODY), overwrite=False)
    assert exc_info.value.code == "key-exists"  # S3 (moto) answered 412
    assert no_uploads_left(s3_client)
    assert s3_client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"someone else's"


def test_overwrite_replaces(signer, s3_client):
    s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=b"old")
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=True)
    parts = upload_parts(signer, KEY, upload_id, BODY)
    signer.complete_multipart(KEY, upload_id, parts, expected_size=len(BODY), overwrite=True)
    assert s3_client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == BODY


def test_completion_survives_a_refused_head(signer, s3_client, monkeypatch):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=True)
    parts = upload_parts(signer, KEY, upload_id, b"tiny")

    def refuse(key):
        raise UploadError("access-denied", "no", "no")

    monkeypatch.setattr(signer, "head", refuse)
    result = signer.complete_multipart(KEY, upload_id, parts, expected_size=4, overwrite=True)
    assert result["size"] == 4 and result["etag"].endswith('-1"')


def test_abort_is_idempotent(signer, s3_client):
    upload_id = signer.create_multipart(KEY, content_type="a/b", overwrite=False)
    upload_parts(signer, KEY, upload_id, b"some bytes")
    signer.abort_multipart(KEY, upload_id)
    assert no_uploads_left(s3_client)
    signer.abort_multipart(KEY, upload_id)
    signer.abort_multipart(KEY, "never-existed")


def test_list_parts_is_paginated(aws_credentials):
    client, stub = stubbed_client()
    base = {"Bucket": BUCKET, "Key": KEY, "UploadId": "u"}
    stub.add_response(
        "list_parts",
        {
            "Parts": [{"PartNumber": 1, "ETag": '"e1"', "Size": 5 * MiB}],
            "IsTruncated": True,
            "NextPartNumberMarker": 1,
        },
        base,
    )
    stub.add_response(
        "list_parts",
        {"Parts": [{"PartNumber": 2, "ETag": '"e2"', "Size": 10}], "IsTruncated": False},
        {**base, "PartNumberMarker": 1},
    )
    stub.add_response(
        "complete_multipart_upload",
        {"ETag": '"x-2"'},
        {
            **base,
            "MultipartUpload": {
                "Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]
            },
        },
    )
    # No HEAD afterwards: the answer holds the object's ETag, the sizes were checked.
    parts = [{"part_number": 2, "etag": "E2"}, {"part_number": 1, "etag": "e1"}]
    with stub:
        result = Signer(client, BUCKET).complete_multipart(
            KEY, "u", parts, expected_size=5 * MiB + 10, overwrite=True
        )
    assert result == {"etag": '"x-2"', "size": 5 * MiB + 10, "checksum_crc32c": ""}
    stub.assert_no_pending_responses()


def test_a_completion_answered_without_an_etag_reads_it_back(aws_credentials):
    client, stub = stubbed_client()
    base = {"Bucket": BUCKET, "Key": KEY, "UploadId": "u"}
    stub.add_response(
        "list_parts", {"Parts": [{"PartNumber": 1, "ETag": '"e1"', "Size": 10}]}, base
    )
    stub.add_response(
        "complete_multipart_upload",
        {},
        {**base, "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e1"'}]}},
    )
    stub.add_response("head_object", {"ContentLength": 10, "ETag": '"x-1"'})
    with stub:
        result = Signer(client, BUCKET).complete_multipart(
            KEY, "u", [{"part_number": 1, "etag": "e1"}], expected_size=10, overwrite=True
        )
    assert result == {"etag": '"x-1"', "size": 10, "checksum_crc32c": ""}
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda s: s.create_multipart(KEY, content_type="a/b", overwrite=True), "s3:PutObject"),
        (lambda s: s.abort_multipart(KEY, "u"), "s3:AbortMultipartUpload"),
        (
            lambda s: s.complete_multipart(
                KEY, "u", [{"part_number": 1, "etag": "e"}], expected_size=1, overwrite=True
            ),
            "s3:ListMultipartUploadParts",
        ),
    ],
)
def test_denied_calls_name_their_iam_action(aws_credentials, call, action):
    client, stub = stubbed_client()
    stub.add_client_error(
        {
            "s3:PutObject": "create_multipart_upload",
            "s3:AbortMultipartUpload": "abort_multipart_upload",
            "s3:ListMultipartUploadParts": "list_parts",
        }[action],
        "AccessDenied",
        "Access Denied",
        403,
    )
    if action == "s3:ListMultipartUploadParts":
        stub.add_response("abort_multipart_upload", {})  # a failed completion aborts
    with stub, pytest.raises(UploadError) as exc_info:
        call(Signer(client, BUCKET, prefix="uploads/"))
    assert exc_info.value.code == "access-denied"
    assert f'"{action}" on "arn:aws:s3:::test-bucket/uploads/*"' in exc_info.value.hint
    stub.assert_no_pending_responses()


def test_warm_makes_every_signing_client_before_the_first_signature(s3_client):
    extra = ("https://s3.dualstack.us-east-1.amazonaws.com", "https://s3.us-east-1.amazonaws.com")
    signer = Signer(s3_client, "test-bucket", extra_endpoints=extra)
    assert signer._host_clients is None  # nothing made on construction
    signer.warm()
    hosts = [urlsplit(c.meta.endpoint_url).hostname for c in signer._host_clients]
    assert len(hosts) == 3 and hosts[1:] == [urlsplit(u).hostname for u in extra]
    made = list(signer._host_clients)
    # The first signature uses them.
    url = signer.presign_put("k", size=3, content_type="text/plain", overwrite=True).url
    assert signer._host_clients == made
    assert urlsplit(url).query


def test_warm_leaves_a_failure_to_the_first_signature(s3_client, monkeypatch):
    def refuse(*args, **kwargs):
        raise bex.NoCredentialsError()

    monkeypatch.setattr(s3_client, "generate_presigned_url", refuse)
    signer = Signer(s3_client, "test-bucket")
    signer.warm()  # no exception here...
    with pytest.raises(UploadError) as caught:  # ...the signature says what is wrong
        signer.presign_put("k", size=3, content_type="text/plain", overwrite=True)
    assert "credentials" in str(caught.value).lower()
