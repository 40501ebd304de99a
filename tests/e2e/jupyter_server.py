"""A real JupyterLab or Notebook 7 on 127.0.0.1, isolated in a temp dir, for browser tests.

Importable outside pytest (the benchmarks use it too).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .support import E2ETimeout, env_flag, free_port, wait_until, write_json

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
        self.keep_tmp = env_flag("S3UW_KEEP_TMP") if keep_tmp is None else keep_tmp
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
        write_json(
            self.settings_dir / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        # Save widget state into the .ipynb (the "no secrets in the saved notebook" test
        # needs the state there, or it proves nothing).
        write_json(
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
        write_json(path, values)
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

    status_path = "api/status"
    """A path that answers 200 once the server is up (a subclass may name its own)."""

    def _wait_ready(self) -> None:
        status_url = self.url_for(self.status_path)

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise E2ETimeout(f"{self._cmd()[2]} exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(status_url, timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_until(
            ready,
            timeout=self.startup_timeout,
            message=f"GET {self.origin}/{self.status_path} to answer 200",
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
