"""File names and folder paths from the browser, made safe to put in a key.

Pure functions: a name or a path is whatever the page sent; what comes out has no path
separators of its own (names), no ``.``, ``..`` or empty segments (paths), no control
characters, and fits a key.
"""

from __future__ import annotations

import re
import unicodedata

from ._values import is_control, truncate_utf8, utf8_len

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


MAX_FOLDER_DEPTH = 64
"""Folders kept in a relative path; deeper ones are joined into the last kept one."""


def sanitize_relative_path(relative_path: str, name: str) -> str:
    """The file's path inside the folder that was picked or dropped, safe for a key.

    ``"photos/2024/a.jpg"`` stays as it is; each folder is cleaned like a file name
    (:func:`sanitize_filename`), ``\\`` counts as ``/``, and empty, ``.`` and ``..``
    segments are dropped, so the path can never climb out of where it is put. The last
    segment is always the cleaned ``name``: a loose file (``""``) gives just its name.
    """
    parts = re.split(r"[/\\]", str(relative_path))[:-1]  # the last part is the file
    folders = [sanitize_filename(p) for p in parts if p.strip(" ") and set(p.strip(" ")) != {"."}]
    if len(folders) > MAX_FOLDER_DEPTH:
        folders = [*folders[: MAX_FOLDER_DEPTH - 1], "_".join(folders[MAX_FOLDER_DEPTH - 1 :])]
        folders[-1] = sanitize_filename(folders[-1])
    return "/".join([*folders, sanitize_filename(name)])
