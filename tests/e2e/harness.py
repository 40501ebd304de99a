"""End-to-end harness: moto's S3 server, a real JupyterLab / Notebook 7, headless Chromium.

Importable outside pytest (the benchmarks use it too). Nothing here talks to anything but
127.0.0.1.

    from tests.e2e.harness import MotoS3Server, JupyterServer, launch_browser, NotebookDriver

    with MotoS3Server() as s3, JupyterServer(env=s3.kernel_env()) as jupyter:
        with sync_playwright() as pw:
            browser = launch_browser(pw, home=jupyter.tmp_dir / "chromium-home")
            page = browser.new_page()
            nb = NotebookDriver(page, jupyter)
            nb.create("demo", ["x = 1 + 1"])
            nb.open("demo")
            nb.run_cell(0)
            assert nb.eval_json("x") == 2
"""

from __future__ import annotations

# --- moto must see this before it is imported anywhere in this process ------------------
# Without it moto's server answers CORS for every origin, even on a bucket without a CORS
# rule, and a CORS bug in the widget goes unseen.
import os

os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "1"

import atexit
import base64
import contextlib
import hashlib
import json
import logging
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# Fake credentials. Distinctive on purpose: a test greps saved notebooks for them, which
# proves nothing if the value is a common word like "testing".
TEST_ACCESS_KEY = "AKIAS3UWE2EFAKEKEY42"
TEST_SECRET_KEY = "s3uwE2eFakeSecret/Zq9T3xWvK7pLm2Rt8YcN4bHs6Jd"
TEST_REGION = "us-east-1"

PROBE_MARKER = "@@S3UW@@"

# The visible notebook (JupyterLab keeps hidden panels in the DOM).
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--no-proxy-server",
    # Every host but 127.0.0.1 fails to resolve: the browser cannot reach anything else.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


class E2ETimeout(AssertionError):
    """A wait ran past its deadline. An AssertionError so pytest prints the message."""


class KernelError(AssertionError):
    """The probe cell raised in the kernel; the message holds the cell's output text."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def wait_until(
    fn: Callable[[], Any],
    *,
    timeout: float,
    message: str,
    page: Any = None,
    interval: float = 0.2,
) -> Any:
    """Call ``fn`` until it returns something truthy; return that value.

    Raises E2ETimeout naming ``message`` and the last value (or exception) after
    ``timeout`` seconds. With ``page`` it sleeps with ``page.wait_for_timeout`` so that
    sync Playwright keeps delivering events (console, websockets) while we wait.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        try:
            last = fn()
            last_exc = None
            if last:
                return last
        except (E2ETimeout, KernelError):
            raise
        except Exception as exc:  # keep polling; report it if time runs out
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f"last exception: {last_exc!r}" if last_exc else f"last value: {last!r}"
            raise E2ETimeout(f"timed out after {timeout:g} s: {message} ({detail})")
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- test data -----------------------------------------------------------------------


