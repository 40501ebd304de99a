"""Connection pools: how many of the browser's per-host connection pools the page's
uploads use (the ``connection_pools`` option), its check, and what "auto" means.

Chromium keeps requests sent with credentials (XHR ``withCredentials``) and without in
separate pools of 6 connections to a host name each: a page that sends half its requests
with credentials gets 12 connections to one S3 host name instead of 6 (measured: 200
POSTs of 256 KiB at 80 ms RTT, 4.2 s -> 2.2 s). Presigned URLs need no cookies and S3
ignores them, but the browser drops the answer to a request with credentials unless it
names the page's exact origin (never ``*``) and carries
``Access-Control-Allow-Credentials: true``, its preflight's answer too. AWS's S3 answers
so when the CORS rule that applies lets the origin in by name or pattern, not by ``*``
(`_cors.answers_with_credentials`). So "auto" means 2 only on AWS's S3, when the
bucket's rules say so; anything it cannot tell means 1, which works everywhere.

Why AWS only: a request with credentials carries the cookies of its host, and cookies
are not kept apart by port. A store on the notebook server's host (LocalS3 on 127.0.0.1,
a MinIO on another port) would receive the notebook server's login cookie with every
upload. AWS's bucket host names are on the Public Suffix List: only that bucket's own
host can set a cookie for them. Another store (LocalS3's moto answers credentials as S3
does: `_moto_fixes.answer_credentialed_cors`) uses two pools when asked:
``connection_pools=2``.
"""

from __future__ import annotations

from typing import Any

from ._values import is_int

POOLS = (1, 2)
"""The values a resolved ``connection_pools`` takes: the page's requests in flight are
multiplied by it, and with 2 half of them go with credentials."""


def check_connection_pools(value: object) -> int | str:
    """The ``connection_pools`` option's rule: "auto", 1 or 2 (ValueError otherwise).
    Booleans are refused: ``True == 1`` in Python, yet True reads as "on" (2, if any)."""
    if value == "auto" or (is_int(value) and value in POOLS):
        return value  # type: ignore[return-value]
    why = " (True and False are no counts of pools)" if isinstance(value, bool) else ""
    raise ValueError(
        f"connection_pools must be 'auto', 1 or 2, not {value!r}{why}. 2 sends half the "
        "uploads with credentials, which Chromium gives connections of their own: 12 to "
        "each S3 host name instead of 6, when the bucket's CORS rule names the page's "
        "origin (not '*'); 'auto' does so on AWS's S3 when that rule names the origin; 1 "
        "never."
    )


def resolve_connection_pools(option: Any, client: Any, bucket: str, origin: str) -> int:
    """The connection pools the page uses under the ``connection_pools`` ``option``: 1 and
    2 as they are; "auto" 2 only when ``client`` talks to AWS's own S3 (see above: no
    cookie of the notebook's host goes along) and the bucket's CORS rules let it answer
    the page's ``origin`` with credentials (`_cors.answers_with_credentials`). No origin
    yet, rules that cannot be read (no s3:GetBucketCORS, no such bucket...): 1. Never
    raises for "auto": it reads S3 (GetBucketCORS), so call it once per option, bucket
    and origin."""
    if option != "auto":
        return int(option)
    from ._client import is_aws_endpoint
    from ._cors import _get_rules, answers_with_credentials

    if not origin or not is_aws_endpoint(client):
        return 1
    try:
        rules = _get_rules(client, bucket)
    except Exception:  # without the rules, 1 is the answer that works whatever they say
        return 1
    return 2 if answers_with_credentials(rules, origin) else 1


class PoolChoice:
    """UploadSession's part: the pools the page may use, resolved once per option,
    bucket and page origin (the answer is in every SIGN_FILES and SIGN_PARTS answer, and
    multipart uploads are planned for that many parts in flight)."""

    options: Any
    origin: str
    _pools: tuple[tuple, int]

    def _get_signer(self) -> Any:  # pragma: no cover - UploadSession's
        raise NotImplementedError

    def _connection_pools(self) -> int:
        """1 or 2 (`resolve_connection_pools`); "auto" reads the bucket's CORS rules once
        per option, bucket and page origin. No signer (no bucket, bad credentials): 1,
        and each file fails on it already, saying why."""
        try:
            signer = self._get_signer()
        except Exception:
            return 1
        asked = (self.options.connection_pools, signer.bucket, self.origin)
        if self._pools[0] != asked:
            option, bucket, origin = asked
            # A tuple swap: the warm-up thread (`_warm_up`) may race the first pick;
            # both compute the same answer.
            self._pools = (asked, resolve_connection_pools(option, signer.client, bucket, origin))
        return self._pools[1]

    def _warm_up(self, signer: Any):
        """What the warm-up thread runs at the first hello: the signer's lookups, then
        "auto"'s read of the CORS rules, so the first pick waits on neither."""

        def warm() -> None:
            signer.warm()
            self._connection_pools()

        return warm
