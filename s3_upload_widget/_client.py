"""The boto3 clients: the default one, and a signing clone for the bucket's region.

Also the few facts read off a botocore error (its code, its HTTP status), so that every
module asks them the same way.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions as bex
import botocore.session
from botocore.config import Config

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


def error_code(exc: BaseException) -> str:
    """S3's error code in a botocore ``ClientError`` (``"NoSuchBucket"``), else ``""``."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str((response.get("Error") or {}).get("Code", ""))


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a botocore ``ClientError``, else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is S3 saying that an object does not exist."""
    return isinstance(exc, bex.ClientError) and (
        error_code(exc) in ("404", "NoSuchKey", "NotFound") or http_status(exc) == 404
    )


def location_to_region(location: str | None) -> str:
    """The region named by GetBucketLocation's answer."""
    # GetBucketLocation answers None (or "") for us-east-1 and the legacy "EU" for eu-west-1.
    if not location:
        return "us-east-1"
    if location == "EU":
        return "eu-west-1"
    return location


def find_region(client, bucket: str, explain) -> str:
    """The region of ``bucket``: GetBucketLocation, else HeadBucket's
    ``x-amz-bucket-region`` (a role may not call the first, some S3-compatible servers
    lack it), else the client's region. ``explain(exc, key, action)`` turns a failure
    that leaves no region to find into the UploadError to raise."""

    try:
        answer = client.get_bucket_location(Bucket=bucket)
        return location_to_region(answer.get("LocationConstraint"))
    except bex.ClientError as exc:
        code = error_code(exc)
        if code == "NoSuchBucket" or code in {
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "TokenRefreshRequired",
        }:
            raise explain(exc, "", "s3:GetBucketLocation") from exc
        # Denied or not implemented: HeadBucket tells the region too.
    except bex.BotoCoreError as exc:
        raise explain(exc, "", "s3:GetBucketLocation") from exc
    try:
        headers = client.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    except bex.ClientError as exc:
        if http_status(exc) == 404:
            raise explain(exc, "", "s3:ListBucket") from exc
        # S3 names the region even when it refuses the HEAD (403).
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    except bex.BotoCoreError as exc:
        raise explain(exc, "", "s3:ListBucket") from exc
    return headers.get("x-amz-bucket-region") or client.meta.region_name or "us-east-1"


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


def signing_clone(client, *, region: str, aws: bool, endpoint_url: str | None = None, session=None):
    """A client that presigns SigV4 URLs for ``region``, with ``client``'s credentials
    and configuration, for ``endpoint_url`` when given (another name of the same S3). It
    only signs (offline), so connection settings do not matter. ``session`` (from
    `signing_session`) lets several clones share one: a new one loads S3's service model
    again (~0.2 s each)."""
    s3_options = dict(client.meta.config.s3 or {})
    if aws and s3_options.get("addressing_style") != "path":
        # "virtual" makes botocore name the regional endpoint, not the global one.
        s3_options["addressing_style"] = "virtual"
    config = client.meta.config.merge(
        Config(signature_version="s3v4", region_name=region, s3=s3_options)
    )
    return (session or signing_session(client)).client(
        "s3",
        region_name=region,
        # Keep a custom endpoint (moto, MinIO, R2); let botocore pick AWS's regional one.
        endpoint_url=endpoint_url or (None if aws else client.meta.endpoint_url),
        config=config,
    )


def signing_session(client):
    """A boto3 Session holding ``client``'s credentials, for `signing_clone`."""
    session = botocore.session.Session()
    session.register_component(
        "credential_provider", _FixedCredentials(_client_credentials(client))
    )
    return boto3.Session(botocore_session=session)


def signs_as_needed(url: str, region: str, *, aws: bool) -> bool:
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


def supports(client, operation: str, member: str) -> bool:
    """Whether this botocore knows parameter ``member`` of ``operation``."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return shape is not None and member in shape.members
