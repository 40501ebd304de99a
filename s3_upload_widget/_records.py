"""One upload as the kernel tracks it: its record (what a person sees) and its S3 state.

The record is a plain dict that goes into the `uploads` trait; everything that must
never leave the kernel (S3's multipart UploadId, signing counts) lives beside it in
`Upload`. Pure: no boto3, no widget.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import _protocol as P
from ._errors import UploadError
from ._options import MAX_CONCURRENCY
from ._policy import FileInfo
from ._verify import UNVERIFIED_HINT


def outstanding_limit(in_flight: int) -> int:
    """Part URLs of one upload signed but not yet seen in S3, at most: the parts in flight,
    the next batch, and room for a retry (3 x the parts in flight, at least 3 x 6). When a
    request would pass it, S3's list of parts is read to learn which arrived; past it
    still, the request is refused."""
    return 3 * max(in_flight, MAX_CONCURRENCY)


MAX_OUTSTANDING_PARTS = outstanding_limit(MAX_CONCURRENCY)
"""The limit with one host name (`outstanding_limit`)."""


@dataclass
class Upload:
    """Kernel-only state of one upload; `record` is the part a person may see."""

    record: dict
    info: FileInfo
    mode: str = ""  # "single" or "multipart" once signed
    s3_upload_id: str = ""  # S3's multipart UploadId: never leaves the kernel's control
    part_size: int = 0
    part_count: int = 0
    signatures: dict[int, int] = field(default_factory=dict)  # part number -> times signed
    outstanding: set[int] = field(default_factory=set)  # parts signed, not yet seen in S3
    signed_at: Any = None  # _verify.SignedAt of the latest single-PUT signature
    extra_args: dict = field(default_factory=dict)  # this file's resolved object options
    paused_from: str = ""  # the status a paused upload resumes in (queued or uploading)
    checksum: str = ""  # the CRC32C signed for a single PUT (S3 verifies the body against it)
    part_checksums: dict[int, str] = field(default_factory=dict)  # part -> CRC32C last signed
    checksum_algorithm: str = ""  # "CRC32C" when every body of this upload carries one
    form: dict | None = None  # a form POST's fields (_form_post), None for a PUT
    content_md5: str = ""  # the MD5 a form POST's policy pins (S3 verifies the body)
    max_outstanding: int = MAX_OUTSTANDING_PARTS  # 3 x the parts in flight (_parts.py)
    page: str = ""  # the page that signed it or took it over last (_owners.py)
    moved_at: float = 0.0  # time.monotonic() when that page last moved it

    @property
    def is_final(self) -> bool:
        """Whether the upload has ended (done, error or cancelled)."""
        return self.record["status"] in P.FINAL_STATUSES

    def set_error(self, err: UploadError) -> None:
        """End the record in ``error`` with the words of ``err``."""
        self.record.update(status="error", error=str(err), error_code=err.code)

    def set_unverified(self, bucket: str) -> None:
        """End the record in ``unverified``: S3 accepted a PUT signed for this key, but
        the role may not read the object back. Not done: no key, no on_upload."""
        self.record.update(
            status="unverified",
            error=f"Sent to s3://{bucket}/{self.record['key']}, but this role may not read "
            f"the object back, so the upload cannot be verified. {UNVERIFIED_HINT}",
            error_code="unverified",
        )

    def expect_status(self, *statuses: str) -> None:
        """Raise ``UploadError("bad-request")`` unless the record is in one of ``statuses``."""
        status = self.record["status"]
        if status not in statuses:
            raise UploadError(
                "bad-request",
                f"The upload of {self.record['name']!r} is {status}; "
                f"this request needs it to be {' or '.join(statuses)}.",
                "",
            )

    def check_outstanding(
        self, numbers: set[int], list_parts: Callable[[str, str], Iterable[int]]
    ) -> None:
        """Refuse to hand out more than ``max_outstanding`` part URLs not yet used;
        ``list_parts(key, upload_id)`` names the parts S3 holds."""
        if len(self.outstanding | numbers) <= self.max_outstanding:
            return
        self.outstanding -= set(list_parts(self.record["key"], self.s3_upload_id))
        if len(self.outstanding | numbers) > self.max_outstanding:
            raise UploadError(
                "bad-request",
                f"The page asked for more part URLs of {self.record['name']!r} than it "
                f"can use at once ({self.max_outstanding} not yet uploaded).",
                "Reload the page; if it persists, report a bug.",
            )


def new_record(upload_id: str, info: FileInfo, bucket: str, content_type: str, batch: str) -> dict:
    """The record of a file just added: ``queued``, no key yet; ``content_type`` is the
    one the policy will sign (`UploadPolicy.content_type`), ``batch`` the id of the pick
    or drop it came in."""
    return {
        "id": upload_id,
        "name": unicodedata.normalize("NFC", info.name),  # as the key has it
        "relative_path": info.relative_path,
        "batch": batch,
        "size": info.size,
        "last_modified": info.last_modified,  # the File's lastModified (ms), None if unsent
        "content_type": content_type,
        "bucket": bucket,
        "key": "",
        "s3_uri": "",
        "status": "queued",
        "loaded": 0,
        "etag": "",
        "checksum_crc32c": "",
        "error": "",
        "error_code": "",
        "multipart": False,
    }


def batch_uri(records: list[dict], batch: str | None = None) -> str:
    """``s3://bucket/common/prefix/`` of the finished uploads of one pick or drop.

    ``batch`` defaults to the one of the most recent done upload. The prefix is the
    longest run of whole key segments all its done keys share: with the default key
    template, the batch's own folder, from which a dataset reads back whole. ``""``
    when no upload of that batch is done.
    """
    done = [r for r in records if r.get("status") == "done"]
    if batch is None:
        batch = done[-1]["batch"] if done else ""
    keys = [r["key"] for r in done if r.get("batch") == batch]
    if not keys:
        return ""
    common = keys[0].split("/")[:-1]
    for key in keys[1:]:
        parts = key.split("/")[:-1]
        while common != parts[: len(common)]:
            common.pop()
    prefix = "/".join(common)
    return f"s3://{done[0]['bucket']}/{prefix}/" if prefix else f"s3://{done[0]['bucket']}/"


def summarize(records: list[dict]) -> str:
    """One line on a set of records, e.g. ``"5,000 files: 4,990 done, 10 failed
    (key-exists 8, access-denied 2)"``; the failed ones are those with status error."""
    if not records:
        return "No files yet."
    counts: dict[str, int] = {}
    codes: dict[str, int] = {}
    for record in records:
        status = record.get("status", "")
        counts[status] = counts.get(status, 0) + 1
        if status == "error":
            code = record.get("error_code") or "error"
            codes[code] = codes.get(code, 0) + 1
    words = {"error": "failed", "unverified": "not verified"}
    parts = []
    for status in P.STATUSES:
        if counts.get(status):
            text = f"{counts[status]:,} {words.get(status, status)}"
            if status == "error":
                worst = sorted(codes.items(), key=lambda item: (-item[1], item[0]))
                text += " (" + ", ".join(f"{code} {n:,}" for code, n in worst) + ")"
            parts.append(text)
    noun = "file" if len(records) == 1 else "files"
    return f"{len(records):,} {noun}: " + ", ".join(parts)
