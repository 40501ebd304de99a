"""S3UploadWidget: traits, and the wiring of custom messages to the upload session."""

from __future__ import annotations

import atexit
import logging
import pathlib
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets as t

from . import _protocol as P
from ._policy import UploadPolicy, normalize_prefix, validate_key_template
from ._session import SessionOptions, UploadSession

log = logging.getLogger(__name__)

_STATIC = pathlib.Path(__file__).parent / "static"

# Measured (benchmarks/results.md): below ~100 MiB one PUT beats multipart (no part
# round trips, no assembly), and a failed 100 MiB PUT is still cheap to send again.
DEFAULT_MULTIPART_THRESHOLD = 100 * 1024**2
# Measured: 4 parts in flight beat 2 clearly; 6 gained nothing and uses all six of the
# browser's connections to the host. The browser never opens more than 6 (HTTP/1.1).
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 6

# Every trait the front end may change: none. It asks through messages; Python decides.
_FRONTEND_WRITABLE: frozenset[str] = frozenset()


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

    bucket = t.Unicode(help="The S3 bucket every file goes to.").tag(sync=True)
    prefix = t.Unicode(
        "", help="Every key starts with this prefix; the front end cannot escape it."
    ).tag(sync=True)
    accept = t.Unicode(
        "", help='Accepted files, like <input accept>: ".csv,.parquet,image/*"; "" for any.'
    ).tag(sync=True)
    multiple = t.Bool(True, help="Whether several files may be chosen at once.").tag(sync=True)
    max_size = t.Int(
        None, allow_none=True, help="Largest file in bytes (None: no limit); enforced by S3."
    ).tag(sync=True)
    max_files = t.Int(None, allow_none=True, help="Most files in one batch (None: no limit).").tag(
        sync=True
    )
    overwrite = t.Bool(False, help="Whether an upload may replace an existing object.").tag(
        sync=True
    )
    expires_in = t.Int(900, help="Seconds each presigned URL lives.").tag(sync=True)
    multipart_threshold = t.Int(
        DEFAULT_MULTIPART_THRESHOLD, help="Files of at least this many bytes go multipart."
    ).tag(sync=True)
    part_size = t.Int(
        None, allow_none=True, help="Bytes per multipart part (None: chosen per file)."
    ).tag(sync=True)
    concurrency = t.Int(
        DEFAULT_CONCURRENCY, help="Parts of one file uploaded at the same time."
    ).tag(sync=True)

    _widget_id = t.Unicode(help="Links a widget's views to its controller in the browser.").tag(
        sync=True
    )

    key = t.Unicode("", help="Key of the most recently completed upload ('' before any).").tag(
        sync=True
    )
    uploaded_keys = t.List(t.Unicode(), help="Every completed key, in completion order.").tag(
        sync=True
    )
    uploads = t.List(
        t.Dict(), help="One record per file: id, name, size, status, loaded, key, etag, error…"
    ).tag(sync=True)

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any = None,
        key_template: str | Callable[[dict], str] = "{prefix}{uuid}/{filename}",
        accept: str = "",
        multiple: bool = True,
        max_size: int | None = None,
        overwrite: bool = False,
        expires_in: int = 900,
        *,
        max_files: int | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        validate_key_template(key_template)
        self._client = client
        self._key_template = key_template
        self._callbacks: list[Callable[[dict], Any]] = []
        self._session: UploadSession | None = None
        self.local_s3: Any = None  # set by S3UploadWidget.local()
        self._lock = threading.RLock()
        super().__init__(
            _widget_id=uuid.uuid4().hex,
            bucket=bucket,
            prefix=prefix,
            accept=accept,
            multiple=multiple,
            max_size=max_size,
            overwrite=overwrite,
            expires_in=expires_in,
            max_files=max_files,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            concurrency=concurrency,
            **kwargs,
        )
        self._session = UploadSession(
            policy=self._make_policy(),
            signer=self._make_signer,
            options=self._make_options(),
            on_change=self._records_changed,
            on_done=self._upload_done,
            cors_checker=self._check_cors,
        )
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
        RuntimeError when no browser shows the widget.
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

        if origins is None:
            if not self._session.origin:
                raise ValueError(
                    "The page's origin is not known yet: display the widget first, or pass "
                    'origins=["http://localhost:8888"] (the address your notebook runs at).'
                )
            origins = [self._session.origin]
        return configure_cors(self.bucket, origins, client=self._s3_client())

    def cancel(self, upload_id: str | None = None) -> list[str]:
        """Cancel one upload by its record id, or every unfinished one; returns their ids."""
        with self._lock:
            cancelled = self._session.cancel(upload_id)
        if cancelled:
            self.send({"kind": P.CANCEL_UPLOADS, "upload_ids": cancelled})
        return cancelled

    def clear(self) -> None:
        """Remove finished records (done, error, cancelled) from `uploads`."""
        with self._lock:
            self._session.clear()

    def close(self) -> None:
        """Cancel unfinished uploads (aborting multipart uploads in S3), then close."""
        # getattr: __del__ may close a widget whose __init__ failed before the session.
        if getattr(self, "_session", None) is not None and self.comm is not None:
            self.cancel()
        _LIVE_WIDGETS.discard(self)
        super().close()

    # --- validation ----------------------------------------------------------------

    @t.validate("bucket")
    def _valid_bucket(self, proposal: t.Bunch) -> str:
        value = proposal["value"]
        if not value or "/" in value or any(c.isspace() for c in value):
            raise t.TraitError(
                f"bucket must be a bucket name such as 'my-bucket', got {value!r}; "
                "put folders in prefix='folder/'."
            )
        return value

    @t.validate("prefix")
    def _valid_prefix(self, proposal: t.Bunch) -> str:
        try:
            return normalize_prefix(proposal["value"])
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None

    @t.validate("expires_in")
    def _valid_expires_in(self, proposal: t.Bunch) -> int:
        value = proposal["value"]
        if not 1 <= value <= 7 * 24 * 3600:
            raise t.TraitError(
                f"expires_in must be between 1 and 604800 seconds (7 days), got {value}."
            )
        return value

    @t.validate("max_size", "max_files", "part_size")
    def _valid_optional_positive(self, proposal: t.Bunch) -> int | None:
        value = proposal["value"]
        if value is not None and value < (0 if proposal["trait"].name == "max_size" else 1):
            raise t.TraitError(f"{proposal['trait'].name} must be positive or None, got {value}.")
        return value

    @t.validate("concurrency")
    def _valid_concurrency(self, proposal: t.Bunch) -> int:
        value = proposal["value"]
        if not 1 <= value <= MAX_CONCURRENCY:
            raise t.TraitError(
                f"concurrency must be between 1 and {MAX_CONCURRENCY} (a browser opens at most "
                f"6 connections to one host), got {value}."
            )
        return value

    @t.validate("multipart_threshold")
    def _valid_threshold(self, proposal: t.Bunch) -> int:
        value = proposal["value"]
        if value < 5 * 1024**2:
            raise t.TraitError(
                f"multipart_threshold must be at least 5 MiB (S3's smallest part), got {value}."
            )
        return value

    @t.observe(
        "prefix", "accept", "multiple", "max_size", "max_files", "overwrite",
        "multipart_threshold", "part_size",
    )  # fmt: skip
    def _config_changed(self, change: t.Bunch) -> None:
        # A change made in Python applies to the next file; files already signed keep theirs.
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
        )

    def _make_options(self) -> SessionOptions:
        return SessionOptions(
            bucket=self.bucket,
            overwrite=self.overwrite,
            multipart_threshold=self.multipart_threshold,
            part_size=self.part_size,
            multiple=self.multiple,
        )

    def _s3_client(self) -> Any:
        from ._signer import default_client

        if self._client is None:
            self._client = default_client()
        return self._client

    def _make_signer(self) -> Any:
        from ._signer import Signer

        return Signer(
            self._s3_client(), self.bucket, expires_in=self.expires_in, prefix=self.prefix
        )

    def _check_cors(self, origin: str) -> list[str]:
        from ._cors import check_cors

        return check_cors(self.bucket, origin, client=self._s3_client())

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # JupyterLab 4.4+ may deliver widget messages on a kernel subshell thread while a
        # cell calls w.cancel(): one lock keeps the session's records consistent.
        with self._lock:
            reply = self._session.handle(content)
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
            if widget._session is not None:
                widget._session.close()
        except Exception:
            log.debug("abort at exit failed", exc_info=True)
