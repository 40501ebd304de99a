"""The rules of a multipart upload's parts: its plan, and which part URLs to sign.

A page may ask for part URLs only of its own upload, within its part count, a few at a
time, and not endlessly (an expired URL is signed again; a loop is refused). No widget
import: the signer is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._errors import UploadError
from ._records import MAX_OUTSTANDING_PARTS, Upload, outstanding_limit
from ._sizes import MAX_PARTS, part_length, plan_parts
from ._values import is_int

MAX_PARTS_PER_REQUEST = MAX_OUTSTANDING_PARTS
"""Part URLs one "sign-parts" may ask for with one host name: as many as may be
outstanding (with ``extra_endpoints``, the upload's own limit: `outstanding_limit`)."""

MAX_SIGNATURES_PER_PART = 20
"""Re-signing an expired URL is normal; a front end asking endlessly is not."""

_CRC32C = re.compile(r"[A-Za-z0-9+/]{6}==")  # base64 of 4 bytes, as S3 writes a CRC32C


def read_checksum(value: object, what: str) -> str:
    """The CRC32C the page computed for ``what`` (a file, a part), as S3 writes it
    (base64 of 4 bytes); ``UploadError("bad-request")`` for anything else."""
    if isinstance(value, str) and _CRC32C.fullmatch(value):
        return value
    raise UploadError(
        "bad-request",
        f"The page sent no valid CRC32C checksum for {what} (got {str(value)[:40]!r}).",
        "Reload the page so it runs this version of the widget; if it persists, report a bug.",
    )


def new_entry(record: dict, options: Any, pools: Callable[[], int] = lambda: 1) -> dict:
    """ADD_FILES' entry of a new upload: a copy of its ``record``, and when it is queued to
    go as a multipart upload with checksums, ``first_part``: part 1's bytes as
    `start_multipart` would plan them with ``options`` and ``pools()`` now. The page hashes
    them while SIGN_FILES is out (on a home link that hash was most of the first byte's
    delay); if the options change before signing, that hash is of other bytes and goes
    unused."""
    entry = dict(record)
    size = record["size"]
    if record["status"] == "queued" and options.checksum and size >= options.multipart_threshold:
        part_size, _ = plan_parts(size, options.part_size, options.in_flight * pools())
        length = part_length(size, part_size, 1)
        entry["first_part"] = {"part_number": 1, "offset": 0, "length": length}
    return entry


def start_multipart(
    upload: Upload, signer: Any, options: Any, *, look_first: bool = True, pools: int = 1
) -> dict:
    """Create the S3 multipart upload of ``upload``; the SIGN answer for the page.
    ``options`` (`SessionOptions`) gives ``part_size``, ``in_flight`` (parts come in
    whole rounds of it), ``overwrite`` and ``checksum``: with "CRC32C" every part must
    come with its checksum (`sign_parts`). ``look_first``: see `Signer.create_multipart`.
    ``pools``: the page's connection pools (`_pools`), each with ``in_flight`` parts
    at once: the parts come in whole rounds of all of them, and that many more part URLs
    may be outstanding."""
    checksum = options.checksum
    record = upload.record
    size, count = plan_parts(record["size"], options.part_size, options.in_flight * pools)
    upload.s3_upload_id = signer.create_multipart(
        record["key"],
        content_type=record["content_type"],
        overwrite=options.overwrite,
        extra_args=upload.extra_args,
        checksum_algorithm=checksum,
        look_first=look_first,
    )
    upload.checksum_algorithm = checksum or ""
    upload.mode = "multipart"
    upload.part_size, upload.part_count = size, count
    upload.max_outstanding = outstanding_limit(options.in_flight * pools)
    record["multipart"] = True
    plan = {"mode": "multipart", "part_size": size, "part_count": count}
    return {**plan, "checksum": checksum} if checksum else plan


def sign_parts(
    upload: Upload, signer: Any, numbers: object, checksums: object = None
) -> list[dict]:
    """Presigned URLs of the parts ``numbers`` of ``upload``, after checking the
    request; ``UploadError("bad-request")`` names what is wrong. When the upload carries
    checksums, ``checksums`` lists each part's CRC32C in the order of ``numbers``, and
    each is signed with its part."""
    if upload.mode != "multipart":
        raise UploadError("bad-request", "This upload is not a multipart upload.", "")
    if (
        not isinstance(numbers, list)
        or not numbers
        or len(numbers) > upload.max_outstanding
        or not all(is_int(n) and 1 <= n <= upload.part_count for n in numbers)
    ):
        raise UploadError(
            "bad-request",
            f"'part_numbers' must list 1 to {upload.max_outstanding} part numbers "
            f"between 1 and {upload.part_count}.",
            "",
        )
    for n in numbers:
        if upload.signatures.get(n, 0) >= MAX_SIGNATURES_PER_PART:
            raise UploadError("bad-request", f"Part {n} was signed too often.", "")
    sums: dict[int, str] = {}
    if upload.checksum_algorithm:
        if not isinstance(checksums, list) or len(checksums) != len(numbers):
            raise UploadError("bad-request", "'checksums' must give one per part number.", "")
        sums = {n: read_checksum(c, f"part {n}") for n, c in zip(numbers, checksums, strict=True)}
    upload.check_outstanding(set(numbers), signer.list_parts)
    parts = []
    for n in sorted(set(numbers)):
        length = part_length(upload.record["size"], upload.part_size, n)
        key, upload_id, checksum = upload.record["key"], upload.s3_upload_id, sums.get(n, "")
        signed = signer.presign_part(key, upload_id, n, length, checksum)
        if checksum:
            upload.part_checksums[n] = checksum
        upload.signatures[n] = upload.signatures.get(n, 0) + 1
        upload.outstanding.add(n)
        parts.append({"part_number": n, "length": length, **signed.as_dict()})
    return parts


def read_reported_parts(key: str, parts: object) -> dict[int, str]:
    """The parts the page reports as stored, ``{part_number: etag}`` in order;
    ``UploadError("bad-request")`` for a list that is not a list of distinct parts with
    ETags (the caller aborts the upload)."""

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
        if not is_int(number):
            raise bad(f"part number {number!r} is not an int")
        if not 1 <= number <= MAX_PARTS:
            raise bad(f"part number {number} is not between 1 and {MAX_PARTS}")
        if not isinstance(etag, str) or not etag.strip().strip('"'):
            raise bad(f"part {number} has no ETag")
        if number in reported:
            raise bad(f"part {number} is listed twice")
        reported[number] = etag
    return dict(sorted(reported.items()))


def _normalize_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def check_stored_parts(
    bucket: str, key: str, reported: dict[int, str], stored: dict[int, dict], expected_size: int
) -> None:
    """Raise ``UploadError("size-mismatch")`` unless S3 holds every part the page reports,
    with the same ETag, and they add up to ``expected_size``."""
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
            f"The upload of s3://{bucket}/{key} is incomplete or corrupt: "
            f"{'; '.join(problems)}. It was aborted; nothing was stored.",
            "Upload the file again. If the file changed while it was uploading, wait until "
            "it is saved.",
        )
