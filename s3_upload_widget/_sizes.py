"""S3's size limits, the plan of a multipart upload's parts, and byte counts for people.

Pure functions (no boto3, no widget). Whether a file of a given size can be uploaded
with the widget's settings is decided here, once, so that a file that cannot be signed
is refused when it is added, with words, rather than failing at sign time.
"""

from __future__ import annotations

import math

from ._errors import UploadError
from ._values import is_int

MiB = 1024**2

MIN_PART_SIZE = 5 * MiB  # every part but the last must be at least this
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
MAX_SINGLE_PUT = 5 * 1024**3
MAX_OBJECT_SIZE = 5 * 1024**4  # 5 TiB, S3's largest object
MAX_KEY_BYTES = 1024

MAX_AUTO_PART_SIZE = 64 * MiB
"""The largest part the widget chooses by itself (files up to 625 GiB; beyond, parts grow
so that 10,000 of them hold the file).

Parts come in whole rounds of ``concurrency`` (benchmarks/link.md, far profile: 300 MiB as
19 parts of 16 MiB on 6 connections used 65-73 % of the link, because the last round ran
on one connection; as 6 parts of 50 MiB, 90-98 %). Above 64 MiB a retried or paused part
costs too much and progress moves in big steps."""


def format_size(n: int) -> str:
    """A byte count for people, in decimal units: ``12.0 MB``, ``532 bytes``."""
    if n < 1000:
        return "1 byte" if n == 1 else f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def smallest_part_size(size: int) -> int:
    """The smallest whole number of MiB that splits ``size`` bytes into 10,000 parts."""
    return math.ceil(math.ceil(size / MAX_PARTS) / MiB) * MiB


def auto_part_size(size: int, concurrency: int = 1) -> int:
    """The part size the widget chooses for ``size`` bytes sent ``concurrency`` parts at a
    time: equal parts in whole rounds of ``concurrency``, each at most
    :data:`MAX_AUTO_PART_SIZE` (grown when 10,000 parts would not hold the file) and at
    least S3's 5 MiB (a small file gets fewer parts than ``concurrency``)."""
    if not is_int(concurrency) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, not {concurrency!r}")
    rounds = max(1, math.ceil(size / (concurrency * MAX_AUTO_PART_SIZE)))
    count = rounds * concurrency
    if size < count * MIN_PART_SIZE:  # fewer, equal parts: 16 MiB as 3 of 5.3 MiB
        count = max(1, size // MIN_PART_SIZE)
    part_size = max(MIN_PART_SIZE, math.ceil(size / count))
    if math.ceil(size / part_size) > MAX_PARTS:
        part_size = smallest_part_size(size)
    return part_size


def plan_parts(size: int, part_size: int | None = None, concurrency: int = 1) -> tuple[int, int]:
    """``(part_size, part_count)`` for a multipart upload of ``size`` bytes.

    Automatic (``part_size=None``): :func:`auto_part_size` for ``concurrency`` parts in
    flight. An explicit ``part_size`` must be 5 MiB..5 GiB and big enough for 10,000 parts
    (``ValueError`` names the minimum). An empty file is one part of 0 bytes (callers
    upload such files with a single PUT anyway).
    """
    if not is_int(size) or size < 0:
        raise ValueError(f"size must be an int >= 0, not {size!r}")
    if size > MAX_OBJECT_SIZE:
        raise ValueError(f"size {size:,} is over S3's maximum object size of 5 TiB")
    if part_size is None:
        part_size = auto_part_size(size, concurrency)
    else:
        if not is_int(part_size) or not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(
                f"part_size must be between 5 MiB ({MIN_PART_SIZE:,}) and 5 GiB "
                f"({MAX_PART_SIZE:,}) bytes, not {part_size!r}"
            )
        if part_size < math.ceil(size / MAX_PARTS):
            minimum = smallest_part_size(size)
            raise ValueError(
                f"part_size {part_size:,} is too small for {size:,} bytes: S3 allows "
                f"{MAX_PARTS:,} parts, so use at least {minimum:,} bytes ({minimum // MiB} MiB)"
            )
    return part_size, max(1, math.ceil(size / part_size))


def part_length(size: int, part_size: int, part_number: int) -> int:
    """The number of bytes in part ``part_number`` (1-based); the last part is shorter.

    Raises ``ValueError`` for a part number outside ``1..part_count``.
    """
    count = max(1, math.ceil(size / part_size))
    if not is_int(part_number) or not 1 <= part_number <= count:
        raise ValueError(f"part_number must be between 1 and {count}, not {part_number!r}")
    return min(part_size, size - (part_number - 1) * part_size)


def check_uploadable(
    name: str, size: int, *, multipart_threshold: int, part_size: int | None
) -> None:
    """Raise ``UploadError("too-large")`` if these settings cannot upload ``size`` bytes.

    A file below ``multipart_threshold`` goes in one PUT (at most 5 GiB); a larger one in
    parts of ``part_size`` (at most 10,000 of them). The message names the file, the
    setting and the value that would work.
    """
    if size < multipart_threshold and size > MAX_SINGLE_PUT:
        raise UploadError(
            "too-large",
            f"{name!r} is {format_size(size)}: below multipart_threshold="
            f"{multipart_threshold:,} it would go in one PUT, but S3 takes at most 5 GiB "
            "in one PUT.",
            f"Set multipart_threshold to at most {MAX_SINGLE_PUT:,} bytes (5 GiB).",
        )
    if size >= multipart_threshold and part_size is not None:
        minimum = smallest_part_size(size)
        if part_size < minimum:
            raise UploadError(
                "too-large",
                f"{name!r} is {format_size(size)}: in parts of part_size={part_size:,} "
                f"bytes it would need more than S3's {MAX_PARTS:,} parts.",
                f"Set part_size to at least {minimum:,} bytes ({minimum // MiB} MiB), or to "
                "None to let the widget choose per file.",
            )
