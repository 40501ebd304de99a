"""What may be uploaded and under which key: names, keys, prefix confinement, limits, parts.

Pure functions and dataclasses (no boto3, no widget): everything the browser sends is
untrusted, and this module is where it is checked. The front end only *asks*; the key,
content type and size that get signed come from here.
"""

from __future__ import annotations

import math
import mimetypes
import re
import string
import unicodedata
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ._errors import UploadError

# --- S3 limits ------------------------------------------------------------------------

MIN_PART_SIZE = 5 * 1024**2  # every part but the last must be at least this
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
MAX_KEY_BYTES = 1024
MAX_SINGLE_PUT = 5 * 1024**3
MAX_OBJECT_SIZE = 5 * 1024**4  # 5 TiB, S3's largest object

DEFAULT_PART_SIZE = 16 * 1024**2
"""Automatic part size for files that need fewer than 10,000 parts of it.

Measured (benchmarks/results.md, part size x concurrency sweep): 8 MiB parts were the
slowest and cost the browser the most CPU per GiB; 16, 32 and 64 MiB were within noise of
each other. 16 MiB halves the per-part preflights and round trips of 8 MiB, which dominate
on a real link, while a retried part still costs little."""

MAX_FILENAME_BYTES = 255  # what most file systems allow; keeps keys readable
MAX_NAME_CHARS = 4096  # longest file name accepted from the browser
FALLBACK_FILENAME = "file"

_MiB = 1024**2

# --- characters -------------------------------------------------------------------------

# Cc: C0/C1 controls (newline, tab, NUL, ...); Cf: invisible format characters such as
# U+202E RIGHT-TO-LEFT OVERRIDE, which can make "evil\u202egpj.exe" display as
# "evilexe.jpg"; Cs: lone surrogates, which cannot even be encoded as UTF-8.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in _CONTROL_CATEGORIES


