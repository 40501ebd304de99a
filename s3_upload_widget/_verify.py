"""Checks that the object at a key is the one a single PUT of this upload wrote.

A page may say "complete" without having sent a byte, or after another writer put an
object at the same key. Before a record is ``done`` the kernel reads the object's
facts back from S3 (HEAD, or a one-key listing when the role may not HEAD) and checks
them against the upload: the size signed, the ETag the browser saw, and a
LastModified no older than the signature (on S3's own clock, so the kernel's clock
does not matter). When the role may do neither, the upload cannot be verified and the
record says so instead of claiming it is done.

A batch of small files is read with one listing of the range its keys span
(`list_stored`): a listing gives the same size, ETag and LastModified as a HEAD, and
one request instead of one per file halves what a small file costs S3 and the kernel.
Keys the listing does not reach (a range crowded with other keys, a role without
s3:ListBucket) fall back to HEADs, several at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import botocore.exceptions as bex

from ._client import error_code, http_status, is_not_found
from ._errors import UploadError, explain_client_error, key_exists_error
from ._values import clean_text

VERIFY_THREADS = 8
"""S3 requests at once for a batch: small files cost one round trip, not one each.
boto3 clients are thread-safe, and its default pool keeps 10 connections per client."""

LIST_AT_LEAST = 2
"""A batch with fewer keys than this is read by HEAD: one request either way."""

LIST_PAGES = 2
"""Listing pages read for one batch before the keys left are read by HEAD."""

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
    return judge_single(stored, bucket, key, size=size, browser_etag=browser_etag,
                        signed_at=signed_at)  # fmt: skip


def judge_single(
    stored: Stored | None,
    bucket: str,
    key: str,
    *,
    size: int,
    browser_etag: str,
    signed_at: SignedAt,
) -> dict:
    """`verify_single` on facts already read (from `list_stored`)."""
    if stored is None or not _is_this_upload(stored, size, browser_etag, signed_at):
        raise UploadError(
            "size-mismatch",
            f"S3 does not hold the file this upload sent at s3://{bucket}/{key}: the "
            "bytes did not arrive, or the object was replaced.",
            "Upload the file again.",
        )
    return {"size": stored.size, "etag": stored.etag}


@dataclass(frozen=True)
class SingleCheck:
    """What `verify_single` checks for one upload: its key, signed size, the ETag the
    browser saw and when it was signed."""

    key: str
    size: int
    browser_etag: str
    signed_at: SignedAt

    @classmethod
    def of(cls, record: dict, signed_at: SignedAt | None, etag: str) -> SingleCheck:
        """The check of an upload's record (key, size) for the ETag its page reported."""
        signed_at = signed_at or SignedAt.now()
        return cls(record["key"], record["size"], clean_text(etag, 200), signed_at)


def verify_batch(client: Any, bucket: str, checks: dict[str, SingleCheck]) -> dict[str, object]:
    """`verify_single` for each check: one listing for the keys it reaches, HEADs at once
    for the rest; per name, the result or the exception raised."""
    listed = list_stored(client, bucket, [check.key for check in checks.values()])

    def verify(check: SingleCheck) -> dict:
        facts = dict(size=check.size, browser_etag=check.browser_etag, signed_at=check.signed_at)
        if check.key in listed:
            return judge_single(listed[check.key], bucket, check.key, **facts)
        return verify_single(client, bucket, check.key, **facts)

    return run_checks({name: partial(verify, check) for name, check in checks.items()})


def keys_present(signer: Any, keys: Iterable[str]) -> dict[str, object]:
    """Per key: whether an object is there (``signer.exists_if_allowed``'s answer), or
    the exception its HEAD raised; one listing for the keys it reaches, HEADs for the rest."""
    keys = list(keys)
    listed = list_stored(signer.client, signer.bucket, keys)
    found: dict[str, object] = {k: v is not None for k, v in listed.items()}
    rest = [k for k in keys if k not in listed]
    found.update(run_checks({k: partial(signer.exists_if_allowed, k) for k in rest}))
    return found


