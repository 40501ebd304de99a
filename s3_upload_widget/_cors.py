"""The bucket CORS rule the widget needs: add the rule (`configure_cors`) and explain what
is missing (`check_cors`, the pure `cors_problems`). What an origin is, and which one a
page may state (`validate_origin`, `page_origin`), is `_origins`' (re-exported here).

The browser PUTs bytes straight to S3, so S3 must answer the browser's CORS checks for the
notebook's origin (for example ``http://localhost:8888``): allow ``PUT`` from that origin,
allow the request headers the widget sends (``Content-Type``, ``If-None-Match``), and
expose ``ETag`` (the browser must read each part's ETag to complete a multipart upload).
The rule `configure_cors` writes allows that and no more. The page names its own origin,
and a tampered page can name ``*``: only `page_origin`'s ``http(s)://host[:port]`` is
ever advised or written for a page (for a VS Code or Colab view, whose origin changes
with each view, its host's fixed pattern is advised: `_origins`); wildcards are written
only on the user's own call.

Matching follows S3's rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html):
an ``AllowedOrigin`` is either exact or holds one ``*`` that matches any characters, and
origins compare case-sensitively; ``AllowedHeader`` patterns compare case-insensitively;
for a request S3 uses the *first* rule that matches its origin, method (and, for a
preflight, every requested header).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._errors import UploadError, explain_client_error
from ._origins import allowed_origin_for, host_note, page_origin, validate_origin

# ._client (boto3) is imported only where S3 is called: the session needs page_origin.

__all__ = [
    "RULE_ID",
    "check_cors",
    "configure_cors",
    "cors_problems",
    "origin_matches",
    "page_origin",
    "validate_origin",
]

RULE_ID = "s3-upload-widget"
"""The ID of the rule `configure_cors` writes; re-running it updates this rule."""

REQUIRED_METHOD = "PUT"
"""The only method the browser uses: it PUTs whole files and multipart parts. Creating,
completing and aborting multipart uploads happen in the kernel with boto3, not in CORS."""

REQUEST_HEADERS = ("content-type", "if-none-match")
"""The request headers the widget's PUTs carry, as they appear in a preflight."""

FORM_POST_METHOD = "POST"
"""Small files go as form POSTs where a rule allows it (`_form_post`): no preflight."""

RULE_METHODS = (REQUIRED_METHOD, FORM_POST_METHOD)
RULE_HEADERS = (*REQUEST_HEADERS, "content-disposition", "cache-control", "content-encoding",
                "x-amz-*")  # fmt: skip
"""The request headers the widget sends or may sign. S3 matches each one a preflight asks
for against these case-insensitively, a ``*`` standing for any text (``x-amz-*``: the
encryption, tagging, storage class, metadata and checksum headers)."""
RULE_EXPOSE = ("ETag",)
RULE_MAX_AGE = 3000

_NO_CORS_CODES = {"NoSuchCORSConfiguration"}
_DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "AccessDeniedException"}


# -- origins ------------------------------------------------------------------------------
def _q(text: str) -> str:
    """Quote a name the way the rest of the messages do: "my-bucket"."""
    return json.dumps(text)


def _fix(bucket: str, origin: str) -> str:
    # A host view's origin changes with each view: the fix names its host's pattern.
    return f"configure_cors({_q(bucket)}, [{_q(allowed_origin_for(origin))}])"


def _origins_list(origins: str | Iterable[str]) -> list[str]:
    if isinstance(origins, str):
        origins = [origins]
    try:
        items = list(origins)
    except TypeError:
        raise ValueError(
            f"origins must be a string or a list of strings, got {origins!r}"
        ) from None
    if not items:
        raise ValueError("origins is empty: give at least one, e.g. ['http://localhost:8888']")
    out: list[str] = []
    for origin in items:
        validate_origin(origin)
        if origin not in out:
            out.append(origin)
    return out


def _wildcard_match(pattern: str, value: str) -> bool:
    """S3's matching: exact, or one '*' standing for any (possibly empty) text."""
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    if "*" in tail:  # S3 refuses such rules; match the rest literally rather than guess
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def origin_matches(allowed_origin: str, origin: str) -> bool:
    """Whether an ``AllowedOrigin`` entry lets `origin` in (case-sensitive, one ``*``)."""
    return _wildcard_match(allowed_origin, origin)


