"""Which files a page may add: the batch and widget limits, and clean file descriptions.

An ``add-files`` request is one pick or drop of the user's, or a flood from a hostile
page: nothing here trusts its count. Limits hold per request and across the widget:
at most ``max_files`` per pick *and* unfinished at once, one at a time when
``multiple=False``, ``max_total_files`` over the widget's life, and a hard cap on the
records a widget keeps. Pure: no boto3, no widget.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from typing import Any

from ._errors import UploadError
from ._names import MAX_NAME_CHARS
from ._policy import FileInfo, UploadPolicy
from ._values import clean_text

MAX_FILES_PER_MESSAGE = 10_000
"""Files in one request; a larger batch is refused outright (see MAX_RECORDS)."""

MAX_RECORDS = 10_000
"""Records a widget keeps (``w.clear()`` frees finished ones). Measured
(benchmarks/record_cost.md): every record change re-sends the whole `uploads` list,
~0.4 kB and ~18 µs of kernel time a record, so at 10,000 records one change sends 4 MB
and takes ~180 ms, and the kernel holds ~27 MiB more; at 20,000, twice that. Past this a
page's flood is refused rather than slowing the kernel further. (Sending only what
changed is the datasets issue's; the cap can rise then.)"""


def read_batch(
    files: object,
    *,
    live: int,
    held: int,
    accepted: int,
    options: Any,
    policy: UploadPolicy,
) -> list[FileInfo]:
    """The files of one ``add-files`` request, cleaned, or `UploadError` for all of them.

    ``live`` counts the widget's unfinished uploads, ``held`` its records, ``accepted``
    every file it accepted so far; ``options`` is the session's `SessionOptions`.
    """
    if not isinstance(files, list) or not files:
        raise UploadError("bad-request", "'files' must be a non-empty list.", "")
    count = len(files)
    if count > MAX_FILES_PER_MESSAGE:
        raise UploadError(
            "too-many-files",
            f"{count} files in one go is more than this widget accepts "
            f"({MAX_FILES_PER_MESSAGE:,}).",
            "Upload them in smaller batches, or as one archive.",
        )
    if held + count > MAX_RECORDS:
        raise UploadError(
            "too-many-files",
            f"This widget already holds {held:,} upload records; {count:,} more would pass "
            f"its limit of {MAX_RECORDS:,}.",
            "Call w.clear() to forget finished uploads, or create a new widget.",
        )
    if not options.multiple and (count > 1 or live > 0):
        raise UploadError(
            "too-many-files",
            "This widget takes one file at a time"
            + (f", and {count} were chosen." if count > 1 else ", and one is still uploading."),
            "Choose a single file once the last one has finished, or create the widget "
            "with multiple=True.",
        )
    policy.check_batch(count)
    if policy.max_files is not None and live + count > policy.max_files:
        raise UploadError(
            "too-many-files",
            f"{live} files are still uploading; {count} more would pass max_files="
            f"{policy.max_files}, the most at once.",
            "Wait until the others finish, or raise max_files=.",
        )
    limit = options.max_total_files
    if limit is not None and accepted + count > limit:
        raise UploadError(
            "too-many-files",
            f"This widget has accepted {accepted} files; {count} more would pass "
            f"max_total_files={limit}.",
            "Create a new widget, or raise max_total_files=.",
        )
    return [_clean(FileInfo.from_message(f)) for f in files]  # all valid, or none


def _clean(info: FileInfo) -> FileInfo:
    # NFC: macOS sends decomposed accents; the key is NFC, so the name matches it. Lone
    # surrogates become U+FFFD: one in a record would make the trait unsendable.
    name = clean_text(unicodedata.normalize("NFC", info.name), MAX_NAME_CHARS)
    return dataclasses.replace(
        info,
        name=name,
        content_type=clean_text(info.content_type, 255),
        relative_path=clean_text(unicodedata.normalize("NFC", info.relative_path), MAX_NAME_CHARS),
    )


def key_in_use_error(bucket: str, key: str, other_name: str) -> UploadError:
    """The error of a file whose key another unfinished upload of the widget writes."""
    return UploadError(
        "key-exists",
        f"Another file of this widget, {other_name!r}, is being uploaded to "
        f"s3://{bucket}/{key} right now: both names give that key once cleaned for S3.",
        "Rename one of the two files, or use a key_template with {uuid} so that files "
        "never share a key.",
    )
