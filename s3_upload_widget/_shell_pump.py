"""Serves the widget's comm messages from inside a running cell (main shell, ipykernel).

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
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

COMM_MSG_TYPES = frozenset({"comm_open", "comm_msg", "comm_close"})


class ShellPump:
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
    def for_current_thread(cls) -> ShellPump | None:
        """A pump if this thread runs the main shell of an ipykernel; else None.

        None means the main shell's loop is free to serve the widget (we are in a
        subshell or another thread): polling is enough. Raises RuntimeError outside a
        kernel, or when this kernel's internals are not the ones known here.
        """
        kernel = current_kernel()
        if kernel is None:
            raise RuntimeError(
                "wait_for_uploads() needs a Jupyter kernel (ipykernel), and this Python "
                "runs in none (a script or a plain python prompt): no browser shows the "
                "widget here, so no file can arrive. Show the widget in JupyterLab, "
                "Notebook 7, VS Code or Voila and call w.wait() in a later cell; in "
                "marimo, react to uploads with w.on_upload (see the README's marimo notes)."
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
                f"{ipykernel_version()}); use w.on_upload(callback) instead."
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


def current_kernel() -> Any:
    """The running ipykernel, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "shell_handlers"):
        return None
    return kernel


def ipykernel_version() -> str:
    """ipykernel's version for messages, or "?"."""
    try:
        import ipykernel

        return ipykernel.__version__
    except Exception:
        return "?"


def in_main_shell(kernel: Any) -> bool:
    """Whether this thread runs the kernel's main shell (not a subshell)."""
    channel_thread = getattr(kernel, "shell_channel_thread", None)
    parent = getattr(channel_thread, "parent_thread", None) or threading.main_thread()
    return threading.current_thread() is parent


def serves_comms_while_awaiting(kernel: Any) -> bool:
    """ipykernel >= 7.4 dispatches comm messages while an async cell awaits."""
    import inspect

    try:
        return "concurrent" in inspect.signature(kernel.dispatch_shell).parameters
    except (TypeError, ValueError, AttributeError):
        return False
