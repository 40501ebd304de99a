"""LocalS3, and the moto S3 servers on 127.0.0.1 that it and the test harness start.

    from s3_upload_widget import LocalS3, S3UploadWidget

    s3 = LocalS3()                       # http://127.0.0.1:<free port>, bucket "uploads"
    w = S3UploadWidget(bucket=s3.bucket, client=s3.client)
    ...
    s3.keys(), s3.read(w.key)
    s3.stop()                            # or `with LocalS3() as s3:`; it also stops at exit

Not for real data: objects live in this Python process's memory and are gone when the
server stops or the kernel exits. moto does not check signatures, expiry or signed
headers: test security against a real S3 (or a verifying server), not against this.
Needs the ``local`` extra: ``pip install "s3-upload-widget[local]"``.

The browser tests' and benchmarks' moto server (tests/e2e/s3_servers.py) is made of the
same parts: `start_moto_server`, `loopback_client`, `create_bucket`, `cors_is_enforced`,
`stop_moto_server`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from . import _readers
from ._client import error_code
from ._cors import configure_cors, validate_origin
from ._form_post import register_post_server
from ._moto_fixes import answer_credentialed_cors, answer_form_posts, disable_global_cors

__all__ = [
    "DEFAULT_ORIGINS",
    "LocalS3",
    "cors_is_enforced",
    "create_bucket",
    "loopback_client",
    "start_moto_server",
    "stop_moto_server",
]

DEFAULT_ORIGINS = (
    "http://localhost:*",
    "http://127.0.0.1:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "vscode-webview://*",
)
"""Who may upload when `origins` is None: a notebook served from this machine on any port
(JupyterLab, Notebook 7, Voilà), and VS Code's notebook webviews."""

_INSTALL_HINT = 'LocalS3 needs moto\'s server: pip install "s3-upload-widget[local]"'

# Every server start_moto_server started and nobody stopped, so that they stop at exit.
# It holds the moto servers, never the LocalS3 objects: dropping a LocalS3 doesn't stop
# its server (a widget may still use its client), and this registry keeps no LocalS3 alive.
_servers: dict[int, object] = {}
# moto keeps all its S3 data in one in-process store shared by every moto server of the
# process: count the live LocalS3 per bucket so stop() only deletes a bucket nobody uses.
_bucket_users: dict[str, int] = {}
_lock = threading.Lock()


def _import_moto_server():
    disable_global_cors()
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    disable_global_cors()  # moto.moto_server.werkzeug_app is imported now
    return ThreadedMotoServer


def _quiet_request_log() -> None:
    """Keep werkzeug's one-line-per-request log out of the notebook.

    werkzeug logs every request at INFO on the "werkzeug" logger and, when that logger
    has no level, sets INFO and adds a stderr handler itself: each part of an upload would
    print a line under the cell. Raise it to WARNING unless someone set a level already.
    """
    logger = logging.getLogger("werkzeug")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


def _check_port_free(port: int) -> None:
    # moto's ThreadedMotoServer.start() waits forever if its thread fails to bind: check
    # first, so a busy port is an error, not a hang.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"LocalS3: port {port} on 127.0.0.1 is in use ({exc.strerror}); "
                "pass port=0 to pick a free one",
            ) from exc


def _shutdown(server) -> None:
    """Stop a ThreadedMotoServer and close its listening socket (moto's stop() doesn't)."""
    try:
        server.stop()
    finally:
        inner = getattr(server, "_server", None)
        if inner is not None:
            with contextlib.suppress(Exception):
                inner.server_close()


@atexit.register
def _stop_all() -> None:
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        with contextlib.suppress(Exception):
            _shutdown(server)


