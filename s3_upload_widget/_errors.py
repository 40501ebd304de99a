"""``UploadError`` and the translation of boto3 / browser failures into words.

Every failure a person can meet ends up here, so that the widget, the upload records and
the Python API all say the same thing. A message says what happened and names the
bucket, key, file or limit involved; a hint says what to do about it.
"""

from __future__ import annotations

import re

import botocore.exceptions as bex

CODES = frozenset({
    "no-credentials", "expired-credentials", "invalid-credentials", "no-such-bucket",
    "access-denied", "wrong-region", "endpoint-unreachable", "cors", "too-large",
    "not-accepted", "too-many-files", "key-exists", "bad-name", "bad-request", "s3-rejected",
    "stalled", "etag-unreadable", "size-mismatch", "checksum-mismatch", "unverified",
    "unknown-upload", "cancelled", "in-another-window", "internal",
})  # fmt: skip
"""Every stable ``UploadError.code``. Front-end code and tests may rely on them."""


class UploadError(Exception):
    """A failure a person can act on.

    ``code`` is stable and machine-readable (one of :data:`CODES`), ``message`` says what
    happened (naming the file, key, bucket or limit), ``hint`` says what to do.
    """

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def as_dict(self) -> dict:
        """The error as sent to the browser: ``{"code", "message", "hint"}``."""
        return {"code": self.code, "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def __repr__(self) -> str:
        return f"UploadError({self.code!r}, {self.message!r}, {self.hint!r})"


# --- helpers ---------------------------------------------------------------------------

_CREDENTIALS_HINT = (
    "Give the Python kernel AWS credentials, then run the cell again: set the "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables (plus "
    "AWS_SESSION_TOKEN for temporary ones) before starting Jupyter, or choose a profile "
    "from ~/.aws/credentials with AWS_PROFILE, or pass "
    'client=boto3.client("s3", ...) to the widget.'
)

# S3 error codes grouped by what a person must do about them.
_EXPIRED = {"ExpiredToken", "TokenRefreshRequired", "ExpiredTokenException"}
_INVALID = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "InvalidClientTokenId"}
_NO_BUCKET = {"NoSuchBucket"}
_DENIED = {"AccessDenied", "AllAccessDisabled", "Forbidden", "403"}
_REGION = {
    "PermanentRedirect",
    "TemporaryRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
}
_EXISTS = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
_NOT_FOUND = {"404", "NotFound", "NoSuchKey"}
_BUSY = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}
_DAMAGED = {"BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest"}

# Bucket-level IAM actions apply to the bucket's ARN, object-level ones to objects.
_BUCKET_ACTIONS = {
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketCORS",
    "s3:PutBucketCORS",
}


