"""Fixtures for the end-to-end tests: one moto S3 server, one JupyterLab and one Chromium
per session; a notebook and kernel per test, opened in one JupyterLab page that serves
test after test (``nb``, ``proxied_nb``: SharedPage), or in a page of its own
(``fresh_nb``, ``hidpi_nb``, ``nb7``) where a test needs Lab loaded afresh.

Env vars: S3UW_HEADED=1 (visible browser), S3UW_SLOWMO=ms, S3UW_KEEP_TMP=1 (keep the
Jupyter temp dir), S3UW_E2E_ARTIFACTS=always (artifacts for passing tests too).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from .browser import ConsoleLog, NotebookDriver, OpenRequests, launch_browser, throttle_upload
from .jupyter_server import JupyterServer
from .netproxy import NetProxy
from .s3_servers import MotoS3Server
from .support import wait_until

ARTIFACTS = Path(__file__).parent / "_artifacts"


@pytest.fixture(scope="session")
def widget_installed():
    """The kernel imports the installed package (the Jupyter root is a temp dir): check it
    imports from elsewhere than the repo and that its front end is built."""
    probe = (
        "import pathlib, s3_upload_widget as m; "
        "print(pathlib.Path(m.__file__).parent / 'static' / 'widget.js')"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe], cwd=tempfile.gettempdir(), capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.fail(
            "s3_upload_widget does not import outside the repo; install it: "
            f".venv/bin/pip install -e . --no-build-isolation\n{r.stderr[-2000:]}"
        )
    js = Path(r.stdout.strip())
    if not js.is_file():
        pytest.fail(f"{js} is missing: build the front end (cd js && npm run build)")


@pytest.fixture(scope="session")
def s3(widget_installed):
    # MotoS3Server is LocalS3's server: it needs the package, so check it first.
    server = MotoS3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jupyter(s3):
    # window.jupyterapp: the shared page opens each test's notebook in the app (SharedPage).
    args = ["--LabApp.expose_app_in_browser=True"]
    server = JupyterServer("lab", env=s3.kernel_env(), extra_args=args).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jupyter_notebook7(s3):
    """Notebook 7 (``jupyter notebook``), started only if a test asks for it."""
    server = JupyterServer("notebook", env=s3.kernel_env()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser(playwright_instance):
    home = Path(tempfile.mkdtemp(prefix="s3uw-e2e-chromium-"))
    b = launch_browser(playwright_instance, home=home)
    yield b
    b.close()
    shutil.rmtree(home, ignore_errors=True)


def _new_context(browser, **context_options):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **context_options)
    context.set_default_timeout(20_000)
    return context


def _new_page(browser, request, **context_options):
    """A page in a browser context of its own, watched for the failure artifacts."""
    context = _new_context(browser, **context_options)
    pg = context.new_page()
    request.node._s3uw_console = ConsoleLog(pg)
    request.node._s3uw_page = pg
    yield pg
    context.close()


class SharedPage:
    """One page, in a browser context of its own, that serves test after test: JupyterLab
    loads once (~5-10 s on 2 cores) and each test opens its notebook, with a new kernel,
    in that app (``NotebookDriver(use_app=True)``). After each test its notebooks are
    closed, its kernel shut down and any upload throttle lifted. The page is replaced by
    a new one after a test that failed or left it unfit: a dialog open, or a request to
    S3 still going (closing a notebook does not stop its widget's uploads: a test that
    leaves them running on purpose takes a page of its own, ``fresh_nb``)."""

    def __init__(self, browser):
        self.browser = browser
        self.context = None
        self.page = None

    def get(self):
        if self.page is None or self.page.is_closed():
            self.close()
            self.context = _new_context(self.browser)
            self.page = self.context.new_page()
        return self.page

    def close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.close()
        self.context = self.page = None


def _shared_driver(shared: SharedPage, jupyter, request, **driver_options):
    """A NotebookDriver on ``shared``'s page, watched for the failure artifacts."""
    pg = shared.get()
    console = ConsoleLog(pg)
    request.node._s3uw_console = console
    request.node._s3uw_page = pg
    request.node._s3uw_jupyter = jupyter
    driver = NotebookDriver(pg, jupyter, use_app=True, **driver_options)
    to_s3 = OpenRequests(pg, driver.origin)
    yield driver
    console.stop()
    fit = False
    try:
        fit = driver.close_notebooks()
        if getattr(pg, "_s3uw_throttle_cdp", None) is not None:
            throttle_upload(pg, None)
        if driver.name:  # in the background: the next test need not wait (~1 s)
            threading.Thread(target=_shutdown_quietly, args=(driver,), daemon=True).start()
        if fit and to_s3.open:  # a moment for requests ending as the test ended
            with contextlib.suppress(AssertionError):
                wait_until(lambda: not to_s3.open, timeout=3, page=pg, message="")
            fit = not to_s3.open
    finally:
        to_s3.stop()
        if not fit or getattr(request.node, "_s3uw_failed", False):
            shared.close()


def _shutdown_quietly(driver: NotebookDriver) -> None:
    with contextlib.suppress(Exception):  # the server stops at the end of the session
        driver.shutdown_kernel()


