"""An S3 server on 127.0.0.1 that verifies checksums: ministack, in a venv of its own.

moto stores any ``x-amz-checksum-*`` value it is sent and never rejects a mismatch;
ministack (PyPI, pinned in tests/ministack/requirements.txt) recomputes the checksum of a
PUT or UploadPart body and answers ``400 BadDigest`` when it differs. Run with
``AUTH=true`` (as here) it also verifies SigV4 (presigned URLs too: signature, expiry,
signed headers) and answers CORS from the bucket's rules only.

    with ChecksumS3Server() as s3:
        bucket = s3.make_bucket(cors_origins=["http://127.0.0.1:8888"])
        url = s3.client().generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "k", "ChecksumCRC32C": b64})
        # PUT url with header x-amz-checksum-crc32c: b64 -> 200, or 400 BadDigest

Checked here (tests/test_checksum_server.py, docs/LEARNED.md):
- verifies CRC32 / CRC32C / CRC64NVME / SHA1 / SHA256 of PutObject and UploadPart bodies
  (400 ``BadDigest``, with the bucket's CORS headers); a checksum value in
  CompleteMultipartUpload must equal the stored part's (else 400 ``InvalidPart``);
  ``x-amz-mp-object-size`` is checked (400 ``InvalidRequest``); the composite checksum
  ``<crc of the part crcs>-N`` is returned by Complete and by Head/GetObject with
  ``ChecksumMode=ENABLED``; multipart ETags are ``"<md5>-N"``, as on S3;
- does not: refuse parts under 5 MiB, refuse a Complete without the part checksums,
  honour ``ChecksumType=FULL_OBJECT`` (always COMPOSITE), return the checksum header on
  a PutObject response (UploadPart's has it), refuse unsigned ``x-amz-*`` headers.

ministack computes CRC32C in pure Python (~5 MB/s on these machines, blocking every other
request meanwhile). By default (``fast_crc32c=True``) the launcher swaps in the C
``crc32c`` package, after checking that both give the same values; ministack's own
verification logic is unchanged. ``fast_crc32c=False`` runs ministack untouched.

The venv (tests/ministack/.venv) is created on first use, or by ``make`` (see the
Makefile's ministack stamp rule). ``ChecksumServerUnavailable`` is raised when it cannot be.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

from .s3_servers import TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY, LoopbackS3, cors_rule

MINISTACK_DIR = Path(__file__).resolve().parent.parent / "ministack"
REQUIREMENTS = MINISTACK_DIR / "requirements.txt"
VENV = MINISTACK_DIR / ".venv"
STAMP = VENV / ".installed"
MINISTACK_VERSION = "1.5.33"

# Runs in the ministack venv: stop when our end of stdin closes (no orphan servers if
# the test process dies), optionally swap in the C CRC32C, then ministack's own main().
_LAUNCHER = r"""
import json, os, random, sys, threading

def _exit_when_parent_goes():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)

threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
impl = "ministack"
if os.environ.get("S3UW_FAST_CRC32C") == "1":
    import crc32c
    from ministack.services import s3
    for data in (b"", b"123456789", random.Random(7).randbytes(100_003)):
        if crc32c.crc32c(data) != s3._crc32c(data):
            sys.exit("the crc32c package disagrees with ministack's CRC32C")
    s3._crc32c = crc32c.crc32c
    impl = "crc32c " + crc32c.__version__
