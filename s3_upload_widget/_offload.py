"""Answers the requests that wait on S3 ("sign-files", "complete-files") on worker threads.

In a kernel every widget message is handled on one thread, in order. A batch request
waits on S3 (a listing: is a key free, is the object the one the page wrote): on a busy
or distant S3 that is 50-400 ms, and every message behind it waits too, the next
batch's signatures included, while the page's connections sit idle. Here each such kind
gets a worker thread: it takes every request of its kind queued so far, asks the
session what they will read (`plan`, under the lock), reads it all in one go without
the lock (so other messages go on being handled meanwhile), then answers each request
in turn (`answer`, under the lock). Every request is answered, whatever fails.
Pure: no widget, no boto3; the widget passes its callables.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from . import _protocol as P
from ._batch_handlers import NOTHING_FOUND, Found, Lookups

log = logging.getLogger(__name__)

IDLE_EXIT_S = 30.0
"""A worker with nothing to do for this long ends; the next request starts another."""


WAITING_ON_S3 = frozenset({P.SIGN_FILES, P.COMPLETE_FILES})
"""The request kinds answered on worker threads."""


class Offloader:
    """Hands the messages of ``kinds`` to worker threads, one per kind.

    ``plan(msg) -> Lookups`` is called with ``lock`` held and ``Lookups.run`` without
    it; ``answer(msg, found)`` handles a message and sends its reply (taking the lock).
    While ``inline()`` is true every message is answered at once, on the caller's thread:
    marimo delivers what a widget sends only from the thread that handles its messages.
    """

    def __init__(
        self,
        kinds: frozenset[str] = WAITING_ON_S3,
        *,
        plan: Callable[[Any], Lookups],
        answer: Callable[[Any, Found], None],
        lock: Any,
        inline: Callable[[], bool] = lambda: False,
    ) -> None:
        self.kinds = kinds
        self._inline = inline
        self._plan = plan
        self._answer = answer
        self._lock = lock
        self._cond = threading.Condition()
        self._queues: dict[str, deque] = {kind: deque() for kind in kinds}
        self._workers: dict[str, threading.Thread] = {}
        self._busy = 0  # messages taken by a worker and not yet answered

    def route(self, msg: object) -> None:
        """Queue ``msg`` for a worker if it is of `kinds`, else answer it now."""
        if isinstance(msg, dict) and msg.get("kind") in self.kinds and not self._inline():
            self.submit(msg)
        else:
            self._answer(msg, NOTHING_FOUND)

    def submit(self, msg: dict) -> None:
        """Queue ``msg`` for its kind's worker (started if none runs)."""
        kind = msg["kind"]
        with self._cond:
            self._queues[kind].append(msg)
            worker = self._workers.get(kind)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(
                    target=self._work, args=(kind,), name=f"s3uw-{kind}", daemon=True
                )
                self._workers[kind] = worker
                worker.start()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued message is answered; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._busy and not any(self._queues.values()), timeout
            )

    def _work(self, kind: str) -> None:
        queue = self._queues[kind]
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: queue, IDLE_EXIT_S):
                    if self._workers.get(kind) is threading.current_thread():
                        del self._workers[kind]
                    return
                batch = list(queue)
                queue.clear()
                self._busy += len(batch)
            try:
                self._handle(batch)
            finally:
                with self._cond:
                    self._busy -= len(batch)
                    self._cond.notify_all()

    def _handle(self, batch: list[dict]) -> None:
        found = NOTHING_FOUND
        try:
            with self._lock:
                lookups = Lookups()
                for msg in batch:
                    lookups = lookups.merge(self._plan(msg))
            found = lookups.run()
        except Exception:  # the handlers read for themselves, and answer any error
            log.warning("s3-upload-widget: reading S3 ahead of a batch failed", exc_info=True)
        for msg in batch:
            try:
                self._answer(msg, found)
            except Exception:
                log.exception("s3-upload-widget: could not answer a %r request", msg.get("kind"))
