"""Every failure a person can meet is put into words that name what and say what to do."""

from __future__ import annotations

import botocore.exceptions as bex
import pytest

from s3_upload_widget._errors import (
    CODES,
    UploadError,
    explain_browser_failure,
    explain_client_error,
    key_exists_error,
)

BUCKET = "my-bucket"
KEY = "uploads/abc/data.csv"
ORIGIN = "http://localhost:8888"


def client_error(code, message="", status=400, operation="PutObject", **extra):
    error = {"Code": code, "Message": message, **extra.pop("error", {})}
    meta = {"HTTPStatusCode": status, "HTTPHeaders": extra.pop("headers", {})}
    return bex.ClientError({"Error": error, "ResponseMetadata": meta}, operation)


def explain(exc, **kwargs):
    error = explain_client_error(exc, bucket=BUCKET, key=KEY, **kwargs)
    assert error.code in CODES
    assert error.message and error.hint
    return error


# --- UploadError ---------------------------------------------------------------------


def test_upload_error_shape():
    error = UploadError("too-large", "It is big.", "Pick a smaller one.")
    assert isinstance(error, Exception)
    assert error.as_dict() == {
        "code": "too-large",
        "message": "It is big.",
        "hint": "Pick a smaller one.",
    }
    assert str(error) == "It is big. Pick a smaller one."
    assert str(UploadError("internal", "Oops.")) == "Oops."
    assert "too-large" in repr(error)


def test_upload_error_passes_through():
    error = UploadError("bad-name", "m", "h")
    assert explain_client_error(error, bucket=BUCKET) is error


# --- credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        bex.NoCredentialsError(),
        bex.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
    ],
)
def test_no_credentials_says_how_to_provide_them(exc):
    error = explain(exc)
    assert error.code == "no-credentials"
    assert "No AWS credentials were found in the Python kernel" in error.message
    for words in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "~/.aws/credentials",
    ):
        assert words in error.hint
    assert 'client=boto3.client("s3", ...)' in error.hint


def test_credential_provider_failure_is_no_credentials():
    exc = bex.CredentialRetrievalError(provider="process", error_msg="helper crashed")
    error = explain(exc)
    assert error.code == "no-credentials" and "helper crashed" in error.message


def test_expired_sso_login_is_expired_credentials():
    error = explain(bex.UnauthorizedSSOTokenError())
    assert error.code == "expired-credentials" and "aws sso login" in error.hint


# --- S3 error codes from boto3 -------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ExpiredToken", 400, "expired-credentials"),
        ("TokenRefreshRequired", 400, "expired-credentials"),
        ("InvalidAccessKeyId", 403, "invalid-credentials"),
        ("SignatureDoesNotMatch", 403, "invalid-credentials"),
        ("NoSuchBucket", 404, "no-such-bucket"),
        ("AccessDenied", 403, "access-denied"),
        ("403", 403, "access-denied"),
        ("PermanentRedirect", 301, "wrong-region"),
        ("AuthorizationHeaderMalformed", 400, "wrong-region"),
        ("IllegalLocationConstraintException", 400, "wrong-region"),
        ("PreconditionFailed", 412, "key-exists"),
        ("412", 412, "key-exists"),
        ("NoSuchUpload", 404, "unknown-upload"),
        ("EntityTooSmall", 400, "s3-rejected"),
        ("InvalidPart", 400, "s3-rejected"),
        ("SlowDown", 503, "s3-rejected"),
        ("RequestTimeTooSkewed", 403, "s3-rejected"),
        ("404", 404, "s3-rejected"),
    ],
)
def test_client_error_codes(code, status, expected):
    assert explain(client_error(code, "S3 words", status)).code == expected


def test_expired_credentials_says_to_refresh():
    error = explain(client_error("ExpiredToken", "The provided token has expired.", 400))
    assert "expired" in error.message and "ExpiredToken" in error.message
    assert "AWS_SESSION_TOKEN" in error.hint


def test_invalid_credentials_names_the_key_variables():
    error = explain(client_error("InvalidAccessKeyId", "The key does not exist.", 403))
    assert "AWS_ACCESS_KEY_ID" in error.hint and "access key" in error.message


def test_no_such_bucket_names_the_bucket():
    error = explain(client_error("NoSuchBucket", "The specified bucket does not exist", 404))
    assert '"my-bucket"' in error.message and "bucket=" in error.hint


