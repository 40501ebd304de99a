"""What LocalS3 changes in moto's S3 server, in this process, so that a browser sees it
answer as S3 does: bucket CORS rules applied (not "every origin"), and a form POST's
answer carrying the CORS headers and the object's ETag.
"""

from __future__ import annotations

import os
import sys


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