print(json.dumps({"crc32c": impl}), flush=True)
from ministack.app import main
sys.argv = ["ministack"]
main()
"""


class ChecksumServerUnavailable(RuntimeError):
    """ministack could not be installed or started here."""


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_installed() -> bool:
    """The venv exists and was installed from the current requirements.txt."""
    try:
        return venv_python().exists() and STAMP.read_text().strip() == _requirements_digest()
    except OSError:
        return False


def ensure_installed(*, timeout: float = 600) -> None:
    """Create tests/ministack/.venv and pip-install requirements.txt, unless done already.

    One install at a time, even across processes (a lock in the temp dir). The stamp holds
    the requirements' digest, so changing a pin reinstalls."""
    if is_installed():
        return
    digest = hashlib.sha256(str(MINISTACK_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"s3-upload-widget-ministack-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if is_installed():
                return
            base = shutil.which("python3") or sys.executable
            steps = []
            if not venv_python().exists():
                steps.append([base, "-m", "venv", str(VENV)])
            steps.append(
                [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 "-r", str(REQUIREMENTS)]
            )  # fmt: skip
            for cmd in steps:
                try:
                    proc = subprocess.run(
                        cmd, capture_output=True, text=True, timeout=timeout, check=False
                    )
                except (OSError, subprocess.TimeoutExpired) as exc:
                    raise ChecksumServerUnavailable(f"{' '.join(cmd)}: {exc}") from exc
                if proc.returncode != 0:
                    raise ChecksumServerUnavailable(
                        f"{' '.join(cmd)} failed (exit {proc.returncode}):\n"
                        f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
                    )
            STAMP.write_text(_requirements_digest() + "\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChecksumS3Server(LoopbackS3):
    """ministack's S3 on 127.0.0.1 (a free port), AUTH on, only the S3 service, in memory.

    The same interface as ``MotoS3Server``: ``start``/``stop`` (or ``with``),
    ``endpoint_url``, ``client()``, ``make_bucket``, ``get_bytes``, ``kernel_env()``.
    The access key and secret are ministack's root credentials (its ``AWS_ACCESS_KEY_ID``
    and ``AWS_SECRET_ACCESS_KEY``); a request signed with any other secret gets 403.
    """

    def __init__(
        self,
        access_key: str = TEST_ACCESS_KEY,
        secret_key: str = TEST_SECRET_KEY,
        *,
        fast_crc32c: bool = True,
        start_timeout: float = 30,
    ):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = TEST_REGION
        self.fast_crc32c = fast_crc32c
        self.crc32c_impl = ""  # what computes CRC32C in the server, once started
        self.start_seconds = 0.0  # from launch to the first ready answer
        self.endpoint_url = ""
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._output: list[str] = []

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> ChecksumS3Server:
        if self._proc is not None:
            return self
        ensure_installed()
        self._tmp = tempfile.TemporaryDirectory(prefix="s3uw-ministack-")
        last_error = ""
        for _ in range(3):  # the port may be taken between choosing and binding it
            try:
                self._launch(_free_port())
                return self
            except ChecksumServerUnavailable as exc:
                last_error = str(exc)
                self._kill()
                if "already in use" not in last_error:
                    break
        self.stop()
        raise ChecksumServerUnavailable(last_error)

    def _environment(self, port: int) -> dict[str, str]:
        tmp = self._tmp.name
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.update(
            {
                "HOME": tmp,
                "TMPDIR": tmp,  # ministack's pid file and any scratch files
                "GATEWAY_PORT": str(port),
                "BIND_HOST": "127.0.0.1",
                "MINISTACK_HOST": "127.0.0.1",
                "AUTH": "true",  # verify SigV4; CORS only from bucket rules
                "SERVICES": "s3",
                "MINISTACK_REGION": self.region,
                "AWS_ACCESS_KEY_ID": self.access_key,  # the root credentials
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "S3_PERSIST": "0",
                "PERSIST_STATE": "0",
                "S3_DATA_DIR": os.path.join(tmp, "s3"),
                "SFTP_ENABLED": "0",  # else it may bind :2222
                "IOT_MTLS_ENABLED": "0",  # else it binds :8883
                "DOCKER_HOST": "unix:///nonexistent/docker.sock",  # never look for Docker
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                "S3UW_FAST_CRC32C": "1" if self.fast_crc32c else "0",
            }
        )
        return env

    def _launch(self, port: int) -> None:
        self._output = []
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [str(venv_python()), "-c", _LAUNCHER],
            cwd=self._tmp.name,
            env=self._environment(port),
            stdin=subprocess.PIPE,  # closing it stops the server
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        proc = self._proc

        def pump() -> None:
            for line in proc.stdout:
                self._output.append(line)

        threading.Thread(target=pump, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        deadline = started + self._start_timeout
        while True:
            if proc.poll() is not None:
                time.sleep(0.1)  # let the pump read the last lines
                raise ChecksumServerUnavailable(
                    f"ministack exited with {proc.returncode}:\n{self.output[-4000:]}"
                )
            if time.monotonic() > deadline:
                raise ChecksumServerUnavailable(
                    f"ministack not ready within {self._start_timeout:g} s:\n{self.output[-4000:]}"
                )
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"{url}/_ministack/health", timeout=2) as r:
                    health = json.loads(r.read())
                if (health.get("services") or {}).get("s3") and health.get("auth") == "enabled":
                    break
                raise ChecksumServerUnavailable(f"unexpected health answer: {health}")
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - started
        self.endpoint_url = url
        for line in self._output:
            with contextlib.suppress(ValueError, AttributeError):
                self.crc32c_impl = json.loads(line)["crc32c"]

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            proc.stdin.close()  # the launcher exits when stdin closes
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        with contextlib.suppress(Exception):
            proc.stdout.close()

    def stop(self) -> None:
        """Stop the server and remove its temp dir (idempotent)."""
        self._kill()
        self.endpoint_url = ""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ChecksumS3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def output(self) -> str:
        """What the server printed (warnings and errors; LOG_LEVEL=WARNING)."""
        return "".join(self._output)

    def rss_bytes(self) -> int:
        """The server's resident memory now (it keeps every object in memory)."""
        if self._proc is None:
            return 0
        with open(f"/proc/{self._proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    # -- use -------------------------------------------------------------------------
    def client(self, **config):
        """A SigV4, path-style boto3 client for this server (``config``: botocore Config
        options, e.g. ``retries``)."""
        if not self.endpoint_url:
            raise RuntimeError("ChecksumS3Server is not started")
        from s3_upload_widget._local import loopback_client

        return loopback_client(
            self.endpoint_url, self.access_key, self.secret_key, region=self.region, **config
        )

    def make_bucket(
        self, name: str | None = None, cors_origins: Sequence[str] | None = None
    ) -> str:
        """Create a bucket (a unique name unless given); with ``cors_origins``, add the CORS
        rule the widget needs for those origins; without, the bucket has no CORS at all."""
        name = name or f"s3uw-cks-{uuid.uuid4().hex[:12]}"
        c = self.client()
        c.create_bucket(Bucket=name)
        if cors_origins:
            c.put_bucket_cors(
                Bucket=name, CORSConfiguration={"CORSRules": [cors_rule(cors_origins)]}
            )
        return name

    def checksums(self, bucket: str, key: str) -> dict[str, str]:
        """HeadObject with ``ChecksumMode=ENABLED``: e.g. ``{"ChecksumCRC32C": "...",
        "ChecksumType": "FULL_OBJECT"}`` (a multipart object's value ends ``-N``)."""
        head = self.client().head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        return {k: v for k, v in head.items() if k.startswith("Checksum")}

    def __repr__(self) -> str:
        return f"ChecksumS3Server({self.endpoint_url or 'stopped'})"


if __name__ == "__main__":  # python -m tests.e2e.checksum_server: start one, print its URL
    with ChecksumS3Server() as server:
        print(json.dumps({"endpoint": server.endpoint_url, "crc32c": server.crc32c_impl}))
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