def make_random_file(path: str | os.PathLike, size: int, seed: int | str = 0) -> Path:
    """Write ``size`` bytes from a seeded random stream (not a repeated pattern, so a part
    uploaded twice or into the wrong slot changes the bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    chunk = 1 << 20
    remaining = size
    with open(path, "wb") as f:
        while remaining > 0:
            n = min(chunk, remaining)
            f.write(rng.randbytes(n))
            remaining -= n
    return path


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- S3 (moto's server) --------------------------------------------------------------


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


class MotoS3Server:
    """moto's S3 server on 127.0.0.1 in a thread of this process, with global CORS off."""

    def __init__(self, access_key: str = TEST_ACCESS_KEY, secret_key: str = TEST_SECRET_KEY):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = TEST_REGION
        self._server = None
        self.endpoint_url = ""

    def start(self) -> MotoS3Server:
        # If something imported moto before this module, the env var above came too late:
        # moto reads it at import time. Force the module flag that create_backend_app
        # reads when the server builds its app, so CORS stays per bucket either way.
        from moto.moto_server import werkzeug_app
        from moto.server import ThreadedMotoServer

        werkzeug_app.DISABLE_GLOBAL_CORS = True
        # One log line per request (hundreds per multipart upload) drowns failure reports.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def client(self):
        from s3_upload_widget._local import loopback_client

        return loopback_client(
            self.endpoint_url, self.access_key, self.secret_key, region=self.region
        )

    def make_bucket(
        self, name: str | None = None, cors_origins: Sequence[str] | None = None
    ) -> str:
        """Create a bucket (a unique name unless given); with ``cors_origins``, add the CORS
        rule the widget needs for those origins; without, the bucket has no CORS at all."""
        name = name or f"s3uw-e2e-{uuid.uuid4().hex[:12]}"
        c = self.client()
        c.create_bucket(Bucket=name)
        if cors_origins:
            c.put_bucket_cors(
                Bucket=name, CORSConfiguration={"CORSRules": [cors_rule(cors_origins)]}
            )
        return name

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

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
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
        import threading

        self.app = app
        self.clock = clock
        self.rejections: list[dict[str, Any]] = []
        self.presigned_requests = 0  # presigned requests seen (expired or not)
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        from datetime import datetime, timezone
        from urllib.parse import parse_qs

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
        wsgi_server = self._server._server  # werkzeug's server: handlers call .app per request
        self.rejector = ExpiredUrlRejector(wsgi_server.app)
        wsgi_server.app = self.rejector
        return self

    @property
    def expired_rejections(self) -> list[dict[str, Any]]:
        return list(self.rejector.rejections) if self.rejector else []

    @property
    def presigned_requests(self) -> int:
        return self.rejector.presigned_requests if self.rejector else 0


# --- Jupyter server --------------------------------------------------------------------


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))


# Environment variables a kernel must not inherit from the developer's shell.
_SCRUB_PREFIXES = ("AWS_", "JUPYTER", "JPY_", "IPYTHON", "BOTO", "S3UW_")


