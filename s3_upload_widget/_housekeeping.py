"""Multipart uploads left in S3, which a killed kernel could not abort: list them, abort
the stale ones, and set the bucket's lifecycle rule that aborts them after some days.

The widget aborts its multipart uploads on cancel, error, ``w.close()`` and kernel
shutdown; a kernel that is killed (or a machine that dies) cannot, and S3 bills the parts
of an upload until it is completed or aborted. Nothing here knows which uploads the
widget started: they are told apart by key prefix and by age only.

    from s3_upload_widget import list_incomplete_uploads, abort_incomplete_uploads
    list_incomplete_uploads("my-bucket", "uploads/")             # what is there
    abort_incomplete_uploads("my-bucket", "uploads/", dry_run=True)  # what would go
    abort_incomplete_uploads("my-bucket", "uploads/")            # older than a day

Why a day by default: S3 cannot tell a dead upload from one that another kernel, another
person or another tool (``aws s3 cp``, a backup job) is still sending, and aborting a
live upload destroys its parts. A day is longer than any upload the widget makes at a
sane speed, and is what the lifecycle rule below usually uses; pass ``older_than=0`` only
when you know nothing else is uploading under that prefix. ``Initiated`` is S3's clock,
the cutoff this machine's, so an upload is never "old" early by more than their skew.
Whatever deletes takes the prefix as a required argument: ``""`` (the whole bucket,
other tools' uploads included) has to be written out.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.exceptions as bex

from ._client import error_code, http_status, supports
from ._errors import UploadError, explain_client_error

__all__ = [
    "DEFAULT_OLDER_THAN",
    "IncompleteUpload",
    "abort_incomplete_uploads",
    "configure_abort_incomplete_uploads",
    "list_incomplete_uploads",
]

DEFAULT_OLDER_THAN = timedelta(days=1)
"""How old an incomplete upload must be before `abort_incomplete_uploads` aborts it."""

RULE_ID = "s3-upload-widget-abort-incomplete"
"""The ID (for a prefix: the start of the ID) of the lifecycle rule this module writes."""

# Page sizes: S3's maximum for both; the tests shrink them to exercise paging.
_MAX_UPLOADS = 1000
_MAX_PARTS = 1000

_UNKNOWN_TIME = datetime.max.replace(tzinfo=timezone.utc)  # no Initiated: never "old"
_GONE = {"NoSuchUpload"}
_NO_LIFECYCLE = {"NoSuchLifecycleConfiguration"}
_BUCKET_ARN = "arn:aws:s3:::{}"
_TRANSITION = "TransitionDefaultMinimumObjectSize"


class InvalidArgument(UploadError, ValueError):
    """A bad argument to a housekeeping function (code ``bad-request``): both an
    :class:`UploadError` and a ``ValueError``, like the widget's ``InvalidOption``."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__("bad-request", message, hint)


@dataclass(frozen=True)
class IncompleteUpload:
    """One multipart upload S3 still holds: started, neither completed nor aborted.

    ``initiated`` is when S3 started it (aware, UTC, S3's clock). ``parts`` and ``size``
    (the bytes its parts hold, which are billed) are None unless asked for with
    ``with_sizes=True``, which costs one ListParts request per upload.
    """

    bucket: str
    key: str
    upload_id: str
    initiated: datetime
    parts: int | None = None
    size: int | None = None

    def age(self, now: datetime | None = None) -> timedelta:
        """How long ago S3 started this upload, by this machine's clock (or ``now``)."""
        return _check_now(now) - self.initiated


# --- arguments -----------------------------------------------------------------------


def _check_bucket(bucket: object) -> str:
    if not isinstance(bucket, str) or not bucket:
        raise InvalidArgument(
            f"bucket must be the bucket's name, a non-empty string; got {bucket!r}.",
            'Pass the name of the bucket, e.g. "my-bucket".',
        )
    return bucket


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str):
        raise InvalidArgument(
            f"prefix must be a string (the start of the keys, as S3 matches it); got {prefix!r}.",
            'Pass e.g. "uploads/" (with its slash: "uploads" also matches "uploads-old/"), '
            'or "" for the whole bucket.',
        )
    return prefix


def _check_older_than(older_than: object) -> timedelta:
    if isinstance(older_than, timedelta):
        age = older_than
    elif isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
        # NaN and infinity are refused below: "never" is not a cutoff, it is a typo.
        finite = math.isfinite(older_than)
        age = timedelta(seconds=older_than) if finite else timedelta(-1)
    else:
        raise InvalidArgument(
            f"older_than must be a datetime.timedelta or a number of seconds; got {older_than!r}.",
            "Pass e.g. older_than=datetime.timedelta(days=1) (the default) or older_than=3600.",
        )
    if age < timedelta(0):
        raise InvalidArgument(
            f"older_than must be 0 or more (a finite age); got {older_than!r}.",
            "Pass how long an upload must have been running before it counts as left "
            "behind, e.g. older_than=datetime.timedelta(days=1) (the default).",
        )
    return age


