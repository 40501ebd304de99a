"""Checks of values that come from outside: whole numbers, control characters, UTF-8.

Pure functions with no package imports, shared by the option checks, the policy (file
names, keys), the signer and the session (whatever the browser sends).
"""

from __future__ import annotations

import unicodedata


def is_int(value: object) -> bool:
    """Whether ``value`` is an int and not a bool (True is not a file size)."""
    return isinstance(value, int) and not isinstance(value, bool)


# Cc: C0/C1 controls (newline, tab, NUL, ...); Cf: invisible format characters such as
# U+202E RIGHT-TO-LEFT OVERRIDE, which can make "evil\u202egpj.exe" display as
# "evilexe.jpg"; Cs: lone surrogates, which cannot even be encoded as UTF-8.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def is_control(ch: str) -> bool:
    """Whether ``ch`` is a control, invisible format or lone surrogate character."""
    return unicodedata.category(ch) in _CONTROL_CATEGORIES


def has_control(text: str) -> bool:
    """Whether ``text`` holds any character for which :func:`is_control` is true."""
    return any(is_control(ch) for ch in text)


def utf8_len(text: str) -> int:
    """The length of ``text`` in bytes of UTF-8 (lone surrogates count as 3)."""
    return len(text.encode("utf-8", "surrogatepass"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` of UTF-8 (whole chars)."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cut for display in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_text(value: object, limit: int) -> str:
    """``value`` as a str that can always be sent and saved: ``""`` if it is not a str,
    lone surrogates replaced by U+FFFD (they cannot be encoded as UTF-8, and one of them
    in a trait would stop every later update), cut to ``limit`` characters."""
    if not isinstance(value, str):
        return ""
    text = value[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text