def start_moto_server(port: int = 0) -> tuple[Any, str]:
    """Start moto's S3 server on 127.0.0.1 in a thread of this process; return it and its
    endpoint URL (``http://127.0.0.1:PORT``).

    ``port`` 0 picks a free port; a busy one is an OSError, not a hang. moto's "allow
    every origin" CORS is turned off first (see `_moto_fixes.disable_global_cors`), its
    answers to form POSTs carry CORS headers and ETag (`answer_form_posts`, so
    ``form_posts="auto"`` uses them), it answers requests with credentials as S3 does:
    the origin and ``Access-Control-Allow-Credentials`` where a rule names the origin,
    ``*`` where the rule has ``*`` (`answer_credentialed_cors`, so
    ``connection_pools=2`` works there), and its per-request log is kept quiet. The
    server stops at exit unless `stop_moto_server` stopped it before.
    """
    threaded_moto_server = _import_moto_server()
    answer_form_posts()
    answer_credentialed_cors()
    _quiet_request_log()
    if port:
        _check_port_free(port)
    server = threaded_moto_server(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with _lock:
        _servers[id(server)] = server
    try:
        host, real_port = server.get_host_and_port()
    except BaseException:
        stop_moto_server(server)
        raise
    register_post_server(f"http://{host}:{real_port}")
    return server, f"http://{host}:{real_port}"


def stop_moto_server(server) -> None:
    """Stop a server `start_moto_server` started and close its socket (idempotent)."""
    with _lock:
        running = _servers.pop(id(server), None)
    if running is not None:
        _shutdown(running)


def create_bucket(client, bucket: str) -> None:
    """Create ``bucket``; it may exist already (moto's store is shared by the process)."""
    try:
        client.create_bucket(Bucket=bucket)
    except Exception as exc:
        if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def cors_is_enforced(endpoint_url: str, bucket: str) -> bool:
    """Whether the server refuses a CORS preflight from an origin no rule names, as S3
    does. moto with its global CORS on answers every origin (even with a 403, for a
    bucket that does not exist), and CORS mistakes then go unseen."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint_url}/{bucket}/s3-upload-widget-cors-probe",
        method="OPTIONS",
        headers={
            "Origin": "http://cors-probe.invalid",
            "Access-Control-Request-Method": "PUT",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback
    try:
        with opener.open(request, timeout=5) as response:
            allowed = response.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as exc:  # 403: refused, as S3 would, if no allow header
        allowed = exc.headers.get("Access-Control-Allow-Origin")
    return not allowed


def loopback_client(
    endpoint_url: str,
    access_key: str,
    secret_key: str,
    *,
    region: str = "us-east-1",
    **config: Any,
):
    """A boto3 S3 client for an S3 server on this machine (moto, s3rver, MinIO...).

    SigV4, so presigned URLs sign Content-Length and If-None-Match; path-style, since a
    loopback host has no bucket subdomains. ``config`` adds botocore Config options.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
    )


