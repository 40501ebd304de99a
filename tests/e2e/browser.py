"""Headless Chromium through Playwright, and a driver that uses a notebook in it like a person.

Importable outside pytest (the benchmarks use it too). Nothing here talks to anything but
127.0.0.1.

    from tests.e2e.browser import NotebookDriver, launch_browser
    from tests.e2e.jupyter_server import JupyterServer
    from tests.e2e.s3_servers import MotoS3Server

    with MotoS3Server() as s3, JupyterServer(env=s3.kernel_env()) as jupyter:
        with sync_playwright() as pw:
            browser = launch_browser(pw, home=jupyter.tmp_dir / "chromium-home")
            page = browser.new_page()
            nb = NotebookDriver(page, jupyter)
            nb.create("demo", ["x = 1 + 1"])
            nb.open()
            nb.run_cell(0)
            assert nb.eval_json("x") == 2
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import shutil
import tempfile
import urllib.error
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .jupyter_server import JupyterServer
from .support import E2ETimeout, KernelError, env_flag, wait_until

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
    # Every host but loopback fails to resolve: the browser cannot reach anything else.
    # (localhost is a second name of 127.0.0.1 for extra_endpoints' tests.)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def proxied_chromium_args(proxy_port: int) -> list[str]:
    """CHROMIUM_ARGS with every request to 127.0.0.1 sent through the HTTP proxy on
    127.0.0.1:``proxy_port`` (tests/e2e/netproxy.py), and ``localhost`` exempt: open the
    Jupyter page as ``http://localhost:PORT`` (``NotebookDriver(host="localhost")``), keep
    S3 at 127.0.0.1, and only S3's traffic crosses the proxy (the page's websockets would
    need CONNECT, which the proxy does not do).

    ``<-loopback>`` removes Chromium's implicit "never proxy loopback" rule. The host
    resolver rules must also exempt ``localhost``: ``MAP *`` applies to it too
    (net::ERR_NAME_NOT_RESOLVED). Only ``http:`` URLs use the proxy (``http=``): with a
    proxy for every scheme Chromium stops resolving names itself and asks the proxy to
    ``CONNECT accounts.google.com:443`` and ``content-autofill.googleapis.com:443``
    (refused there, but noise in its log); this way https stays direct and unresolvable.
    A PAC script cannot do it: Chromium then never proxies loopback at all."""
    return [
        *(a for a in CHROMIUM_ARGS if a != "--no-proxy-server"),
        f"--proxy-server=http=127.0.0.1:{int(proxy_port)}",
        "--proxy-bypass-list=<-loopback>;localhost",
    ]


def launch_browser(
    playwright,
    *,
    home: str | os.PathLike | None = None,
    headed: bool | None = None,
    proxy_port: int | None = None,
):
    """Debian's Chromium through Playwright (never ``playwright install``).

    ``home``: a temp HOME so Chromium never writes into the real one. ``headed``: default
    from the env var S3UW_HEADED=1. ``proxy_port``: send 127.0.0.1 traffic through the
    proxy on that port (`proxied_chromium_args`); the page must then be at ``localhost``.
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
    headed = env_flag("S3UW_HEADED") if headed is None else headed
    return playwright.chromium.launch(
        executable_path=exe,
        headless=not headed,
        args=CHROMIUM_ARGS if proxy_port is None else proxied_chromium_args(proxy_port),
        env=env,
        slow_mo=float(os.environ.get("S3UW_SLOWMO", "0") or 0),
    )


class _PageWatch:
    """Handlers of a page's events, until `stop` (a page that serves test after test
    gets a watch per test). Handlers must be functions: Playwright tags them."""

    def __init__(self, page, handlers: dict[str, Callable]):
        self._page = page
        self._handlers = handlers
        for event, handler in handlers.items():
            page.on(event, handler)

    def stop(self) -> None:
        for event, handler in self._handlers.items():
            with contextlib.suppress(Exception):
                self._page.remove_listener(event, handler)


