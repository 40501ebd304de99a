"""Block a cell until uploads finish, while the kernel keeps serving the widget.

    records = wait_for_uploads(w, n=1, timeout=600)   # w.wait(...) delegates here

Why this needs care
-------------------
A kernel answers its shell requests one at a time: while a cell runs, the messages the
widget's front end sends (``comm_msg``: "sign this file", "this upload is complete")
wait in a queue behind it. A cell that loops ``while not w.key: time.sleep(1)`` waits
for an answer that can only come after the cell ends: a deadlock.

The main-shell case is `_shell_pump` (read its docstring for the technique).

When the kernel routes the widget's messages elsewhere (a kernel subshell: JupyterLab
4.4+ addresses comm messages to one, and ipykernel 7.4 sends a comm's messages to the
shell that last published on it), or the call comes from a thread that is not the main
shell's, the messages are served there, beside the waiting cell, and waiting is plain
polling. Their output then goes to the kernel's log, not under the cell.

Limits: the kernel must be ipykernel (6 or 7) for the main-shell case; outside a
kernel (a script) nothing can upload, and this raises. In marimo it raises at once too:
marimo serves the widget's messages only between cells (also while an async cell
awaits), so a waiting cell would hold back the very messages that finish the upload;
there a cell reacts to uploads through ``mo.state`` set from ``on_upload`` instead.
Without a browser showing the widget (a notebook run by nbconvert, papermill or
nbclient) no file can be picked: this raises RuntimeError after `frontend_grace`
seconds instead of waiting for nothing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
import weakref
from typing import Any

from . import _protocol as P
from ._shell_pump import (
    ShellPump,
    current_kernel,
    in_main_shell,
    ipykernel_version,
    serves_comms_while_awaiting,
)

__all__ = ["wait_for_uploads", "wait_for_uploads_async"]

log = logging.getLogger(__name__)

FINAL = P.FINAL_STATUSES
FRONTEND_GRACE = 10.0
"""Seconds a wait gives a browser to show up (its first message) before it gives up."""

# Ids of the records that an earlier wait returned, per widget.
_returned: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_local = threading.local()  # .pumping: a wait runs in this thread


def wait_for_uploads(
    widget: Any,
    n: int = 1,
    timeout: float | None = None,
    *,
    poll_interval: float = 0.05,
    frontend_grace: float = FRONTEND_GRACE,
) -> list[dict]:
    """Block until uploads finish; return the records of the finished ones.

    Returns when at least `n` uploads that no earlier call returned have finished
    (status ``done``, ``error`` or ``cancelled``) **and** no upload is still on its way;
    so a batch of files picked together comes back whole, and an upload that finished
    before the call counts. Returns copies of those records, in the order the files
    were added; the next call waits for the next ones. A failed upload is returned, not
    raised: check ``record["status"]`` (and ``record["error"]``).

    While it waits the widget stays live: the kernel keeps answering it (see the module
    docstring), so files can be picked and dropped, progress shows, ``on_upload``
    callbacks and trait observers run, and the widget's Cancel buttons work. Cells
    queued behind this one (Run All) run after it, in order.

    Raises TimeoutError after `timeout` seconds (None: no limit) saying how far the
    uploads got; RuntimeError if no browser shows the widget within `frontend_grace`
    seconds (e.g. the notebook runs headless), if the widget is closed, outside a
    Jupyter kernel, or when called from a handler while another wait runs.
    KeyboardInterrupt (the Stop button) ends the wait; the kernel stays as it was.
    """
    _refuse_marimo(widget)
    if getattr(_local, "pumping", False):
        raise RuntimeError(
            "wait_for_uploads() was called while another wait runs in this thread (from "
            "an on_upload callback or a widget handler?): do the work in the callback, "
            "or wait after the first wait returns."
        )
    waiter = _Waiter(widget, n, timeout, poll_interval, frontend_grace)
    pump = None
    try:
        pump = ShellPump.for_current_thread()
        _local.pumping = True
        if pump is not None:
            pump.rescue()
        while True:
            if pump is not None:
                pump.serve(0)
            step = waiter.check()
            if step is None:
                break
            if pump is not None:
                pump.serve(step)
            else:
                time.sleep(step)
    finally:
        _local.pumping = False
        waiter.close()
        if pump is not None:
            pump.close()
    return waiter.result()


async def wait_for_uploads_async(
    widget: Any,
    n: int = 1,
    timeout: float | None = None,
    *,
    poll_interval: float = 0.05,
    frontend_grace: float = FRONTEND_GRACE,
) -> list[dict]:
    """`wait_for_uploads` for code that awaits: ``records = await wait_for_uploads_async(w)``.

    Same rules and errors. Nothing is read behind the kernel's back here: while a cell
    awaits, ipykernel >= 7.4 runs comm messages concurrently with it, so polling is
    enough. Older kernels queue them behind the awaiting cell, so there this raises
    RuntimeError at once (use the blocking `wait_for_uploads`).
    """
    import asyncio

    _refuse_marimo(widget)
    waiter = _Waiter(widget, n, timeout, poll_interval, frontend_grace)
    kernel = current_kernel()
    if kernel is not None and in_main_shell(kernel) and not serves_comms_while_awaiting(kernel):
        waiter.close()
        raise RuntimeError(
            f"With ipykernel {ipykernel_version()} an awaiting cell holds back the "
            "widget's messages (ipykernel 7.4 serves them): call the blocking "
            "wait_for_uploads(w) (w.wait()) instead."
        )
    try:
        while (step := waiter.check()) is not None:
            await asyncio.sleep(step)
    finally:
        waiter.close()
    return waiter.result()


class _Waiter:
    """The rules of a wait: what counts as finished, the deadline, the browser check."""

    def __init__(
        self,
        widget: Any,
        n: int,
        timeout: float | None,
        poll_interval: float,
        frontend_grace: float,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int (how many uploads to wait for), got {n!r}")
        if timeout is not None and not _is_seconds(timeout):
            raise ValueError(f"timeout must be None or seconds >= 0, got {timeout!r}")
        if not _is_seconds(poll_interval) or poll_interval <= 0:
            raise ValueError(f"poll_interval must be seconds > 0, got {poll_interval!r}")
        if not _is_seconds(frontend_grace):
            raise ValueError(f"frontend_grace must be seconds >= 0, got {frontend_grace!r}")
        if getattr(widget, "comm", None) is None:
            raise RuntimeError("This widget is closed: make a new one to upload more files.")
        self.widget = widget
        self.n = n
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.grace = frontend_grace
        self.returned = _returned.setdefault(widget, set())
        self.start = time.monotonic()
        self.deadline = None if timeout is None else self.start + timeout
        self.fresh: list[dict] = []
        self._heard = False
        widget.on_msg(self._on_msg)

    def _on_msg(self, *_args: Any) -> None:
        self._heard = True

    def check(self) -> float | None:
        """None when the wait is over; else how long to sleep. Raises when it failed."""
        records = list(self.widget.uploads)
        self.fresh = [
            r for r in records if r.get("status") in FINAL and r.get("id") not in self.returned
        ]
        active = [r for r in records if r.get("status") not in FINAL]
        if len(self.fresh) >= self.n and not active:
            return None
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise TimeoutError(_timeout_message(self.timeout, self.n, self.fresh, active))
        if now - self.start >= self.grace and not (self._heard or _frontend_known(self.widget)):
            raise RuntimeError(_no_frontend_message(self.grace))
        if self.deadline is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, self.deadline - now))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.widget.on_msg(self._on_msg, remove=True)

    def result(self) -> list[dict]:
        self.returned.update(r["id"] for r in self.fresh)
        return [dict(r) for r in self.fresh]


def _is_seconds(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not math.isnan(value)
        and value >= 0
    )


# --- what the widget tells us -------------------------------------------------------------


MARIMO_MESSAGE = (
    "w.wait() cannot work in marimo: marimo handles the widget's messages only between "
    "cells (also while an async cell awaits), so a cell that waits would hold back the "
    "very messages that finish the upload. Let a later cell react instead: "
    "get_keys, set_keys = mo.state([]); "
    "w.on_upload(lambda record: set_keys(list(w.uploaded_keys))); then read get_keys() "
    "in the cell that needs the files, and marimo runs it again after each upload "
    "(see notebooks/marimo_quickstart.py)."
)


def in_marimo(widget: Any) -> bool:
    """Whether marimo, not a Jupyter kernel, carries this widget's messages.

    marimo gives every widget a comm of its own (``marimo...MarimoComm``) when it is
    made; ``marimo.running_in_notebook()`` covers a widget made before that.
    """
    if type(getattr(widget, "comm", None)).__module__.split(".")[0] == "marimo":
        return True
    marimo = sys.modules.get("marimo")  # never imported here: not imported, not marimo
    try:
        return bool(marimo is not None and marimo.running_in_notebook())
    except Exception:
        return False


def _refuse_marimo(widget: Any) -> None:
    if in_marimo(widget):
        raise RuntimeError(MARIMO_MESSAGE)


def _frontend_known(widget: Any) -> bool:
    """Whether a browser has talked to this widget before (hello, or a file)."""
    session = getattr(widget, "_session", None)
    return bool(getattr(session, "origin", "")) or bool(widget.uploads)


def _no_frontend_message(grace: float) -> str:
    return (
        f"No browser is showing this widget (no message from one in {grace:g} s), so no "
        "file can be picked. Display it first (make the widget the last line of a cell, "
        "or display(w)) in JupyterLab, Notebook 7 or VS Code, then wait. A notebook run "
        "headless (nbconvert --execute, papermill, nbclient) has no browser: skip this "
        "cell there (tag it 'skip-execution')."
    )


def _timeout_message(timeout: float, n: int, fresh: list[dict], active: list[dict]) -> str:
    parts = [f"Waited {timeout:g} s:"]
    if active:
        described = ", ".join(
            f"{r.get('name', '?')!r} {r.get('status')} {_percent(r)}" for r in active[:5]
        )
        more = f" and {len(active) - 5} more" if len(active) > 5 else ""
        parts.append(f"{len(active)} upload(s) still on their way ({described}{more});")
    if fresh:
        parts.append(f"{len(fresh)} of the {n} needed finished.")
    elif not active:
        parts.append(
            f"no file arrived (this call waits for {n} new upload(s)). Pick or drop "
            "files in the widget,"
        )
    parts.append("or pass a longer timeout= (None waits as long as it takes).")
    return " ".join(parts)


def _percent(record: dict) -> str:
    size, loaded = record.get("size") or 0, record.get("loaded") or 0
    return f"{100 * loaded // size}%" if size else ""