def test_head_bucket_404_is_no_such_bucket():
    error = explain(client_error("404", "Not Found", 404, operation="HeadBucket"))
    assert error.code == "no-such-bucket" and BUCKET in error.message


def test_access_denied_names_action_and_prefix_resource():
    exc = client_error("AccessDenied", "Access Denied", 403)
    error = explain(exc, action="s3:PutObject", prefix="uploads/")
    assert error.code == "access-denied"
    assert "s3://my-bucket/uploads/abc/data.csv" in error.message
    assert "Access Denied" in error.message
    assert '"s3:PutObject" on "arn:aws:s3:::my-bucket/uploads/*"' in error.hint


def test_access_denied_without_prefix_names_the_key():
    error = explain(client_error("AccessDenied", "", 403), action="s3:AbortMultipartUpload")
    assert '"s3:AbortMultipartUpload" on "arn:aws:s3:::my-bucket/uploads/abc/data.csv"' in (
        error.hint
    )


def test_access_denied_for_bucket_action_names_the_bucket_arn():
    error = explain(client_error("AccessDenied", "", 403), action="s3:GetBucketLocation")
    assert '"arn:aws:s3:::my-bucket"' in error.hint


def test_access_denied_on_head_explains_list_bucket():
    error = explain(
        client_error("403", "Forbidden", 403, operation="HeadObject"), action="s3:GetObject"
    )
    assert "s3:GetObject" in error.hint and "s3:ListBucket" in error.hint


def test_access_denied_by_kms_mentions_the_key_permissions():
    exc = client_error(
        "AccessDenied", "User is not authorized to perform: kms:GenerateDataKey", 403
    )
    assert "kms:GenerateDataKey" in explain(exc).hint


def test_wrong_region_names_the_region_and_the_fix():
    exc = client_error(
        "AuthorizationHeaderMalformed",
        "the region 'us-east-1' is wrong; expecting 'eu-west-1'",
        400,
        error={"Region": "eu-west-1"},
    )
    error = explain(exc)
    assert error.code == "wrong-region"
    assert '"eu-west-1"' in error.message
    assert 'boto3.client("s3", region_name="eu-west-1")' in error.hint


def test_wrong_region_from_header():
    exc = client_error("PermanentRedirect", "", 301, headers={"x-amz-bucket-region": "ap-south-1"})
    assert 'region_name="ap-south-1"' in explain(exc).hint


def test_key_exists_names_key_and_overwrite():
    error = explain(client_error("PreconditionFailed", "At least one pre-condition failed", 412))
    assert error.code == "key-exists"
    assert "s3://my-bucket/uploads/abc/data.csv" in error.message
    assert "overwrite=False" in error.message and "overwrite=True" in error.hint
    assert key_exists_error(BUCKET, KEY).as_dict() == error.as_dict()


def test_other_s3_errors_quote_code_and_message():
    error = explain(client_error("InvalidStorageClass", "The storage class is invalid.", 400))
    assert error.code == "s3-rejected"
    assert "InvalidStorageClass: The storage class is invalid." in error.message
    assert "HTTP 400" in error.message and KEY in error.message


@pytest.mark.parametrize(
    "exc",
    [
        bex.EndpointConnectionError(endpoint_url="http://127.0.0.1:1/my-bucket"),
        bex.ConnectTimeoutError(endpoint_url="http://127.0.0.1:1/my-bucket"),
        bex.ReadTimeoutError(endpoint_url="http://127.0.0.1:1/my-bucket"),
    ],
)
def test_unreachable_endpoint_names_it(exc):
    error = explain(exc)
    assert error.code == "endpoint-unreachable"
    assert "http://127.0.0.1:1/my-bucket" in error.message
    assert "endpoint_url" in error.hint


def test_builtin_connection_error_is_endpoint_unreachable():
    error = explain(ConnectionRefusedError("refused"))
    assert error.code == "endpoint-unreachable" and "the S3 endpoint" in error.message


def test_anything_else_is_internal():
    error = explain(RuntimeError("kaboom"))
    assert error.code == "internal" and "RuntimeError: kaboom" in error.message


# --- browser failures ----------------------------------------------------------------


def browser(**kwargs):
    kwargs.setdefault("bucket", BUCKET)
    kwargs.setdefault("origin", ORIGIN)
    error = explain_browser_failure(**kwargs)
    assert error.code in CODES
    assert error.message and error.hint
    return error


