"""S3UploadWidget: traits, and the wiring of custom messages to the upload session."""

from __future__ import annotations

import atexit
import logging
import pathlib
import threading
import uuid
import warnings
import weakref
from collections.abc import Callable
from dataclasses import fields
from functools import partial
from typing import Any

import anywidget
import traitlets as t

from . import _protocol as P
from ._batch_handlers import NOTHING_FOUND, Found
from ._offload import Offloader
from ._options import (
    DEFAULT_CHECKSUM,
    DEFAULT_CONCURRENCY,
    DEFAULT_EXPIRES_IN,
    DEFAULT_KEY_TEMPLATE,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PARALLEL_FILES,
    SessionOptions,
    check_keywords,
    check_option,
)
from ._pausing import PAUSABLE
from ._policy import UploadPolicy
from ._session import UploadSession
from ._wait import in_marimo

log = logging.getLogger(__name__)

_STATIC = pathlib.Path(__file__).parent / "static"

# Every trait the front end may change: none. It asks through messages; Python decides.
_FRONTEND_WRITABLE: frozenset[str] = frozenset()

# Traits the widget sets itself: results, and the id that links views to the controller.
_OUTPUT_TRAITS = frozenset({"key", "uploaded_keys", "uploads", "_widget_id"})


class InvalidOption(t.TraitError, ValueError):
    """A widget option with a value it cannot use; the message names the fix.

    Both a ``TraitError`` (what traitlets raises for a bad trait value) and a
    ``ValueError`` (what a bad argument raises elsewhere), so either ``except`` works.
    """


class Option(t.TraitType):
    """A synced widget option whose every value, at construction or later, passes
    `check_option`: the one rule for that option, shared with the rest of the package."""

    def __init__(self, default_value: Any, *, help: str) -> None:
        super().__init__(default_value, allow_none=default_value is None, help=help)
        self.tag(sync=True)

    def validate(self, obj: Any, value: Any) -> Any:
        """``value`` as `check_option` returns it; `InvalidOption` naming the fix if bad."""
        try:
            return check_option(self.name, value)
        except ValueError as exc:
            raise InvalidOption(str(exc)) from None


