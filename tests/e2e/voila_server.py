"""A real Voilà on 127.0.0.1 serving notebooks as dashboards, for browser tests.

Isolated like `JupyterServer` (its own HOME, Jupyter and IPython dirs in a temp dir); the
notebooks are copied into its root dir, so Voilà never touches the repo. Voilà runs the
whole notebook in a new kernel each time its page loads; the page's origin is
``http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .jupyter_server import JupyterServer


class VoilaServer(JupyterServer):
    """``voila ROOT_DIR`` on a free loopback port, serving copies of ``notebooks``
    (`dashboard_url` of one is its page).

    ``env``: the kernel's environment (Voilà's kernels inherit the server's)."""

    status_path = ""  # the tree of notebooks: no notebook runs for it

    def __init__(self, notebooks: list[str | Path], *, env: dict[str, str] | None = None, **kwargs):
        super().__init__("lab", env=env, **kwargs)
        self.notebooks = [Path(p) for p in notebooks]

    def _prepare_dirs(self) -> None:
        super()._prepare_dirs()
        for path in self.notebooks:
            shutil.copy(path, self.root_dir / path.name)

    def dashboard_url(self, name: str) -> str:
        """The page that runs ``name`` (one of ``notebooks``) and shows its outputs."""
        return self.url_for(f"voila/render/{name}")

    def _cmd(self) -> list[str]:
        return [
            self.python,
            "-m",
            "voila",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={self.port}",
            "--Voila.port_retries=0",
            f"--Voila.token={self.token}",
            str(self.root_dir),
            *self.extra_args,
        ]