def _check_now(now: object) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise InvalidArgument(
            f"now must be a timezone-aware datetime; got {now!r}.",
            "Pass e.g. datetime.now(timezone.utc), or leave it out.",
        )
    return now


def _check_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidArgument(
            f"days must be a whole number of days, 1 or more; got {days!r}.",
            "Pass e.g. days=1: S3 then aborts an upload a day or two after it started "
            "(it runs lifecycle rules once a day, at midnight UTC).",
        )
    return days


def _client(client):
    if client is not None:
        return client
    from ._client import default_client

    return default_client()


# --- errors --------------------------------------------------------------------------


def _explain(
    exc: BaseException,
    bucket: str,
    action: str,
    *,
    key: str = "",
    prefix: str | None = None,
    bucket_level: bool = False,
) -> UploadError:
    """The UploadError for a failed call: `action` is the IAM action it needs."""
    err = explain_client_error(exc, bucket=bucket, key=key, action=action, prefix=prefix)
    if err.code == "no-such-bucket":
        return UploadError(
            err.code,
            err.message,
            "Check the bucket name, and that client= points at the account and endpoint "
            "that hold it.",
        )
    if err.code == "access-denied" and bucket_level:
        return UploadError(
            err.code,
            err.message,
            f'The IAM user or role of the Python kernel needs "{action}" on '
            f'"{_BUCKET_ARN.format(bucket)}".',
        )
    return err


# --- listing -------------------------------------------------------------------------


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return _UNKNOWN_TIME
    if value.utcoffset() is None:
        return value.replace(tzinfo=timezone.utc)  # S3 speaks UTC
    return value.astimezone(timezone.utc)


def _pages(s3, bucket: str, prefix: str):
    """Every ListMultipartUploads page under `prefix`, following both markers."""
    params: dict[str, Any] = {"Bucket": bucket, "MaxUploads": _MAX_UPLOADS}
    if prefix:
        params["Prefix"] = prefix
    while True:
        try:
            page = s3.list_multipart_uploads(**params)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise _explain(exc, bucket, "s3:ListBucketMultipartUploads") from exc
        yield page
        if not page.get("IsTruncated"):
            return
        marker = (page.get("NextKeyMarker") or "", page.get("NextUploadIdMarker") or "")
        if not marker[0] or marker == (params.get("KeyMarker"), params.get("UploadIdMarker")):
            raise UploadError(
                "s3-rejected",
                f'S3 said the list of multipart uploads in bucket "{bucket}" goes on, but '
                f"gave no new place to continue from (NextKeyMarker {marker[0]!r}, "
                f"NextUploadIdMarker {marker[1]!r}).",
                "The endpoint does not page ListMultipartUploads as S3 does; list with a "
                "narrower prefix, or ask its maintainers.",
            )
        params["KeyMarker"], params["UploadIdMarker"] = marker


def _scan(s3, bucket: str, prefix: str) -> list[IncompleteUpload]:
    found = []
    for page in _pages(s3, bucket, prefix):
        for item in page.get("Uploads") or []:
            key = item.get("Key")
            # S3 filters by Prefix; an endpoint that ignores it must not widen an abort.
            if isinstance(key, str) and key.startswith(prefix) and item.get("UploadId"):
                initiated = _aware(item.get("Initiated"))
                found.append(IncompleteUpload(bucket, key, item["UploadId"], initiated))
    return sorted(found, key=lambda u: (u.initiated, u.key, u.upload_id))


def _sized(s3, upload: IncompleteUpload, prefix: str) -> IncompleteUpload | None:
    """`upload` with its parts counted (every ListParts page); None if it is gone."""
    params: dict[str, Any] = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "MaxParts": _MAX_PARTS,
    }
    parts = size = 0
    while True:
        try:
            page = s3.list_parts(**params)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            if error_code(exc) in _GONE:
                return None  # completed or aborted since the listing: not incomplete
            raise _explain(
                exc, upload.bucket, "s3:ListMultipartUploadParts", key=upload.key, prefix=prefix
            ) from exc
        for part in page.get("Parts") or []:
            parts += 1
            size += int(part.get("Size") or 0)
        following = page.get("NextPartNumberMarker")
        if not page.get("IsTruncated") or following in (None, params.get("PartNumberMarker")):
            return replace(upload, parts=parts, size=size)
        params["PartNumberMarker"] = following


def _with_sizes(s3, uploads: list[IncompleteUpload], prefix: str) -> list[IncompleteUpload]:
    sized = (_sized(s3, upload, prefix) for upload in uploads)
    return [upload for upload in sized if upload is not None]


def list_incomplete_uploads(
    bucket: str, prefix: str = "", *, client=None, with_sizes: bool = False
) -> list[IncompleteUpload]:
    """The multipart uploads S3 holds in `bucket` under key `prefix`, oldest first.

    Lists every page (ListMultipartUploads, 1000 a page; needs
    ``s3:ListBucketMultipartUploads``). ``with_sizes=True`` also counts each upload's
    parts and bytes: one more request per upload (``s3:ListMultipartUploadParts``), and
    an upload completed or aborted meanwhile is left out. ``client``: a boto3 S3 client;
    None makes the widget's default one. Raises UploadError (``no-such-bucket``,
    ``access-denied`` naming the IAM action, ``bad-request`` for bad arguments, ...).
    """
    bucket, prefix = _check_bucket(bucket), _check_prefix(prefix)
    s3 = _client(client)
    uploads = _scan(s3, bucket, prefix)
    return _with_sizes(s3, uploads, prefix) if with_sizes else uploads


