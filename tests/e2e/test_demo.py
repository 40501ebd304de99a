"""`make demo`, as a newcomer runs it: JupyterLab on notebooks/quickstart.ipynb, "Run All",
pick a file, and it lands in the local S3 server the notebook started (no AWS account).

The repo's own quickstart is opened in place, so autosave is off: the test must never
write outputs into it (tests/test_notebooks.py checks the notebooks hold no outputs).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from .browser import NotebookDriver
from .jupyter_server import JupyterServer
from .notebook_helpers import RUNNING, code_cell_index, run_all, wait_output, wait_prompt
from .support import write_json

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


class MakeDemo(JupyterServer):
    """`make demo` in the repo, with the harness's isolation (HOME, settings, port)."""

    def __init__(self) -> None:
        super().__init__("lab")
        # `jupyter lab notebooks/quickstart.ipynb` serves the notebook's folder.
        self.root_dir = REPO / "notebooks"

    def _prepare_dirs(self) -> None:
        super()._prepare_dirs()
        write_json(
            self.settings_dir / "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings",
            {"autosave": False},
        )

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env.pop("S3_UPLOAD_BUCKET", None)  # the demo's own switch: local S3 when unset
        for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # not the outer make's flags
            env.pop(name, None)
        return env

    def _cmd(self) -> list[str]:
        args = [
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
        ]
        demo_args = f"DEMO_ARGS={shlex.join(args)}"
        return ["make", "--no-print-directory", "-C", str(REPO), "demo", demo_args]


@pytest.fixture(scope="module")
def demo(widget_installed):
    server = MakeDemo().start()
    yield server
    server.stop()


def test_make_demo_uploads_to_local_s3(page, demo, tmp_path):
    nb = NotebookDriver(page, demo)
    data = b"station,reading\n" + b"".join(b"s%d,%d\n" % (i, i * 37 % 101) for i in range(400))
    path = tmp_path / "readings.csv"
    path.write_bytes(data)
    before = (REPO / "notebooks/quickstart.ipynb").read_bytes()

    nb.open("quickstart")
    run_all(nb)
    widget_cell = code_cell_index(nb, "S3UploadWidget(")
    wait_cell = code_cell_index(nb, "w.wait(")
    read_cell = code_cell_index(nb, "get_object(")
    setup = wait_output(nb, widget_cell - 1, "Uploading to")
    assert "(local test server)" in setup, setup
    nb.widget(widget_cell).wait_for(state="visible", timeout=30_000)
    wait_prompt(nb, wait_cell, RUNNING, "running")
    assert RUNNING.match(nb.prompt_text(wait_cell)), "Run All went past the wait"

    nb.pick_files(widget_cell, [path])
    done = wait_output(nb, wait_cell, "done readings.csv -> ")
    assert re.search(r"done readings\.csv -> uploads/\S+/readings\.csv", done), done
    read = wait_output(nb, read_cell, "bytes:")
    assert read.startswith(f"{len(data)} bytes: b'station,reading"), read
    assert (REPO / "notebooks/quickstart.ipynb").read_bytes() == before, "the demo saved over"