def _driver(page, jupyter, request, **driver_options):
    driver = NotebookDriver(page, jupyter, use_app=True, **driver_options)  # lab: see jupyter
    request.node._s3uw_jupyter = jupyter
    yield driver
    if driver.name:  # free the kernel: one per test adds up on a 2-core machine
        driver.shutdown_kernel()


@pytest.fixture
def page(browser, request):
    yield from _new_page(browser, request)


@pytest.fixture(scope="session")
def lab_page(browser):
    """The JupyterLab page ``nb`` tests share (SharedPage)."""
    shared = SharedPage(browser)
    yield shared
    shared.close()


@pytest.fixture
def hidpi_page(browser, request):
    """Like ``page``, at device scale factor 2: crisp README screenshots."""
    yield from _new_page(browser, request, device_scale_factor=2)


@pytest.fixture
def nb(lab_page, jupyter, request):
    """A NotebookDriver that opens its notebook in the shared JupyterLab page."""
    yield from _shared_driver(lab_page, jupyter, request)


@pytest.fixture
def fresh_nb(page, jupyter, request):
    """A NotebookDriver in a page of its own: for a test that changes what JupyterLab
    reads when it loads (user settings) before it opens its notebook, or whose uploads
    go on after it (its kernel shut down or killed mid-upload)."""
    yield from _driver(page, jupyter, request)


@pytest.fixture
def hidpi_nb(hidpi_page, jupyter, request):
    """Like ``nb``, in a ``hidpi_page``."""
    yield from _driver(hidpi_page, jupyter, request)


@pytest.fixture
def nb7(page, jupyter_notebook7, request):
    """A NotebookDriver for Notebook 7."""
    yield from _driver(page, jupyter_notebook7, request)


@pytest.fixture(scope="session")
def proxy():
    """NetProxy (netproxy.py): the network between the proxied browser and S3. Each
    ``proxied_nb`` test starts and ends with it clean (no shaping, no faults, empty log)."""
    with NetProxy(seed=0) as p:
        yield p


@pytest.fixture(scope="session")
def proxied_browser(playwright_instance, proxy):
    """A Chromium that sends 127.0.0.1 (S3) through ``proxy``; pages go to ``localhost``."""
    home = Path(tempfile.mkdtemp(prefix="s3uw-e2e-chromium-proxied-"))
    browser = launch_browser(playwright_instance, home=home, proxy_port=proxy.port)
    yield browser
    browser.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def proxied_page(proxied_browser):
    """The JupyterLab page (at http://localhost:PORT) ``proxied_nb`` tests share."""
    shared = SharedPage(proxied_browser)
    yield shared
    shared.close()


def _clean_proxy(proxy) -> None:
    proxy.faults()
    proxy.shape()
    proxy.clear()


@pytest.fixture
def proxied_nb(proxied_page, jupyter, proxy, request):
    """A NotebookDriver on the shared page at http://localhost:PORT in the proxied
    browser (with the failure artifacts of the hook below)."""
    _clean_proxy(proxy)
    yield from _shared_driver(proxied_page, jupyter, request, host="localhost")
    _clean_proxy(proxy)


@pytest.fixture
def notebook_name(request) -> str:
    """A notebook file name unique to this test."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name)[:80]


# --- artifacts on failure ---------------------------------------------------------------


def _artifact_dir(item) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)


def pytest_runtest_setup(item):
    # Artifacts left by an earlier failing run of this test would mislead.
    shutil.rmtree(_artifact_dir(item), ignore_errors=True)


def _save_artifacts(item, rep) -> None:
    out = _artifact_dir(item)
    out.mkdir(parents=True, exist_ok=True)
    page = getattr(item, "_s3uw_page", None)
    if page is not None and not page.is_closed():
        try:
            page.screenshot(path=str(out / "screenshot.png"), full_page=True, timeout=10_000)
        except Exception as exc:
            (out / "screenshot-error.txt").write_text(repr(exc))
        with contextlib.suppress(Exception):
            (out / "page.html").write_text(page.content())
    console = getattr(item, "_s3uw_console", None)
    if console is not None:
        (out / "console.log").write_text(console.text())
    jupyter = getattr(item, "_s3uw_jupyter", None) or item.funcargs.get("jupyter")
    if jupyter is not None:
        (out / "jupyter-log-tail.txt").write_text(jupyter.log_tail(300))
        rep.sections.append(("jupyter log (tail)", jupyter.log_tail(40)))
    (out / "failure.txt").write_text(str(rep.longrepr))
    rep.sections.append(("s3uw e2e artifacts", str(out)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when not in ("setup", "call"):
        return
    if rep.failed:  # a shared page this test used is replaced (SharedPage)
        item._s3uw_failed = True
    keep_all = os.environ.get("S3UW_E2E_ARTIFACTS", "") == "always"
    if rep.failed or (rep.when == "call" and keep_all):
        try:
            _save_artifacts(item, rep)
        except Exception as exc:  # never hide the real failure
            rep.sections.append(("s3uw e2e artifacts", f"could not save: {exc!r}"))
