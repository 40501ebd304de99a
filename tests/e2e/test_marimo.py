"""End-to-end in marimo (issue 12 item 1): notebooks/marimo_quickstart.py served by
``marimo run`` on 127.0.0.1, in headless Chromium. A real file picked through the widget
lands in moto, and the cell after the widget, which reads a ``mo.state`` that the kernel
sets from ``on_upload``, runs again by itself and shows the key; ``w.wait()`` refuses at
once there, saying what to do instead.

The app runs as a test copy (one cell added: the ``w.wait()`` call) pointed at the
session's moto bucket through environment variables (``S3_UPLOAD_BUCKET``,
``AWS_ENDPOINT_URL_S3``, the fake credentials), with a CORS rule for marimo's origin
``http://127.0.0.1:PORT``. Also takes the widget's screenshots in marimo's light and dark
themes (docs/widget-marimo-light.png, docs/widget-marimo-dark.png with S3UW_UPDATE_DOCS=1,
else tests/e2e/_artifacts/screenshots/).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from .a11y_helpers import assert_no_blocking_violations, axe_checked
from .support import free_port, make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import screenshot_dir, screenshot_widget

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "notebooks" / "marimo_quickstart.py"
MARIMO = Path(sys.executable).with_name("marimo")

# Added to the test copy: what w.wait() says in marimo, as a cell's output.
WAIT_CELL = """
@app.cell
def _(mo, w):
    try:
        w.wait(timeout=60)
        _said = "wait() returned"
    except RuntimeError as _exc:
        _said = str(_exc)
    mo.md(f"wait() said: {_said}")
    return

"""
MAIN = '\nif __name__ == "__main__":'


class MarimoRun:
    """``marimo run APP`` on 127.0.0.1 in a temp dir of its own (HOME, marimo's config)."""

    def __init__(self, app: Path, env: dict[str, str]) -> None:
        self.app = app
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        home = app.parent / "home"
        config = home / ".config" / "marimo"
        config.mkdir(parents=True)
        # "system": the page follows the browser's colour scheme, so one page shows both
        # themes (Playwright's emulate_media).
        (config / "marimo.toml").write_text('[display]\ntheme = "system"\n')
        self.env = {
            **os.environ,
            **env,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "MARIMO_SKIP_UPDATE_CHECK": "1",  # no traffic but loopback
        }
        self.log_path = app.parent / "marimo.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> MarimoRun:
        if not MARIMO.is_file():
            pytest.fail(f"{MARIMO} is missing: install the dev extra (make install)")
        cmd = [str(MARIMO), "run", str(self.app), "--headless", "--no-token"]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.app.parent, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._healthy, timeout=60, message=f"marimo run to answer at {self.origin}")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"marimo run exited {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.origin}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def test_quickstart_in_marimo_shows_the_key_when_the_upload_is_done(
    s3, hidpi_page, tmp_path, request
):
    app = tmp_path / "marimo_quickstart.py"
    source = QUICKSTART.read_text()
    assert source.count(MAIN) == 1, "the quickstart should end with its __main__ block"
    app.write_text(source.replace(MAIN, WAIT_CELL + MAIN))

    env = {
        "S3_UPLOAD_BUCKET": "",  # set below, once the origin (the port) is known
        "AWS_ENDPOINT_URL_S3": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
    }
    server = MarimoRun(app, env)
    bucket = s3.make_bucket(cors_origins=[server.origin])
    server.env["S3_UPLOAD_BUCKET"] = bucket
    t_start = time.monotonic()
    server.start()
    request.addfinalizer(server.stop)
    started_in = time.monotonic() - t_start

    page = hidpi_page
    page.emulate_media(color_scheme="light")
    t0 = time.monotonic()
    page.goto(server.origin + "/")
    widget = page.locator(".s3uw").first
    try:
        widget.wait_for(state="visible", timeout=90_000)
        page.get_by_text("No file yet: pick a file above").wait_for(timeout=30_000)
    except Exception:
        print(server.log_tail())
        raise
    shown_at = time.monotonic() - t0

    # w.wait() said why it can't work here, and what to do (it returned, at once).
    said = page.get_by_text("wait() said:")
    said.wait_for(timeout=30_000)
    assert "cannot work in marimo" in said.inner_text()
    assert "mo.state" in said.inner_text()

    data = tmp_path / "marimo-sample.csv"
    make_random_file(data, 300_000, seed="marimo")
    page.locator(".s3uw-input").set_input_files(str(data))

    # The cell after the widget runs again by itself and lists the key.
    listed = page.get_by_text("Uploaded (1):")
    listed.wait_for(timeout=60_000)
    done_at = time.monotonic() - t0
    keys = s3.list_keys(bucket)
    assert len(keys) == 1 and keys[0].startswith("uploads/"), keys
    [key] = keys
    assert keys[0].endswith("/marimo-sample.csv"), keys
    page.locator("code", has_text=key).first.wait_for(timeout=10_000)
    assert sha256_bytes(s3.get_bytes(bucket, key)) == sha256_file(data)
    # ...and so does the one after it, which reads the file back with boto3.
    page.get_by_text(f"First bytes of {key}").wait_for(timeout=30_000)
    assert widget.locator(".s3uw-row[data-status=done]").count() == 1

    shots = _screenshots(page, widget)
    print(
        f"marimo: server up in {started_in:.1f} s; widget and first outputs "
        f"{shown_at:.1f} s after goto, key listed after "
        f"{done_at:.1f} s; screenshots {', '.join(str(p) for p in shots)}"
    )


def _screenshots(page, widget) -> list[Path]:
    """The widget in marimo's light theme, then its dark one (the page follows the
    browser's colour scheme): checks marimo really switched before each picture, and
    that axe-core finds no serious or critical violation in the widget in either."""
    nb = SimpleNamespace(page=page, widget=lambda _i: widget)
    shots = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        wait_until(
            lambda scheme=scheme: _marimo_theme(page) == scheme,
            timeout=15,
            page=page,
            message=f"marimo's page to switch to its {scheme} theme",
        )
        shots.append(screenshot_widget(nb, screenshot_dir() / f"widget-marimo-{scheme}.png"))
        # The widget sits in the shadow root of marimo's <marimo-anywidget>: axe reads it there.
        assert_no_blocking_violations(page, "marimo-anywidget", f"marimo, {scheme} theme")
        checked = axe_checked(page, "marimo-anywidget")
        assert any("s3uw" in html for html in checked), f"axe did not reach the widget: {checked}"
    return shots


def _marimo_theme(page) -> str:
    """The theme marimo's page shows: it marks its body (``data-theme="light"|"dark"``)."""
    return page.evaluate("() => document.body.dataset.theme || ''")
