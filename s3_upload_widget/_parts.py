"""The rules of a multipart upload's parts: its plan, and which part URLs to sign.

A page may ask for part URLs only of its own upload, within its part count, a few at a
time, and not endlessly (an expired URL is signed again; a loop is refused). No widget
import: the signer is passed in.
"""

from __future__ import annotations

from typing import Any

from ._errors import UploadError
from ._options import MAX_CONCURRENCY
from ._records import Upload
from ._sizes import part_length, plan_parts
from ._values import is_int

MAX_PARTS_PER_REQUEST = 3 * MAX_CONCURRENCY
"""Part URLs are signed in small batches just before they are needed."""

MAX_SIGNATURES_PER_PART = 20
"""Re-signing an expired URL is normal; a front end asking endlessly is not."""


def start_multipart(upload: Upload, signer: Any, *, part_size: int | None, overwrite: bool) -> dict:
    """Create the S3 multipart upload of ``upload``; the SIGN answer for the page."""
    record = upload.record
    size, count = plan_parts(record["size"], part_size)
    upload.s3_upload_id = signer.create_multipart(
        record["key"],
        content_type=record["content_type"],
        overwrite=overwrite,
        extra_args=upload.extra_args,
    )
    upload.mode = "multipart"
    upload.part_size, upload.part_count = size, count
    record["multipart"] = True
    return {"mode": "multipart", "part_size": size, "part_count": count}


def sign_parts(upload: Upload, signer: Any, numbers: object) -> list[dict]:
    """Presigned URLs of the parts ``numbers`` of ``upload``, after checking the
    request; ``UploadError("bad-request")`` names what is wrong."""
    if upload.mode != "multipart":
        raise UploadError("bad-request", "This upload is not a multipart upload.", "")
    if (
        not isinstance(numbers, list)
        or not numbers
        or len(numbers) > MAX_PARTS_PER_REQUEST
        or not all(is_int(n) and 1 <= n <= upload.part_count for n in numbers)
    ):
        raise UploadError(
            "bad-request",
            f"'part_numbers' must list 1 to {MAX_PARTS_PER_REQUEST} part numbers "
            f"between 1 and {upload.part_count}.",
            "",
        )
    for n in numbers:
        if upload.signatures.get(n, 0) >= MAX_SIGNATURES_PER_PART:
            raise UploadError("bad-request", f"Part {n} was signed too often.", "")
    upload.check_outstanding(set(numbers), signer.list_parts)
    parts = []
    for n in sorted(set(numbers)):
        length = part_length(upload.record["size"], upload.part_size, n)
        signed = signer.presign_part(upload.record["key"], upload.s3_upload_id, n, length)
        upload.signatures[n] = upload.signatures.get(n, 0) + 1
        upload.outstanding.add(n)
        parts.append({"part_number": n, "length": length, **signed.as_dict()})
    return parts