def _s3_url(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"


def _resource(bucket: str, key: str, action: str, prefix: str | None) -> str:
    """The ARN an IAM policy must name for ``action`` to work here."""
    if action in _BUCKET_ACTIONS:
        return f"arn:aws:s3:::{bucket}"
    if prefix is not None:
        # Grant on the whole prefix, not on one key: the next upload gets another key.
        return f"arn:aws:s3:::{bucket}/{prefix}*"
    return f"arn:aws:s3:::{bucket}/{key or '*'}"


def _quote_s3(code: str, message: str, status: int | None = None) -> str:
    said = ": ".join(p for p in (code, message) if p) or "no details"
    return f"S3 said: {said}" + (f" (HTTP {status})" if status else "")


def _from_s3_code(
    code: str,
    message: str,
    status: int | None,
    *,
    bucket: str,
    key: str,
    action: str,
    prefix: str | None,
    region: str = "",
    where: str = "",
    operation: str = "",
) -> UploadError:
    """Map one S3 error (code, message, HTTP status) to an :class:`UploadError`.

    Shared by kernel-side boto3 errors and errors the browser got from S3, so both say
    the same thing. ``where`` is a phrase like " (part 3)" inserted after the subject.
    """
    quoted = _quote_s3(code, message, status)
    target = _s3_url(bucket, key)
    if code in _EXPIRED:
        return UploadError(
            "expired-credentials",
            f'The AWS credentials in the Python kernel have expired{where} (bucket "{bucket}"). '
            f"{quoted}.",
            "Refresh them (for example `aws sso login`, or new temporary keys in "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), restart the "
            "kernel or create the widget again, and retry.",
        )
    if code in _INVALID:
        if code == "SignatureDoesNotMatch":
            what = (
                f"S3 rejected the request signature for {target}{where}: either the "
                "AWS secret key in the Python kernel is wrong, or the request differs "
                "from what was signed (the file changed size or type after it was picked)."
            )
        else:
            what = (
                "S3 does not recognise the AWS access key used by the Python kernel"
                f'{where} (bucket "{bucket}").'
            )
        return UploadError(
            "invalid-credentials",
            f"{what} {quoted}.",
            "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the profile in use), and "
            "pick the file again if it changed.",
        )
    if code in _NO_BUCKET or (status == 404 and operation == "HeadBucket"):
        return UploadError(
            "no-such-bucket",
            f'The bucket "{bucket}" does not exist{where}. {quoted}.',
            "Check the bucket name (S3UploadWidget(bucket=...)) and that the client points "
            "at the right account and endpoint.",
        )
    if code == "NoSuchUpload":
        return UploadError(
            "unknown-upload",
            f"S3 no longer knows the multipart upload of {target}{where}: it was completed, "
            f"aborted, or expired. {quoted}.",
            "Upload the file again.",
        )
    if code == "RequestTimeTooSkewed":
        return UploadError(
            "s3-rejected",
            f"S3 refused the request for {target}{where} because the clock of the computer "
            f"that signed it is wrong. {quoted}.",
            "Set the computer's clock right (enable automatic time sync) and retry.",
        )
    if code in _DENIED or status == 403:
        if "expired" in message.lower():
            # S3 answers 403 AccessDenied "Request has expired" for a stale presigned URL.
            return UploadError(
                "s3-rejected",
                f"The upload URL for {target}{where} had expired when S3 received it. {quoted}.",
                "Try again. If it keeps happening, raise expires_in= or check that the "
                "computer's clock is right.",
            )
        resource = _resource(bucket, key, action, prefix)
        hint = f'The IAM user or role of the Python kernel needs "{action}" on "{resource}".'
        if action == "s3:GetObject":
            hint += ' (Without "s3:ListBucket", S3 also answers 403 for a missing key.)'
        if "kms" in message.lower():
            hint += (
                " The bucket encrypts with a KMS key: also allow kms:GenerateDataKey and "
                "kms:Decrypt on that key."
            )
        return UploadError(
            "access-denied",
            f'Access denied: S3 refused "{action}" on {target}{where}. {quoted}.',
            hint,
        )
    if code in _REGION or status in (301, 307):
        region_part = f' The bucket is in "{region}".' if region else ""
        fix = f'region_name="{region}"' if region else 'region_name="<the bucket\'s region>"'
        return UploadError(
            "wrong-region",
            f'The request for bucket "{bucket}"{where} went to the wrong AWS region.'
            f"{region_part} {quoted}.",
            f'Create the client for the bucket\'s region: client=boto3.client("s3", {fix}).',
        )
    if code in _EXISTS or status == 412:
        return key_exists_error(bucket, key, where)
    if code in _NOT_FOUND or status == 404:
        return UploadError(
            "s3-rejected",
            f"S3 has no object at {target}{where}. {quoted}.",
            "The object may have been deleted meanwhile; upload the file again.",
        )
    if code in _DAMAGED:
        return UploadError(
            "checksum-mismatch",
            f"The bytes S3 received for {target}{where} differ from the file's bytes when the "
            f"browser read them (their CRC32C checksums differ), after every retry. {quoted}.",
            "The file probably changed while it was uploading: wait until it is saved, then "
            "upload it again. If it keeps happening, a proxy may be altering uploads.",
        )
    if code in _BUSY or (status is not None and status >= 500):
        return UploadError(
            "s3-rejected",
            f"S3 could not handle the request for {target}{where} right now. {quoted}.",
            "Try again in a moment.",
        )
    return UploadError(
        "s3-rejected",
        f"S3 rejected the request for {target}{where}. {quoted}.",
        "Check the message from S3 above; uploading the file again may help.",
    )


