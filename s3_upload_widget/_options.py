"""Every option of the widget: its default, its limits and its check, in one place.

`check_option(name, value)` is the only rule for each option: the widget's trait
validators call it at construction and on every later change, and `UploadPolicy` and
`Signer` call it for the options they take. A bad value raises ``ValueError`` naming the
argument, the limit and the fix. Pure: no boto3, no widget.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._extra_args import check_extra_args
from ._form_post import check_form_posts
from ._pools import check_connection_pools
from ._sizes import (
    MAX_AUTO_PART_SIZE,
    MAX_KEY_BYTES,
    MAX_PART_SIZE,
    MAX_SINGLE_PUT,
    MIN_PART_SIZE,
    MiB,
)
from ._values import has_control, is_int, utf8_len

__all__ = ["MAX_AUTO_PART_SIZE", "check_option", "normalize_prefix", "validate_key_template"]

DEFAULT_MULTIPART_THRESHOLD = 16 * MiB
"""Measured (benchmarks/link.md, far-mid): on a far link (80 ms, 60 Mbit/s a connection) a
32 MiB file took 5.1 s as one PUT and 1.9 s as 6 parts; from 16 MiB a file makes at least 3
parts of S3's 5 MiB minimum. On loopback one PUT is faster (benchmarks/results.md: 0.33 vs
0.52 s for 32 MiB, moto assembling the parts), but that is fractions of a second where the
far link saves seconds."""

DEFAULT_CONCURRENCY = 6
"""Measured: on loopback 4 and 6 parts in flight are within noise, but on a far link that
caps each connection (benchmarks/link.md: 80 ms, 60 Mbit/s each) 4 can never use more
than 4 of the browser's 6 connections: 52 % of the link with 4, 65 % with 6."""

MAX_CONCURRENCY = 6
"""A browser opens at most 6 HTTP/1.1 connections to one host."""

MAX_EXTRA_ENDPOINTS = 7
"""``extra_endpoints``: the client's endpoint and at most 7 more names of the same S3, so
at most 8 x 6 requests in flight (benchmarks/link.md measured up to 8 names)."""

DEFAULT_PARALLEL_FILES = 6

CHECKSUM_ALGORITHMS = ("CRC32C",)
"""The additional checksums S3 verifies that the widget can ask for (the page computes it)."""

DEFAULT_CHECKSUM = "CRC32C"
"""Files whose bytes move at once. Measured (benchmarks/results.md, many files): small
files leave a connection idle while a file is signed or completed, so every one of the
browser's 6 connections gets a file of its own; sign and complete are batched."""

DEFAULT_EXPIRES_IN = 900
MAX_EXPIRES_IN = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days

DEFAULT_KEY_TEMPLATE = "{prefix}{batch}/{relpath}"
"""A pick or drop lands as one tree under its own batch folder: a dropped folder keeps
its shape, files of one pick sit together (one prefix to read the dataset back), and no
two picks can collide, since each batch id is new."""


# --- prefix and key template -------------------------------------------------------------


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
    if has_control(prefix):
        raise ValueError(f"prefix {prefix!r} contains control characters.")
    # A trailing "/" is fine ("uploads/"): ignore the empty segment after it.
    segments = prefix.split("/")
    if prefix.endswith("/"):
        segments.pop()
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"prefix {prefix!r} must not contain '.' or '..' segments.")
    if any(s == "" for s in segments):
        raise ValueError(f"prefix {prefix!r} must not contain empty segments ('//').")
    if utf8_len(prefix) >= MAX_KEY_BYTES - 32:
        raise ValueError(
            f"prefix is {utf8_len(prefix)} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes, "
            "which leaves no room for file names."
        )
    return prefix


PLACEHOLDERS = ("prefix", "uuid", "filename", "stem", "ext", "date", "relpath", "batch")
"""The placeholders a string ``key_template`` may use."""

_PLACEHOLDER_HELP = (
    "{prefix} (the widget's prefix), {uuid} (32 random hex digits), {filename} (the file's "
    "sanitized name), {stem} (the name without extension), {ext} (the extension with its "
    "dot, or empty), {date} (today in UTC, YYYY-MM-DD), {relpath} (the file's path inside "
    "the folder picked or dropped, folder included; the file name for a loose file), "
    "{batch} (16 random hex digits, one per pick or drop)"
)

