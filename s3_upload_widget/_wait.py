"""Block a cell until uploads finish, while the kernel keeps serving the widget.

    records = wait_for_uploads(w, n=1, timeout=600)   # w.wait(...) delegates here

Why this needs care
-------------------
A kernel answers its shell requests one at a time: while a cell runs, the messages the
widget's front end sends (``comm_msg``: "sign this file", "this upload is complete")
wait in a queue behind it. A cell that loops ``while not w.key: time.sleep(1)`` waits
for an answer that can only come after the cell ends: a deadlock.

The technique
-------------
This is the technique of the ``jupyter-ui-poll`` package, written again for ipykernel 7
(and 6), whose internals it has to know:

* The messages for the main shell wait in one ZMQ socket whose reader, a ZMQStream,
  only runs when the kernel's event loop runs, and the running cell blocks that loop.
  ipykernel 7 moves incoming shell messages to a thread of their own and forwards those
  for the main shell over an in-process socket pair (``_shell_channel_to_main``);
  ipykernel 6 reads the shell socket on the main thread.
* While waiting, this module reads that socket itself, on the thread that runs the
  cell (the one thread that may read it), and
  - runs ``comm_open`` / ``comm_msg`` / ``comm_close`` at once, with the handler the
    kernel would have used (``kernel.shell_handlers``), so the widget's requests are
    answered and its records and callbacks advance;
  - keeps every other request (the next cells' ``execute_request`` of "Run All",
    completions, ...) and hands them back to the kernel, in their order, when the wait
    ends (also when it fails or is interrupted): they then run after this cell, as they
    would have without the wait, and ipykernel's own rules (abort after an error)
    apply to them.
* Messages the kernel had already read, but not run, when the cell started (it reads
  all that is there whenever its loop runs, also between reading this cell's request
  and starting it) would run only after the cell: `_ShellPump.rescue` finds the comm
  messages among them (ipykernel 7: the asyncio task the reader made for each message;
  ipykernel 6: ``kernel.msg_queue``) and serves them first. The kernel's own later
  attempt then finds the signature already used and skips the message, logging
  "Invalid Message ... Duplicate Signature" once.
* Output that comm handlers served here print (an ``on_upload`` callback's ``print``)
  goes to the waiting cell.

jupyter-ui-poll itself is not used: its ipykernel 7 support swaps the kernel's own
asyncio lock and ``execute_request`` handler, and users report hangs with it
(Kirill888/jupyter-ui-poll#54). This module changes no kernel attribute; it reads a
socket while the loop that would read it is blocked, and gives back what it doesn't
handle. It does rely on private names (the socket pair, ZMQStream's ``_recv_callback``
and ``_run_callback``, ipykernel's ``run_in_context`` tasks, ``msg_queue``): when they
are missing it raises a RuntimeError pointing to ``w.on_upload`` (and rescue() quietly
does nothing). tests/test_wait.py runs against a real kernel to catch a change.

When the kernel routes the widget's messages elsewhere (a kernel subshell: JupyterLab
4.4+ addresses comm messages to one, and ipykernel 7.4 sends a comm's messages to the
shell that last published on it), or the call comes from a thread that is not the main
shell's, the messages are served there, beside the waiting cell, and waiting is plain
polling. Their output then goes to the kernel's log, not under the cell.

Limits: the kernel must be ipykernel (6 or 7) for the main-shell case; outside a
kernel (a script) nothing can upload, and this raises. Without a browser showing the
widget (a notebook run by nbconvert, papermill or nbclient) no file can be picked: this
raises RuntimeError after `frontend_grace` seconds instead of waiting for nothing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from . import _protocol as P

__all__ = ["wait_for_uploads", "wait_for_uploads_async"]

log = logging.getLogger(__name__)

FINAL = P.FINAL_STATUSES
COMM_MSG_TYPES = frozenset({"comm_open", "comm_msg", "comm_close"})
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
    if getattr(_local, "pumping", False):
        raise RuntimeError(
            "wait_for_uploads() was called while another wait runs in this thread (from "
            "an on_upload callback or a widget handler?): do the work in the callback, "
            "or wait after the first wait returns."
        )
    waiter = _Waiter(widget, n, timeout, poll_interval, frontend_grace)
    pump = None
    try:
        pump = _ShellPump.for_current_thread()
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

    waiter = _Waiter(widget, n, timeout, poll_interval, frontend_grace)
    kernel = _current_kernel()
    if kernel is not None and _in_main_shell(kernel) and not _serves_comms_while_awaiting(kernel):
        waiter.close()
        raise RuntimeError(
            f"With ipykernel {_ipykernel_version()} an awaiting cell holds back the "
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


# --- serving the widget's messages while the cell blocks ---------------------------------


class _ShellPump:
    """Reads the main shell's message socket while the running cell blocks its reader.

    Comm messages are handled at once; anything else is kept and given back to the
    kernel's own reader, in order, by `close()`.
    """

    def __init__(self, kernel: Any, stream: Any, reply_stream: Any) -> None:
        self.kernel = kernel
        self.stream = stream  # the ZMQStream that reads the socket when the loop runs
        self.socket = stream.socket
        self.reply_stream = reply_stream  # what the kernel passes its handlers as `stream`
        self.deferred: list[list[Any]] = []
        self.handled = 0

    @classmethod
    def for_current_thread(cls) -> _ShellPump | None:
        """A pump if this thread runs the main shell of an ipykernel; else None.

        None means the main shell's loop is free to serve the widget (we are in a
        subshell or another thread): polling is enough. Raises RuntimeError outside a
        kernel, or when this kernel's internals are not the ones known here.
        """
        kernel = _current_kernel()
        if kernel is None:
            raise RuntimeError(
                "wait_for_uploads() needs a Jupyter kernel (ipykernel): outside a "
                "notebook no browser can upload."
            )
        channel_thread = getattr(kernel, "shell_channel_thread", None)
        if channel_thread is not None:  # ipykernel 7
            if threading.current_thread() is not channel_thread.parent_thread:
                return None
            manager = channel_thread.manager
            pair = getattr(manager, "_shell_channel_to_main", None)
            stream = getattr(pair, "to_stream", None)
            reply = manager.get_subshell_to_shell_channel_socket(None)
        else:  # ipykernel 6
            if threading.current_thread() is not threading.main_thread():
                return None
            stream = getattr(kernel, "shell_stream", None)
            reply = stream
        if stream is None or getattr(stream, "_recv_callback", None) is None:
            raise RuntimeError(
                f"wait_for_uploads() does not know this kernel's internals (ipykernel "
                f"{_ipykernel_version()}); use w.on_upload(callback) instead."
            )
        return cls(kernel, stream, reply)

    def serve(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for messages; handle every one that is there."""
        import zmq

        if timeout > 0:
            self.socket.poll(int(timeout * 1000), zmq.POLLIN)
        while True:
            try:
                raw = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._take(raw)

    def _take(self, raw: list[Any]) -> None:
        """A message read from the socket: serve it if it is a comm message, else keep it."""
        if not self._serve_if_comm(raw):
            self.deferred.append(raw)

    def _serve_if_comm(self, raw: list[Any]) -> bool:
        """Run a comm message's handler now; False (and nothing done) for any other."""
        session = self.kernel.session
        try:
            idents, frames = session.feed_identities(raw, copy=False)
            # content=False: a peek; the signature is recorded only when the content is
            # read, so the kernel can still read a message given back.
            header = session.deserialize(frames, content=False, copy=False)["header"]
            msg_type = header.get("msg_type")
        except Exception:  # e.g. ipykernel's internal "stop aborting" message
            return False
        if msg_type not in COMM_MSG_TYPES:
            return False
        try:
            # Records the signature: a message served here can't be served again (the
            # kernel refuses a replayed signature), also by the kernel's own reader.
            msg = session.deserialize(frames, content=True, copy=False)
        except Exception:
            log.debug("s3-upload-widget: skipped a %s message (invalid or served)", msg_type)
            return True
        handler = self.kernel.shell_handlers.get(msg_type)
        if handler is None:
            return True
        try:
            result = handler(self.reply_stream, idents, msg)
            if hasattr(result, "close") and hasattr(result, "send"):  # a coroutine
                result.close()
                log.warning("s3-upload-widget: an async %s handler was skipped", msg_type)
        except Exception:
            log.exception("s3-upload-widget: a %s handler raised while waiting", msg_type)
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
        self.handled += 1
        return True

    def rescue(self) -> None:
        """Serve the comm messages the kernel had read, but not run, before this cell.

        The kernel's reader takes every message that is there when its loop runs, also
        in the moment between reading this cell's request and starting it; a widget
        message read then would only run after this cell, and a wait for it would never
        end. They sit in the kernel's queue of pending work (ipykernel 7: one asyncio task
        per message, ipykernel 6: ``msg_queue``). Comm messages among them are served
        now; the kernel's later attempt finds the signature already used and skips them
        (logging "Invalid Message"). Everything else stays where it is.
        """
        try:
            pending = self._pending_raw_messages()
        except Exception:
            log.debug("s3-upload-widget: could not inspect pending messages", exc_info=True)
            return
        for raw in pending:
            self._serve_if_comm(raw)

    def _pending_raw_messages(self) -> list[list[Any]]:
        queue = getattr(self.kernel, "msg_queue", None)
        if queue is not None and hasattr(queue, "_queue"):  # ipykernel 6
            items = sorted(
                (item for item in list(queue._queue) if isinstance(item, tuple) and len(item) == 3),
                key=lambda item: item[0],
            )
            return [args[0] for _, _, args in items if args and isinstance(args[0], list)]
        import asyncio

        found = []
        for task in asyncio.all_tasks(asyncio.get_running_loop()):
            coro = task.get_coro()
            code = getattr(coro, "cr_code", None)
            frame = getattr(coro, "cr_frame", None)
            # ipykernel.utils._async_in_context: the stream's callback, one per message.
            if code is None or code.co_name != "run_in_context" or frame is None:
                continue
            args = frame.f_locals.get("args")
            if args and isinstance(args[0], list):
                found.append((_task_number(task), args[0]))
        return [raw for _, raw in sorted(found, key=lambda item: item[0])]

    def close(self) -> None:
        """Give the kept messages back to the kernel's reader, in the order they came."""
        deferred, self.deferred = self.deferred, []
        callback: Callable[..., Any] = self.stream._recv_callback
        for raw in deferred:
            try:
                # What the ZMQStream does with a message it read: ipykernel 7 gets a task
                # that waits for the running cell; ipykernel 6 queues it.
                self.stream._run_callback(callback, raw)
            except Exception:
                log.exception("s3-upload-widget: could not hand a message back to the kernel")
        # Messages may have arrived after our last read while we held the socket's
        # edge-triggered event: have the stream look again when the loop runs.
        with contextlib.suppress(Exception):
            self.stream._rebuild_io_state()


def _task_number(task: Any) -> int:
    """asyncio names tasks "Task-<n>" in creation order."""
    name = task.get_name()
    try:
        return int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _current_kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "shell_handlers"):
        return None
    return kernel


def _ipykernel_version() -> str:
    try:
        import ipykernel

        return ipykernel.__version__
    except Exception:
        return "?"


def _in_main_shell(kernel: Any) -> bool:
    channel_thread = getattr(kernel, "shell_channel_thread", None)
    parent = getattr(channel_thread, "parent_thread", None) or threading.main_thread()
    return threading.current_thread() is parent


def _serves_comms_while_awaiting(kernel: Any) -> bool:
    """ipykernel >= 7.4 dispatches comm messages while an async cell awaits."""
    import inspect

    try:
        return "concurrent" in inspect.signature(kernel.dispatch_shell).parameters
    except (TypeError, ValueError, AttributeError):
        return False
