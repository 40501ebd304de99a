"""What an origin is (pure): one in a CORS rule (`validate_origin`), one a page may state
(`page_origin`), and those of notebook hosts that give each output view an origin of its
own (VS Code's notebook webviews, Google Colab's output frames): `host_of` recognises
such an origin, and each host names the one CORS pattern S3 accepts that lets it in.

A bucket's CORS rule can't name such an origin exactly: it is random per view and
changes when the notebook is opened again. S3 allows one ``*`` in an ``AllowedOrigin``
(any string otherwise, other schemes than http(s) included), so one pattern per host
works, and lets in every page of that host (any VS Code webview; any Colab output frame,
whoever's notebook it is). The presigned URLs, which the kernel hands to this page only,
carry the permission; CORS only decides which pages may send them and read S3's answer.

Sources for the origins (not tested here: neither host runs on these machines):
VS Code desktop ``vscode-webview://<random id>`` (ipywidgets' errors quoted in
holoviz/panel#8051 and K3D-tools/K3D-jupyter#509; a fresh id per webview:
anomalyco/opencode#28806); VS Code for the Web ``https://<random>.vscode-cdn.net``
(microsoft/vscode-jupyter#9773); Colab output frames
``https://<random>-<hash>-0-colab.googleusercontent.com`` served as ``/outputframe.html``
(as read from a frame's ``window.location`` in paddymul/buckaroo).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = [
    "HOSTS",
    "Host",
    "allowed_origin_for",
    "exact_page_origin",
    "host_note",
    "host_of",
    "page_origin",
    "validate_origin",
]


@dataclass(frozen=True)
class Host:
    """A notebook host whose output pages have an origin per view."""

    name: str
    """The host, as people call it: "VS Code"."""
    pattern: str
    """The ``AllowedOrigin`` (one ``*``) that lets every such page upload."""
    also_allows: str
    """Who else that pattern lets in, in words."""
    _shape: re.Pattern[str]

    def matches(self, origin: str) -> bool:
        """Whether `origin` is exactly a page origin of this host (no lookalikes)."""
        return bool(self._shape.fullmatch(origin))


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # one DNS label, lower case

HOSTS = (
    Host(
        "VS Code",
        "vscode-webview://*",
        "every VS Code webview (any extension's, on any machine)",
        re.compile(r"vscode-webview://[a-z0-9][a-z0-9-]{0,127}"),
    ),
    Host(
        "VS Code for the Web",
        "https://*.vscode-cdn.net",
        "every webview of VS Code for the Web (vscode.dev, Codespaces in a browser)",
        re.compile(rf"https://{_LABEL}\.vscode-cdn\.net"),
    ),
    Host(
        "Google Colab",
        "https://*-colab.googleusercontent.com",
        "every Colab output frame, whoever's notebook it is",
        re.compile(rf"https://{_LABEL}-colab\.googleusercontent\.com"),
    ),
)


def host_of(origin: object) -> Host | None:
    """The host whose output page has `origin`, or None (any other value, never raises)."""
    if not isinstance(origin, str) or len(origin) > 255:
        return None
    return next((h for h in HOSTS if h.matches(origin)), None)


def allowed_origin_for(origin: str) -> str:
    """What a CORS rule must allow for a page at `origin`: its host's pattern for a host
    page (its own origin changes with every view), else `origin` itself."""
    host = host_of(origin)
    return host.pattern if host else origin


def exact_page_origin(origin: str) -> str:
    """`origin`, for ``w.configure_cors()`` to write; a ValueError naming the host's
    pattern for a host view's origin (new with every view: allowing it exactly would not
    last; the pattern lets in more pages, so it is written only when passed explicitly)."""
    host = host_of(origin)
    if host is None:
        return origin
    raise ValueError(
        f"This page is a {host.name} output view; its origin ({origin}) is new with every "
        f"view, so allowing it would not last. Allow the host's pattern instead, which lets "
        f'in {host.also_allows}: w.configure_cors(["{host.pattern}"])'
    )


def host_note(origin: str) -> str:
    """A sentence on why `origin` is allowed by a pattern, or "" for other origins."""
    host = host_of(origin)
    if host is None:
        return ""
    return (
        f" This page is a {host.name} output view: its origin ({origin}) is new with every "
        f"view, so S3 cannot allow it exactly; the pattern {host.pattern} (the one '*' S3 "
        f"allows) lets it in, and with it {host.also_allows}. The presigned URLs, signed "
        "for this widget only, still decide what may be uploaded."
    )


# -- origins a page may state, and those of CORS rules -------------------------------------
_ORIGIN_RE = re.compile(
    r"""(?P<scheme>[a-z][a-z0-9+.\-]*)://
        (?P<host>\[[0-9a-f:.]+\]                # [IPv6]
          |[a-z0-9\-._~%!$&'()+,;=]+)          # host name or IPv4
        (?::(?P<port>[0-9]{1,5}))?
    """,
    re.VERBOSE,
)
MAX_ORIGIN_CHARS = 255  # the longest origin page_origin takes (a host: 253 at most)
_PAGE_SCHEMES = {"http": "80", "https": "443"}  # scheme: its default port
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def validate_origin(origin: object, *, allow_wildcard: bool = True) -> str:
    """Return `origin` if it can name a browser origin in an S3 CORS rule; else ValueError.

    Valid: ``scheme://host`` or ``scheme://host:port`` (what browsers send in ``Origin``:
    lower case, no path, no trailing slash), ``*``, or such an origin with one ``*`` in it
    (``http://localhost:*``, ``https://*.example.com``) when `allow_wildcard`.
    """
    if not isinstance(origin, str):
        raise ValueError(f"an origin must be a string like 'http://localhost:8888', got {origin!r}")
    if not origin or not origin.strip():
        raise ValueError("an origin must not be empty: use e.g. 'http://localhost:8888'")
    if origin != origin.strip() or any(c.isspace() for c in origin):
        raise ValueError(f"origin {origin!r} contains spaces")
    stars = origin.count("*")
    if stars and not allow_wildcard:
        raise ValueError(
            f"origin {origin!r} is a pattern; give the page's exact origin, "
            "e.g. 'http://localhost:8888'"
        )
    if stars > 1:
        raise ValueError(
            f"origin {origin!r} has {stars} '*': S3 allows at most one wildcard per origin"
        )
    if origin == "*":
        return origin
    if origin != origin.lower():
        raise ValueError(
            f"origin {origin!r} has capitals: browsers send origins in lower case and S3 "
            f"compares them case-sensitively, so use {origin.lower()!r}"
        )
    # A '*' stands for any text: the origin is valid if some text in its place is.
    candidates = [origin.replace("*", x) for x in ("a", "1")] if stars else [origin]
    if any(_ORIGIN_RE.fullmatch(c) for c in candidates):
        return origin
    if "://" not in origin:
        raise ValueError(
            f"origin {origin!r} has no scheme: write it as the browser sends it, "
            f"e.g. 'http://{origin}'"
        )
    scheme, _, rest = origin.partition("://")
    if "/" in rest or "?" in rest or "#" in rest:
        host = re.split(r"[/?#]", rest, maxsplit=1)[0]
        raise ValueError(
            f"origin {origin!r} has a path: an origin is only scheme://host[:port], "
            f"so use {scheme + '://' + host!r}"
        )
    raise ValueError(
        f"origin {origin!r} is not of the form scheme://host[:port] "
        "(e.g. 'http://localhost:8888', 'https://*.example.com' or '*')"
    )


def _is_page_host(host: str) -> bool:
    """A host as a browser writes it in an origin: a DNS name, a dotted IPv4 or [IPv6]."""
    if host.startswith("["):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    labels = host.split(".")
    if labels[-1].isdigit():  # browsers read such a host as IPv4 and write it dotted
        try:
            return str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            return False
    return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def page_origin(value: object) -> str:
    """`value` if a browser can have sent it as its page's origin, else ``""``; never raises.

    Valid: exactly ``http(s)://host[:port]`` as browsers write it: a DNS name (letters,
    digits, ``-``, ``_``; punycode), a dotted IPv4 or an ``[IPv6]``; a port of 1 to 65535,
    no leading zero, not the scheme's default; lower case; at most 255 characters. Or a
    host view's origin (`host_of`: ``vscode-webview://<id>``; its advice names the
    host's pattern). Not: a pattern, ``null``, a path, query, fragment or user info, other
    schemes, whitespace, controls, lone surrogates, capitals, a non-str. The session keeps
    the ``hello`` origin only through this: no advice names one a page made up."""
    if host_of(value) is not None:
        return value
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ORIGIN_CHARS:
        return ""
    try:
        validate_origin(value, allow_wildcard=False)
    except ValueError:
        return ""
    match = _ORIGIN_RE.fullmatch(value)
    if match is None or match["scheme"] not in _PAGE_SCHEMES:
        return ""
    port = match["port"]
    if port is not None and (
        port.startswith("0") or int(port) > 65535 or port == _PAGE_SCHEMES[match["scheme"]]
    ):
        return ""
    return value if _is_page_host(match["host"]) else ""