_SAMPLE_FIELDS = {
    "prefix": "uploads/",
    "uuid": "0" * 32,
    "filename": "data.csv",
    "stem": "data",
    "ext": ".csv",
    "date": "2024-01-31",
    "relpath": "photos/2024/data.csv",
    "batch": "0" * 16,
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


# --- every option -------------------------------------------------------------------------


def _whole_number(name: str, value: object, low: int, high: int, unit: str, fix: str) -> int:
    if not is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be {unit}, got {value!r}. {fix}")
    return value


def _bucket(value: object) -> str:
    if (
        not isinstance(value, str)
        or not value
        or "/" in value
        or has_control(value)
        or any(c.isspace() for c in value)
    ):
        raise ValueError(
            f"bucket must be a bucket name such as 'my-bucket', got {value!r}; "
            "put folders in prefix='folder/'."
        )
    return value


def _accept(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"accept must be a str like '.csv,image/*' ('' for any), got {value!r}.")
    return value


def _flag(name: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}.")
        return value

    return check


def _max_size(value: object) -> int | None:
    if value is None:
        return None
    return _whole_number(
        "max_size", value, 0, 2**63, "a number of bytes >= 0 or None", "Use None for no limit."
    )


def _max_files(value: object) -> int | None:
    if value is None:
        return None
    return _whole_number(
        "max_files", value, 1, 2**63, "a whole number >= 1 or None", "Use None for no limit."
    )


def _max_total_files(value: object) -> int | None:
    if value is None:
        return None
    return _whole_number(
        "max_total_files",
        value,
        1,
        2**63,
        "a whole number >= 1 or None",
        "It counts every file this widget accepts in its life; use None for no limit.",
    )


def _expires_in(value: object) -> int:
    return _whole_number(
        "expires_in",
        value,
        1,
        MAX_EXPIRES_IN,
        f"between 1 and {MAX_EXPIRES_IN} seconds (7 days)",
        f"The default, {DEFAULT_EXPIRES_IN}, suits most uploads: URLs are signed just "
        "before use and signed again when they expire.",
    )


def _multipart_threshold(value: object) -> int:
    return _whole_number(
        "multipart_threshold",
        value,
        MIN_PART_SIZE,
        MAX_SINGLE_PUT,
        f"between 5 MiB ({MIN_PART_SIZE:,}) and 5 GiB ({MAX_SINGLE_PUT:,}) bytes: S3's "
        "smallest part and its largest single PUT",
        f"The default is {DEFAULT_MULTIPART_THRESHOLD:,} (16 MiB).",
    )


def _part_size(value: object) -> int | None:
    if value is None:
        return None
    return _whole_number(
        "part_size",
        value,
        MIN_PART_SIZE,
        MAX_PART_SIZE,
        f"between 5 MiB ({MIN_PART_SIZE:,}) and 5 GiB ({MAX_PART_SIZE:,}) bytes, or None",
        f"None lets the widget choose per file: equal parts in whole rounds of concurrency, "
        f"at most {MAX_AUTO_PART_SIZE // MiB} MiB each.",
    )


def _concurrency(value: object) -> int:
    return _whole_number(
        "concurrency",
        value,
        1,
        MAX_CONCURRENCY,
        f"between 1 and {MAX_CONCURRENCY}",
        f"A browser opens at most {MAX_CONCURRENCY} connections to one host.",
    )


def _parallel_files(value: object) -> int:
    return _whole_number(
        "parallel_files",
        value,
        1,
        MAX_CONCURRENCY,
        f"between 1 and {MAX_CONCURRENCY}",
        f"A browser opens at most {MAX_CONCURRENCY} connections to one host.",
    )


def _checksum(value: object) -> str | None:
    if value is None or value in CHECKSUM_ALGORITHMS:
        return value  # type: ignore[return-value]
    raise ValueError(
        f"checksum must be {' or '.join(map(repr, CHECKSUM_ALGORITHMS))} or None, not {value!r}. "
        "With 'CRC32C' the browser computes each part's checksum and S3 refuses bytes that "
        "changed on the way; None turns that off (for a store without additional checksums)."
    )


def _extra_endpoints(value: object) -> tuple[str, ...]:
    fix = (
        "Give a list of endpoint URLs that serve the same bucket under other host names, "
        'like ["https://s3.dualstack.eu-west-1.amazonaws.com"] or ["http://127.0.0.2:9000"]; '
        "[] for none."
    )
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"extra_endpoints must be a list of URLs, not {value!r}. {fix}")
    if len(value) > MAX_EXTRA_ENDPOINTS:
        raise ValueError(
            f"extra_endpoints lists {len(value)} URLs; at most {MAX_EXTRA_ENDPOINTS} are "
            f"used (each adds {MAX_CONCURRENCY} connections). {fix}"
        )
    endpoints: list[str] = []
    for url in value:
        endpoint = _endpoint(url, fix)
        if endpoint in endpoints:
            raise ValueError(f"extra_endpoints names {endpoint} twice. {fix}")
        endpoints.append(endpoint)
    return tuple(endpoints)