class LocalS3:
    """An S3-compatible server on 127.0.0.1 with one bucket, for demos and tests.

    Starts moto's server (``moto.server.ThreadedMotoServer``) in a thread of this process,
    creates `bucket`, and gives it a CORS rule (via `configure_cors`) that lets a browser at
    `origins` upload: by default a notebook on this machine at any port, i.e.
    ``http://localhost:*`` and ``http://127.0.0.1:*`` (and https, and VS Code's webviews;
    see `DEFAULT_ORIGINS`). moto honours such one-``*`` origin patterns. Pass
    ``origins=["*"]`` to allow any page.

    To make the CORS rule mean something, LocalS3 turns off moto's "allow every origin"
    default (``MOTO_DISABLE_GLOBAL_CORS``) for the whole process, even when moto was
    imported earlier; see `_moto_fixes.disable_global_cors`.

    Attributes: `endpoint_url` (``http://127.0.0.1:PORT``), `bucket`, `region`
    (``us-east-1``), `client` (a boto3 S3 client for it: SigV4, path-style, fixed fake
    credentials `access_key` / `secret_key`). `stop()` is idempotent; a LocalS3 is a
    context manager, and any server still running stops when Python exits.

    Data lives in memory. moto's store is shared by the whole process: two LocalS3 (or a
    LocalS3 and moto's ``mock_aws``) see the same buckets; entering or leaving a
    ``mock_aws`` context empties it, LocalS3's bucket included (so don't mix a long-lived
    LocalS3 with ``mock_aws`` tests in one process); `stop()` deletes the bucket with its
    objects unless another running LocalS3 uses the same bucket.
    """

    region = "us-east-1"
    access_key = "local"
    secret_key = "local"

    def __init__(
        self,
        bucket: str = "uploads",
        origins: str | Iterable[str] | None = None,
        port: int = 0,
    ) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise ValueError(f"bucket must be a non-empty string, got {bucket!r}")
        if origins is None:
            origin_list = list(DEFAULT_ORIGINS)
        else:
            origin_list = [origins] if isinstance(origins, str) else list(origins)
            if not origin_list:
                raise ValueError("origins is empty: leave it None for the notebook defaults")
            for origin in origin_list:
                validate_origin(origin)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int 0..65535 (0: any free port), got {port!r}")

        self.bucket = bucket
        self.origins = origin_list
        self._stopped = False
        self._server, self.endpoint_url = start_moto_server(port)
        try:
            self.port: int = int(self.endpoint_url.rsplit(":", 1)[1])
            self.client = loopback_client(
                self.endpoint_url, self.access_key, self.secret_key, region=self.region
            )
            self._create_bucket()
        except BaseException:
            self._stop_server()
            raise
        with _lock:
            _bucket_users[bucket] = _bucket_users.get(bucket, 0) + 1

    # -- setup ---------------------------------------------------------------------------
    def _create_bucket(self) -> None:
        create_bucket(self.client, self.bucket)
        configure_cors(self.bucket, self.origins, client=self.client)
        # moto answers a preflight with the rule's header patterns ("x-amz-*") where S3
        # echoes the headers asked for, and browsers compare them literally: on moto only,
        # allow every header, or signed x-amz-... headers (extra_args) would be refused.
        rules = self.client.get_bucket_cors(Bucket=self.bucket)["CORSRules"]
        for rule in rules:
            rule["AllowedHeaders"] = ["*"]
        self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": rules})
        self._check_cors_is_enforced()

    def _check_cors_is_enforced(self) -> None:
        """Warn if moto answers a preflight from an origin the rule doesn't allow."""
        if any(o == "*" for o in self.origins):
            return
        if not cors_is_enforced(self.endpoint_url, self.bucket):
            warnings.warn(
                "LocalS3: moto's server allows CORS from any origin here (was it started "
                "before MOTO_DISABLE_GLOBAL_CORS could be set?); CORS mistakes will go "
                "unnoticed on this server.",
                RuntimeWarning,
                stacklevel=3,
            )

    # -- conveniences --------------------------------------------------------------------
    # What pandas (s3fs), polars and DuckDB need to read this server: _readers.py.
    @property
    def storage_options(self) -> dict:
        """What fsspec / s3fs (pandas, dask) need to read this server:
        ``pd.read_parquet("s3://bucket/...", storage_options=local.storage_options)``."""
        return _readers.fsspec_options(*self._reader_args())

    @property
    def polars_storage_options(self) -> dict:
        """What polars' own S3 client needs to read this server (no s3fs):
        ``pl.scan_parquet("s3://bucket/dir/**/*.parquet", storage_options=...)``."""
        return _readers.polars_options(*self._reader_args())

    def duckdb_secret_sql(self, name: str | None = None) -> str:
        """The DuckDB statement that sends ``s3://{bucket}/...`` to this server: a temporary
        S3 secret scoped to the bucket, named ``name`` (default ``local_s3_{port}``)."""
        name = f"local_s3_{self.port}" if name is None else name
        return _readers.duckdb_secret_sql(name, *self._reader_args(), self.bucket)

    def duckdb_connection(self, con: Any = None) -> Any:
        """``con`` (or a new DuckDB connection) reading this server's ``s3://{bucket}/...``:
        httpfs loaded without a download (or a RuntimeError saying how to install it),
        then `duckdb_secret_sql` run."""
        sql = self.duckdb_secret_sql()
        try:
            import duckdb
        except ImportError as exc:
            raise ImportError("LocalS3.duckdb_connection needs DuckDB: pip install duckdb") from exc
        con = duckdb.connect() if con is None else con
        _readers.load_httpfs(con)
        con.execute(sql)
        return con

    def _reader_args(self) -> tuple[str, str, str, str]:
        if not self.running:
            raise RuntimeError(
                f"{self!r}: nothing answers at its endpoint any more, so readers set up for "
                "it would fail to connect; start a new LocalS3() and read from that"
            )
        return self.endpoint_url, self.access_key, self.secret_key, self.region

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket that starts with `prefix`, sorted."""
        out: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            out.extend(obj["Key"] for obj in page.get("Contents", []))
        return out

    def read(self, key: str) -> bytes:
        """The bytes of object `key`."""
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        with _lock:
            return not self._stopped and id(self._server) in _servers

    def stop(self) -> None:
        """Stop the server and free the bucket's data (idempotent)."""
        if self._stopped:
            return
        with _lock:
            users = _bucket_users.get(self.bucket, 0) - 1
            if users > 0:
                _bucket_users[self.bucket] = users
            else:
                _bucket_users.pop(self.bucket, None)
        if users <= 0:
            with contextlib.suppress(Exception):
                self._delete_bucket()
        self._stop_server()

    def _stop_server(self) -> None:
        self._stopped = True
        stop_moto_server(self._server)

    def _delete_bucket(self) -> None:
        s3 = self.client
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        s3.delete_bucket(Bucket=self.bucket)

    def __enter__(self) -> LocalS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalS3(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r}, {state})"
