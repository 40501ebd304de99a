"""What may be uploaded and under which key: file names, content types, accept, keys.

Pure functions and dataclasses (no boto3, no widget): everything the browser sends is
untrusted, and this module is where it is checked. The front end only *asks*; the key,
content type and size that get signed come from here.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ._errors import UploadError
from ._options import DEFAULT_KEY_TEMPLATE, PLACEHOLDERS, check_option
from ._sizes import MAX_KEY_BYTES, MAX_OBJECT_SIZE, format_size
from ._values import has_control, is_control, is_int, shorten, truncate_utf8, utf8_len

MAX_FILENAME_BYTES = 255  # what most file systems allow; keeps keys readable
MAX_NAME_CHARS = 4096  # longest file name accepted from the browser
FALLBACK_FILENAME = "file"


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
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or not is_control(ch))
    text = re.sub(" {2,}", " ", text).strip(" ")
    # Removing characters can leave combining marks next to a new base character.
    text = unicodedata.normalize("NFC", text)
    if utf8_len(text) > MAX_FILENAME_BYTES:
        stem, ext = split_ext(text)
        if utf8_len(ext) > 32:  # not a real extension: cut the whole name instead
            stem, ext = text, ""
        stem = truncate_utf8(stem, MAX_FILENAME_BYTES - utf8_len(ext)).rstrip(" ")
        text = (stem or FALLBACK_FILENAME) + ext
    if not text or set(text) == {"."}:
        return FALLBACK_FILENAME
    return text


# --- prefix and keys ---------------------------------------------------------------------


def _segment_problem(key: str) -> str:
    """Why ``key`` is not a safe S3 key, or ``""``."""
    if key.startswith("/"):
        return "starts with '/'"
    if has_control(key):
        return "contains control characters"
    segments = key.split("/")
    if any(s in (".", "..") for s in segments):
        return "contains a '.' or '..' path segment"
    if any(s == "" for s in segments):
        return "contains an empty path segment ('//' or a trailing '/')"
    return ""


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
        and not has_control(value)
        and _MIME_RE.fullmatch(value) is not None
    )


OCTET_STREAM = "application/octet-stream"
"""What a browser downloads rather than shows: the type of files whose type is unknown,
and of active files unless ``allow_active_types``."""

# Types a browser runs when it opens the object (the script runs in the bucket's origin).
_ACTIVE_TYPES = frozenset(
    {
        "text/html", "application/xhtml+xml", "image/svg+xml",
        # XML documents may hold XHTML script through a namespace; XSLT makes HTML.
        "text/xml", "application/xml", "text/xsl",
        # every JavaScript type of the WHATWG MIME Sniffing standard (module scripts
        # use the same types; a parameter such as goal=module does not change them)
        "text/javascript", "application/javascript", "application/ecmascript",
        "application/x-ecmascript", "application/x-javascript", "text/ecmascript",
        "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
        "text/javascript1.3", "text/javascript1.4", "text/javascript1.5", "text/jscript",
        "text/livescript", "text/x-ecmascript", "text/x-javascript",
    }
)  # fmt: skip
# Types that make a browser guess the type from the bytes, which can make it HTML.
_SNIFFED_TYPES = frozenset({"unknown/unknown", "application/unknown",
                            "application/x-unknown-content-type"})  # fmt: skip


def mime_essence(content_type: str) -> str:
    """``"text/csv"`` for ``"Text/CSV; charset=utf-8"``: the type without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_active_type(content_type: str) -> bool:
    """Whether a browser that opens an object of this type may run script from it.

    HTML (``text/html``, ``application/xhtml+xml``), SVG, XML (``text/xml``,
    ``application/xml``, ``text/xsl`` and every ``…+xml`` type, with no exception: a
    browser renders any XML type as a document, and XML can run script through the XHTML
    namespace), JavaScript (every name browsers run as script) and ``multipart/*``
    (``multipart/x-mixed-replace`` renders its parts, HTML included).
    """
    essence = mime_essence(content_type)
    return essence in _ACTIVE_TYPES or essence.endswith("+xml") or essence.startswith("multipart/")


def type_from_name(filename: str) -> str:
    """The type a file name's extension names, or ``""`` when it names none.

    From `_EXTRA_TYPES`, then `mimetypes` (compressed files get their compression's
    type: ``x.csv.gz`` is ``application/gzip``). ``""`` for no extension, an unknown one,
    or one that only says ``application/octet-stream`` (``.bin``).
    """
    # Guess from the extension alone: mimetypes reads its argument as a URL, so a name
    # like "data:text/html,x.csv" would otherwise be taken for a data: URL.
    _, ext = split_ext(sanitize_filename(filename))
    ext = ext.lower()
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    guessed, encoding = mimetypes.guess_type("file" + ext)
    if encoding:
        guessed = _ENCODING_TYPES.get(encoding, "")
    return "" if guessed in (None, OCTET_STREAM) else guessed


