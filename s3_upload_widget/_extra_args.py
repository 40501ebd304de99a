"""The object options an upload may carry (boto3's ExtraArgs): their checks, and the boto3
parameters and signed HTTP headers they become.

``extra_args`` is a dict in boto3's ``ExtraArgs`` vocabulary, or a callable that returns
one per file. `check_extra_args` is the option's rule (``ValueError`` at construction);
`resolve_extra_args` gives one file's options at sign time (``UploadError``). The names
are the same in ``put_object`` and ``create_multipart_upload``; `headers_for` gives the
headers the browser must send with a presigned PUT, and `browser_headers` keeps those
botocore really signed. Pure: no boto3.
"""

from __future__ import annotations

import copy
import difflib
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

from ._errors import UploadError
from ._values import shorten

SERVER_SIDE_ENCRYPTION = ("AES256", "aws:kms", "aws:kms:dsse")
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")

STORAGE_CLASSES = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
    "FSX_OPENZFS",
    "FSX_ONTAP",
)
"""S3's storage classes, as PutObject takes them."""

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)

MAX_METADATA_BYTES = 2048
"""S3: user metadata (keys plus values, in UTF-8) is at most 2 KB per object."""

MAX_TAGS = 10
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
MAX_HEADER_CHARS = 2048

HEADERS = {
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "BucketKeyEnabled": "x-amz-server-side-encryption-bucket-key-enabled",
    "Metadata": "x-amz-meta-",  # one header per key: x-amz-meta-<key>
    "Tagging": "x-amz-tagging",
    "StorageClass": "x-amz-storage-class",
    "ACL": "x-amz-acl",
    "ContentDisposition": "Content-Disposition",
    "CacheControl": "Cache-Control",
    "ContentEncoding": "Content-Encoding",
}
"""Each supported ExtraArgs name and the HTTP header S3 reads it from."""

SUPPORTED = tuple(HEADERS)

_SSE_C = (
    "SSE-C (customer-provided keys) is not supported: S3 needs the encryption key in "
    "every request that writes the object, so the key would have to be handed to the "
    "browser with each upload URL. Use SSE-KMS instead: "
    "{'ServerSideEncryption': 'aws:kms', 'SSEKMSKeyId': '<key id or ARN>'}."
)
_REFUSED = {
    "SSECustomerKey": _SSE_C,
    "SSECustomerAlgorithm": _SSE_C,
    "SSECustomerKeyMD5": _SSE_C,
    "ContentType": (
        "ContentType cannot be set here: the kernel picks each file's type from its name "
        "and signs it (S3 refuses a PUT of another type). Remove ContentType."
    ),
}

_BOTO3_ONLY = (
    "ChecksumAlgorithm",
    "ContentLanguage",
    "ExpectedBucketOwner",
    "Expires",
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWriteACP",
    "ObjectLockLegalHoldStatus",
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "RequestPayer",
    "SSEKMSEncryptionContext",
    "WebsiteRedirectLocation",
)
"""boto3 ExtraArgs the widget does not pass on (said so by name, not "unknown")."""

_TAG_PUNCTUATION = frozenset(" _.:/=+-@")
_TOKEN_PUNCTUATION = frozenset("!#$%&'*+-.^_`|~")  # RFC 9110 token characters


def _valid_list() -> str:
    return ", ".join(SUPPORTED)


def _printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _text(name: str, value: object, *, fix: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"extra_args[{name!r}] must be a non-empty str, got {value!r}.")
    if not _printable_ascii(value) or len(value) > MAX_HEADER_CHARS:
        raise ValueError(
            f"extra_args[{name!r}] = {shorten(value)!r} must be printable ASCII of at most "
            f"{MAX_HEADER_CHARS} characters: it is sent as an HTTP header. "
            + (fix or "Remove the other characters.")
        )
    return value


