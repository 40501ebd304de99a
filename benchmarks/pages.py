"""A benchmark notebook in a browser page of its own, and the /proc readings of its processes."""

from __future__ import annotations

import contextlib
import time

from tests.e2e.browser import NotebookDriver

from . import measure as M

FINAL = ("done", "error", "cancelled")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Page:
    """One browser context + page + notebook (so one kernel), with the page's requests
    (Playwright's view) and a CDP session for JS heap metrics."""

    counter = 0

    def __init__(self, browser, jupyter, cell_sources, *, init_script=None, name="bench"):
        Page.counter += 1
        self.jupyter = jupyter
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(30_000)
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.requests: list[tuple[float, str, str]] = []
        self.page.on("request", lambda r: self.requests.append((time.time(), r.method, r.url)))
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"[:500]))
        self.nb = NotebookDriver(self.page, jupyter)
        self.nb.create(f"{name}-{Page.counter}", cell_sources)
        self.nb.open()
        self.nb.run_cell(0, timeout=120)
        self.kernel_pid = int(self.nb.eval_json("os.getpid()"))
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")

    def metrics(self) -> dict:
        """The page's CDP Performance metrics (main-thread durations in s, counts)."""
        try:
            return {
                m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]
            }
        except Exception:
            return {}

    def js_heap_mib(self) -> float | None:
        try:
            metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        except Exception:
            return None
        for m in metrics:
            if m["name"] == "JSHeapUsedSize":
                return m["value"] / M.MiB
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nb.shutdown_kernel()
        with contextlib.suppress(Exception):
            self.context.close()


def page_renderer_pid() -> int | None:
    """The renderer with the most memory: the JupyterLab page (one page is open)."""
    renderers = [pid for pid, kind in M.chromium_pids().items() if kind == "renderer"]
    if not renderers:
        return None
    return max(renderers, key=lambda pid: M.proc_status(pid).get("VmRSS", 0))


def hwm_kib(pid: int) -> int | None:
    return M.proc_status(pid).get("VmHWM")