class ConsoleLog(_PageWatch):
    """Collects a page's console messages and uncaught errors (for failure artifacts)."""

    def __init__(self, page):
        self.lines: list[str] = []
        super().__init__(
            page,
            {
                "console": lambda m: self.lines.append(f"[{m.type}] {m.text}"),
                "pageerror": lambda e: self.lines.append(f"[pageerror] {e}"),
                "requestfailed": lambda r: self.lines.append(
                    f"[requestfailed] {r.method} {r.url} {r.failure}"
                ),
            },
        )

    def text(self) -> str:
        return "\n".join(self.lines)


class OpenRequests(_PageWatch):
    """The page's HTTP requests to origins other than ``origin`` (the Jupyter page's own:
    what is left is S3) that have not ended yet, in `open`."""

    def __init__(self, page, origin: str):
        self.open: set = set()

        def started(r) -> None:
            if r.url.startswith("http") and not r.url.startswith(origin + "/"):
                self.open.add(r)

        def ended(r) -> None:
            self.open.discard(r)

        super().__init__(
            page, {"request": started, "requestfinished": ended, "requestfailed": ended}
        )


def throttle_upload(page, bytes_per_second: int | None) -> None:
    """Throttle the page's uploads with Chromium's network emulation (None: no limit).
    Chromium applies it to request bodies too, so an upload lasts long enough to watch.
    One DevTools session per page, so that None lifts a limit set before."""
    cdp = getattr(page, "_s3uw_throttle_cdp", None)
    if cdp is None:
        cdp = page._s3uw_throttle_cdp = page.context.new_cdp_session(page)
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

# JupyterLab's app object (window.jupyterapp, with --LabApp.expose_app_in_browser=True).
_CLOSE_DOCUMENTS = """() => {
  const app = window.jupyterapp;
  if (!app || !app.shell || document.querySelector(".jp-Dialog")) return false;
  for (const w of Array.from(app.shell.widgets("main"))) {
    if (w.context) w.context.model.dirty = false;  // no "save your work?" dialog
    w.dispose();
  }
  return document.querySelector(".jp-Dialog") === null;
}"""
_EXECUTE_IN_APP = r"""async ({code, timeoutMs}) => {
  const panel = Array.from(window.jupyterapp.shell.widgets("main")).find(
    (w) => w.sessionContext && w.isVisible);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel) return {outcome: "no kernel", text: ""};
  const future = kernel.requestExecute({code, store_history: false, allow_stdin: false});
  let text = "";
  future.onIOPub = (msg) => {
    const c = msg.content;
    const type = msg.header.msg_type;
    if (type === "stream") text += c.text;
    else if (type === "error") text += `${c.ename}: ${c.evalue}\n`;
    else if (type === "execute_result" || type === "display_data")
      text += (c.data["text/plain"] || "") + "\n";
  };
  const late = new Promise((resolve) => setTimeout(() => resolve("timeout"), timeoutMs));
  const outcome = await Promise.race(
    [future.done.then(() => "done", (e) => `failed: ${e}`), late]);
  if (outcome === "timeout") future.dispose();
  return {outcome, text};
}"""
_OPEN_IN_APP = """async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  app.commands.execute("docmanager:open", {path});  // open() waits for the kernel
  return true;
}"""