def _header_allowed(patterns: Sequence[str], header: str) -> bool:
    return any(_wildcard_match(p.lower(), header.lower()) for p in patterns)


# -- pure analysis ------------------------------------------------------------------------
def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def cors_problems(
    rules: Sequence[Mapping[str, Any]] | None,
    origin: str,
    *,
    bucket: str = "your-bucket",
    request_headers: Sequence[str] = REQUEST_HEADERS,
) -> list[str]:
    """What keeps a browser at `origin` from uploading, given a bucket's CORS rules.

    `rules` is the ``CORSRules`` list of ``get_bucket_cors`` (``None`` or ``[]``: the bucket
    has no CORS configuration). Returns sentences that name the bucket and the origin and
    end with the fix; ``[]`` when uploads from `origin` can work. A rule broader than the
    widget's own (more methods, ``AllowedHeaders ['*']``) is fine. `request_headers`: the
    headers the uploads' PUTs carry (default: ``content-type``, ``if-none-match``; add
    the ``x-amz-…`` headers the widget signs, if any).
    """
    wanted = [h.lower() for h in request_headers]
    validate_origin(origin, allow_wildcard=False)
    fix = _fix(bucket, origin)
    if not rules:
        return [
            f"Bucket {_q(bucket)} has no CORS configuration, so the browser at {origin} "
            f"may not upload to it.{host_note(origin)} Fix: {fix}"
        ]

    origin_rules = [
        r
        for r in rules
        if any(origin_matches(o, origin) for o in _as_list(r.get("AllowedOrigins")))
    ]
    if not origin_rules:
        allowed = sorted({o for r in rules for o in _as_list(r.get("AllowedOrigins"))})
        listed = ", ".join(allowed[:10]) if allowed else "none"
        if len(allowed) > 10:
            listed += f" and {len(allowed) - 10} more"
        near = [a for a in allowed if origin_matches(a.lower().rstrip("/"), origin)]
        why = (
            f"; {', '.join(near)} never matches: S3 compares origins exactly and "
            "case-sensitively, and browsers send them in lower case without a trailing slash"
            if near
            else ""
        )
        return [
            f"No CORS rule of bucket {_q(bucket)} allows the origin {origin} "
            f"(the rules allow: {listed}{why}).{host_note(origin)} Fix: {fix}"
        ]

    put_rules = [
        r
        for r in origin_rules
        if REQUIRED_METHOD in {m.upper() for m in _as_list(r.get("AllowedMethods"))}
    ]
    if not put_rules:
        methods = sorted(
            {m.upper() for r in origin_rules for m in _as_list(r.get("AllowedMethods"))}
        )
        return [
            f"The CORS rules of bucket {_q(bucket)} that match {origin} allow "
            f"{', '.join(methods) or 'no method'} but not PUT, which uploads need. Fix: {fix}"
        ]

    problems: list[str] = []
    # Preflight: S3 uses the first rule matching origin, method and every requested header.
    if not any(
        all(_header_allowed(_as_list(r.get("AllowedHeaders")), h) for h in wanted)
        for r in put_rules
    ):
        first = _as_list(put_rules[0].get("AllowedHeaders"))
        missing = [h for h in wanted if not _header_allowed(first, h)]
        problems.append(
            f"The CORS rule of bucket {_q(bucket)} for {origin} does not allow the request "
            f"header(s) {', '.join(missing)} that uploads send (AllowedHeaders "
            f"{first or '[]'}; the widget's rule allows {list(RULE_HEADERS)}). Fix: {fix}"
        )
    # The PUT itself: S3 answers with the first rule matching origin and method, and only
    # that rule's ExposeHeaders reach the page.
    expose = {h.lower() for h in _as_list(put_rules[0].get("ExposeHeaders"))}
    if "etag" not in expose:
        problems.append(
            f"The CORS rule of bucket {_q(bucket)} for {origin} does not expose the ETag "
            "header, so the browser cannot read part ETags and multipart uploads (large "
            f"files) fail. Fix: {fix}"
        )
    return problems