def test_network_failure_is_cors_naming_origin_and_fix():
    error = browser(reason="network", status=0, key=KEY)
    assert error.code == "cors"
    assert "The browser could not reach S3" in error.message
    assert "most likely the bucket's CORS does not allow this notebook's origin" in error.message
    assert ORIGIN in error.message
    assert "from s3_upload_widget import configure_cors" in error.hint
    assert 'configure_cors("my-bucket", ["http://localhost:8888"])' in error.hint


def test_network_failure_includes_cors_problems():
    problems = ["No CORS rule allows origin http://localhost:8888.", "ETag is not exposed."]
    error = browser(reason="network", cors_problems=problems, part_number=2)
    assert all(p in error.message for p in problems)
    assert "(part 2)" in error.message


def test_network_failure_with_correct_cors_points_at_the_network():
    error = browser(reason="network", cors_problems=[])
    assert error.code == "cors"
    assert "looks right" in error.message and "proxy" in error.message


@pytest.mark.parametrize("origin", ["", "*", "http://localhost:*", "http://a.com/lab"])
def test_network_failure_without_a_real_origin_asks_for_the_notebooks_address(origin):
    error = browser(reason="network", origin=origin)
    assert 'configure_cors("my-bucket", ["<your notebook\'s address' in error.hint
    assert "origin (unknown)" in error.message
    assert f'["{origin}"]' not in error.hint


def test_http_expired_url():
    error = browser(
        reason="http", status=403, s3_code="AccessDenied", s3_message="Request has expired"
    )
    assert error.code == "s3-rejected"
    assert "expired" in error.message and "expires_in" in error.hint


def test_http_access_denied():
    error = browser(
        reason="http", status=403, s3_code="AccessDenied", s3_message="Access Denied", key=KEY
    )
    assert error.code == "access-denied" and "s3:PutObject" in error.hint


def test_http_signature_does_not_match():
    error = browser(reason="http", status=403, s3_code="SignatureDoesNotMatch", s3_message="...")
    assert error.code == "invalid-credentials"
    assert "signature" in error.message


def test_http_precondition_failed_is_key_exists_naming_the_key():
    error = browser(reason="http", status=412, s3_code="PreconditionFailed", key=KEY)
    assert error.code == "key-exists"
    assert KEY in error.message and "overwrite=True" in error.hint


@pytest.mark.parametrize("code", ["BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest"])
def test_a_body_s3_found_damaged_says_the_file_changed_and_what_to_do(code):
    error = browser(reason="http", status=400, s3_code=code, s3_message="x", part_number=2)
    assert error.code == "checksum-mismatch"
    assert "(part 2)" in error.message and "CRC32C" in error.message and code in error.message
    assert "changed while it was uploading" in error.hint and "upload it again" in error.hint


@pytest.mark.parametrize("code", ["EntityTooLarge", "InvalidArgument"])
def test_http_other_codes_quote_code_message_status_and_part(code):
    error = browser(
        reason="http", status=400, s3_code=code, s3_message="Details from S3.", part_number=3
    )
    assert error.code == "s3-rejected"
    assert f"{code}: Details from S3." in error.message
    assert "HTTP 400" in error.message and "(part 3)" in error.message


def test_http_without_code_uses_status():
    assert browser(reason="http", status=403).code == "access-denied"
    assert browser(reason="http", status=412, key=KEY).code == "key-exists"
    assert "HTTP 503" in browser(reason="http", status=503).message


def test_stall():
    error = browser(reason="stall", filename="big.parquet", part_number=7)
    assert error.code == "stalled"
    assert '"big.parquet" (part 7)' in error.message
    assert "no progress" in error.message and "Nothing half-written" in error.message


def test_etag_unreadable():
    error = browser(reason="etag-unreadable", part_number=1)
    assert error.code == "etag-unreadable"
    assert "ETag" in error.message and "CORS" in error.message
    assert 'configure_cors("my-bucket", ["http://localhost:8888"])' in error.hint
    assert '"ExposeHeaders": ["ETag"]' in error.hint


def test_timeout_talks_about_the_kernel():
    error = browser(reason="timeout")
    assert error.code == "stalled" and "kernel" in error.message


def test_internal_and_unknown_reasons():
    assert browser(reason="internal", s3_message="TypeError: x").code == "internal"
    assert "TypeError: x" in browser(reason="internal", s3_message="TypeError: x").message
    assert browser(reason="gremlins").code == "internal"
