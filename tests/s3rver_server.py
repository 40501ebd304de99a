"""Run @20minutes/s3rver 4.0.4 (tests/s3rver/start.js) for tests that need an S3 that
verifies SigV4 signatures (moto accepts tampered and expired URLs).

    with S3rverServer() as server:
        server.make_bucket("b", cors_origins=["http://127.0.0.1:8888"])
        s3 = server.client()

Installs its node modules on first use (`npm ci` in tests/s3rver, under a lock so parallel
test processes don't race). Needs node >= 20 and npm on PATH; `NodeMissing` is raised when
node is not installed (the pytest fixture turns that into a skip, except in CI).

What s3rver 4.0.4 checks and what it doesn't (read from its source and tested in
tests/test_signing_security.py):
- checks: SigV4 signature (header and presigned query), expiry of presigned URLs,
  every signed header (so a signed Content-Length / Content-Type must match), the path
  (key) and the method, the query string (partNumber, uploadId) of part URLs.
- doesn't: requests with no signature at all are served (anonymous writes succeed),
  `If-None-Match` on PUT is ignored, multipart part sizes (< 5 MiB) are not checked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

S3RVER_DIR = Path(__file__).resolve().parent / "s3rver"
START_JS = S3RVER_DIR / "start.js"
PACKAGE_MARKER = S3RVER_DIR / "node_modules" / "@20minutes" / "s3rver" / "package.json"
S3RVER_VERSION = "4.0.4"
MIN_NODE_MAJOR = 20

ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
REGION = "us-east-1"


class NodeMissing(RuntimeError):
    """node (or npm) is not installed: the s3rver tests cannot run here."""


class S3rverError(RuntimeError):
    """s3rver could not be installed or started."""


def node_version() -> tuple[int, ...]:
    node = shutil.which("node")
    if node is None:
        raise NodeMissing("node is not on PATH (s3rver needs Node.js >= 20)")
    out = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    return tuple(int(p) for p in out.lstrip("v").split(".")[:3])


def _installed_version() -> str | None:
    try:
        return json.loads(PACKAGE_MARKER.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_installed(*, timeout: float = 300) -> None:
    """Run `npm ci` in tests/s3rver unless @20minutes/s3rver 4.0.4 is already there."""
    major = node_version()[0]
    if major < MIN_NODE_MAJOR:
        raise S3rverError(
            f"@20minutes/s3rver {S3RVER_VERSION} needs Node.js >= {MIN_NODE_MAJOR}, found {major}"
        )
    if _installed_version() == S3RVER_VERSION:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NodeMissing("npm is not on PATH (needed to install s3rver for the tests)")
    # One install at a time, even across processes (pytest-xdist): lock in the temp dir,
    # keyed by this checkout's path, so the repo gets no stray lock file.
    digest = hashlib.sha256(str(S3RVER_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"s3-upload-widget-npm-ci-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _installed_version() == S3RVER_VERSION:
                return
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=S3RVER_DIR,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if proc.returncode != 0 or _installed_version() != S3RVER_VERSION:
                raise S3rverError(
                    f"`npm ci` in {S3RVER_DIR} failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class S3rverServer:
    """One s3rver process on 127.0.0.1 with a fresh temp directory.

    `buckets` and `cors_origins` are passed to start.js (configured before it listens);
    more buckets can be made later with `make_bucket` (boto3 CreateBucket + PutBucketCors,
    both supported by s3rver).
    """

    def __init__(
        self,
        buckets: tuple[str, ...] | list[str] = (),
        cors_origins: list[str] | None = None,
        *,
        start_timeout: float = 30,
    ) -> None:
        self._buckets = list(buckets)
        self._cors_origins = list(cors_origins or [])
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []
        self.port: int | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> S3rverServer:
        if self._proc is not None:
            return self
        ensure_installed()
        node = shutil.which("node")
        assert node is not None  # ensure_installed checked it
        args = [node, str(START_JS)]
        for name in self._buckets:
            args += ["--bucket", name]
        for origin in self._cors_origins:
            args += ["--cors-origin", origin]
        self._proc = subprocess.Popen(
            args,
            cwd=S3RVER_DIR,
            stdin=subprocess.PIPE,  # start.js exits when this closes: no orphan servers
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump_stdout(stream) -> None:
            for line in stream:
                lines.put(line)
            lines.put(None)

        def pump_stderr(stream) -> None:
            for line in stream:
                self._stderr.append(line)

        for target, stream in ((pump_stdout, self._proc.stdout), (pump_stderr, self._proc.stderr)):
            threading.Thread(target=target, args=(stream,), daemon=True).start()

        deadline = time.monotonic() + self._start_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(remaining, 0.01)) if remaining > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                code = self._proc.poll()
                self.stop()
                why = (
                    f"exited with {code}"
                    if code is not None
                    else f"did not report its port within {self._start_timeout:g} s"
                )
                raise S3rverError(f"s3rver {why}; stderr:\n{''.join(self._stderr)[-4000:]}")
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if isinstance(msg, dict) and isinstance(msg.get("port"), int):
                    self.port = msg["port"]
                    return self

    def stop(self) -> None:
        """Stop the server (idempotent): SIGTERM, then SIGKILL after 5 s."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(Exception):
                stream.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> S3rverServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.endpoint_url if self.running else "stopped"
        return f"S3rverServer({state})"

    # -- use -------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("S3rverServer is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def client(
        self, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, **config_kwargs
    ):
        """A boto3 S3 client for this server: path-style, SigV4, us-east-1.

        Another `secret_key` makes a client whose signatures the server must refuse.
        """
        from s3_upload_widget._local import loopback_client

        return loopback_client(
            self.endpoint_url,
            access_key,
            secret_key,
            region=REGION,
            # botocore >= 1.36 sends aws-chunked bodies with trailing CRC checksums by
            # default; s3rver only understands plain and STREAMING-AWS4-HMAC-SHA256 bodies.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            **config_kwargs,
        )

    def make_bucket(self, name: str, cors_origins: list[str] | None = None):
        """Create bucket `name` (and a CORS rule for `cors_origins`); returns a client."""
        s3 = self.client()
        s3.create_bucket(Bucket=name)
        if cors_origins:
            s3.put_bucket_cors(
                Bucket=name,
                CORSConfiguration={
                    "CORSRules": [
                        {
                            "ID": "s3-upload-widget",
                            "AllowedOrigins": list(cors_origins),
                            "AllowedMethods": ["PUT", "POST", "GET", "HEAD"],
                            "AllowedHeaders": ["*"],
                            "ExposeHeaders": ["ETag"],
                            "MaxAgeSeconds": 3000,
                        }
                    ]
                },
            )
        return s3


def ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