def answers_with_credentials(rules: Sequence[Mapping[str, Any]] | None, origin: str) -> bool:
    """Whether S3, given a bucket's CORS `rules`, answers a page at `origin` with that
    origin and ``Access-Control-Allow-Credentials: true`` for each method the widget
    uses (`RULE_METHODS`), so that its requests may go with credentials (`_pools`).

    S3 answers with the first rule that matches the origin and the method, and echoes the
    origin with credentials only when that rule lets it in by an entry other than ``*``
    (an exact origin, or a pattern like ``http://localhost:*``); for ``*`` it answers
    ``*``, which a browser refuses for a request with credentials. A rule with a ``*``
    entry too does not count: which entry S3 reports then is unknown. A preflight also
    matches the headers asked for, so it may skip a rule that lacks one: later rules of
    the origin and method count too, up to one that allows every header the widget may
    send (`RULE_HEADERS`).
    """
    if not origin:
        return False
    for method in RULE_METHODS:
        matching = [
            r for r in rules or []
            if method in {m.upper() for m in _as_list(r.get("AllowedMethods"))}
            and any(origin_matches(o, origin) for o in _as_list(r.get("AllowedOrigins")))
        ]  # fmt: skip
        if not matching:
            return False
        for rule in matching:
            if "*" in _as_list(rule.get("AllowedOrigins")):
                return False
            headers = _as_list(rule.get("AllowedHeaders"))
            if all(_header_allowed(headers, h) for h in RULE_HEADERS):
                break  # every preflight of the widget stops at this rule
    return True


def merge_rules(rules: Sequence[Mapping[str, Any]] | None, origins: list[str]) -> list[dict]:
    """`rules` with our rule (ID ``s3-upload-widget``) first and `origins` merged into it.

    Ours is rewritten to allow exactly what uploads use (`RULE_METHODS`, `RULE_HEADERS`,
    `RULE_EXPOSE`): only its origins are kept, and whatever older versions or hand edits
    added (``GET``, ``POST``, ``HEAD``, ``*``) is dropped. Other rules stay as they are,
    in their order. Ours goes first because S3 applies the first rule that matches a
    request: an older rule for the origin that lacks PUT or ``ETag`` would still win.
    """
    ours = [r for r in rules or [] if r.get("ID") == RULE_ID]
    others = [dict(r) for r in rules or [] if r.get("ID") != RULE_ID]
    allowed: list[str] = []
    # normally one rule of ours; several (edited by hand) are folded into one
    for origin in [o for r in ours for o in _as_list(r.get("AllowedOrigins"))] + origins:
        if origin not in allowed:
            allowed.append(origin)
    rule = {
        "ID": RULE_ID,
        "AllowedOrigins": allowed,
        "AllowedMethods": list(RULE_METHODS),
        "AllowedHeaders": list(RULE_HEADERS),
        "ExposeHeaders": list(RULE_EXPOSE),
        "MaxAgeSeconds": RULE_MAX_AGE,
    }
    return [rule, *others]


# -- S3 -----------------------------------------------------------------------------------
def _denied(bucket: str, action: str, exc: BaseException, extra_hint: str = "") -> UploadError:
    """An access-denied UploadError that names the permission `action` in its words."""
    base = explain_client_error(exc, bucket=bucket, action=action)
    hint = base.hint
    if action not in f"{base.message} {hint}":
        hint = f"It needs the {action} permission on bucket {_q(bucket)}. {hint}".strip()
    if extra_hint:
        hint = f"{hint} {extra_hint}"
    return UploadError("access-denied", base.message, hint)


def _get_rules(client, bucket: str) -> list[dict[str, Any]]:
    """The bucket's CORS rules ([] when it has none). Raises ClientError otherwise."""
    from ._client import error_code

    try:
        response = client.get_bucket_cors(Bucket=bucket)
    except Exception as exc:
        if error_code(exc) in _NO_CORS_CODES:
            return []
        raise
    return [dict(r) for r in response.get("CORSRules", [])]


def allows_method(client, bucket: str, origin: str, method: str) -> bool:
    """Whether a CORS rule of the bucket lets a page at `origin` send `method` and read
    the answer's ETag; False when the rules cannot be read (a role without
    s3:GetBucketCORS), so a caller falls back to what it knows works."""
    try:
        rules = _get_rules(client, bucket)
    except Exception:
        return False
    return any(
        any(origin_matches(o, origin) for o in _as_list(r.get("AllowedOrigins")))
        and method in {m.upper() for m in _as_list(r.get("AllowedMethods"))}
        and "etag" in {h.lower() for h in _as_list(r.get("ExposeHeaders"))}
        for r in rules
    )