class JupyterServer:
    """``jupyter lab`` (or ``jupyter notebook`` for Notebook 7) on a free loopback port,
    isolated in a temp dir (its own HOME, config, data, runtime, IPython and settings dirs).

    ``env``: extra environment for the server, inherited by its kernels (S3 endpoint,
    credentials). ``python``: interpreter that runs Jupyter (default: this one).
    """

    def __init__(
        self,
        app: str = "lab",
        *,
        env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
        python: str | None = None,
        startup_timeout: float = 60.0,
        keep_tmp: bool | None = None,
    ):
        if app not in ("lab", "notebook"):
            raise ValueError(f"app must be 'lab' or 'notebook', not {app!r}")
        self.app = app
        self.extra_env = dict(env or {})
        self.extra_args = list(extra_args)
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.keep_tmp = _env_flag("S3UW_KEEP_TMP") if keep_tmp is None else keep_tmp
        self.token = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.tmp_dir = Path(tempfile.mkdtemp(prefix=f"s3uw-e2e-{app}-"))
        self.root_dir = self.tmp_dir / "root"
        self.home = self.tmp_dir / "home"
        self.config_dir = self.tmp_dir / "jupyter-config"
        self.data_dir = self.tmp_dir / "jupyter-data"
        self.runtime_dir = self.tmp_dir / "jupyter-runtime"
        self.ipython_dir = self.tmp_dir / "ipython"
        self.settings_dir = self.tmp_dir / "lab-user-settings"
        self.workspaces_dir = self.tmp_dir / "lab-workspaces"
        self.log_path = self.tmp_dir / "jupyter.log"
        self._log_file = None

    # URLs
    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + "/"

    def url_for(self, path: str, **query: str) -> str:
        q = "&".join(
            [*(k if v == "" else f"{k}={v}" for k, v in query.items()), f"token={self.token}"]
        )
        return f"{self.origin}/{path.lstrip('/')}?{q}"

    def notebook_url(self, name: str) -> str:
        name = name if name.endswith(".ipynb") else name + ".ipynb"
        if self.app == "lab":
            return self.url_for(f"lab/tree/{name}", reset="")
        return self.url_for(f"notebooks/{name}")

    def _prepare_dirs(self) -> None:
        for d in (
            self.root_dir,
            self.home,
            self.config_dir,
            self.data_dir,
            self.runtime_dir,
            self.ipython_dir,
            self.settings_dir,
            self.workspaces_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        # No "Jupyter news?" toast, no update check covering the page.
        _write_json(
            self.settings_dir / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        # Save widget state into the .ipynb (the "no secrets in the saved notebook" test
        # needs the state there, or it proves nothing).
        _write_json(
            self.settings_dir / "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings",
            {"saveState": True},
        )

    @contextlib.contextmanager
    def user_settings(self, plugin: str, values: dict) -> Iterator[None]:
        """JupyterLab user settings for ``plugin`` (e.g.
        ``"@jupyterlab/apputils-extension:kernels-settings"``) while the block runs. Lab
        reads them when a page loads: open the notebook inside the block."""
        package, _, name = plugin.partition(":")
        path = self.settings_dir / package / f"{name}.jupyterlab-settings"
        if path.exists():
            raise RuntimeError(f"{path} exists: another test left its settings behind")
        _write_json(path, values)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
        env.update(
            HOME=str(self.home),
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_DATA_DIR=str(self.data_dir),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            IPYTHONDIR=str(self.ipython_dir),
            JUPYTERLAB_SETTINGS_DIR=str(self.settings_dir),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workspaces_dir),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_DATA_HOME=str(self.home / ".local/share"),
            # boto3 in the kernel: no profile files, never the EC2 metadata endpoint.
            AWS_CONFIG_FILE=str(self.home / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.home / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        for k in list(env):
            if k.lower() in ("http_proxy", "https_proxy", "all_proxy"):
                del env[k]
        env.update(self.extra_env)
        return env

    def _cmd(self) -> list[str]:
        module = "jupyterlab" if self.app == "lab" else "notebook"
        app_cls = "LabApp" if self.app == "lab" else "JupyterNotebookApp"
        return [
            self.python,
            "-m",
            module,
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--{app_cls}.extension_manager=readonly",
            f"--{app_cls}.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            *self.extra_args,
        ]

    def start(self) -> JupyterServer:
        self._prepare_dirs()
        last_error = ""
        for _attempt in range(3):  # a port taken between free_port() and bind: retry
            self.port = free_port()
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 (closed in _terminate)
            self._log_file.write(f"\n=== start {' '.join(self._cmd())}\n".encode())
            self._log_file.flush()
            self.proc = subprocess.Popen(
                self._cmd(),
                cwd=self.root_dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                self._wait_ready()
                return self
            except E2ETimeout as exc:
                last_error = str(exc)
                port_busy = "already in use" in self.log_tail(30)
                self._terminate()
                if not port_busy:
                    break
        raise E2ETimeout(
            f"Jupyter ({self.app}) did not start: {last_error}\n--- {self.log_path} (tail) ---\n"
            + self.log_tail()
        )

    def _wait_ready(self) -> None:
        status_url = self.url_for("api/status")

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise E2ETimeout(f"jupyter exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(status_url, timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_until(
            ready,
            timeout=self.startup_timeout,
            message=f"GET {self.origin}/api/status to answer 200",
            interval=0.1,
        )

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> Any:
        """Call the Jupyter REST API (e.g. ``api("api/kernels")``)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url_for(path),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kernel_pids(self) -> list[int]:
        """PIDs of this server's kernels (their command line names our runtime dir)."""
        pids = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "ipykernel_launcher" in cmd and str(self.runtime_dir) in cmd:
                pids.append(int(p.name))
        return pids

    def _terminate(self, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is None:
            return
        kernels = self.kernel_pids()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # Kernels the server did not shut down (they run in their own sessions).
        for pid in kernels:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        self._terminate()
        if not self.keep_tmp:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        if exc and exc[0] is not None:
            print(f"--- {self.log_path} (tail) ---\n{self.log_tail()}", file=sys.stderr)
        self.stop()


def proc_status_kib(pid: int, field: str = "VmHWM") -> int:
    """A ``/proc/PID/status`` memory field in KiB (``VmHWM``: peak resident set)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


# --- browser ---------------------------------------------------------------------------


def launch_browser(
    playwright, *, home: str | os.PathLike | None = None, headed: bool | None = None
):
    """Debian's Chromium through Playwright (never ``playwright install``).

    ``home``: a temp HOME so Chromium never writes into the real one. ``headed``: default
    from the env var S3UW_HEADED=1.
    """
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise RuntimeError("chromium not found on PATH (apt-get install -y chromium)")
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="s3uw-e2e-chromium-"))
        atexit.register(shutil.rmtree, home, True)
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "LANG", "TZ"):
        if k in os.environ:
            env[k] = os.environ[k]
    headed = _env_flag("S3UW_HEADED") if headed is None else headed
    return playwright.chromium.launch(
        executable_path=exe,
        headless=not headed,
        args=CHROMIUM_ARGS,
        env=env,
        slow_mo=float(os.environ.get("S3UW_SLOWMO", "0") or 0),
    )


class ConsoleLog:
    """Collects a page's console messages and uncaught errors (for failure artifacts)."""

    def __init__(self, page):
        self.lines: list[str] = []
        page.on("console", lambda m: self.lines.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.lines.append(f"[pageerror] {e}"))
        page.on(
            "requestfailed",
            lambda r: self.lines.append(f"[requestfailed] {r.method} {r.url} {r.failure}"),
        )

    def text(self) -> str:
        return "\n".join(self.lines)


def throttle_upload(page, bytes_per_second: int | None) -> None:
    """Throttle the page's uploads with Chromium's network emulation (None: no limit).
    Chromium applies it to request bodies too, so an upload lasts long enough to watch."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": float(bytes_per_second) if bytes_per_second else -1,
        },
    )


# --- the notebook driver ---------------------------------------------------------------

_PROMPT_DONE = re.compile(r"^\s*\[\s*(\d+)\s*\]\s*:?\s*$")


class NotebookDriver:
    """Drives one notebook at a time in JupyterLab (or Notebook 7) like a person would.

    Every notebook made by ``create`` ends with a "probe" cell that ``eval_json`` rewrites
    and runs to read the kernel's state.
    """

    def __init__(self, page, jupyter: JupyterServer, *, open_timeout: float = 60.0):
        self.page = page
        self.jupyter = jupyter
        self.open_timeout = open_timeout
        self.name = ""
        self.probe_index = -1

    # -- files
    def path_of(self, name: str) -> Path:
        name = name if name.endswith(".ipynb") else name + ".ipynb"
        return self.jupyter.root_dir / name

    def create(self, name: str, cells: Iterable[str]) -> Path:
        """Write NAME.ipynb (kernelspec python3) with ``cells`` plus the probe cell."""
        import nbformat

        cells = list(cells)
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nb.cells.append(nbformat.v4.new_code_cell("# probe: rewritten by the test harness"))
        path = self.path_of(name)
        nbformat.write(nb, str(path))
        self.name = name
        self.probe_index = len(cells)
        return path

    # -- locators
    @property
    def panel(self):
        return self.page.locator(NB)

    def cell(self, i: int):
        return self.page.locator(f"{NB} .jp-Notebook .jp-Cell").nth(i)

    def prompt(self, i: int):
        return self.cell(i).locator(".jp-InputArea-prompt").first

    def outputs(self, i: int):
        return self.cell(i).locator(".jp-OutputArea-output")

    def widget(self, i: int):
        """The ``.s3uw`` root rendered in cell ``i``'s output."""
        return self.cell(i).locator(".jp-OutputArea-output .s3uw").first

    # -- opening
    def open(self, name: str | None = None) -> None:
        """Open the notebook and wait until its kernel is ready and idle."""
        name = name or self.name
        if name != self.name:
            self.name = name
            self.probe_index = self._count_cells_on_disk(name) - 1
        page = self.page
        page.goto(self.jupyter.notebook_url(name), wait_until="domcontentloaded")
        kernel_name = page.locator(f"{NB} .jp-Toolbar-kernelName").first
        indicator = page.locator(f"{NB} .jp-Notebook-ExecutionIndicator").first

        def kernel_ready() -> bool:
            # The indicator says "idle" before a kernel exists: check the kernel name too.
            return (
                "ipykernel" in (kernel_name.text_content(timeout=1000) or "")
                and indicator.get_attribute("data-status", timeout=1000) == "idle"
            )

        wait_until(
            kernel_ready,
            timeout=self.open_timeout,
            page=page,
            message=f"notebook {name!r} to open with an idle ipykernel "
            f"(.jp-Toolbar-kernelName contains 'ipykernel' and "
            f".jp-Notebook-ExecutionIndicator[data-status=idle])",
        )
        wait_until(
            lambda: self.cell(self.probe_index).count() == 1,
            timeout=10,
            page=page,
            message=f"cell {self.probe_index} (the probe) to be in the DOM",
        )

    def _count_cells_on_disk(self, name: str) -> int:
        return len(json.loads(self.path_of(name).read_text())["cells"])

    # -- running
    def _prompt_text(self, i: int) -> str:
        return (self.prompt(i).text_content(timeout=5000) or "").strip()

    def run_cell(self, i: int, *, timeout: float = 60.0, key: str = "Shift+Enter") -> int:
        """Click cell ``i``'s editor, press ``key`` and wait until the cell has finished
        (its prompt shows a new execution count). Returns the execution count."""
        before = self._prompt_text(i)
        self.cell(i).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press(key)

        def finished():
            text = self._prompt_text(i)
            m = _PROMPT_DONE.match(text)
            return m and text != before and int(m.group(1))

        return wait_until(
            finished,
            timeout=timeout,
            page=self.page,
            interval=0.05,
            message=f"cell {i} to finish running (prompt was {before!r})",
        )

    def start_cell(self, i: int, *, timeout: float = 30.0) -> None:
        """Click cell ``i``'s editor, press Shift+Enter and return once the kernel is running
        it (its prompt shows ``[*]``), without waiting for it to finish."""
        self.cell(i).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        wait_until(
            lambda: self._prompt_text(i) == "[*]:",
            timeout=timeout,
            page=self.page,
            interval=0.05,
            message=f"cell {i} to start running (its prompt to show [*]:)",
        )

    def set_cell_source(self, i: int, text: str) -> None:
        """Replace cell ``i``'s text by typing (Ctrl+A, then insert the text). ``text``
        must be one line (no auto-indent surprises); the result is checked."""
        if "\n" in text:
            raise ValueError("set_cell_source types one line; use exec/eval with repr() for more")
        editor = self.cell(i).locator(".jp-InputArea-editor")
        editor.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.insert_text(text)
        content = editor.locator(".cm-content")
        wait_until(
            lambda: (content.text_content(timeout=2000) or "") == text,
            timeout=5,
            page=self.page,
            interval=0.05,
            message=f"cell {i}'s editor to hold the probe code {text!r}",
        )

    def output_text(self, i: int) -> str:
        return "\n".join(t or "" for t in self.outputs(i).all_text_contents())

    def _run_probe(self, code_line: str, timeout: float) -> str:
        i = self.probe_index
        if i < 0:
            raise RuntimeError("no probe cell: create() the notebook with this driver first")
        self.set_cell_source(i, code_line)
        # Ctrl+Enter runs the cell and stays on it (Shift+Enter would append a new cell).
        self.run_cell(i, timeout=timeout, key="ControlOrMeta+Enter")
        return self.output_text(i)

    def eval_json(self, py_expr: str, *, timeout: float = 30.0) -> Any:
        """Evaluate ``py_expr`` in the kernel (in the notebook's namespace) and return its
        value through JSON (``default=str``). Raises KernelError with the output text if the
        kernel raised."""
        code = (
            f"import json as _s3uw_json; print({PROBE_MARKER!r} + "
            f"_s3uw_json.dumps(eval({py_expr!r}), default=str))"
        )
        text = self._run_probe(code, timeout)
        for line in text.splitlines():
            if line.startswith(PROBE_MARKER):
                return json.loads(line[len(PROBE_MARKER) :])
        raise KernelError(f"evaluating {py_expr!r} in the kernel failed:\n{text}")

    def exec(self, py_code: str, *, timeout: float = 30.0) -> None:
        """Run statements (any number of lines) in the kernel; raise KernelError if they
        raise."""
        code = f"exec({py_code!r}); print({PROBE_MARKER!r} + 'ok')"
        text = self._run_probe(code, timeout)
        if PROBE_MARKER + "ok" not in text:
            raise KernelError(f"running {py_code!r} in the kernel failed:\n{text}")

    def wait_for_kernel(
        self,
        py_expr: str,
        predicate: Callable[[Any], bool] = bool,
        *,
        timeout: float = 60.0,
        interval: float = 0.3,
        message: str = "",
    ) -> Any:
        """Poll ``eval_json(py_expr)`` until ``predicate(value)``; return the value."""
        last: list[Any] = [None]

        def check():
            last[0] = self.eval_json(py_expr)
            return predicate(last[0])

        try:
            wait_until(
                check,
                timeout=timeout,
                page=self.page,
                interval=interval,
                message=message or f"kernel: {py_expr!r} to satisfy the predicate",
            )
        except E2ETimeout as exc:
            raise E2ETimeout(f"{exc}\nlast kernel value of {py_expr!r}: {last[0]!r}") from None
        return last[0]

    # -- files into the widget
    def pick_files(self, cell_i: int, paths: Sequence[str | os.PathLike]) -> None:
        """Choose files with the widget's own ``<input type=file>`` (``.s3uw-input``)."""
        self.widget(cell_i).locator(".s3uw-input").set_input_files([str(p) for p in paths])

    def drop_files(self, cell_i: int, files: Sequence[tuple[str, bytes, str]]) -> None:
        """Drop files (name, bytes, mime type) onto the widget's ``.s3uw-dropzone``:
        dragenter, dragover and drop events carrying a DataTransfer of File objects."""
        payload = [
            {"name": n, "b64": base64.b64encode(data).decode("ascii"), "type": mime}
            for n, data, mime in files
        ]
        zone = self.widget(cell_i).locator(".s3uw-dropzone")
        zone.wait_for(state="visible", timeout=10_000)
        zone.evaluate(
            """(el, files) => {
                const dt = new DataTransfer();
                for (const f of files) {
                    const bin = atob(f.b64);
                    const bytes = new Uint8Array(bin.length);
                    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
                    dt.items.add(new File([bytes], f.name, {type: f.type}));
                }
                const r = el.getBoundingClientRect();
                const at = {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2};
                for (const type of ["dragenter", "dragover", "drop"]) {
                    el.dispatchEvent(new DragEvent(type, {
                        bubbles: true, cancelable: true, composed: true, dataTransfer: dt, ...at,
                    }));
                }
            }""",
            payload,
        )

    def shutdown_kernel(self, name: str | None = None) -> None:
        """Shut down the kernel of the notebook (its Jupyter session), through the REST API."""
        path = self.path_of(name or self.name).relative_to(self.jupyter.root_dir).as_posix()
        for session in self.jupyter.api("api/sessions") or []:
            if session.get("path") == path:
                with contextlib.suppress(urllib.error.HTTPError):
                    self.jupyter.api(f"api/sessions/{session['id']}", method="DELETE")

    # -- saving
    def save(self, *, timeout: float = 30.0) -> Path:
        """Save with Ctrl+S and wait until the file on disk has changed; return its path."""
        path = self.path_of(self.name)
        before = path.stat().st_mtime_ns if path.exists() else 0
        # Command mode on a cell (not inside a widget's input), then the shortcut.
        self.cell(self.probe_index).locator(".jp-InputPrompt, .jp-InputArea-prompt").first.click()
        self.page.keyboard.press("ControlOrMeta+s")

        def saved() -> bool:
            if not path.exists() or path.stat().st_mtime_ns == before:
                return False
            try:
                json.loads(path.read_text())
            except ValueError:
                return False  # still being written
            return True

        wait_until(saved, timeout=timeout, page=self.page, message=f"{path} to be saved (Ctrl+S)")
        return path