class NotebookDriver:
    """Drives one notebook at a time in JupyterLab (or Notebook 7) like a person would.

    Every notebook made by ``create`` ends with a "probe" cell that ``eval_json`` rewrites
    and runs to read the kernel's state.

    ``host``: the host name the page is opened at (default: the server's own,
    127.0.0.1); "localhost" for a browser whose 127.0.0.1 traffic crosses a proxy
    (``launch_browser(proxy_port=...)``). `origin` is then the page's origin, the one a
    bucket's CORS rule must name.

    ``use_app``: drive JupyterLab's app object (``window.jupyterapp``: Lab started with
    ``--LabApp.expose_app_in_browser=True``). When the page already shows this server's
    Lab, `open` closes the notebooks open there and opens the next one in the same app
    instead of loading Lab again; `eval_json` and `exec` send their code through the
    notebook's own kernel connection instead of typing it into the probe cell (the same
    kernel and namespace; ~0.05 s instead of ~0.5 s a probe).
    """

    def __init__(
        self,
        page,
        jupyter: JupyterServer,
        *,
        open_timeout: float = 60.0,
        host: str | None = None,
        use_app: bool = False,
    ):
        self.page = page
        self.jupyter = jupyter
        self.open_timeout = open_timeout
        self.host = host
        self.use_app = use_app
        self.name = ""
        self.probe_index = -1

    @property
    def origin(self) -> str:
        """The page's origin: the server's, or ``http://HOST:PORT`` with ``host``."""
        if self.host is None:
            return self.jupyter.origin
        return f"http://{self.host}:{self.jupyter.port}"

    def page_url(self, url: str) -> str:
        """``url`` (one of the server's) at the page's origin."""
        if url.startswith(self.jupyter.origin):
            return self.origin + url[len(self.jupyter.origin) :]
        return url

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
        if not (self.use_app and self._open_in_app(name)):
            url = self.page_url(self.jupyter.notebook_url(name))
            page.goto(url, wait_until="domcontentloaded")
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

    def _open_in_app(self, name: str) -> bool:
        """Open ``name`` in the JupyterLab the page already shows (False: it shows none)."""
        if self.jupyter.app != "lab" or not self.page.url.startswith(self.origin + "/lab"):
            return False
        if not self.close_notebooks():
            return False
        path = self.path_of(name).relative_to(self.jupyter.root_dir).as_posix()
        return bool(self.page.evaluate(_OPEN_IN_APP, path))

    def close_notebooks(self) -> bool:
        """Close every document open in the page's JupyterLab, unsaved changes dropped
        (their kernels keep running: see `shutdown_kernel`). Returns whether the page is
        fit to open the next notebook: Lab's app is there and no dialog is open."""
        if self.page.is_closed():
            return False
        return bool(self.page.evaluate(_CLOSE_DOCUMENTS))

    def _count_cells_on_disk(self, name: str) -> int:
        return len(json.loads(self.path_of(name).read_text())["cells"])

    # -- running
    def prompt_text(self, i: int) -> str:
        return (self.prompt(i).text_content(timeout=5000) or "").strip()

    def run_cell(self, i: int, *, timeout: float = 60.0, key: str = "Shift+Enter") -> int:
        """Click cell ``i``'s editor, press ``key`` and wait until the cell has finished
        (its prompt shows a new execution count). Returns the execution count."""
        before = self.prompt_text(i)
        self.cell(i).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press(key)

        def finished():
            text = self.prompt_text(i)
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
            lambda: self.prompt_text(i) == "[*]:",
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

    def _execute_in_app(self, code: str, timeout: float) -> str:
        """Run ``code`` on the visible notebook's kernel connection; return its output text
        (streams, results, errors), as the probe cell would show it."""
        answer = self.page.evaluate(_EXECUTE_IN_APP, {"code": code, "timeoutMs": timeout * 1000})
        if answer["outcome"] == "timeout":
            raise E2ETimeout(f"timed out after {timeout:g} s: the kernel to run {code!r}")
        if answer["outcome"] != "done":
            raise KernelError(f"running {code!r} failed: {answer['outcome']}\n{answer['text']}")
        return answer["text"]

    def output_text(self, i: int) -> str:
        return "\n".join(t or "" for t in self.outputs(i).all_text_contents())

    def _run_probe(self, code_line: str, timeout: float) -> str:
        i = self.probe_index
        if i < 0:
            raise RuntimeError("no probe cell: create() the notebook with this driver first")
        if self.use_app and self.jupyter.app == "lab":
            return self._execute_in_app(code_line, timeout)
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
