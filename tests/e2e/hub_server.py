"""A real JupyterHub on 127.0.0.1 for browser tests: DummyAuthenticator, one user's
JupyterLab started by SimpleLocalProcessSpawner, configurable-http-proxy in front.

Every port is a free loopback one and all state (the hub's database, cookie secret, the
proxy's pid file, the user's notebooks, Jupyter's and IPython's dirs) lives in a temp
dir. The page is at the hub's origin, ``http://127.0.0.1:PORT``, under
``/user/<name>/``: the origin a bucket's CORS rule must name.

Why SimpleLocalProcessSpawner: these machines (and CI) run as root, and
LocalProcessSpawner, run as root, starts each user's server as the Unix account of that
name (it needs one per test user). SimpleLocalProcessSpawner runs the user's server as
the hub's own user, with HOME in a per-user folder; as root that server needs
``--allow-root``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .jupyter_server import JupyterServer
from .support import free_port, wait_until, write_json

PROXY_DIR = Path(__file__).resolve().parents[1] / "hub"
PROXY_BIN = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"


def proxy_command() -> str:
    """configurable-http-proxy installed by ``make test`` (tests/hub), else a clear error."""
    if PROXY_BIN.exists():
        return str(PROXY_BIN)
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    raise RuntimeError(
        f"configurable-http-proxy is not installed: run `make test` (or "
        f"`cd {PROXY_DIR} && npm ci`), which installs it under tests/hub/node_modules"
    )


class JupyterHubServer(JupyterServer):
    """``jupyterhub`` on a free loopback port with one user, ``user``, whose JupyterLab
    serves ``root_dir`` (its notebooks) under ``/user/<user>/``.

    Drop-in for `JupyterServer` where `NotebookDriver` uses one: `origin` is the hub's,
    `notebook_url` is under the user's prefix, `api` calls the user's server with a
    service token. Log in through the hub's form first (`login`), in the same page.
    """

    status_path = "hub/api/"  # through the proxy: the proxy and the hub both answer

    def __init__(self, *, env: dict[str, str] | None = None, user: str = "alice", **kwargs):
        super().__init__("lab", env=env, **kwargs)
        self.user = user
        # DummyAuthenticator takes any password (its `password` option is deprecated
        # since JupyterHub 5.3): the form is filled as a person would, with one.
        self.password = secrets.token_urlsafe(12)
        self.hub_state = self.tmp_dir / "hub-state"  # database, secrets, pid files

    # URLs
    @property
    def prefix(self) -> str:
        return f"/user/{self.user}/"

    def url_for(self, path: str, **query: str) -> str:
        q = "&".join(k if v == "" else f"{k}={v}" for k, v in query.items())
        return f"{self.origin}/{path.lstrip('/')}" + (f"?{q}" if q else "")

    def notebook_url(self, name: str) -> str:
        name = name if name.endswith(".ipynb") else name + ".ipynb"
        return self.url_for(f"{self.prefix}lab/tree/{name}", reset="")

    # configuration
    def _config(self) -> str:
        hub_port, api_port = free_port(), free_port()
        spawner_env = {
            k: v
            for k, v in self._env().items()
            if k.startswith(("JUPYTER", "IPYTHON", "XDG_", "AWS_", "S3UW_", "NO_PROXY"))
            or k in ("no_proxy", "PYTHONUNBUFFERED")
        }
        singleuser = str(Path(self.python).with_name("jupyterhub-singleuser"))
        config = {
            "JupyterHub": {
                "bind_url": self.origin,
                "hub_bind_url": f"http://127.0.0.1:{hub_port}",
                "authenticator_class": "dummy",
                "spawner_class": "simple",
                "db_url": f"sqlite:///{self.hub_state / 'jupyterhub.sqlite'}",
                "cookie_secret_file": str(self.hub_state / "cookie_secret"),
                "pid_file": str(self.hub_state / "hub.pid"),
                "cleanup_servers": True,
                "services": [{"name": "s3uw-e2e", "api_token": self.token}],
                "load_roles": [
                    {
                        "name": "s3uw-e2e",
                        "scopes": ["admin:users", "admin:servers", "access:servers"],
                        "services": ["s3uw-e2e"],
                    }
                ],
            },
            "Authenticator": {"allow_all": True},
            "ConfigurableHTTPProxy": {
                "command": [proxy_command()],
                "api_url": f"http://127.0.0.1:{api_port}",
                "pid_file": str(self.hub_state / "proxy.pid"),
            },
            "Spawner": {
                "cmd": [singleuser],
                "args": ["--allow-root", "--LabApp.expose_app_in_browser=True"],
                "default_url": "/lab",
                "notebook_dir": str(self.root_dir),
                "environment": spawner_env,
                "start_timeout": 120,
                "http_timeout": 90,
            },
            "SimpleLocalProcessSpawner": {"home_dir_template": str(self.home / "{username}")},
        }
        return "".join(f"c.{cls}.{key} = {value!r}\n" for cls, d in config.items()
                       for key, value in d.items())  # fmt: skip

    def _prepare_dirs(self) -> None:
        super()._prepare_dirs()
        self.hub_state.mkdir(parents=True, exist_ok=True)
        (self.home / self.user).mkdir(parents=True, exist_ok=True)
        # The user's Lab: no news or update check (the hub's own settings dir is shared).
        write_json(
            self.config_dir / "jupyter_server_config.json",
            {"LabApp": {"extension_manager": "readonly", "check_for_updates_class":
                        "jupyterlab.handlers.announcements.NeverCheckForUpdate"}},
        )  # fmt: skip

    def _cmd(self) -> list[str]:
        config = self.hub_state / "jupyterhub_config.py"
        config.write_text(self._config())
        return [self.python, "-m", "jupyterhub", "-f", str(config)]

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> Any:
        """Call the user's server's REST API (``api("api/sessions")``) or the hub's
        (``api("hub/api/users")``) with the test service's token."""
        if not path.startswith("hub/"):
            path = self.prefix.lstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"token {self.token}"}
        if data:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url_for(path), data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    # the browser
    def login(self, page, *, timeout: float = 120.0) -> None:
        """Log in as `user` through the hub's login form in ``page`` and wait until the
        hub has started the user's JupyterLab and the page shows it."""
        page.goto(self.url_for("hub/login"), wait_until="domcontentloaded")
        page.fill("#username_input", self.user)
        page.fill("#password_input", self.password)
        page.click("#login_submit")
        lab = self.origin + self.prefix + "lab"
        wait_until(
            lambda: page.url.startswith(lab),
            timeout=timeout,
            page=page,
            interval=0.25,
            message=f"the hub to spawn {self.user}'s server and open {lab} (page at {page.url})",
        )


def _main() -> None:  # pragma: no cover - by hand: python -m tests.e2e.hub_server
    hub = JupyterHubServer().start()
    print(hub.origin, hub.user, hub.password, hub.tmp_dir, file=sys.stderr)
    try:
        input("Enter to stop\n")
    finally:
        hub.stop()


if __name__ == "__main__":  # pragma: no cover
    _main()
