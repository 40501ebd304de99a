"""Content types: the one a file is (from its name), the one that is signed, and
`accept` matching.

Pure functions. The page's declared type counts only where it agrees with the name, and
active types (HTML, SVG, XML, JavaScript, multipart) are signed as such only when the
user allows them.
"""

from __future__ import annotations

import mimetypes
import re

from ._names import sanitize_filename, split_ext
from ._values import has_control

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


def accept_tokens(accept: str) -> list[str]:
    """The tokens of an ``accept`` string, lower-cased."""
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
    tokens = accept_tokens(accept)
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
