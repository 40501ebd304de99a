"""The S3 servers of the browser tests: moto's on 127.0.0.1, and moto refusing expired URLs.

Importable outside pytest (the benchmarks use it too). moto's CORS applies per bucket, as
on AWS: `MotoS3Server` starts the same server as `LocalS3` (s3_upload_widget/_local.py),
which turns moto's "allow every origin" default off, and checks that it took.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

# Fake credentials. Distinctive on purpose: a test greps saved notebooks for them, which
# proves nothing if the value is a common word like "testing".
TEST_ACCESS_KEY = "AKIAS3UWE2EFAKEKEY42"
TEST_SECRET_KEY = "s3uwE2eFakeSecret/Zq9T3xWvK7pLm2Rt8YcN4bHs6Jd"
TEST_REGION = "us-east-1"


def cors_rule(origins: Sequence[str]) -> dict:
    """The CORS rule the widget needs (see testing.md): PUT/POST/GET/HEAD, all headers,
    ETag exposed."""
    return {
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["PUT", "POST", "GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3000,
    }


def _local():
    """s3_upload_widget._local, imported when first needed: importing the package needs
    its built front end, and collecting the tests should not (conftest's
    ``widget_installed`` says what is missing)."""
    from s3_upload_widget import _local

    return _local


class LoopbackS3:
    """What the tests read from an S3 server of theirs on 127.0.0.1 (a subclass sets
    ``endpoint_url``, ``access_key``, ``secret_key``, ``region`` and ``client()``)."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str

    def client(self):  # pragma: no cover - each server's own
        raise NotImplementedError

    def list_keys(self, bucket: str) -> list[str]:
        c = self.client()
        keys: list[str] = []
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys

    def list_multipart_uploads(self, bucket: str) -> list[dict]:
        return self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def kernel_env(self) -> dict[str, str]:
        """Environment for the Jupyter server (kernels inherit it): where S3 is, and the
        fake credentials, so notebooks never contain any."""
        return {
            "S3UW_TEST_ENDPOINT": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


class MotoS3Server(LoopbackS3):
    """moto's S3 server on 127.0.0.1 in a thread of this process, with global CORS off."""

    def __init__(self, access_key: str = TEST_ACCESS_KEY, secret_key: str = TEST_SECRET_KEY):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = TEST_REGION
        self._server = None
        self.endpoint_url = ""

    def start(self) -> MotoS3Server:
        # LocalS3's server: moto's global CORS off (even if moto was imported first),
        # its request log quiet, stopped at exit if a test run is interrupted.
        self._server, self.endpoint_url = _local().start_moto_server()
        if not _local().cors_is_enforced(self.endpoint_url, "s3uw-e2e-cors-probe"):
            self.stop()
            raise RuntimeError(
                "moto's server answers CORS for every origin: CORS tests would prove nothing"
            )
        return self

    def client(self):
        return _local().loopback_client(
            self.endpoint_url, self.access_key, self.secret_key, region=self.region
        )

    def make_bucket(
        self, name: str | None = None, cors_origins: Sequence[str] | None = None
    ) -> str:
        """Create a bucket (a unique name unless given); with ``cors_origins``, add the CORS
        rule the widget needs for those origins; without, the bucket has no CORS at all."""
        name = name or f"s3uw-e2e-{uuid.uuid4().hex[:12]}"
        c = self.client()
        _local().create_bucket(c, name)
        if cors_origins:
            c.put_bucket_cors(
                Bucket=name, CORSConfiguration={"CORSRules": [cors_rule(cors_origins)]}
            )
        return name

    def wrap_app(self, middleware: Callable[[Callable], Any]) -> Any:
        """Put ``middleware(app)`` in front of moto's WSGI app for every request from now
        on; return it."""
        wsgi_server = self._server._server  # werkzeug's server: handlers call .app per request
        wsgi_server.app = middleware(wsgi_server.app)
        return wsgi_server.app

    def stop(self) -> None:
        if self._server is not None:
            _local().stop_moto_server(self._server)
            self._server = None

    def __enter__(self) -> MotoS3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ExpiredUrlRejector:
    """WSGI middleware that answers presigned requests used after their expiry as S3 does.

    moto accepts expired presigned URLs; S3 answers ``403 AccessDenied "Request has
    expired"``. A request is presigned when its query holds ``X-Amz-Date`` and
    ``X-Amz-Expires``; it has expired when the time it arrives is past date + expires.
    Everything else (preflights, boto3's header-signed calls, fresh URLs) goes to the
    wrapped app untouched.

    The 403 carries ``Access-Control-Allow-Origin: <Origin>`` and
    ``Access-Control-Expose-Headers: ETag`` when the request had an ``Origin``, so a
    browser can read the status (without them it sees a CORS failure, status 0). The
    request body is read before answering, so the browser is never cut off mid-body.

    ``rejections`` lists what was refused: ``{"method", "path", "query", "late_by"}``.
    """

    def __init__(self, app: Callable, *, clock: Callable[[], float] = time.time):
        self.app = app
        self.clock = clock
        self.rejections: list[dict[str, Any]] = []
        self.presigned_requests = 0  # presigned requests seen (expired or not)
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        date = (query.get("X-Amz-Date") or [""])[0]
        expires = (query.get("X-Amz-Expires") or [""])[0]
        if environ.get("REQUEST_METHOD") == "OPTIONS" or not (date and expires):
            return self.app(environ, start_response)
        try:
            signed_at = (
                datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
            )
            lifetime = int(expires)
        except ValueError:
            return self.app(environ, start_response)  # malformed: let moto answer
        now = self.clock()
        with self._lock:
            self.presigned_requests += 1
        if now <= signed_at + lifetime:
            return self.app(environ, start_response)
        with self._lock:
            self.rejections.append(
                {
                    "method": environ.get("REQUEST_METHOD", ""),
                    "path": environ.get("PATH_INFO", ""),
                    "query": {k: v[0] for k, v in query.items() if not k.startswith("X-Amz-")},
                    "late_by": round(now - signed_at - lifetime, 3),
                }
            )
        self._drain(environ)
        request_id = uuid.uuid4().hex[:16].upper()
        expires_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(signed_at + lifetime))
        server_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
            f"<X-Amz-Expires>{lifetime}</X-Amz-Expires><Expires>{expires_at}</Expires>"
            f"<ServerTime>{server_time}</ServerTime><RequestId>{request_id}</RequestId>"
            "</Error>"
        ).encode()
        headers = [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("x-amz-request-id", request_id),
        ]
        origin = environ.get("HTTP_ORIGIN")
        if origin:
            headers += [
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Expose-Headers", "ETag"),
                ("Vary", "Origin"),
            ]
        start_response("403 Forbidden", headers)
        return [body]

    @staticmethod
    def _drain(environ: dict) -> None:
        stream = environ.get("wsgi.input")
        if stream is None:
            return
        try:
            remaining = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            remaining = 0
        if environ.get("wsgi.input_terminated"):  # chunked: read to the end
            while stream.read(1 << 16):
                pass
            return
        while remaining > 0:
            chunk = stream.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)


class ExpiringMotoS3Server(MotoS3Server):
    """A ``MotoS3Server`` that refuses expired presigned URLs like S3 (moto doesn't).

        with ExpiringMotoS3Server() as s3:
            ...
            assert s3.expired_rejections  # what was refused: [{"method", "path", ...}]

    Note: moto keeps its buckets in process-wide memory, so every moto server of this
    process sees the same buckets; only the expiry check differs by endpoint.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rejector: ExpiredUrlRejector | None = None

    def start(self) -> ExpiringMotoS3Server:
        super().start()
        self.rejector = self.wrap_app(ExpiredUrlRejector)
        return self

    @property
    def expired_rejections(self) -> list[dict[str, Any]]:
        return list(self.rejector.rejections) if self.rejector else []

    @property
    def presigned_requests(self) -> int:
        return self.rejector.presigned_requests if self.rejector else 0