def refuse_if_taken(signer: Any, key: str, found: object = None) -> None:
    """``UploadError("key-exists")`` when an object is at ``key``; ``found`` is what
    `keys_present` said of it (None: not looked for yet, so a HEAD now)."""
    if found is None:
        found = signer.exists_if_allowed(key)
    if isinstance(found, BaseException):
        raise found
    if found:
        raise key_exists_error(signer.bucket, key)


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


def list_stored(client: Any, bucket: str, keys: Iterable[str]) -> dict[str, Stored | None]:
    """What S3 holds at each key that a listing of the keys' range reaches (None: no object).

    One ListObjectsV2 from just below the first key (in S3's order, UTF-8 bytes), at most
    `LIST_PAGES` pages; a key beyond what was listed is left out, for the caller to
    HEAD. Any error (no s3:ListBucket, a server without StartAfter) leaves every key out:
    a HEAD then says what is wrong, per key, as before.
    """
    wanted = sorted(set(keys), key=lambda k: k.encode("utf-8"))
    if len(wanted) < LIST_AT_LEAST:
        return {}
    prefix = os.path.commonprefix(wanted)  # noqa: RUF071 (a string prefix, as S3 means it)
    # A prefix of the first key sorts before it, with at most a few keys in between.
    params = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": min(1000, 2 * len(wanted) + 16)}
    if len(wanted[0]) > 1:
        params["StartAfter"] = wanted[0][:-1]
    found: dict[str, Stored] = {}
    reached = ""
    try:
        for _ in range(LIST_PAGES):
            answer = client.list_objects_v2(**params)
            now = _server_now(answer)
            for item in answer.get("Contents", []):
                key = item.get("Key", "")
                found[key] = Stored(item["Size"], item.get("ETag", ""),
                                    item.get("LastModified"), now)  # fmt: skip
                reached = key
            if not answer.get("IsTruncated"):
                return {k: found.get(k) for k in wanted}
            if not answer.get("NextContinuationToken") or reached.encode() >= wanted[-1].encode():
                break
            params = {**params, "ContinuationToken": answer["NextContinuationToken"]}
    except (bex.BotoCoreError, bex.ClientError, KeyError, TypeError):
        return {}
    return {k: found.get(k) for k in wanted if k.encode() <= reached.encode()}


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
        return _from_head(client.head_object(Bucket=bucket, Key=key))
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


def landed_anyway(client: Any, bucket: str, upload: Any) -> dict | None:
    """``{"size", "etag"}`` of the object a single PUT stored although the page saw it
    fail, else None. The answer, not the bytes, was lost (a connection cut after the body),
    and the retry met the 412 of its signed If-None-Match (or, from a server that sends
    that 412 without CORS headers, a network error). Only for a PUT signed with a CRC32C
    (``upload.checksum``): S3 verified the body against it, so an object of the signed
    size with that checksum, written after the signature, holds this upload's bytes."""
    record = upload.record
    if upload.mode != "single" or not upload.checksum or upload.signed_at is None:
        return None
    try:
        answer = client.head_object(Bucket=bucket, Key=record["key"], ChecksumMode="ENABLED")
    except (bex.BotoCoreError, bex.ClientError):
        return None  # no object, or none we may read: the failure stands
    stored = _from_head(answer)
    if answer.get("ChecksumCRC32C") != upload.checksum:
        return None
    if not _is_this_upload(stored, record["size"], "", upload.signed_at):
        return None
    return {"size": stored.size, "etag": stored.etag}


def _from_head(answer: dict) -> Stored:
    """The facts of a HeadObject answer."""
    return Stored(
        size=answer["ContentLength"],
        etag=answer.get("ETag", ""),
        last_modified=answer.get("LastModified"),
        server_now=_server_now(answer),
    )


def _denied(exc: BaseException) -> bool:
    return error_code(exc) in ("AccessDenied", "403", "Forbidden") or http_status(exc) == 403


def _server_now(answer: dict) -> datetime | None:
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