def key_exists_error(bucket: str, key: str, where: str = "") -> UploadError:
    """The error for an upload that would replace an existing object while
    ``overwrite=False``."""
    return UploadError(
        "key-exists",
        f"An object already exists at {_s3_url(bucket, key)}{where}, and overwriting is off "
        "(overwrite=False).",
        "Pass overwrite=True to S3UploadWidget(...) to replace existing objects, or "
        "use a key_template that gives each upload a new key (the default "
        '"{prefix}{batch}/{relpath}" does: each pick or drop gets a folder of its own).',
    )


# --- kernel side -------------------------------------------------------------------------


def explain_client_error(
    exc: BaseException,
    *,
    bucket: str,
    key: str = "",
    action: str = "s3:PutObject",
    prefix: str | None = None,
) -> UploadError:
    """Turn an exception raised by boto3 into an :class:`UploadError`.

    ``action`` is the IAM action the failed call needs (named when access is denied);
    ``prefix``, when given, makes that advice cover the whole upload prefix rather than
    one key. An ``UploadError`` is returned unchanged; an unexpected exception becomes
    code ``internal``.
    """
    if isinstance(exc, UploadError):
        return exc
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return UploadError(
            "no-credentials",
            f'No AWS credentials were found in the Python kernel, so nothing for bucket "{bucket}" '
            f"can be signed ({exc}).",
            _CREDENTIALS_HINT,
        )
    if isinstance(exc, (bex.TokenRetrievalError, bex.SSOError)):
        return UploadError(
            "expired-credentials",
            f"The AWS login of the Python kernel has expired or is invalid ({exc}).",
            "Log in again (for example `aws sso login --profile <profile>`), then retry.",
        )
    if isinstance(exc, bex.CredentialRetrievalError):
        return UploadError(
            "no-credentials",
            f"The Python kernel could not load its AWS credentials ({exc}).",
            _CREDENTIALS_HINT,
        )
    if isinstance(exc, bex.ClientError):
        error = exc.response.get("Error", {}) or {}
        meta = exc.response.get("ResponseMetadata", {}) or {}
        headers = meta.get("HTTPHeaders", {}) or {}
        return _from_s3_code(
            str(error.get("Code", "")),
            str(error.get("Message", "")),
            meta.get("HTTPStatusCode"),
            bucket=bucket,
            key=key,
            action=action,
            prefix=prefix,
            region=str(error.get("Region") or headers.get("x-amz-bucket-region") or ""),
            operation=getattr(exc, "operation_name", "") or "",
        )
    if isinstance(
        exc,
        (bex.EndpointConnectionError, bex.ConnectionError, bex.HTTPClientError, ConnectionError),
    ):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "") or "the S3 endpoint"
        return UploadError(
            "endpoint-unreachable",
            f'The Python kernel could not reach {endpoint} for bucket "{bucket}" ({exc}).',
            "Check the network connection of the machine running the kernel (proxy, VPN, "
            "firewall), and the endpoint_url of the client if you set one.",
        )
    return UploadError(
        "internal",
        f"Unexpected error while talking to S3 about {_s3_url(bucket, key)}: "
        f"{type(exc).__name__}: {exc}",
        "This looks like a bug in s3-upload-widget; please report it with this message.",
    )


# --- browser side ------------------------------------------------------------------------


_ADDRESS = "<your notebook's address, e.g. http://localhost:8888>"


def _configure_cors_call(bucket: str, origin: str) -> str:
    return f'configure_cors("{bucket or "<bucket>"}", ["{origin or _ADDRESS}"])'


_FIX_SUFFIX = re.compile(r"\s*Fix: configure_cors\(.*\)\s*$")


