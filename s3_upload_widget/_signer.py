"""Everything that talks to S3 through boto3: region, presigned URLs, multipart, HEAD.

The browser only ever gets URLs signed here, for one key, one method, one size and a
few minutes. Every boto3 failure leaves this module as an :class:`UploadError`.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions as bex
import botocore.session
from botocore.config import Config

from ._errors import UploadError, explain_client_error, key_exists_error
from ._policy import MAX_PART_SIZE, MAX_PARTS, MAX_SINGLE_PUT

MAX_EXPIRES_IN = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days

# Hosts of AWS's own S3 endpoints (global, regional, dual-stack, FIPS, China). Any other
# endpoint (moto, MinIO, R2, a VPC endpoint) is "custom" and used exactly as configured.
_AWS_S3_HOST = re.compile(r"s3[a-z0-9.-]*\.amazonaws\.com(\.cn)?")


def default_client():
    """The S3 client the widget uses when none is given: boto3's default credential chain.

    SigV4 so that presigned URLs sign Content-Length and If-None-Match; virtual-hosted
    addressing so that URLs name the bucket's regional endpoint rather than the global
    one, which redirects (and so breaks the browser's CORS preflight) for new buckets
    outside us-east-1.
    """
    return boto3.client(
        "s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
    )


@dataclass(frozen=True)
class SignedRequest:
    """A request the browser may send as is: method, presigned URL, and the exact headers
    it must add (signed ones; Content-Length is signed too but set by the browser)."""

    method: str
    url: str
    headers: dict[str, str]

    def as_dict(self) -> dict:
        """``{"method", "url", "headers"}`` for a protocol message."""
        return {"method": self.method, "url": self.url, "headers": dict(self.headers)}


def _normalize_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def _error_code(exc: bex.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: bex.ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, bex.ClientError) and (
        _error_code(exc) in ("404", "NoSuchKey", "NotFound") or _status(exc) == 404
    )


def _location_to_region(location: str | None) -> str:
    # GetBucketLocation answers None (or "") for us-east-1 and the legacy "EU" for eu-west-1.
    if not location:
        return "us-east-1"
    if location == "EU":
        return "eu-west-1"
    return location


def is_aws_endpoint(client) -> bool:
    """Whether ``client`` talks to AWS's own S3 endpoints (not moto, MinIO, R2, ...)."""
    host = urlsplit(client.meta.endpoint_url or "").hostname or ""
    return _AWS_S3_HOST.fullmatch(host) is not None


class _FixedCredentials:
    """A botocore credential provider that hands out one existing credentials object,
    so a cloned client shares (and refreshes) the original client's credentials."""

    def __init__(self, credentials) -> None:
        self._credentials = credentials

    def load_credentials(self):
        return self._credentials


def _client_credentials(client):
    # botocore has no public accessor for a client's credentials; both spellings have
    # been stable for years. The object is shared, so refreshable credentials stay so.
    getter = getattr(client, "_get_credentials", None)
    if getter is not None:
        return getter()
    return client._request_signer._credentials


def _signing_clone(client, *, region: str, aws: bool):
    """A client that presigns SigV4 URLs for ``region``, with ``client``'s credentials
    and configuration. It only signs (offline), so connection settings do not matter."""
    s3_options = dict(client.meta.config.s3 or {})
    if aws and s3_options.get("addressing_style") != "path":
        # "virtual" makes botocore name the regional endpoint, not the global one.
        s3_options["addressing_style"] = "virtual"
    config = client.meta.config.merge(
        Config(signature_version="s3v4", region_name=region, s3=s3_options)
    )
    session = botocore.session.Session()
    session.register_component(
        "credential_provider", _FixedCredentials(_client_credentials(client))
    )
    return boto3.Session(botocore_session=session).client(
        "s3",
        region_name=region,
        # Keep a custom endpoint (moto, MinIO, R2); let botocore pick AWS's regional one.
        endpoint_url=None if aws else client.meta.endpoint_url,
        config=config,
    )


def _signs_as_needed(url: str, region: str, *, aws: bool) -> bool:
    """Whether a presigned ``url`` is SigV4 for ``region`` on a non-redirecting host."""
    query = parse_qs(urlsplit(url).query)
    if query.get("X-Amz-Algorithm") != ["AWS4-HMAC-SHA256"]:
        return False  # SigV2 signs neither Content-Length nor If-None-Match
    if not aws:
        return True
    scope = query.get("X-Amz-Credential", [""])[0].split("/")
    if len(scope) < 3 or scope[2] != region:
        return False
    host = urlsplit(url).hostname or ""
    # The global endpoint redirects requests for buckets outside us-east-1.
    is_global = host == "s3.amazonaws.com" or host.endswith(".s3.amazonaws.com")
    return region == "us-east-1" or not is_global


class Signer:
    """Presigns uploads into one bucket and runs the multipart calls around them.

    ``client`` is a boto3 S3 client; ``expires_in`` is how many seconds each presigned
    URL lives. ``prefix`` (optional) only makes access-denied advice name the whole
    upload prefix. Nothing is sent to S3 until the first call that needs it: the bucket's
    region is found then, once.
    """

    def __init__(self, client, bucket: str, *, expires_in: int = 900, prefix: str = "") -> None:
        if isinstance(expires_in, bool) or not isinstance(expires_in, int):
            raise ValueError(f"expires_in must be a whole number of seconds, not {expires_in!r}")
        if not 1 <= expires_in <= MAX_EXPIRES_IN:
            raise ValueError(
                f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds (7 days), "
                f"not {expires_in}"
            )
        if not isinstance(bucket, str) or not bucket:
            raise ValueError("bucket must be a non-empty str")
        self.client = client
        self.bucket = bucket
        self.expires_in = expires_in
        self.prefix = prefix
        self._region: str | None = None
        self._signing_client = None

    # --- errors ----------------------------------------------------------------------

    def _explain(self, exc: BaseException, key: str, action: str) -> UploadError:
        return explain_client_error(
            exc, bucket=self.bucket, key=key, action=action, prefix=self.prefix or None
        )

    # --- region ---------------------------------------------------------------------

    @property
    def region(self) -> str:
        """The bucket's region, asked from S3 once.

        GetBucketLocation first; if S3 refuses it (some roles may not call it, some
        S3-compatible servers lack it), HeadBucket's ``x-amz-bucket-region`` header; then
        the client's own region.
        """
        if self._region is None:
            self._region = self._find_region()
        return self._region

    def _find_region(self) -> str:
        try:
            answer = self.client.get_bucket_location(Bucket=self.bucket)
            return _location_to_region(answer.get("LocationConstraint"))
        except bex.ClientError as exc:
            code = _error_code(exc)
            if code == "NoSuchBucket" or code in {
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "TokenRefreshRequired",
            }:
                raise self._explain(exc, "", "s3:GetBucketLocation") from exc
            # Denied or not implemented: HeadBucket tells the region too.
        except bex.BotoCoreError as exc:
            raise self._explain(exc, "", "s3:GetBucketLocation") from exc
        try:
            headers = self.client.head_bucket(Bucket=self.bucket)["ResponseMetadata"]["HTTPHeaders"]
        except bex.ClientError as exc:
            if _status(exc) == 404:
                raise self._explain(exc, "", "s3:ListBucket") from exc
            # S3 names the region even when it refuses the HEAD (403).
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        except bex.BotoCoreError as exc:
            raise self._explain(exc, "", "s3:ListBucket") from exc
        return headers.get("x-amz-bucket-region") or self.client.meta.region_name or "us-east-1"

    @property
    def signing_client(self):
        """The client that presigns: ``client`` itself when it already signs SigV4 for the
        bucket's region on a regional endpoint, else a clone that does (same credentials
        and configuration). With a custom endpoint only SigV4 is enforced."""
        if self._signing_client is None:
            aws = is_aws_endpoint(self.client)
            region = self.region if aws else (self.client.meta.region_name or "us-east-1")
            try:
                probe = self.client.generate_presigned_url(
                    "head_object", Params={"Bucket": self.bucket, "Key": "probe"}, ExpiresIn=60
                )
            except bex.BotoCoreError as exc:
                raise self._explain(exc, "", "s3:PutObject") from exc
            if _signs_as_needed(probe, region, aws=aws):
                self._signing_client = self.client
            else:
                self._signing_client = _signing_clone(self.client, region=region, aws=aws)
        return self._signing_client

    def _presign(self, method: str, params: dict, key: str, action: str) -> str:
        try:
            return self.signing_client.generate_presigned_url(
                method, Params=params, ExpiresIn=self.expires_in, HttpMethod="PUT"
            )
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, action) from exc

    # --- single PUT -----------------------------------------------------------------

    def presign_put(
        self, key: str, *, size: int, content_type: str, overwrite: bool
    ) -> SignedRequest:
        """A presigned PUT of exactly ``size`` bytes of ``content_type`` to ``key``.

        Content-Type and Content-Length are signed, so S3 refuses any other body size or
        type; with ``overwrite=False`` ``If-None-Match: *`` is signed too, so S3 refuses
        to replace an existing object. The returned headers are the ones the browser must
        send (Content-Length excluded: browsers set it and refuse to let scripts do so).
        """
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SINGLE_PUT:
            raise ValueError(f"a single PUT carries 0..{MAX_SINGLE_PUT:,} bytes, not {size!r}")
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": size,
        }
        headers = {"Content-Type": content_type}
        if not overwrite:
            if _supports(self.client, "PutObject", "IfNoneMatch"):
                params["IfNoneMatch"] = "*"
                headers["If-None-Match"] = "*"
            elif self.exists_if_allowed(key):
                # botocore too old to sign If-None-Match (< mid 2024): check now, at least.
                raise self._key_exists(key)
        url = self._presign("put_object", params, key, "s3:PutObject")
        return SignedRequest("PUT", url, headers)

    # --- multipart ------------------------------------------------------------------

    def create_multipart(self, key: str, *, content_type: str, overwrite: bool) -> str:
        """Start a multipart upload to ``key`` and return S3's UploadId.

        With ``overwrite=False`` an existing object raises ``UploadError("key-exists")``
        now, before any byte is sent (completion checks again).
        """
        if not overwrite and self.exists_if_allowed(key):
            raise self._key_exists(key)
        try:
            answer = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:PutObject") from exc
        return answer["UploadId"]

    def presign_part(
        self, key: str, upload_id: str, part_number: int, length: int
    ) -> SignedRequest:
        """A presigned PUT of part ``part_number`` with exactly ``length`` bytes (signed)."""
        if isinstance(part_number, bool) or not isinstance(part_number, int):
            raise ValueError(f"part_number must be an int, not {part_number!r}")
        if not 1 <= part_number <= MAX_PARTS:
            raise ValueError(f"part_number must be between 1 and {MAX_PARTS}, not {part_number}")
        if (
            isinstance(length, bool)
            or not isinstance(length, int)
            or not 0 <= length <= MAX_PART_SIZE
        ):
            raise ValueError(f"a part carries 0..{MAX_PART_SIZE:,} bytes, not {length!r}")
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": length,
        }
        return SignedRequest("PUT", self._presign("upload_part", params, key, "s3:PutObject"), {})

    def complete_multipart(
        self, key: str, upload_id: str, parts: list, *, expected_size: int, overwrite: bool
    ) -> dict:
        """Check the parts S3 holds against what the browser reports, then complete.

        ``parts`` is ``[{"part_number": int, "etag": str}, ...]`` from the browser. S3's
        own list of parts must have every reported part with the same ETag, and their
        sizes must add up to ``expected_size``. Either the object is completed, or the
        upload is aborted (nothing half-written stays billed) and ``UploadError`` raised:
        ``bad-request``, ``size-mismatch``, ``key-exists``, or the S3 error.
        Returns ``{"etag", "size"}`` of the stored object.
        """
        try:
            reported = self._validate_parts(key, parts)
            stored = self._list_parts(key, upload_id)
            self._check_parts(key, reported, stored, expected_size)
            if not overwrite and self.exists_if_allowed(key):
                # Moto and old S3-compatible servers may ignore If-None-Match: check too.
                raise self._key_exists(key)
            answer = self._complete(key, upload_id, reported, stored, overwrite)
        except UploadError as error:
            if error.code != "unknown-upload":
                self._abort_quietly(key, upload_id)
            raise
        try:
            return {k: v for k, v in self.head(key).items() if k in ("etag", "size")}
        except UploadError:
            # The object is stored: a failed HEAD (a write-only role may not HEAD) must not
            # turn success into an error. The sizes were checked against S3's part list.
            return {"etag": answer.get("ETag", ""), "size": expected_size}

    def _validate_parts(self, key: str, parts: object) -> dict[int, str]:
        def bad(problem: str) -> UploadError:
            return UploadError(
                "bad-request",
                f"The browser sent an invalid list of parts for {key!r}: {problem}. The "
                "upload was aborted.",
                "Upload the file again; if it persists, report a bug.",
            )

        if not isinstance(parts, list) or not parts:
            raise bad("expected a non-empty list")
        reported: dict[int, str] = {}
        for part in parts:
            number = part.get("part_number") if isinstance(part, dict) else None
            etag = part.get("etag") if isinstance(part, dict) else None
            if isinstance(number, bool) or not isinstance(number, int):
                raise bad(f"part number {number!r} is not an int")
            if not 1 <= number <= MAX_PARTS:
                raise bad(f"part number {number} is not between 1 and {MAX_PARTS}")
            if not isinstance(etag, str) or not etag.strip().strip('"'):
                raise bad(f"part {number} has no ETag")
            if number in reported:
                raise bad(f"part {number} is listed twice")
            reported[number] = etag
        return dict(sorted(reported.items()))

    def _list_parts(self, key: str, upload_id: str) -> dict[int, dict]:
        stored: dict[int, dict] = {}
        try:
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
            for page in pages:
                for part in page.get("Parts", []):
                    stored[part["PartNumber"]] = part
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:ListMultipartUploadParts") from exc
        return stored

    def _check_parts(
        self, key: str, reported: dict[int, str], stored: dict[int, dict], expected_size: int
    ) -> None:
        problems = []
        missing = [n for n in reported if n not in stored]
        if missing:
            problems.append(f"S3 has no part {', '.join(map(str, missing))}")
        wrong = [
            n
            for n, etag in reported.items()
            if n in stored and _normalize_etag(etag) != _normalize_etag(stored[n]["ETag"])
        ]
        if wrong:
            problems.append(
                f"the ETag of part {', '.join(map(str, wrong))} differs from what S3 stored"
            )
        total = sum(stored[n]["Size"] for n in reported if n in stored)
        if total != expected_size:
            problems.append(f"S3 holds {total:,} bytes but the file has {expected_size:,}")
        if problems:
            raise UploadError(
                "size-mismatch",
                f"The upload of s3://{self.bucket}/{key} is incomplete or corrupt: "
                f"{'; '.join(problems)}. It was aborted; nothing was stored.",
                "Upload the file again. If the file changed while it was uploading, wait until "
                "it is saved.",
            )

    def _complete(self, key, upload_id, reported, stored, overwrite) -> dict:
        # Complete with S3's own ETags (checked equal above), in part order.
        request = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {
                "Parts": [{"PartNumber": n, "ETag": stored[n]["ETag"]} for n in reported]
            },
        }
        if not overwrite and _supports(self.client, "CompleteMultipartUpload", "IfNoneMatch"):
            request["IfNoneMatch"] = "*"
        try:
            return self.client.complete_multipart_upload(**request)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:PutObject") from exc

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload so its parts are deleted; an unknown one is fine."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except bex.ClientError as exc:
            if _error_code(exc) == "NoSuchUpload" or _status(exc) == 404:
                return  # already aborted, completed, or never existed: nothing left behind
            raise self._explain(exc, key, "s3:AbortMultipartUpload") from exc
        except bex.BotoCoreError as exc:
            raise self._explain(exc, key, "s3:AbortMultipartUpload") from exc

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        # Best effort while another error is being raised: that error is the one to show.
        with contextlib.suppress(UploadError):
            self.abort_multipart(key, upload_id)

    # --- objects --------------------------------------------------------------------

    def head(self, key: str) -> dict:
        """``{"size", "etag", "content_type"}`` of the object at ``key`` (ETag as S3 gives
        it, in quotes). A missing object raises ``UploadError("s3-rejected")``."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:GetObject") from exc
        return {
            "size": answer["ContentLength"],
            "etag": answer.get("ETag", ""),
            "content_type": answer.get("ContentType", ""),
        }

    def exists(self, key: str) -> bool:
        """Whether an object exists at ``key`` (HEAD; 404 means no)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except bex.ClientError as exc:
            if _is_not_found(exc):
                return False
            raise self._explain(exc, key, "s3:GetObject") from exc
        except bex.BotoCoreError as exc:
            raise self._explain(exc, key, "s3:GetObject") from exc
        return True

    def exists_if_allowed(self, key: str) -> bool:
        """``exists`` for an early overwrite check: False when S3 refuses the HEAD.

        Upload-only roles often lack s3:GetObject (and without s3:ListBucket S3 answers 403
        even for a missing key); the signed If-None-Match still guards the write then.
        """
        try:
            return self.exists(key)
        except UploadError as error:
            if error.code == "access-denied":
                return False
            raise

    def _key_exists(self, key: str) -> UploadError:
        return key_exists_error(self.bucket, key)


def _supports(client, operation: str, member: str) -> bool:
    """Whether this botocore knows parameter ``member`` of ``operation``."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return shape is not None and member in shape.members
