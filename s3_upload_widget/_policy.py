"""What may be uploaded and under which key: the file description, the rules, the key.

Pure functions and dataclasses (no boto3, no widget): everything the browser sends is
untrusted, and this module is where it is checked. The front end only *asks*; the key,
content type and size that get signed come from here.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ._errors import UploadError
from ._names import MAX_NAME_CHARS, sanitize_filename, sanitize_relative_path, split_ext
from ._options import DEFAULT_KEY_TEMPLATE, PLACEHOLDERS, check_option
from ._sizes import MAX_KEY_BYTES, MAX_OBJECT_SIZE, format_size
from ._types import accept_tokens, content_type_for, file_type, is_accepted
from ._values import has_control, is_int, shorten, utf8_len

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


# --- files and policy --------------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    """A file the browser wants to upload, as it describes it (untrusted)."""

    name: str
    size: int
    content_type: str
    relative_path: str = ""  # path inside a picked or dropped folder; "" for a loose file
    last_modified: int | None = None  # the File's lastModified (ms); None when not sent

    @classmethod
    def from_message(cls, obj: object) -> FileInfo:
        """Validate ``{"name": str, "size": int, "type": str, "relative_path": str,
        "last_modified": int}`` from the browser (``relative_path`` optional: ``""`` for a
        loose file; ``last_modified`` optional, the File's lastModified in ms).

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
        relpath = obj.get("relative_path", "")
        if not isinstance(relpath, str) or len(relpath) > MAX_NAME_CHARS:
            raise bad(f"relative_path of {shorten(name)!r} must be a text of at most 4096 chars")
        modified = obj.get("last_modified")
        if modified is not None and (not is_int(modified) or modified < 0):
            raise bad(f"last_modified of {shorten(name)!r} must be a non-negative whole number")
        return cls(name=name, size=size, content_type=ctype, relative_path=relpath,
                   last_modified=modified)  # fmt: skip


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
                f"{', '.join(accept_tokens(self.accept))}.",
                "Choose a file of one of those types, or change accept= when creating the widget.",
            )

    def content_type(self, info: FileInfo) -> str:
        """The Content-Type to sign for ``info`` (`content_type_for` under this policy's
        ``allow_active_types``): what the record shows and S3 stores."""
        return content_type_for(
            info.name, info.content_type, allow_active_types=self.allow_active_types
        )

    def key_fields(
        self, info: FileInfo, *, now: datetime | None = None, uuid=None, batch: str = ""
    ) -> dict:
        """The values a key template gets: the placeholders plus ``original_name``,
        ``size`` and ``content_type`` (only callables see those three). ``batch`` is the
        id of the pick or drop the file came in (random when not given)."""
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
            "relpath": sanitize_relative_path(info.relative_path, info.name),
            "batch": batch or uuidlib.uuid4().hex[:16],
            "original_name": info.name,
            "size": info.size,
            "content_type": self.content_type(info),
        }

    def make_key(
        self, info: FileInfo, *, now: datetime | None = None, uuid=None, batch: str = ""
    ) -> str:
        """The S3 key for a file, always under ``prefix``.

        ``now`` (default: current UTC time) and ``uuid`` (a ``uuid.UUID`` or a str; default:
        random) make keys reproducible in tests. A rendered key that does not start with
        the prefix gets it prepended; a key that is still unsafe (``..`` or ``.`` or empty
        segment, leading ``/``, control characters, over 1024 bytes) raises
        ``UploadError("bad-name")`` naming the file.
        """
        fields = self.key_fields(info, now=now, uuid=uuid, batch=batch)
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