def explain_browser_failure(
    *,
    reason: str,
    status: int = 0,
    s3_code: str = "",
    s3_message: str = "",
    part_number: int | None = None,
    origin: str = "",
    bucket: str = "",
    cors_problems: list[str] | None = None,
    key: str = "",
    filename: str = "",
) -> UploadError:
    """Turn a failure the browser reported (see ``_protocol.FAILURE_REASONS``) into words.

    ``cors_problems``: sentences from ``check_cors`` when the kernel checked the bucket's
    CORS; ``[]`` means it checked and found nothing wrong, ``None`` that it did not check.
    ``key`` and ``filename`` (optional) make the message name what was being uploaded.
    ``origin`` is what the page said it is: the words name it and advise it only when it
    is a real page origin (`_origins.page_origin`; for a VS Code or Colab view, its host's
    pattern), else they ask for the notebook's address.
    """
    from ._origins import allowed_origin_for, host_note, page_origin

    origin = page_origin(origin)  # the page may have sent anything: advise a real one only
    where = f" (part {part_number})" if part_number is not None else ""
    subject = f'"{filename}"' if filename else (_s3_url(bucket, key) if bucket else "the file")
    allow, note = allowed_origin_for(origin), host_note(origin)  # VS Code, Colab: a pattern
    fix = _configure_cors_call(bucket, allow)
    if reason == "network":
        origin_text = origin or "(unknown)"
        if cors_problems:
            # Each problem ends with the same configure_cors fix, which the hint gives once.
            found = " The kernel checked the bucket's CORS: " + " ".join(
                _FIX_SUFFIX.sub("", problem) for problem in cors_problems
            )
            message = (
                f"The browser could not reach S3 while uploading {subject}{where}: the "
                f"bucket's CORS does not allow this notebook's origin {origin_text}.{found}"
            )
        elif cors_problems == []:
            message = (
                f"The browser could not reach S3 while uploading {subject}{where}. The "
                f"bucket's CORS looks right for this notebook's origin {origin_text}, so the "
                "network between this browser and S3 is more likely (offline, proxy, "
                "firewall, VPN, or a browser extension blocking the request)."
            )
        else:
            message = (
                f"The browser could not reach S3 while uploading {subject}{where}: most "
                f"likely the bucket's CORS does not allow this notebook's origin {origin_text}."
            )
        own = "w.configure_cors() on this widget (its client, this page's origin)"
        if not origin or allow != origin:
            own = f'w.configure_cors(["{allow or _ADDRESS}"]) on this widget (its client)'
        return UploadError(
            "cors",
            message + ("" if note in message else note),
            f"Allow it once, from Python: {own}, or: from s3_upload_widget import "
            f"configure_cors; {fix}. If CORS is already right, check the browser's network "
            "connection to S3.",
        )
    if reason == "http":
        return _from_s3_code(
            s3_code,
            s3_message,
            status or None,
            bucket=bucket,
            key=key,
            action="s3:PutObject",
            prefix=None,
            where=where,
        )
    if reason == "stall":
        return UploadError(
            "stalled",
            f"The upload of {subject}{where} made no progress for a while and was stopped: "
            "the network is slow or was interrupted (a proxy, VPN, or a computer going to "
            "sleep can do this). Nothing half-written was left in the bucket.",
            "Upload the file again, ideally on a steadier connection.",
        )
    if reason == "etag-unreadable":
        return UploadError(
            "etag-unreadable",
            f"S3 accepted {subject}{where}, but the browser cannot read the ETag header of "
            "S3's answer because the bucket's CORS rule does not expose ETag, so the "
            "upload cannot be completed.",
            f"From Python: from s3_upload_widget import configure_cors; {fix}, or add "
            '"ExposeHeaders": ["ETag"] to the bucket\'s CORS rule. Then upload again.',
        )
    if reason == "timeout":
        return UploadError(
            "stalled",
            f"The Python kernel did not answer the widget in time while uploading {subject}"
            f"{where}. The kernel answers only between cells: a long-running cell, or a busy "
            "or restarted kernel, keeps it from signing.",
            "Wait for running cells to finish (or interrupt them), then upload again.",
        )
    if reason == "internal":
        detail = f" ({s3_message})" if s3_message else ""
        return UploadError(
            "internal",
            f"The widget's browser code failed while uploading {subject}{where}{detail}.",
            "This is a bug in s3-upload-widget; reload the page and retry, and please report it.",
        )
    return UploadError(
        "internal",
        f"The browser reported an unknown failure {reason!r} while uploading {subject}{where}.",
        "This is a bug in s3-upload-widget; please report it.",
    )