class S3UploadWidget(anywidget.AnyWidget):
    """A file picker and drop zone that uploads straight from the browser to S3.

    The kernel signs each upload (presigned URL, SigV4, short-lived); the bytes go from
    the browser to S3 and never through the kernel. Completed keys land in `key`,
    `uploaded_keys` and `uploads`.

    Example::

        w = S3UploadWidget(bucket="my-bucket", prefix="uploads/")
        w                  # pick or drop files
        w.uploaded_keys    # next cell
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    bucket = Option("", help="The S3 bucket every file goes to.")
    prefix = Option("", help="Every key starts with this prefix; the front end cannot escape it.")
    accept = Option(
        "", help='Accepted files, like <input accept>: ".csv,.parquet,image/*"; "" for any.'
    )
    multiple = Option(True, help="Whether several files may be chosen at once.")
    max_size = Option(None, help="Largest file in bytes (None: no limit); enforced by S3.")
    max_files = Option(
        None, help="Most files in one pick or drop, and unfinished at once (None: no limit)."
    )
    max_total_files = Option(
        None, help="Most files this widget accepts in its whole life (None: no limit)."
    )
    allow_active_types = Option(
        False,
        help="Whether HTML, SVG, XML or JavaScript may be stored as such (a browser opening "
        "them from the bucket would run them); off: they are stored as plain bytes.",
    )
    overwrite = Option(False, help="Whether an upload may replace an existing object.")
    expires_in = Option(DEFAULT_EXPIRES_IN, help="Seconds each presigned URL lives.")
    multipart_threshold = Option(DEFAULT_MULTIPART_THRESHOLD, help="Files this big go multipart.")
    part_size = Option(None, help="Bytes per multipart part (None: chosen per file).")
    concurrency = Option(DEFAULT_CONCURRENCY, help="Parts of one file uploaded at the same time.")
    parallel_files = Option(DEFAULT_PARALLEL_FILES, help="Files uploaded at the same time.")
    checksum = Option(DEFAULT_CHECKSUM, help="'CRC32C': S3 checks every body's bytes; or None.")
    extra_endpoints = Option(
        (), help="More URLs of the same S3: requests go to each name in turn (6 per name)."
    )
    form_posts = Option("auto", help="Files under 1 MiB as form POSTs (no preflight): 'auto'.")
    connection_pools = Option(
        "auto", help="Pools of 6 connections per S3 host name: 2 sends half with credentials."
    )

    _widget_id = t.Unicode(help="Links a widget's views to its page controller.").tag(sync=True)

    key = t.Unicode("", help="Key of the latest completed upload ('' before any).").tag(sync=True)
    # Not synced (5,000 records re-sent on every change): the page gets RECORDS patches.
    uploaded_keys = t.List(help="Every completed key (str), in completion order.")
    uploads = t.List(
        help="One record (dict) per file: id, name, relative_path, batch, size, status, "
        "loaded, key, s3_uri, etag, error, error_code…"
    )

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any = None,
        key_template: str | Callable[[dict], str] = DEFAULT_KEY_TEMPLATE,
        accept: str = "",
        multiple: bool = True,
        max_size: int | None = None,
        overwrite: bool = False,
        expires_in: int = DEFAULT_EXPIRES_IN,
        *,
        max_files: int | None = None,
        max_total_files: int | None = None,
        allow_active_types: bool = False,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        parallel_files: int = DEFAULT_PARALLEL_FILES,
        checksum: str | None = DEFAULT_CHECKSUM,
        extra_args: Any = None,
        extra_endpoints: tuple[str, ...] | list[str] = (),
        form_posts: bool | str = "auto",
        connection_pools: int | str = "auto",
        **kwargs: Any,
    ) -> None:
        # Public traits of the base widgets (layout, tooltip, tabbable...) are allowed too.
        inherited = {n for n in type(self).class_trait_names() if not n.startswith("_")}
        check_keywords(kwargs, inherited=inherited - _OUTPUT_TRAITS, outputs=_OUTPUT_TRAITS)
        try:
            check_option("key_template", key_template)
        except ValueError as exc:
            raise InvalidOption(str(exc)) from None
        self._client = client
        self._key_template = key_template
        self._callbacks: list[Callable[[dict], Any]] = []
        self._session: UploadSession | None = None
        self._extra_args = None
        self.extra_args = extra_args  # checked by the property
        self.local_s3: Any = None  # set by S3UploadWidget.local()
        self._lock = threading.RLock()
        super().__init__(
            _widget_id=uuid.uuid4().hex, bucket=bucket, prefix=prefix, accept=accept,
            multiple=multiple, max_size=max_size, overwrite=overwrite, expires_in=expires_in,
            max_files=max_files, max_total_files=max_total_files,
            allow_active_types=allow_active_types, multipart_threshold=multipart_threshold,
            part_size=part_size, concurrency=concurrency, parallel_files=parallel_files,
            checksum=checksum, extra_endpoints=extra_endpoints, form_posts=form_posts,
            connection_pools=connection_pools, **kwargs,
        )  # fmt: skip
        self._session = UploadSession(
            policy=self._make_policy(),
            signer=self._make_signer,
            options=self._make_options(),
            on_change=self._records_changed,
            on_done=self._upload_done,
            on_delta=lambda command: self.send(command),
            cors_checker=self._check_cors,
            warm_signer=True,
        )
        plan, inline = self._session.plan_lookups, partial(in_marimo, self)  # see _offload
        self._offload = Offloader(plan=plan, answer=self._answer, lock=self._lock, inline=inline)
        self.on_msg(self._on_custom_msg)
        _LIVE_WIDGETS.add(self)

    # --- public API ----------------------------------------------------------------

    @classmethod
    def local(cls, prefix: str = "uploads/", **kwargs: Any) -> S3UploadWidget:
        """A widget that uploads to a new local S3 server on 127.0.0.1: no AWS account.

        The server (a `LocalS3`, needing ``pip install "s3-upload-widget[local]"``) is
        at ``w.local_s3``: ``w.local_s3.read(w.key)`` returns the bytes of the last
        upload. It keeps its data in memory and stops with the kernel.
        """
        from ._local import LocalS3

        server = LocalS3()
        widget = cls(bucket=server.bucket, prefix=prefix, client=server.client, **kwargs)
        widget.local_s3 = server
        return widget

    def on_upload(self, callback: Callable[[dict], Any]) -> Callable[[dict], Any]:
        """Call ``callback(record)`` after each file completes; usable as a decorator."""
        if not callable(callback):
            raise TypeError(f"on_upload expects a callable, got {type(callback).__name__}.")
        self._callbacks.append(callback)
        return callback

    def wait(self, n: int = 1, timeout: float | None = None) -> list[dict]:
        """Block this cell until uploads finish; return their records (see docs/wait.md).

        Returns when at least `n` uploads that no earlier wait() returned have finished
        (done, error or cancelled) and none is still on its way: files picked together
        come back together. The widget stays live meanwhile, and "Run All" stops here
        until the files are in S3. Raises TimeoutError after `timeout` seconds, and
        RuntimeError when no browser shows the widget, or at once outside a Jupyter
        kernel (in marimo: a later cell reads a ``mo.state`` set from `on_upload`).
        """
        from ._wait import wait_for_uploads

        return wait_for_uploads(self, n=n, timeout=timeout)

    async def wait_async(self, n: int = 1, timeout: float | None = None) -> list[dict]:
        """`records = await w.wait_async()`: wait() for code that awaits (ipykernel >= 7.4)."""
        from ._wait import wait_for_uploads_async

        return await wait_for_uploads_async(self, n=n, timeout=timeout)

    def configure_cors(self, origins: str | list[str] | None = None) -> dict:
        """Let this notebook's page (or `origins`) upload to the bucket, with this client.

        Adds the CORS rule the widget needs and keeps the bucket's other rules (see
        `s3_upload_widget.configure_cors`). Without `origins`, the origin of the page
        showing the widget is used, so display the widget first.
        """
        from ._cors import configure_cors
        from ._origins import exact_page_origin

        if origins is None:
            if not self._session.origin:
                raise ValueError(
                    "The page's origin is not known: display the widget first. If it is "
                    "shown and this persists, the page gave no usable origin "
                    '(http(s)://host[:port]): pass origins=["http://localhost:8888"] '
                    "(the address your notebook runs at)."
                )
            origins = [exact_page_origin(self._session.origin)]  # VS Code, Colab: raises
        return configure_cors(self.bucket, origins, client=self._s3_client())

    def cancel(self, upload_id: str | None = None) -> list[str]:
        """Cancel one upload by its record id, or every unfinished one; returns their ids."""
        with self._lock:
            cancelled = self._session.cancel(upload_id)
        if cancelled:
            self.send({"kind": P.CANCEL_UPLOADS, "upload_ids": cancelled})
        return cancelled

    def pause(self, upload_id: str | None = None) -> list[str]:
        """Pause one upload by its record id, or every queued and uploading one: the page
        stops their requests and keeps what S3 holds. Returns the ids asked to pause."""
        return self._ask_page(P.PAUSE_UPLOADS, PAUSABLE, upload_id)

    def resume(self, upload_id: str | None = None) -> list[str]:
        """Resume one paused upload, or every paused one: only what S3 does not hold yet
        is sent (a single PUT starts again). Returns the ids asked to resume."""
        return self._ask_page(P.RESUME_UPLOADS, ("paused",), upload_id)

    def _ask_page(self, kind: str, statuses: tuple[str, ...], upload_id: str | None) -> list[str]:
        # The page owns the requests in flight, so it pauses them and then tells us.
        with self._lock:
            ids = self._session.ids_in(statuses, upload_id)
        if ids:
            self.send({"kind": kind, "upload_ids": ids})
        return ids

    def batch_uri(self, batch: str | None = None) -> str:
        """``s3://bucket/prefix/`` holding the finished files of one pick or drop (the
        latest by default): a dropped folder reads back whole from it, e.g. with
        ``pyarrow.parquet.read_table`` or ``pandas.read_parquet``. ``""`` before any."""
        from ._records import batch_uri

        return batch_uri(self.uploads, batch)

    def summary(self) -> str:
        """One line on every record: ``"5,000 files: 4,990 done, 10 failed (key-exists
        10)"``. The failed files are in `uploads` with status "error" and their words."""
        from ._records import summarize

        return summarize(self.uploads)

    def clear(self) -> None:
        """Remove finished records (done, error, cancelled) from `uploads`."""
        with self._lock:
            self._session.clear()

    def close(self) -> None:
        """Cancel unfinished uploads and abort every multipart upload still held in S3
        (also ones whose abort failed before), then close; warns naming any it could
        not abort, so that you can abort them yourself (they cost storage)."""
        # getattr: __del__ may close a widget whose __init__ failed before the session.
        if getattr(self, "_session", None) is not None and self.comm is not None:
            self.cancel()
            with self._lock:
                left = self._session.close()
            if left:
                warnings.warn(
                    f"s3-upload-widget could not abort the multipart uploads of {left} in "
                    f"bucket {self.bucket!r}; their parts cost storage until aborted: "
                    "aws s3api list-multipart-uploads / abort-multipart-upload, or a "
                    "lifecycle rule AbortIncompleteMultipartUpload.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        _LIVE_WIDGETS.discard(self)
        super().close()

    # --- validation ----------------------------------------------------------------

    @property
    def extra_args(self) -> Any:
        """Object options for every upload in boto3's ExtraArgs names (a dict), or a
        function ``fields -> dict`` called per file; None for none. Not synced: it may
        hold a function, and the front end has no use for it."""
        return self._extra_args

    @extra_args.setter
    def extra_args(self, value: Any) -> None:
        try:
            self._extra_args = check_option("extra_args", value)
        except ValueError as exc:
            raise InvalidOption(str(exc)) from None
        if self._session is not None:  # applies to every file signed from now on
            self._session.options = self._make_options()

    @t.observe(
        "prefix", "accept", "multiple", "max_size", "max_files", "max_total_files",
        "allow_active_types", "overwrite", "expires_in", "concurrency", "multipart_threshold",
        "part_size", "checksum", "extra_endpoints", "form_posts", "connection_pools",
    )  # fmt: skip
    def _config_changed(self, change: t.Bunch) -> None:
        # A change made in Python applies to every signature made after it.
        if self._session is not None:
            self._session.policy = self._make_policy()
            self._session.options = self._make_options()

    # --- wiring --------------------------------------------------------------------

    def set_state(self, sync_data: dict) -> None:
        """Apply state from the front end, keeping only what it may change (nothing).

        The browser is not trusted: a tampered front end could otherwise widen `prefix`
        or `max_size`. It asks through messages, and Python decides.
        """
        super().set_state({k: v for k, v in sync_data.items() if k in _FRONTEND_WRITABLE})

    def _make_policy(self) -> UploadPolicy:
        return UploadPolicy(
            prefix=self.prefix,
            key_template=self._key_template,
            accept=self.accept,
            max_size=self.max_size,
            max_files=self.max_files,
            allow_active_types=self.allow_active_types,
        )

    def _make_options(self) -> SessionOptions:
        # Every field of SessionOptions is an option of the widget by the same name.
        return SessionOptions(**{f.name: getattr(self, f.name) for f in fields(SessionOptions)})

    def _s3_client(self) -> Any:
        from ._client import default_client

        if self._client is None:
            self._client = default_client()
        return self._client

    def _make_signer(self) -> Any:
        from ._signer import Signer

        # expires_in and extra_endpoints: the session sets them on every use (_get_signer).
        return Signer(self._s3_client(), self.bucket, prefix=self.prefix)

    def _check_cors(self, origin: str) -> list[str]:
        from ._cors import REQUEST_HEADERS, check_cors
        from ._extra_args import header_names

        headers = (*REQUEST_HEADERS, *header_names(self._extra_args))
        return check_cors(self.bucket, origin, client=self._s3_client(), request_headers=headers)

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self._offload.route(content)  # batches on a worker thread (see _offload), the rest now

    def _answer(self, content: Any, found: Found = NOTHING_FOUND) -> None:
        # Messages come on the kernel's thread, a subshell's (JupyterLab 4.4+, while a cell
        # calls w.cancel()) and the workers': one lock keeps the records consistent.
        with self._lock:
            with self.hold_sync():  # one state update for the page per message
                reply = self._session.handle(content, found)
            if reply is not None:
                self.send(reply)

    def _records_changed(self, records: list[dict]) -> None:
        self.uploads = records

    def _upload_done(self, record: dict) -> None:
        self.uploaded_keys = [*self.uploaded_keys, record["key"]]
        self.key = record["key"]
        for callback in list(self._callbacks):
            try:
                callback(dict(record))
            except Exception:
                # The upload succeeded; a failing callback must not turn it into an error.
                log.exception("s3-upload-widget: an on_upload callback raised")


_LIVE_WIDGETS: weakref.WeakSet[S3UploadWidget] = weakref.WeakSet()


@atexit.register
def _abort_unfinished_uploads() -> None:
    # Kernel shutdown: leave no multipart upload half-written in S3.
    for widget in list(_LIVE_WIDGETS):
        try:
            left = widget._session.close() if widget._session is not None else []
            if left:
                log.warning("s3-upload-widget: could not abort multipart uploads of %s", left)
        except Exception:
            log.warning("s3-upload-widget: abort at exit failed", exc_info=True)