def _did_you_mean(given: object, choices: tuple[str, ...]) -> str:
    """`` Did you mean 'X'?`` for the choice closest to ``given`` (any case), or ``""``."""
    folded = {c.lower(): c for c in choices}
    near = difflib.get_close_matches(str(given).lower(), folded, n=1, cutoff=0.5)
    return f" Did you mean {folded[near[0]]!r}?" if near else ""


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        maybe = _did_you_mean(value, choices)
        raise ValueError(
            f"extra_args[{name!r}] must be one of {', '.join(map(repr, choices))}, "
            f"got {value!r}.{maybe}"
        )
    return value  # type: ignore[return-value]


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(
            f"extra_args['Metadata'] must be a dict of str to str, got {type(value).__name__}."
        )
    out: dict[str, str] = {}
    for key, text in value.items():
        if (
            not isinstance(key, str)
            or not key
            or not all(ch.isascii() and (ch.isalnum() or ch in _TOKEN_PUNCTUATION) for ch in key)
        ):
            raise ValueError(
                f"extra_args['Metadata'] key {key!r} must be a non-empty name of ASCII "
                "letters, digits and !#$%&'*+-.^_`|~ (it becomes the header x-amz-meta-<key>)."
            )
        if key.lower().startswith("x-amz-meta-"):
            raise ValueError(
                f"extra_args['Metadata'] key {key!r}: give the name without 'x-amz-meta-' "
                f"({key[11:]!r}); S3 adds the prefix."
            )
        if not isinstance(text, str) or not _printable_ascii(text):
            raise ValueError(
                f"extra_args['Metadata'][{key!r}] must be a str of printable ASCII, got "
                f"{shorten(repr(text))}: S3 sends metadata as HTTP headers. Encode other "
                "text first (for example urllib.parse.quote)."
            )
        if key.lower() in out:
            raise ValueError(
                f"extra_args['Metadata'] names {key!r} twice: S3 stores metadata names in "
                "lower case, so names differing only in case collide."
            )
        out[key.lower()] = text
    size = sum(len(k) + len(v) for k, v in out.items())
    if size > MAX_METADATA_BYTES:
        raise ValueError(
            f"extra_args['Metadata'] is {size:,} bytes (names plus values); S3 allows at most "
            f"{MAX_METADATA_BYTES:,} bytes of user metadata per object. Keep it shorter, or "
            "use Tagging for labels."
        )
    return out


def _tag_text(what: str, text: object, limit: int) -> str:
    if not isinstance(text, str):
        raise ValueError(f"extra_args['Tagging'] {what} {text!r} must be a str.")
    if len(text) > limit:
        raise ValueError(
            f"extra_args['Tagging'] {what} {shorten(text)!r} is {len(text)} characters; "
            f"S3 allows at most {limit}."
        )
    bad = sorted({ch for ch in text if unicodedata.category(ch)[0] not in "LNZ"} - _TAG_PUNCTUATION)
    if bad:
        raise ValueError(
            f"extra_args['Tagging'] {what} {shorten(text)!r} contains {''.join(bad)!r}: S3 "
            "tags allow letters, digits, spaces and _ . : / = + - @ only."
        )
    return text


def _tagging(value: object) -> str:
    """Tags as the URL-encoded ``k=v&k2=v2`` S3 takes, from that string or a dict."""
    if isinstance(value, str):
        try:
            pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise ValueError(
                f"extra_args['Tagging'] = {shorten(value)!r} is not URL-encoded 'key=value' "
                "pairs joined by '&'. Pass a dict instead, e.g. {'project': 'alpha'}, and "
                "the widget encodes it."
            ) from None
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"extra_args['Tagging'] names {', '.join(twice)} more than once.")
        tags = dict(pairs)
    elif isinstance(value, Mapping):
        tags = dict(value)
    else:
        raise ValueError(
            "extra_args['Tagging'] must be a dict {'key': 'value'} or a URL-encoded str "
            f"'key=value&key2=value2', got {type(value).__name__}."
        )
    if len(tags) > MAX_TAGS:
        raise ValueError(
            f"extra_args['Tagging'] has {len(tags)} tags; S3 allows at most {MAX_TAGS} per object."
        )
    for key, text in tags.items():
        _tag_text("key", key, MAX_TAG_KEY_CHARS)
        _tag_text(f"value of {key!r}", text, MAX_TAG_VALUE_CHARS)
        if not key:
            raise ValueError("extra_args['Tagging'] has an empty tag key.")
        if key.lower().startswith("aws:"):
            raise ValueError(f"extra_args['Tagging'] key {key!r}: 'aws:' keys are AWS's own.")
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags.items())


