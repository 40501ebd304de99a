"""Small files as browser form POSTs: which files may go that way, and their presigned
POST policies.

A PUT from a page to another origin with signed headers is a CORS "non-simple" request:
the browser sends a preflight first, one more round trip per file, and since every
presigned URL differs none is cached. A ``multipart/form-data`` POST with no custom header
is a "simple" request and has none; on an 80 ms link that made 200 small files ~2x as
fast (docs/LEARNED.md). The policy the kernel signs pins what the page may send: the exact
key, the exact length, the content type, the object options, and the body's MD5
(``Content-MD5``, which S3 checks). A POST cannot carry ``If-None-Match``, so a file goes
this way only when no other upload can want its key: ``overwrite`` is on, or each pick
(``{batch}``) or file (``{uuid}``) gets keys of its own.
"""

from __future__ import annotations

import re
import string
from typing import Any

from ._errors import UploadError
from ._extra_args import headers_for, normalize_extra_args
from ._protocol import FORM_POST_MAX_BYTES

# FORM_POST_MAX_BYTES (the protocol's, shared with the page): a form POST's answer is
# awaited without upload progress events (a listener on ``xhr.upload`` makes the request
# non-simple again), so the files stay small enough to be sent in about a round trip.

# ExtraArgs headers and the form fields S3's POST Object reads them from. A file whose
# options need any other header (tagging, bucket keys) goes as a PUT.
_FORM_FIELDS = {
    "x-amz-server-side-encryption": "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-storage-class": "x-amz-storage-class",
    "x-amz-acl": "acl",
    "content-disposition": "Content-Disposition",
    "cache-control": "Cache-Control",
    "content-encoding": "Content-Encoding",
}


def check_form_posts(value: object) -> bool | str:
    """The ``form_posts`` option's rule: "auto", True or False (ValueError otherwise).
    "auto" is on for AWS's S3 endpoints and LocalS3's server, off for other S3-compatible
    servers, which may answer a POST without CORS headers (moto on its own) or ignore its
    policy (s3rver): `resolve_form_posts`."""
    if value is True or value is False or value == "auto":
        return value  # type: ignore[return-value]
    raise ValueError(
        f"form_posts must be 'auto', True or False, not {value!r}. True sends files under "
        "1 MiB as form POSTs (no CORS preflight: a round trip less per file); 'auto' does so "
        "on AWS and LocalS3, whose answers to a POST a page can read; False never."
    )


_MD5 = re.compile(r"[A-Za-z0-9+/]{22}==")  # base64 of 16 bytes, as Content-MD5 carries it


def form_fields(headers: dict[str, str]) -> dict[str, str] | None:
    """The form fields that carry an upload's object options (``headers``, as
    `_extra_args.headers_for` gives them); None when one has no form field."""
    fields = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("x-amz-meta-"):
            fields[lower] = value
        elif lower in _FORM_FIELDS:
            fields[_FORM_FIELDS[lower]] = value
        else:
            return None
    return fields


def keys_are_private(key_template: Any, overwrite: bool) -> bool:
    """Whether no other upload can want a key this template makes (or may replace it):
    without ``If-None-Match`` nothing else would stop a POST replacing an object."""
    if overwrite:
        return True
    if not isinstance(key_template, str):
        return False  # a function's keys are unknown until it runs
    # Parsed, not searched: "{{batch}}" is the literal text "{batch}", the same for all.
    names = {name for _, name, _, _ in string.Formatter().parse(key_template) if name}
    return bool(names & {"batch", "uuid"})


def read_md5(value: object, what: str) -> str:
    """The MD5 the page computed for ``what``, as ``Content-MD5`` carries it (base64 of 16
    bytes); ``UploadError("bad-request")`` for anything else."""
    if isinstance(value, str) and _MD5.fullmatch(value):
        return value
    raise UploadError(
        "bad-request",
        f"The page sent no valid MD5 for {what} (got {str(value)[:40]!r}).",
        "Reload the page so it runs this version of the widget; if it persists, report a bug.",
    )


def presign_post(
    client: Any,
    bucket: str,
    key: str,
    *,
    size: int,
    content_type: str,
    fields: dict[str, str],
    content_md5: str,
    expires_in: int,
) -> tuple[str, dict[str, str]]:
    """The URL and form fields of a presigned POST of exactly ``size`` bytes of
    ``content_type`` to ``key``, with ``fields`` (`form_fields`) and, when given, the
    body's ``content_md5``: each is a condition of the signed policy, so S3 refuses a
    form that changes any of them, or another length. The page appends the file last."""
    pinned = {"Content-Type": content_type, **fields}
    if content_md5:
        pinned["Content-MD5"] = content_md5
    conditions: list = [{name: value} for name, value in pinned.items()]
    conditions.append(["content-length-range", size, size])
    answer = client.generate_presigned_post(
        Bucket=bucket, Key=key, Fields=pinned, Conditions=conditions, ExpiresIn=expires_in
    )
    return answer["url"], {name: str(value) for name, value in answer["fields"].items()}


_SERVERS_ANSWERING_POSTS: set[str] = set()


def register_post_server(endpoint_url: str) -> None:
    """Record that the S3 at ``endpoint_url`` answers a browser's form POST with CORS
    headers and its ETag (LocalS3 makes its moto server do so), for ``form_posts="auto"``."""
    _SERVERS_ANSWERING_POSTS.add(endpoint_url.rstrip("/"))


def posts_by_default(client: Any) -> bool:
    """What ``form_posts="auto"`` means for ``client``: AWS's own S3, or a server known to
    answer form POSTs (`register_post_server`)."""
    from ._client import is_aws_endpoint

    endpoint = (client.meta.endpoint_url or "").rstrip("/")
    return is_aws_endpoint(client) or endpoint in _SERVERS_ANSWERING_POSTS


def resolve_form_posts(option: Any, client: Any, bucket: str, origin: str) -> bool:
    """Whether small files go as form POSTs under the ``form_posts`` ``option``: True and
    False as they are; "auto" on AWS's S3 or a server known to answer POSTs
    (`posts_by_default`), when a CORS rule of the bucket lets the page's ``origin`` POST
    (a rule written before POSTs were used allows PUT only; then PUTs go, as before)."""
    if option != "auto":
        return bool(option)
    from ._cors import FORM_POST_METHOD, allows_method

    if not origin or not posts_by_default(client):
        return False
    return allows_method(client, bucket, origin, FORM_POST_METHOD)


def plan_form_post(
    *,
    enabled: bool,
    size: int,
    extra_args: dict,
    key_template: Any,
    overwrite: bool,
    checksum: str | None,
    md5: object,
    what: str,
) -> tuple[dict[str, str], str] | None:
    """The form fields and ``Content-MD5`` of a single-PUT-sized file that goes as a form
    POST; None when it goes as a PUT: form POSTs are not ``enabled``
    (`resolve_form_posts`), the file is ``FORM_POST_MAX_BYTES`` or more, its key could be
    wanted by another upload (`keys_are_private`), one of its ``extra_args`` has no form
    field, or the page sent no MD5 while checksums are on."""
    if not enabled or size >= FORM_POST_MAX_BYTES:
        return None
    if not keys_are_private(key_template, overwrite):
        return None
    fields = form_fields(headers_for(normalize_extra_args(extra_args)))
    if fields is None or (checksum and md5 is None):
        return None
    return fields, read_md5(md5, what) if checksum else ""