def configure_cors(bucket: str, origins: str | Iterable[str], client=None) -> dict[str, Any]:
    """Let browsers at `origins` upload to `bucket`; keep the bucket's other CORS rules.

    Adds (or updates) one rule, ID ``s3-upload-widget``, that allows what uploads use and
    no more: method PUT; request headers ``content-type``, ``if-none-match``,
    ``content-disposition``, ``cache-control``, ``content-encoding`` and ``x-amz-*``;
    ``ETag`` exposed; ``MaxAgeSeconds`` 3000; the given origins merged with the ones it
    already had (anything else an older version or a hand edit put in that rule, such as
    GET or ``*`` headers, is dropped). Re-running it with the same origins changes
    nothing; with new ones, adds them to that rule. Every other rule is kept unchanged.

    `origins`: one origin or a list, each ``scheme://host[:port]`` as the browser sends it
    (the notebook page's origin, e.g. ``http://localhost:8888``), or a pattern with one
    ``*`` (``http://localhost:*``, or a host's such as ``vscode-webview://*``: see
    `_origins.HOSTS`), or ``*``. Raises ValueError for anything else.
    Patterns are yours to choose: the widget never writes one on a page's word (see
    `page_origin`).

    Returns the bucket's new CORS configuration, ``{"CORSRules": [...]}``; when the rule
    is already as wanted, writes nothing.
    Raises UploadError when S3 refuses: it reads the current rules first (needs
    ``s3:GetBucketCORS``) so that it never drops them, then writes (``s3:PutBucketCORS``).
    """
    if not isinstance(bucket, str) or not bucket:
        raise ValueError(f"bucket must be a non-empty string, got {bucket!r}")
    wanted = _origins_list(origins)
    from ._client import default_client, error_code

    s3 = client if client is not None else default_client()

    try:
        rules = _get_rules(s3, bucket)
    except Exception as exc:
        if error_code(exc) in _DENIED_CODES:
            raise _denied(
                bucket,
                "s3:GetBucketCORS",
                exc,
                "configure_cors reads the current rules first so that it never drops "
                "them; ask for s3:GetBucketCORS and s3:PutBucketCORS, or have an "
                "administrator add the rule.",
            ) from exc
        raise explain_client_error(exc, bucket=bucket, action="s3:GetBucketCORS") from exc

    config = {"CORSRules": merge_rules(rules, wanted)}
    if config["CORSRules"] == rules:
        return config  # already there: nothing to write (and no s3:PutBucketCORS needed)
    try:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=config)
    except Exception as exc:
        if error_code(exc) in _DENIED_CODES:
            raise _denied(bucket, "s3:PutBucketCORS", exc) from exc
        raise explain_client_error(exc, bucket=bucket, action="s3:PutBucketCORS") from exc
    return config


def check_cors(
    bucket: str, origin: str, client=None, *, request_headers: Sequence[str] = REQUEST_HEADERS
) -> list[str]:
    """The problems that keep a browser at `origin` from uploading to `bucket`, in words.

    Returns ``[]`` when the bucket's CORS rules let `origin` upload. Each problem names
    the bucket and the origin and ends with the fix, ``configure_cors(bucket, [origin])``.
    When the rules can't be read (no ``s3:GetBucketCORS``), returns one sentence saying so
    and what to check by hand. Other failures (no credentials, no such bucket, S3 not
    reachable) raise UploadError. `request_headers`: as for `cors_problems`.
    """
    validate_origin(origin, allow_wildcard=False)
    from ._client import default_client, error_code

    s3 = client if client is not None else default_client()
    try:
        rules = _get_rules(s3, bucket)
    except Exception as exc:
        if error_code(exc) in _DENIED_CODES:
            return [
                f"Could not read the CORS configuration of bucket {_q(bucket)} (access denied: "
                f"it needs s3:GetBucketCORS), so check by hand that a rule allows origin "
                f"{allowed_origin_for(origin)}, method PUT, the request headers "
                f"{', '.join(request_headers)} and ExposeHeaders ['ETag'], "
                f"or have someone allowed to run {_fix(bucket, origin)}"
            ]
        raise explain_client_error(exc, bucket=bucket, action="s3:GetBucketCORS") from exc
    return cors_problems(rules, origin, bucket=bucket, request_headers=request_headers)