def file_type(filename: str, declared: str) -> str:
    """What the file is, by the kernel's rule: its name's type, or the browser's where it
    agrees; what `accept` is matched against.

    The browser's ``declared`` type agrees when it is a well-formed MIME type
    (`is_valid_mime_type`) and either (a) has the same essence as `type_from_name`
    (compared without case or parameters; its parameters, such as ``charset``, are kept)
    or (b) the name names no type and the declared one is safe: not active
    (`is_active_type`) and not one that makes browsers sniff the bytes
    (``unknown/unknown``, ``application/unknown``). Otherwise the name's type wins
    (``report.csv`` declared ``text/html`` is ``text/csv``), and a file with neither is
    ``application/octet-stream``. So an active type only ever comes from the file's own
    name; `content_type_for` then decides whether it may be signed.
    """
    named = type_from_name(filename)
    if is_valid_mime_type(declared):
        essence, _, params = declared.partition(";")
        essence = essence.strip().lower()
        safe = essence not in _SNIFFED_TYPES and not is_active_type(essence)
        if essence == named or (not named and safe):
            return essence + (";" + params if params else "")
    return named or OCTET_STREAM


def content_type_for(filename: str, declared: str, *, allow_active_types: bool = False) -> str:
    """The Content-Type to sign for a file: its `file_type`, except that an active type
    (`is_active_type`: HTML, SVG, XML, JavaScript, ``multipart/*``) is signed only when
    ``allow_active_types``; otherwise the file is stored as ``application/octet-stream``.

    The upload still works and keeps its bytes; a browser that opens the object downloads
    it instead of running it. The type the page declared never makes a file active: it
    is used only where it agrees with the name or is safe (see `file_type`).
    """
    ctype = file_type(filename, declared)
    if is_active_type(ctype) and not allow_active_types:
        return OCTET_STREAM
    return ctype


def _accept_tokens(accept: str) -> list[str]:
    return [t.strip().lower() for t in (accept or "").split(",") if t.strip()]


def is_accepted(accept: str, filename: str, content_type: str) -> bool:
    """Whether a file matches ``accept``, which reads like ``<input accept>``.

    Comma-separated tokens, case-insensitive: ``.csv`` matches names ending so (``.tar.gz``
    works too), ``image/*`` any image type, ``text/csv`` exactly that type. MIME tokens are
    matched against :func:`file_type`, what the kernel takes the file to be, never the
    type the browser declared alone: ``page.html`` declared ``image/svg+xml`` is no
    ``image/*``, and a file the browser gave no type still matches by its extension. An
    active file that matches is stored as ``application/octet-stream`` unless the policy
    allows active types (`content_type_for`). ``""`` accepts everything.
    """
    tokens = _accept_tokens(accept)
    if not tokens:
        return True
    # Match the name that will be stored, not whatever path the browser sent.
    name = sanitize_filename(filename).lower()
    mime = mime_essence(file_type(filename, content_type))
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
        if not is_int(size) or not 0 <= size <= MAX_OBJECT_SIZE:
            raise bad(f"size of {shorten(name)!r} must be a whole number of bytes up to 5 TiB")
        if not isinstance(ctype, str):
            raise bad(f"type of {shorten(name)!r} must be a text")
        return cls(name=name, size=size, content_type=ctype)


@dataclass
class UploadPolicy:
    """The rules every file must pass before anything is signed, and how keys are made.

    Construction checks every field with `check_option` (``ValueError``), so a bad
    configuration fails when it is made, not at the first upload.
    """

    prefix: str = ""
    key_template: str | Callable[[dict], str] = DEFAULT_KEY_TEMPLATE
    accept: str = ""
    max_size: int | None = None
    max_files: int | None = None
    allow_active_types: bool = False

    def __post_init__(self) -> None:
        for name in (
            "prefix", "key_template", "accept", "max_size", "max_files", "allow_active_types",
        ):  # fmt: skip
            check_option(name, getattr(self, name))

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
        if not is_int(info.size) or info.size < 0:
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
            ctype = file_type(info.name, info.content_type)
            raise UploadError(
                "not-accepted",
                f"{info.name!r} ({ctype}) is not an accepted file type; accepted: "
                f"{', '.join(_accept_tokens(self.accept))}.",
                "Choose a file of one of those types, or change accept= when creating the widget.",
            )

    def content_type(self, info: FileInfo) -> str:
        """The Content-Type to sign for ``info`` (`content_type_for` under this policy's
        ``allow_active_types``): what the record shows and S3 stores."""
        return content_type_for(
            info.name, info.content_type, allow_active_types=self.allow_active_types
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
            "content_type": self.content_type(info),
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
        if not problem and utf8_len(key) > MAX_KEY_BYTES:
            problem = f"is {utf8_len(key)} bytes long, over S3's limit of {MAX_KEY_BYTES}"
        if problem:
            raise UploadError(
                "bad-name",
                f"Cannot upload {shorten(info.name)!r}: its key {shorten(key)!r} {problem}.",
                "Rename the file, or change key_template / prefix.",
            )
        return key