def _has_control(text: str) -> bool:
    return any(_is_control(ch) for ch in text)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` of UTF-8 (whole chars)."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _shorten(text: str, limit: int = 120) -> str:
    """``text`` cut for display in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- sizes ------------------------------------------------------------------------------


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


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but True is not a file size.
    return isinstance(value, int) and not isinstance(value, bool)


# --- file names -----------------------------------------------------------------------


def split_ext(filename: str) -> tuple[str, str]:
    """``("report.final", ".csv")`` for ``"report.final.csv"``.

    The extension is the last dot and what follows, with the dot; a leading dot does not
    start one (``".env"`` has none), nor does a trailing dot.
    """
    dot = filename.rfind(".")
    if dot <= 0 or dot == len(filename) - 1:
        return filename, ""
    return filename[:dot], filename[dot:]


def sanitize_filename(name: str) -> str:
    """A safe, readable file name from whatever the browser sent; never empty.

    Keeps only the last path component (``/`` and ``\\`` both separate), normalises to
    NFC, turns any whitespace run into one space, drops control and invisible format
    characters, strips surrounding spaces, and caps the length at 255 bytes of UTF-8,
    keeping the extension. Spaces and accents stay: ``"résumé final.csv"`` is unchanged.
    Names that end up empty or made only of dots become ``"file"``.
    """
    parts = [p for p in re.split(r"[/\\]", str(name)) if p.strip()]
    text = unicodedata.normalize("NFC", parts[-1] if parts else "")
    # Whitespace (tabs, newlines, no-break spaces...) becomes a space; other controls go.
    text = "".join(
        " " if ch.isspace() else ch for ch in text if ch.isspace() or not _is_control(ch)
    )
    text = re.sub(" {2,}", " ", text).strip(" ")
    # Removing characters can leave combining marks next to a new base character.
    text = unicodedata.normalize("NFC", text)
    if _utf8_len(text) > MAX_FILENAME_BYTES:
        stem, ext = split_ext(text)
        if _utf8_len(ext) > 32:  # not a real extension: cut the whole name instead
            stem, ext = text, ""
        stem = _truncate_utf8(stem, MAX_FILENAME_BYTES - _utf8_len(ext)).rstrip(" ")
        text = (stem or FALLBACK_FILENAME) + ext
    if not text or set(text) == {"."}:
        return FALLBACK_FILENAME
    return text


# --- prefix and keys ---------------------------------------------------------------------


def _segment_problem(key: str) -> str:
    """Why ``key`` is not a safe S3 key, or ``""``."""
    if key.startswith("/"):
        return "starts with '/'"
    if _has_control(key):
        return "contains control characters"
    segments = key.split("/")
    if any(s in (".", "..") for s in segments):
        return "contains a '.' or '..' path segment"
    if any(s == "" for s in segments):
        return "contains an empty path segment ('//' or a trailing '/')"
    return ""


def normalize_prefix(prefix: str) -> str:
    """Check the key prefix every upload goes under and return it unchanged.

    ``""`` means the whole bucket. The prefix is a plain string prefix, used as given:
    ``"uploads/"`` puts keys in a folder, ``"data-"`` makes keys start with ``data-``; no
    ``/`` is added. Raises ``ValueError`` for a leading ``/``, a ``.`` or ``..`` segment,
    an empty segment (``"a//b"``), control characters, or a prefix too long for any key.
    """
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a str, not {type(prefix).__name__}")
    if prefix == "":
        return prefix
    if prefix.startswith("/"):
        raise ValueError(
            f"prefix {prefix!r} must not start with '/': S3 keys have no leading slash "
            f"(use {prefix.lstrip('/')!r})."
        )
    if _has_control(prefix):
        raise ValueError(f"prefix {prefix!r} contains control characters.")
    # A trailing "/" is fine ("uploads/"): ignore the empty segment after it.
    segments = prefix.split("/")
    if prefix.endswith("/"):
        segments.pop()
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"prefix {prefix!r} must not contain '.' or '..' segments.")
    if any(s == "" for s in segments):
        raise ValueError(f"prefix {prefix!r} must not contain empty segments ('//').")
    if _utf8_len(prefix) >= MAX_KEY_BYTES - 32:
        raise ValueError(
            f"prefix is {_utf8_len(prefix)} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes, "
            "which leaves no room for file names."
        )
    return prefix


PLACEHOLDERS = ("prefix", "uuid", "filename", "stem", "ext", "date")
"""The placeholders a string ``key_template`` may use."""

_PLACEHOLDER_HELP = (
    "{prefix} (the widget's prefix), {uuid} (32 random hex digits), {filename} (the file's "
    "sanitized name), {stem} (the name without extension), {ext} (the extension with its "
    "dot, or empty), {date} (today in UTC, YYYY-MM-DD)"
)

_SAMPLE_FIELDS = {
    "prefix": "uploads/",
    "uuid": "0" * 32,
    "filename": "data.csv",
    "stem": "data",
    "ext": ".csv",
    "date": "2024-01-31",
}


def validate_key_template(template: object) -> None:
    """Raise ``ValueError`` unless ``template`` is a usable key template.

    A callable is accepted as is (it is checked on each call). A string may use only
    :data:`PLACEHOLDERS`, by name, without attribute or index access.
    """
    if callable(template):
        return
    if not isinstance(template, str):
        raise ValueError(
            f"key_template must be a str or a callable, not {type(template).__name__}."
        )
    if not template:
        raise ValueError(
            f"key_template must not be empty; valid placeholders: {_PLACEHOLDER_HELP}."
        )
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"key_template {template!r} is not a valid template ({exc}); write a literal brace "
            f"as '{{{{' or '}}}}'. Valid placeholders: {_PLACEHOLDER_HELP}."
        ) from None
    unknown = []
    for _, field, spec, _ in fields:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            unknown.append("{" + field + "}")
        elif spec and "{" in spec:
            raise ValueError(f"key_template {template!r}: nested placeholders are not supported.")
    if unknown:
        raise ValueError(
            f"key_template {template!r} uses unknown placeholder(s) {', '.join(unknown)}; "
            f"valid placeholders: {_PLACEHOLDER_HELP}."
        )
    try:
        template.format(**_SAMPLE_FIELDS)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"key_template {template!r} cannot be rendered: {exc}.") from None


# --- types -------------------------------------------------------------------------------

# type "/" subtype, each a RFC 6838 restricted-name, with optional ";name=value" parameters.
_MIME_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME_RE = re.compile(
    rf"{_MIME_NAME}/{_MIME_NAME}"
    # Quoted values: printable ASCII only, since a browser refuses other header bytes.
    r"""(?: *; *[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[ !#-\[\]-~]*"))*"""
)

# Types for data files that mimetypes does not know (or knows differently per machine).
_EXTRA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/vnd.apache.arrow.file",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".ipynb": "application/x-ipynb+json",
    ".h5": "application/x-hdf5",
    ".hdf5": "application/x-hdf5",
}
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}


def is_valid_mime_type(value: str) -> bool:
    """Whether ``value`` is a well-formed MIME type (``type/subtype[; param=value]``)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 255
        and not _has_control(value)
        and _MIME_RE.fullmatch(value) is not None
    )


def content_type_for(filename: str, browser_type: str) -> str:
    """The Content-Type to sign for a file.

    The browser's type when it is a well-formed MIME type, else a guess from the file's
    extension, else ``application/octet-stream``.
    """
    if is_valid_mime_type(browser_type):
        return browser_type
    # Guess from the extension alone: mimetypes reads its argument as a URL, so a name
    # like "data:text/html,x.csv" would otherwise be taken for a data: URL.
    _, ext = split_ext(sanitize_filename(filename))
    ext = ext.lower()
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    guessed, encoding = mimetypes.guess_type("file" + ext)
    if encoding:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def _accept_tokens(accept: str) -> list[str]:
    return [t.strip().lower() for t in (accept or "").split(",") if t.strip()]


def is_accepted(accept: str, filename: str, content_type: str) -> bool:
    """Whether a file matches ``accept``, which reads like ``<input accept>``.

    Comma-separated tokens, case-insensitive: ``.csv`` matches names ending so (``.tar.gz``
    works too), ``image/*`` any image type, ``text/csv`` exactly that type. MIME tokens are
    matched against :func:`content_type_for`, the type that will be signed, so a file the
    browser gave no type still matches by its extension. ``""`` accepts everything.
    """
    tokens = _accept_tokens(accept)
    if not tokens:
        return True
    # Match the name that will be stored, not whatever path the browser sent.
    name = sanitize_filename(filename).lower()
    mime = content_type_for(filename, content_type).split(";")[0].strip().lower()
    for token in tokens:
        if token.startswith("."):
            if name.endswith(token):
                return True
        elif token in ("*", "*/*"):
            return True
        elif token.endswith("/*"):
            if mime.startswith(token[:-1]):
                return True
        elif token == mime:
            return True
    return False


# --- files and policy --------------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    """A file the browser wants to upload, as it describes it (untrusted)."""

    name: str
    size: int
    content_type: str

    @classmethod
    def from_message(cls, obj: object) -> FileInfo:
        """Validate ``{"name": str, "size": int, "type": str}`` from the browser.

        Raises ``UploadError("bad-request")`` with a clear message when it is malformed.
        A missing ``type`` means the browser did not know it (``""``).
        """

        def bad(problem: str) -> UploadError:
            return UploadError(
                "bad-request",
                f"The browser sent an invalid file description: {problem}.",
                "Reload the page and pick the file again; if it persists, report a bug.",
            )

        if not isinstance(obj, dict):
            raise bad(f"expected an object with name, size and type, got {type(obj).__name__}")
        name, size, ctype = obj.get("name"), obj.get("size"), obj.get("type", "")
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
            raise bad(f"name must be a text of 1 to {MAX_NAME_CHARS} characters")
        if not _is_int(size) or not 0 <= size <= MAX_OBJECT_SIZE:
            raise bad(f"size of {_shorten(name)!r} must be a whole number of bytes up to 5 TiB")
        if not isinstance(ctype, str):
            raise bad(f"type of {_shorten(name)!r} must be a text")
        return cls(name=name, size=size, content_type=ctype)


@dataclass
class UploadPolicy:
    """The rules every file must pass before anything is signed, and how keys are made.

    Construction validates the prefix and template (``ValueError``), so a bad widget
    configuration fails when the widget is created, not at the first upload.
    """

    prefix: str = ""
    key_template: str | Callable[[dict], str] = "{prefix}{uuid}/{filename}"
    accept: str = ""
    max_size: int | None = None
    max_files: int | None = None

    def __post_init__(self) -> None:
        normalize_prefix(self.prefix)
        validate_key_template(self.key_template)
        if self.max_size is not None and (not _is_int(self.max_size) or self.max_size < 0):
            raise ValueError(
                f"max_size must be a number of bytes >= 0 or None, not {self.max_size!r}"
            )
        if self.max_files is not None and (not _is_int(self.max_files) or self.max_files < 1):
            raise ValueError(f"max_files must be an int >= 1 or None, not {self.max_files!r}")
        if not isinstance(self.accept, str):
            raise ValueError(f"accept must be a str like '.csv,image/*', not {self.accept!r}")

    def check_batch(self, count: int) -> None:
        """Raise ``UploadError("too-many-files")`` if ``count`` files are too many."""
        if self.max_files is not None and count > self.max_files:
            raise UploadError(
                "too-many-files",
                f"{count} files were chosen, but at most {self.max_files} can be uploaded "
                f"(max_files={self.max_files}).",
                f"Choose at most {self.max_files} files, or raise max_files=.",
            )

    def check_file(self, info: FileInfo) -> None:
        """Raise ``UploadError`` (too-large, not-accepted, bad-request) if the file may not go."""
        if not _is_int(info.size) or info.size < 0:
            raise UploadError(
                "bad-request",
                f"The size of {info.name!r} is not a whole number of bytes: {info.size!r}.",
                "Reload the page and pick the file again.",
            )
        if self.max_size is not None and info.size > self.max_size:
            raise UploadError(
                "too-large",
                f"{info.name!r} is {format_size(info.size)}, over the "
                f"{format_size(self.max_size)} limit (max_size={self.max_size:,} bytes).",
                "Choose a smaller file, or raise max_size= when creating the widget.",
            )
        if info.size > MAX_OBJECT_SIZE:
            raise UploadError(
                "too-large",
                f"{info.name!r} is {format_size(info.size)}, over S3's limit of 5 TiB per object.",
                "Split the file into smaller ones.",
            )
        if not is_accepted(self.accept, info.name, info.content_type):
            ctype = content_type_for(info.name, info.content_type)
            raise UploadError(
                "not-accepted",
                f"{info.name!r} ({ctype}) is not an accepted file type; accepted: "
                f"{', '.join(_accept_tokens(self.accept))}.",
                "Choose a file of one of those types, or change accept= when creating the widget.",
            )

    def key_fields(self, info: FileInfo, *, now: datetime | None = None, uuid=None) -> dict:
        """The values a key template gets: the placeholders plus ``original_name``,
        ``size`` and ``content_type`` (only callables see those three)."""
        filename = sanitize_filename(info.name)
        stem, ext = split_ext(filename)
        now = now or datetime.now(timezone.utc)
        if now.tzinfo is not None:
            now = now.astimezone(timezone.utc)
        if uuid is None:
            uuid = uuidlib.uuid4()
        return {
            "prefix": self.prefix,
            "uuid": uuid.hex if isinstance(uuid, uuidlib.UUID) else str(uuid),
            "filename": filename,
            "stem": stem,
            "ext": ext,
            "date": now.strftime("%Y-%m-%d"),
            "original_name": info.name,
            "size": info.size,
            "content_type": content_type_for(info.name, info.content_type),
        }

    def make_key(self, info: FileInfo, *, now: datetime | None = None, uuid=None) -> str:
        """The S3 key for a file, always under ``prefix``.

        ``now`` (default: current UTC time) and ``uuid`` (a ``uuid.UUID`` or a str; default:
        random) make keys reproducible in tests. A rendered key that does not start with
        the prefix gets it prepended; a key that is still unsafe (``..`` or ``.`` or empty
        segment, leading ``/``, control characters, over 1024 bytes) raises
        ``UploadError("bad-name")`` naming the file.
        """
        fields = self.key_fields(info, now=now, uuid=uuid)
        template = self.key_template
        if callable(template):
            try:
                key = template(dict(fields))
            except Exception as exc:
                raise UploadError(
                    "bad-name",
                    f"key_template raised {type(exc).__name__}: {exc} for {info.name!r}.",
                    "Fix the key_template function.",
                ) from exc
            if not isinstance(key, str):
                raise UploadError(
                    "bad-name",
                    f"key_template returned {type(key).__name__} for {info.name!r}; it must "
                    "return a str.",
                    "Fix the key_template function so it returns the key as a str.",
                )
        else:
            key = template.format(**{k: fields[k] for k in PLACEHOLDERS})
        if not key.startswith(self.prefix):
            # Confinement: whatever the template did, the key stays under the prefix.
            key = self.prefix + key
        problem = _segment_problem(key)
        if not problem and _utf8_len(key) > MAX_KEY_BYTES:
            problem = f"is {_utf8_len(key)} bytes long, over S3's limit of {MAX_KEY_BYTES}"
        if problem:
            raise UploadError(
                "bad-name",
                f"Cannot upload {_shorten(info.name)!r}: its key {_shorten(key)!r} {problem}.",
                "Rename the file, or change key_template / prefix.",
            )
        return key


# --- multipart plan ----------------------------------------------------------------------


def plan_parts(size: int, part_size: int | None = None) -> tuple[int, int]:
    """``(part_size, part_count)`` for a multipart upload of ``size`` bytes.

    Automatic: :data:`DEFAULT_PART_SIZE`, grown to a whole number of MiB when the file
    would need more than 10,000 parts. An explicit ``part_size`` must be 5 MiB..5 GiB and
    big enough for 10,000 parts (``ValueError`` names the minimum). An empty file is one
    part of 0 bytes (callers upload such files with a single PUT anyway).
    """
    if not _is_int(size) or size < 0:
        raise ValueError(f"size must be an int >= 0, not {size!r}")
    if size > MAX_OBJECT_SIZE:
        raise ValueError(f"size {size:,} is over S3's maximum object size of 5 TiB")
    needed = math.ceil(size / MAX_PARTS)  # smallest part size that fits in MAX_PARTS
    if part_size is None:
        part_size = max(DEFAULT_PART_SIZE, MIN_PART_SIZE)
        if part_size < needed:
            part_size = math.ceil(needed / _MiB) * _MiB
    else:
        if not _is_int(part_size) or not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(
                f"part_size must be between 5 MiB ({MIN_PART_SIZE:,}) and 5 GiB "
                f"({MAX_PART_SIZE:,}) bytes, not {part_size!r}"
            )
        if part_size < needed:
            minimum = math.ceil(needed / _MiB) * _MiB
            raise ValueError(
                f"part_size {part_size:,} is too small for {size:,} bytes: S3 allows "
                f"{MAX_PARTS:,} parts, so use at least {minimum:,} bytes ({minimum // _MiB} MiB)"
            )
    return part_size, max(1, math.ceil(size / part_size))


def part_length(size: int, part_size: int, part_number: int) -> int:
    """The number of bytes in part ``part_number`` (1-based); the last part is shorter.

    Raises ``ValueError`` for a part number outside ``1..part_count``.
    """
    count = max(1, math.ceil(size / part_size))
    if not _is_int(part_number) or not 1 <= part_number <= count:
        raise ValueError(f"part_number must be between 1 and {count}, not {part_number!r}")
    return min(part_size, size - (part_number - 1) * part_size)
