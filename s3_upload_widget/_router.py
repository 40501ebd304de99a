"""Routes one message from the browser to its handler, and always answers a request.

It checks the envelope (a JSON object, a known kind, a fresh id, ``args`` an object),
refuses replayed request ids, and turns any failure of a handler into an error reply,
after letting its owner react (the session ends the upload the request was about).
Pure: no boto3, no widget.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping

from . import _protocol as P
from ._errors import UploadError
from ._values import clean_text, is_int

log = logging.getLogger(__name__)

MAX_SEEN_REQUEST_IDS = 10_000
"""Request ids remembered to refuse a replay; the oldest are forgotten first. Ids are at
most 64 characters, so this holds at most ~1.5 MB however the page picks them."""

Handler = Callable[[dict], dict]


class Router:
    """Dispatches messages to ``handlers`` (one per request kind) and ``on_notification``.

    ``on_failure(args, error)`` is called when a handler raises, before the error reply
    is built; an exception that is not an `UploadError` becomes one with code
    ``internal``. `handle` never raises.
    """

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        on_notification: Callable[[dict], None],
        on_failure: Callable[[dict, UploadError], None],
    ) -> None:
        if set(handlers) != P.REQUEST_KINDS:
            raise ValueError(f"handlers must cover {sorted(P.REQUEST_KINDS)} exactly")
        self._handlers = dict(handlers)
        self._on_notification = on_notification
        self._on_failure = on_failure
        self._seen_ids: OrderedDict[object, None] = OrderedDict()

    def handle(self, msg: object) -> dict | None:
        """Answer one message from the browser; None for notifications. Never raises."""
        try:
            return self._dispatch(msg)
        except Exception as exc:  # a bug of ours must still produce an answer
            log.exception("s3-upload-widget: unexpected error handling a message")
            request_id = msg.get("id") if isinstance(msg, dict) else None
            kind = msg.get("kind") if isinstance(msg, dict) else None
            kind = kind if isinstance(kind, str) else "unknown"
            return error_reply(request_id, kind, internal_error(kind, exc))

    def _dispatch(self, msg: object) -> dict | None:
        if not isinstance(msg, dict):
            return P.error_response(
                None, "unknown", "bad-request", "A message must be a JSON object."
            )
        kind = msg.get("kind")
        if kind in P.NOTIFICATION_KINDS:
            try:
                self._on_notification(msg)
            except Exception:  # a notification gets no answer, not even an error
                log.exception("s3-upload-widget: unexpected error handling %r", kind)
            return None
        request_id = msg.get("id")
        if not isinstance(kind, str) or kind not in self._handlers:
            return P.error_response(
                request_id,
                kind if isinstance(kind, str) else "unknown",
                "bad-request",
                f"Unknown message kind {kind!r}.",
                "The widget's front end and Python package may be of different versions: "
                "restart the kernel and reload the page.",
            )
        if not _is_request_id(request_id):
            return P.error_response(
                None,
                kind,
                "bad-request",
                f"A request needs an 'id': a text of at most {P.MAX_ID_CHARS} characters, "
                "or a whole number.",
            )
        if request_id in self._seen_ids:
            return P.error_response(
                request_id, kind, "bad-request", f"Request id {request_id!r} was already used."
            )
        self._remember(request_id)
        args = msg.get("args", {})
        if not isinstance(args, dict):
            return P.error_response(request_id, kind, "bad-request", "'args' must be an object.")
        try:
            return P.ok_response(request_id, kind, self._handlers[kind](args))
        except UploadError as err:
            self._on_failure(args, err)
            return error_reply(request_id, kind, err)
        except Exception as exc:
            log.exception("s3-upload-widget: unexpected error handling %r", kind)
            err = internal_error(kind, exc)
            self._on_failure(args, err)
            return error_reply(request_id, kind, err)

    def _remember(self, request_id: object) -> None:
        self._seen_ids[request_id] = None
        while len(self._seen_ids) > MAX_SEEN_REQUEST_IDS:
            self._seen_ids.popitem(last=False)


def internal_error(kind: str, exc: BaseException) -> UploadError:
    """The error a person sees when a handler of ``kind`` hit a bug of ours."""
    return UploadError(
        "internal",
        f"Internal error in s3-upload-widget while handling {kind!r}: {type(exc).__name__}: {exc}",
        "Please report this with the steps that led to it.",
    )


def error_reply(request_id: object, kind: str, err: UploadError) -> dict:
    """The answer to a request whose handler raised ``err``."""
    return P.error_response(request_id, kind, **err.as_dict())


def _is_request_id(value: object) -> bool:
    if isinstance(value, str):
        return 0 < len(value) <= P.MAX_ID_CHARS and clean_text(value, P.MAX_ID_CHARS) == value
    return is_int(value) and abs(value) <= 2**53