def abort_incomplete_uploads(
    bucket: str,
    prefix: str,
    *,
    older_than: timedelta | float = DEFAULT_OLDER_THAN,
    client=None,
    dry_run: bool = False,
    with_sizes: bool = False,
    now: datetime | None = None,
) -> list[IncompleteUpload]:
    """Abort the multipart uploads in `bucket` under `prefix` started `older_than` ago or
    more; S3 then deletes their parts. Returns them, oldest first.

    `prefix` is required: ``"uploads/"``, or ``""`` for the whole bucket (other tools'
    uploads too). `older_than`: a ``timedelta`` or seconds, default one day, so that an
    upload another kernel is still sending is left alone; 0 aborts every one.
    ``dry_run=True`` aborts nothing and returns what it would abort. ``with_sizes=True``
    counts the parts and bytes of those (one request each). ``now`` replaces this
    machine's clock (aware datetime). An upload that finished meanwhile is skipped.
    Needs ``s3:ListBucketMultipartUploads`` and ``s3:AbortMultipartUpload``; raises
    UploadError when S3 refuses, saying how many were aborted before.
    """
    bucket, prefix = _check_bucket(bucket), _check_prefix(prefix)
    age = _check_older_than(older_than)
    cutoff = _check_now(now) - age
    s3 = _client(client)
    stale = [u for u in _scan(s3, bucket, prefix) if u.initiated <= cutoff]
    if with_sizes:
        stale = _with_sizes(s3, stale, prefix)
    if dry_run:
        return stale
    aborted: list[IncompleteUpload] = []
    for upload in stale:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            if error_code(exc) in _GONE or http_status(exc) == 404:
                continue  # completed or aborted since the listing: nothing left to bill
            err = _explain(exc, bucket, "s3:AbortMultipartUpload", key=upload.key, prefix=prefix)
            done = f" {len(aborted)} of the {len(stale)} uploads were aborted before it."
            raise UploadError(err.code, err.message + done, err.hint) from exc
        aborted.append(upload)
    return aborted


# --- the lifecycle rule --------------------------------------------------------------


def _rule_id(prefix: str) -> str:
    rule_id = f"{RULE_ID} {prefix}" if prefix else RULE_ID
    if len(rule_id) <= 255:  # S3's limit on a rule ID
        return rule_id
    return f"{RULE_ID} {hashlib.sha256(prefix.encode()).hexdigest()[:32]}"


def configure_abort_incomplete_uploads(
    bucket: str, prefix: str, *, days: int = 1, client=None
) -> dict[str, Any]:
    """Have S3 itself abort the multipart uploads under `prefix` `days` after they start;
    keep the bucket's other lifecycle rules.

    Writes one rule, ID ``s3-upload-widget-abort-incomplete`` (plus the prefix, if
    any), with ``AbortIncompleteMultipartUpload.DaysAfterInitiation = days``; re-running
    it replaces that rule, and writes nothing when it is already as wanted. `prefix` is
    required, ``""`` for the whole bucket (the usual choice). S3 applies lifecycle rules
    once a day, so an upload goes a day or so after `days`. Returns the bucket's new
    lifecycle configuration, ``{"Rules": [...]}``. A lifecycle configuration is read
    and written whole, so this needs ``s3:GetLifecycleConfiguration`` (it never drops a
    rule it could not read) and ``s3:PutLifecycleConfiguration``; it raises UploadError
    when S3 refuses. Two writers at once may lose one's change (S3 has no lock for it).
    """
    bucket, prefix, days = _check_bucket(bucket), _check_prefix(prefix), _check_days(days)
    s3 = _client(client)
    try:
        current = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    except (bex.BotoCoreError, bex.ClientError) as exc:
        if error_code(exc) not in _NO_LIFECYCLE:
            raise _explain(exc, bucket, "s3:GetLifecycleConfiguration", bucket_level=True) from exc
        current = {}
    rule_id = _rule_id(prefix)
    rules = [dict(rule) for rule in current.get("Rules") or []]
    ours = {
        "ID": rule_id,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }
    others = [rule for rule in rules if rule.get("ID") != rule_id]
    wanted = [*others, ours]
    if ours in rules and len(others) == len(rules) - 1:
        return {"Rules": rules}  # already there: nothing to write
    extra = {}
    transition = current.get("TransitionDefaultMinimumObjectSize")
    if transition and supports(s3, "PutBucketLifecycleConfiguration", _TRANSITION):
        extra[_TRANSITION] = transition  # a write without it would reset it to S3's default
    try:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": wanted}, **extra
        )
    except (bex.BotoCoreError, bex.ClientError) as exc:
        raise _explain(exc, bucket, "s3:PutLifecycleConfiguration", bucket_level=True) from exc
    return {"Rules": wanted}