def _unknown(name: object) -> ValueError:
    if name in _REFUSED:
        return ValueError(f"extra_args[{name!r}]: {_REFUSED[name]}")  # type: ignore[index]
    if name in _BOTO3_ONLY:
        return ValueError(
            f"extra_args[{name!r}] is a boto3 option this widget does not pass to S3. "
            f"It supports: {_valid_list()}."
        )
    by_header = {h.lower(): n for n, h in HEADERS.items() if n != "Metadata"}
    maybe = (
        f" Did you mean {by_header[str(name).lower()]!r} (boto3's name for that header)?"
        if str(name).lower() in by_header
        else _did_you_mean(name, SUPPORTED)
    )
    return ValueError(
        f"extra_args has an unknown key {name!r}.{maybe} Valid keys: {_valid_list()}."
    )


def normalize_extra_args(value: object) -> dict[str, Any]:
    """``value`` (a mapping of ExtraArgs names) as the signer uses it: None values left
    out, Metadata names in lower case, Tagging URL-encoded. Raises ``ValueError`` naming
    the key, the problem and the fix."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(
            "extra_args must be a dict of boto3 ExtraArgs such as "
            "{'ServerSideEncryption': 'aws:kms'}, or a callable returning one per file, "
            f"not {type(value).__name__}."
        )
    for name in value:
        if name not in HEADERS:
            raise _unknown(name)
    args = {name: v for name, v in value.items() if v is not None}
    out: dict[str, Any] = {}
    sse = args.get("ServerSideEncryption")
    if "ServerSideEncryption" in args:
        out["ServerSideEncryption"] = _choice("ServerSideEncryption", sse, SERVER_SIDE_ENCRYPTION)
    if "SSEKMSKeyId" in args:
        if sse not in KMS_ENCRYPTION:
            raise ValueError(
                "extra_args['SSEKMSKeyId'] needs ServerSideEncryption 'aws:kms' (or "
                f"'aws:kms:dsse'), got {sse!r}: S3 uses the key only for SSE-KMS. Add "
                "'ServerSideEncryption': 'aws:kms'."
            )
        key_id = _text("SSEKMSKeyId", args["SSEKMSKeyId"])
        if any(ch.isspace() for ch in key_id):
            raise ValueError(f"extra_args['SSEKMSKeyId'] {key_id!r} contains spaces.")
        out["SSEKMSKeyId"] = key_id
    if "BucketKeyEnabled" in args:
        if not isinstance(args["BucketKeyEnabled"], bool):
            raise ValueError(
                f"extra_args['BucketKeyEnabled'] must be True or False, got "
                f"{args['BucketKeyEnabled']!r}."
            )
        if sse is not None and sse != "aws:kms":
            raise ValueError(
                "extra_args['BucketKeyEnabled'] applies to SSE-KMS only "
                f"(ServerSideEncryption 'aws:kms'), not {sse!r}. Remove it."
            )
        out["BucketKeyEnabled"] = args["BucketKeyEnabled"]
    if "Metadata" in args and (metadata := _metadata(args["Metadata"])):
        out["Metadata"] = metadata
    if "Tagging" in args and (tagging := _tagging(args["Tagging"])):
        out["Tagging"] = tagging
    if "StorageClass" in args:
        out["StorageClass"] = _choice("StorageClass", args["StorageClass"], STORAGE_CLASSES)
    if "ACL" in args:
        out["ACL"] = _choice("ACL", args["ACL"], CANNED_ACLS)
    for name in ("ContentDisposition", "CacheControl", "ContentEncoding"):
        if name in args:
            fix = (
                "For a non-ASCII file name write filename*=UTF-8''<urllib.parse.quote(name)>."
                if name == "ContentDisposition"
                else ""
            )
            out[name] = _text(name, args[name], fix=fix)
    return out


def check_extra_args(value: Any) -> Any:
    """The rule of the ``extra_args`` option: None, a callable (checked per file, at sign
    time), or a dict checked now. Returns a copy of a dict (later changes to the caller's
    dict do not reach the widget); raises ``ValueError``."""
    if value is None or callable(value):
        return value
    normalize_extra_args(value)
    return copy.deepcopy(dict(value))


def resolve_extra_args(value: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """One file's options, normalized (see `normalize_extra_args`).

    ``value`` is the option: None, a dict, or a callable called with a copy of ``fields``
    (``name``, ``filename``, ``size``, ``content_type``, ``key``, ``bucket``, ...) that
    returns a dict or None. A callable that raises or returns something invalid raises
    ``UploadError("bad-request")`` naming the file and the problem.
    """
    name = fields.get("name", fields.get("key", "the file"))

    def bad(problem: str, fix: str) -> UploadError:
        return UploadError("bad-request", f"Cannot upload {name!r}: {problem}", fix)

    if callable(value):
        try:
            value = value(dict(fields))
        except Exception as exc:
            raise bad(
                f"the extra_args function raised {type(exc).__name__}: {exc}.",
                "Fix the extra_args function; it gets the file's fields and returns a dict.",
            ) from exc
        if value is not None and not isinstance(value, Mapping):
            raise bad(
                f"the extra_args function returned {type(value).__name__}, not a dict.",
                "Make the extra_args function return a dict of ExtraArgs, or None for none.",
            )
    try:
        return normalize_extra_args(value)
    except ValueError as exc:
        raise bad(str(exc), "Fix extra_args (or the function that returns it).") from None


def headers_for(args: Mapping[str, Any]) -> dict[str, str]:
    """The HTTP headers S3 reads normalized ``args`` from, as the browser must send them."""
    headers: dict[str, str] = {}
    for name, value in args.items():
        if name == "Metadata":
            headers.update({HEADERS[name] + k: v for k, v in value.items()})
        elif isinstance(value, bool):
            headers[HEADERS[name]] = "true" if value else "false"
        else:
            headers[HEADERS[name]] = value
    return headers


def header_names(value: Any) -> tuple[str, ...]:
    """The request headers (lower case) a dict ``extra_args`` adds to every PUT, for a
    CORS check; ``()`` for None or a callable, whose headers are known per file only."""
    if value is None or callable(value):
        return ()
    return tuple(h.lower() for h in headers_for(normalize_extra_args(value)))


def browser_headers(url: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Those of ``headers`` that presigned ``url`` signs (``X-Amz-SignedHeaders``): the
    ones the browser must send.

    A header botocore moved into the query string instead is signed there, so the
    browser sends no header for it. Raises ``ValueError`` when a header is signed
    nowhere, or when the URL signs a header that is not in ``headers`` (the browser would
    not send it and S3 would refuse the PUT); Host and Content-Length are the browser's.
    """
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    signed = set(query.get("X-Amz-SignedHeaders", [""])[0].split(";")) - {""}
    in_query = {k.lower() for k in query}
    unsigned = [h for h in headers if h.lower() not in signed and h.lower() not in in_query]
    extra = signed - {"host", "content-length"} - {h.lower() for h in headers}
    if unsigned or extra:
        raise ValueError(
            f"the presigned URL does not sign {', '.join(unsigned) or '-'} and signs "
            f"{', '.join(sorted(extra)) or '-'} that the browser would not send"
        )
    return {h: v for h, v in headers.items() if h.lower() in signed}


def iam_hint(args: Mapping[str, Any]) -> str:
    """What the kernel's role needs beyond s3:PutObject for ``args`` ("" for nothing)."""
    needs = []
    if args.get("ServerSideEncryption") in KMS_ENCRYPTION:
        key = args.get("SSEKMSKeyId") or "the bucket's KMS key"
        needs.append(f"kms:GenerateDataKey and kms:Decrypt on {key}")
    if "Tagging" in args:
        needs.append("s3:PutObjectTagging")
    if "ACL" in args:
        needs.append("s3:PutObjectAcl")
    return f"Its object options also need {'; '.join(needs)}." if needs else ""


def sign_checksum(params: dict, headers: dict, checksum: str) -> None:
    """Add a body's CRC32C to a presign's ``params`` and the ``headers`` the browser must
    send: signed, so S3 refuses a body whose bytes do not match it."""
    if checksum:
        params["ChecksumCRC32C"] = checksum
        headers["x-amz-checksum-crc32c"] = checksum
