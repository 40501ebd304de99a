"""Checks that the object at a key is the one a single PUT of this upload wrote.

A page may say "complete" without having sent a byte, or after another writer put an
object at the same key. Before a record is ``done`` the kernel reads the object's
facts back from S3 (HEAD, or a one-key listing when the role may not HEAD) and checks
them against the upload: the size signed, the ETag the browser saw, and a
LastModified no older than the signature (on S3's own clock, so the kernel's clock
does not matter). When the role may do neither, the upload cannot be verified and the
record says so instead of claiming it is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.exceptions as bex

from ._client import error_code, http_status, is_not_found
from ._errors import UploadError, explain_client_error

VERIFY_THREADS = 8
"""S3 requests at once for a batch: small files cost one round trip, not one each.
boto3 clients are thread-safe, and its default pool keeps 10 connections per client."""

# S3's LastModified has whole seconds, and a PUT may start within a second of signing.
CLOCK_SLACK = timedelta(seconds=2)

UNVERIFIED_HINT = (
    "Give the kernel's role s3:GetObject (or s3:ListBucket) on the upload prefix, so it "
    "can check what S3 stored; until then these uploads are not counted as done."
)


@dataclass(frozen=True)
class SignedAt:
    """When a PUT was signed: wall clock (a fallback) and monotonic (for elapsed time)."""

    wall: float
    monotonic: float

    @classmethod
    def now(cls) -> SignedAt:
        """The moment of signing."""
        return cls(time.time(), time.monotonic())


@dataclass(frozen=True)
class Stored:
    """What S3 says it holds at a key; ``server_now`` is S3's clock when it answered."""

    size: int
    etag: str
    last_modified: datetime | None
    server_now: datetime | None


class Unverifiable(Exception):
    """The role may not read the object's facts: neither HEAD nor a listing."""


def verify_single(
    client: Any, bucket: str, key: str, *, size: int, browser_etag: str, signed_at: SignedAt
) -> dict:
    """``{"size", "etag"}`` of the object this upload wrote at ``key``.

    Raises ``UploadError("size-mismatch")`` when S3 holds no object there, or one that
    is not this upload's (another size, another ETag than the browser saw, or older
    than the signature), with words that reveal nothing about that other object; and
    `Unverifiable` when the role may read neither the object nor the listing.
    """
    stored = _read(client, bucket, key)
    if stored is None or not _is_this_upload(stored, size, browser_etag, signed_at):
        raise UploadError(
            "size-mismatch",
            f"S3 does not hold the file this upload sent at s3://{bucket}/{key}: the "
            "bytes did not arrive, or the object was replaced.",
            "Upload the file again.",
        )
    return {"size": stored.size, "etag": stored.etag}


def run_checks(checks: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run each ``check`` (a `verify_single` call, a HEAD) on VERIFY_THREADS threads;
    returns, per name, its result or the exception it raised."""

    def outcome(check: Callable[[], object]) -> object:
        try:
            return check()
        except Exception as exc:  # handed back: the caller raises it for that file only
            return exc

    if len(checks) <= 1:
        return {name: outcome(check) for name, check in checks.items()}
    with ThreadPoolExecutor(min(VERIFY_THREADS, len(checks))) as pool:
        futures = {name: pool.submit(outcome, check) for name, check in checks.items()}
        return {name: future.result() for name, future in futures.items()}


def _is_this_upload(stored: Stored, size: int, browser_etag: str, signed_at: SignedAt) -> bool:
    if stored.size != size:
        return False
    if browser_etag and _etag(browser_etag) != _etag(stored.etag):
        return False
    if stored.last_modified is None:
        return True  # a server without LastModified: size and ETag are all there is
    return stored.last_modified >= _signed_on_s3_clock(stored, signed_at) - CLOCK_SLACK


def _signed_on_s3_clock(stored: Stored, signed_at: SignedAt) -> datetime:
    elapsed = timedelta(seconds=max(0.0, time.monotonic() - signed_at.monotonic))
    if stored.server_now is not None:
        return stored.server_now - elapsed
    tz = stored.last_modified.tzinfo if stored.last_modified else None
    return datetime.fromtimestamp(signed_at.wall, tz=tz)


def _etag(value: str) -> str:
    return value.strip().strip('"').lower()


def _read(client: Any, bucket: str, key: str) -> Stored | None:
    """The object's facts from HEAD, else from a listing; None when there is none."""
    try:
        answer = client.head_object(Bucket=bucket, Key=key)
        return Stored(
            size=answer["ContentLength"],
            etag=answer.get("ETag", ""),
            last_modified=answer.get("LastModified"),
            server_now=_server_now(answer),
        )
    except (bex.BotoCoreError, bex.ClientError) as exc:
        if is_not_found(exc):
            return None
        if not _denied(exc):
            raise explain_client_error(exc, bucket=bucket, key=key, action="s3:GetObject") from exc
    try:
        answer = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except (bex.BotoCoreError, bex.ClientError) as exc:
        if _denied(exc):
            raise Unverifiable() from exc
        raise explain_client_error(exc, bucket=bucket, key=key, action="s3:ListBucket") from exc
    for item in answer.get("Contents", []):
        if item.get("Key") == key:
            return Stored(
                size=item["Size"],
                etag=item.get("ETag", ""),
                last_modified=item.get("LastModified"),
                server_now=_server_now(answer),
            )
    return None


def _denied(exc: BaseException) -> bool:
    return error_code(exc) in ("AccessDenied", "403", "Forbidden") or http_status(exc) == 403


def _server_now(answer: dict) -> datetime | None:
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
