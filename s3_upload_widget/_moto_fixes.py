"""What LocalS3 changes in moto's S3 server, in this process, so that a browser sees it
answer as S3 does: bucket CORS rules applied (not "every origin"), a form POST's answer
carrying the CORS headers and the object's ETag, and requests with credentials allowed
where S3 allows them (the origin named, not ``*``).
"""

from __future__ import annotations

import os
import sys
from typing import Any


def disable_global_cors() -> None:
    """Make moto's server apply bucket CORS rules instead of allowing every origin.

    moto reads ``MOTO_DISABLE_GLOBAL_CORS`` once, when ``moto.settings`` is imported, and
    ``moto.moto_server.werkzeug_app`` copies the value at its own import
    (``from moto.settings import DISABLE_GLOBAL_CORS``); ``create_backend_app`` consults
    that copy each time a server builds its app (on a server's first request to a
    service). So the environment variable only helps before moto is imported; when moto
    was imported earlier we also set both module attributes. Either way the change is
    process-wide and affects servers started from now on (moto servers already running
    keep their behaviour): in this process moto then answers CORS like S3 does.
    """
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    for name in ("moto.settings", "moto.moto_server.werkzeug_app"):
        module = sys.modules.get(name)
        if module is not None:
            module.DISABLE_GLOBAL_CORS = True


def answer_form_posts() -> None:
    """Make moto answer a stored form POST (POST Object) as S3 does: with the bucket's CORS
    headers for the request's origin and the object's ETag. moto 5 sends neither, so a
    page cannot read its answer (status 0). It still checks no POST policy: test those on
    a server that does (ministack; docs/LEARNED.md). Process-wide and idempotent."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post
    if getattr(original, "answers_like_s3", False):
        return

    def bucket_response_post(self, request, bucket_name):
        status, headers, body = original(self, request, bucket_name)
        form_key = (getattr(self, "querystring", None) or {}).get("key")
        if form_key and 200 <= int(status) < 300 and request.method == "POST":
            stored = self.backend.get_object(bucket_name, form_key[0])
            headers = {**self._get_cors_headers_other(), **headers}
            if stored is not None:
                headers["ETag"] = stored.etag
        return status, headers, body

    bucket_response_post.answers_like_s3 = True  # type: ignore[attr-defined]
    S3Response._bucket_response_post = bucket_response_post


def answer_credentialed_cors() -> None:
    """Make moto answer CORS as S3 does for the origin a rule names: with that origin and
    ``Access-Control-Allow-Credentials: true`` when the first rule whose origins match
    the request's names it (or a pattern of it) and has no ``*`` entry; with
    ``Access-Control-Allow-Origin: *`` and no credentials when that rule has a ``*``
    entry. moto echoes the origin always and never allows credentials, so a page could
    not send requests with credentials (`_pools`). A preflight answered with credentials
    also gets the headers it asked for that the rule allows, as S3 echoes them: with
    credentials a browser reads a pattern (``*``, ``x-amz-*``) as a literal header name.
    Process-wide and idempotent."""
    from moto.s3.responses import S3Response

    preflight, other = S3Response._set_cors_headers_options, S3Response._get_cors_headers_other
    if getattr(preflight, "answers_like_s3", False):
        return

    def set_cors_headers_options(self, headers, bucket):
        preflight(self, headers, bucket)
        _as_s3_answers(self.response_headers, headers, bucket)

    def get_cors_headers_other(self):
        answer = other(self)
        if "Access-Control-Allow-Origin" in answer:  # so the bucket exists
            _as_s3_answers(answer, self.headers, self.backend.get_bucket(self.bucket_name))
        return answer

    set_cors_headers_options.answers_like_s3 = True  # type: ignore[attr-defined]
    S3Response._set_cors_headers_options = set_cors_headers_options
    S3Response._get_cors_headers_other = get_cors_headers_other


def _as_s3_answers(answer: dict, request_headers: Any, bucket: Any) -> None:
    """Change moto's CORS ``answer`` to ``request_headers`` (see `answer_credentialed_cors`)."""
    from moto.s3.utils import cors_matches_origin

    from ._cors import _header_allowed

    origin = request_headers.get("Origin")
    if "Access-Control-Allow-Origin" not in answer or not origin:
        return
    # The rule moto took the origin from: the first whose origins match (moto's matching).
    rule = next((r for r in bucket.cors if r.allowed_origins is not None
                 and cors_matches_origin(origin, r.allowed_origins)), None)  # fmt: skip
    if rule is None:
        return
    if "*" in rule.allowed_origins:
        answer["Access-Control-Allow-Origin"] = "*"
        answer.pop("Access-Control-Allow-Credentials", None)
        return
    answer["Access-Control-Allow-Credentials"] = "true"
    asked = [h.strip() for h in (request_headers.get("Access-Control-Request-Headers") or "")
             .split(",") if h.strip()]  # fmt: skip
    if asked:  # a preflight
        allowed = [h for h in asked if _header_allowed(rule.allowed_headers or [], h)]
        answer.pop("Access-Control-Allow-Headers", None)
        if allowed:
            answer["Access-Control-Allow-Headers"] = ", ".join(allowed)