def _endpoint(url: object, fix: str) -> str:
    """``scheme://host[:port]`` of an endpoint URL, or ValueError naming what is wrong."""
    parts = urlsplit(url) if isinstance(url, str) else None
    try:
        port = parts.port if parts else None
    except ValueError:
        parts = None  # a port that is no number
    if parts is not None and (parts.username is not None or parts.password is not None):
        raise ValueError(f"extra_endpoints: a URL carries credentials; remove them. {fix}")
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or has_control(url)
    ):
        raise ValueError(
            f"extra_endpoints: {str(url)[:80]!r} is not an endpoint URL (http or https, a "
            f"host and maybe a port; no path, query or credentials). {fix}"
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def _key_template(value: Any) -> Any:
    validate_key_template(value)
    return value


_RULES: dict[str, Callable[[Any], Any]] = {
    "bucket": _bucket,
    "prefix": normalize_prefix,
    "key_template": _key_template,
    "accept": _accept,
    "multiple": _flag("multiple"),
    "overwrite": _flag("overwrite"),
    "max_size": _max_size,
    "max_files": _max_files,
    "max_total_files": _max_total_files,
    "allow_active_types": _flag("allow_active_types"),
    "expires_in": _expires_in,
    "multipart_threshold": _multipart_threshold,
    "part_size": _part_size,
    "concurrency": _concurrency,
    "parallel_files": _parallel_files,
    "checksum": _checksum,
    "extra_args": check_extra_args,
    "extra_endpoints": _extra_endpoints,
    "form_posts": check_form_posts,
    "connection_pools": check_connection_pools,
}

OPTION_NAMES = tuple(_RULES)
"""Every option `check_option` knows."""


def check_option(name: str, value: Any) -> Any:
    """``value`` as the widget will use it, or ``ValueError`` naming ``name``, the limit
    and the fix."""
    return _RULES[name](value)


@dataclass
class SessionOptions:
    """What the session needs besides the policy: the bucket and how to upload."""

    bucket: str
    overwrite: bool = False
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int | None = None
    multiple: bool = True
    max_total_files: int | None = None
    expires_in: int = DEFAULT_EXPIRES_IN
    concurrency: int = DEFAULT_CONCURRENCY
    extra_args: Any = None  # dict, callable per file, or None (checked by check_option)
    checksum: str | None = DEFAULT_CHECKSUM
    extra_endpoints: tuple[str, ...] = ()
    form_posts: Any = "auto"  # True, False or "auto" (see _form_post)
    connection_pools: Any = "auto"  # 1, 2 or "auto" (see _pools)

    @property
    def in_flight(self) -> int:
        """Parts of one file in flight: ``concurrency`` on each host name."""
        return self.concurrency * (1 + len(self.extra_endpoints))


WIDGET_OPTIONS = frozenset(
    {"bucket", "prefix", "client", "key_template", "accept", "multiple", "max_size",
     "overwrite", "expires_in", "max_files", "max_total_files", "allow_active_types",
     "multipart_threshold", "part_size", "concurrency", "parallel_files", "extra_args",
     "checksum", "extra_endpoints", "form_posts", "connection_pools"}
)  # fmt: skip
"""The keyword arguments of ``S3UploadWidget()`` that are its own options."""


def check_keywords(kwargs: dict[str, Any], *, inherited: set[str], outputs: frozenset[str]) -> None:
    """Raise TypeError for a keyword of ``S3UploadWidget()`` that is no option (a typo
    would otherwise be ignored) or is one of the widget's ``outputs``; ``inherited``
    names the base widgets' public traits, which are allowed."""
    for name in kwargs:
        if name in inherited:
            continue
        if name in outputs:
            raise TypeError(
                f"S3UploadWidget() got {name}=, which the widget sets itself as files upload; "
                "read it after an upload instead."
            )
        close = difflib.get_close_matches(name, sorted(WIDGET_OPTIONS | inherited), n=1)
        suggestion = f" Did you mean {close[0]}=?" if close else ""
        raise TypeError(
            f"S3UploadWidget() got an unexpected keyword argument {name!r}.{suggestion} "
            f"Valid options: {', '.join(sorted(WIDGET_OPTIONS))}."
        )
