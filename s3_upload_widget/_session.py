"""The kernel's side of every upload: records, and one handler per request kind.

No widget import here: `UploadSession` takes plain messages and returns plain replies,
so the whole protocol is tested without a browser. `handle` never raises: every request
gets an answer, and a broken or hostile message changes nothing but its own reply.
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _protocol as P
from ._errors import UploadError, explain_browser_failure, key_exists_error
from ._policy import FileInfo, UploadPolicy, content_type_for, part_length, plan_parts

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10_000
"""A batch larger than this is refused outright: no person picks more in one go."""

MAX_RECORDS = 100_000
"""Records kept per widget; past this a flood of requests is refused (w.clear() frees)."""

MAX_PARTS_PER_REQUEST = 64
"""Part URLs are signed in small batches just before they are needed."""

MAX_SIGNATURES_PER_PART = 20
"""Re-signing an expired URL is normal; a front end asking endlessly is not."""

MAX_SEEN_REQUEST_IDS = 50_000


@dataclass
class SessionOptions:
    """What the session needs besides the policy: the bucket and how to upload."""

    bucket: str
    overwrite: bool = False
    multipart_threshold: int = 100 * 1024**2
    part_size: int | None = None
    multiple: bool = True


@dataclass
class _Upload:
    """Kernel-only state of one upload; `record` is the part a person may see."""

    record: dict
    info: FileInfo
    mode: str = ""  # "single" or "multipart" once signed
    s3_upload_id: str = ""  # S3's multipart UploadId: never leaves the kernel's control
    part_size: int = 0
    part_count: int = 0
    signatures: dict[int, int] = field(default_factory=dict)  # part number -> times signed


class UploadSession:
    """Upload records and the handlers of every request kind of `_protocol`.

    `signer` is a zero-argument callable returning a `Signer`: creating one may look up
    the bucket's region, so it happens on the first request, not at construction.
    `on_change(records)` is called with the list of records whenever one changes;
    `on_done(record)` after each completed upload.
    """

    def __init__(
        self,
        *,
        policy: UploadPolicy,
        signer: Callable[[], Any],
        options: SessionOptions,
        on_change: Callable[[list[dict]], None] = lambda records: None,
        on_done: Callable[[dict], None] = lambda record: None,
        cors_checker: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.policy = policy
        self.options = options
        self._signer_factory = signer
        self._signer = None
        self._on_change = on_change
        self._on_done = on_done
        self._cors_checker = cors_checker
        self._uploads: OrderedDict[str, _Upload] = OrderedDict()
        self._seen_ids: OrderedDict[object, None] = OrderedDict()
        self.origin = ""
        self._handlers = {
            P.HELLO: self._hello,
            P.ADD_FILES: self._add_files,
            P.SIGN: self._sign,
            P.SIGN_PARTS: self._sign_parts,
            P.COMPLETE: self._complete,
            P.FAIL: self._fail,
            P.CANCEL: self._cancel,
        }
        assert set(self._handlers) == P.REQUEST_KINDS

    # --- public ------------------------------------------------------------------

    @property
    def records(self) -> list[dict]:
        """Copies of every upload record, in the order the files were added."""
        return [dict(u.record) for u in self._uploads.values()]

    def handle(self, msg: object) -> dict | None:
        """Answer one message from the browser; None for notifications. Never raises."""
        try:
            return self._dispatch(msg)
        except Exception as exc:  # a bug of ours must still produce an answer
            log.exception("s3-upload-widget: unexpected error handling a message")
            request_id = msg.get("id") if isinstance(msg, dict) else None
            kind = msg.get("kind") if isinstance(msg, dict) else None
            return P.error_response(
                request_id,
                kind if isinstance(kind, str) else "unknown",
                "internal",
                f"Internal error in s3-upload-widget: {type(exc).__name__}: {exc}",
                "Please report this with the steps that led to it.",
            )

    def cancel(self, upload_id: str | None = None) -> list[str]:
        """Cancel one upload or every unfinished one; returns the ids cancelled."""
        if upload_id is not None and upload_id not in self._uploads:
            raise KeyError(f"No upload with id {upload_id!r} in this widget.")
        ids = [upload_id] if upload_id is not None else list(self._uploads)
        cancelled = [i for i in ids if self._finish_cancelled(self._uploads[i])]
        if cancelled:
            self._changed()
        return cancelled

    def clear(self) -> None:
        """Forget finished records (done, error, cancelled); active uploads stay."""
        for upload_id in [i for i, u in self._uploads.items() if _is_final(u)]:
            del self._uploads[upload_id]
        self._changed()

    def close(self) -> None:
        """Cancel everything unfinished, aborting multipart uploads in S3."""
        self.cancel()

    # --- dispatch ----------------------------------------------------------------

    def _dispatch(self, msg: object) -> dict | None:
        if not isinstance(msg, dict):
            return P.error_response(
                None, "unknown", "bad-request", "A message must be a JSON object."
            )
        kind = msg.get("kind")
        if kind in P.NOTIFICATION_KINDS:
            self._progress(msg)
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
        if not isinstance(request_id, (str, int)) or isinstance(request_id, bool):
            return P.error_response(
                None, kind, "bad-request", "A request needs an 'id' (a string or an integer)."
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
            return P.error_response(request_id, kind, err.code, err.message, err.hint)

    def _remember(self, request_id: object) -> None:
        self._seen_ids[request_id] = None
        while len(self._seen_ids) > MAX_SEEN_REQUEST_IDS:
            self._seen_ids.popitem(last=False)

    # --- handlers ----------------------------------------------------------------

    def _hello(self, args: dict) -> dict:
        origin = args.get("origin", "")
        if isinstance(origin, str) and len(origin) <= 2048:
            self.origin = origin
        return {}

    def _add_files(self, args: dict) -> dict:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise UploadError("bad-request", "'files' must be a non-empty list.", "")
        if len(files) > MAX_FILES_PER_MESSAGE:
            raise UploadError(
                "too-many-files",
                f"{len(files)} files in one go is more than this widget accepts "
                f"({MAX_FILES_PER_MESSAGE}).",
                "Upload them in smaller batches, or as one archive.",
            )
        if len(self._uploads) + len(files) > MAX_RECORDS:
            raise UploadError(
                "too-many-files",
                f"This widget already holds {len(self._uploads)} upload records; "
                f"{len(files)} more would pass its limit of {MAX_RECORDS}.",
                "Call w.clear() to forget finished uploads, or create a new widget.",
            )
        if not self.options.multiple and len(files) > 1:
            raise UploadError(
                "too-many-files",
                f"{len(files)} files were chosen, but this widget takes one file at a time.",
                "Choose a single file, or create the widget with multiple=True.",
            )
        self.policy.check_batch(len(files))
        infos = [FileInfo.from_message(f) for f in files]  # all valid, or none is added
        records = [self._new_upload(info).record for info in infos]
        self._changed()
        return {"uploads": [dict(r) for r in records]}

    def _new_upload(self, info: FileInfo) -> _Upload:
        upload_id = uuid.uuid4().hex[:12]
        record = {
            "id": upload_id,
            # NFC: macOS sends decomposed accents; the key is NFC, so the name matches it.
            "name": unicodedata.normalize("NFC", info.name),
            "size": info.size,
            "content_type": content_type_for(info.name, info.content_type),
            "bucket": self.options.bucket,
            "key": "",
            "s3_uri": "",
            "status": "queued",
            "loaded": 0,
            "etag": "",
            "error": "",
            "error_code": "",
            "multipart": False,
        }
        upload = _Upload(record=record, info=info)
        self._uploads[upload_id] = upload
        try:
            self.policy.check_file(info)
            record["key"] = self.policy.make_key(info)
            record["s3_uri"] = f"s3://{self.options.bucket}/{record['key']}"
        except UploadError as err:
            _set_error(record, err)
        return upload

    def _sign(self, args: dict) -> dict:
        upload = self._upload_for(args)
        record = upload.record
        if record["status"] == "uploading" and upload.mode == "single":
            # The browser's URL expired before the PUT finished: sign the same PUT again.
            return self._sign_single(upload)
        self._expect_status(upload, "queued")
        record["status"] = "signing"
        self._changed()
        try:
            signer = self._get_signer()
            if record["size"] >= self.options.multipart_threshold:
                result = self._start_multipart(upload, signer)
            else:
                # Say so before any byte is sent; the signed If-None-Match still guards
                # the write when the role may not look (no s3:GetObject).
                if not self.options.overwrite and signer.exists_if_allowed(record["key"]):
                    raise key_exists_error(self.options.bucket, record["key"])
                upload.mode = "single"
                result = self._sign_single(upload)
        except UploadError as err:
            self._fail_upload(upload, err)
            raise
        record["status"] = "uploading"
        self._changed()
        return result

    def _sign_single(self, upload: _Upload) -> dict:
        count = upload.signatures.get(1, 0) + 1
        if count > MAX_SIGNATURES_PER_PART:
            raise UploadError(
                "bad-request", f"The upload of {upload.record['name']!r} was signed too often.", ""
            )
        upload.signatures[1] = count
        record = upload.record
        signed = self._get_signer().presign_put(
            record["key"],
            size=record["size"],
            content_type=record["content_type"],
            overwrite=self.options.overwrite,
        )
        return {
            "mode": "single",
            "method": signed.method,
            "url": signed.url,
            "headers": dict(signed.headers),
        }

    def _start_multipart(self, upload: _Upload, signer: Any) -> dict:
        record = upload.record
        part_size, part_count = plan_parts(record["size"], self.options.part_size)
        upload.s3_upload_id = signer.create_multipart(
            record["key"], content_type=record["content_type"], overwrite=self.options.overwrite
        )
        upload.mode = "multipart"
        upload.part_size, upload.part_count = part_size, part_count
        record["multipart"] = True
        return {"mode": "multipart", "part_size": part_size, "part_count": part_count}

    def _sign_parts(self, args: dict) -> dict:
        upload = self._upload_for(args)
        self._expect_status(upload, "uploading")
        if upload.mode != "multipart":
            raise UploadError("bad-request", "This upload is not a multipart upload.", "")
        numbers = args.get("part_numbers")
        if (
            not isinstance(numbers, list)
            or not numbers
            or len(numbers) > MAX_PARTS_PER_REQUEST
            or not all(_is_int(n) and 1 <= n <= upload.part_count for n in numbers)
        ):
            raise UploadError(
                "bad-request",
                f"'part_numbers' must list 1 to {MAX_PARTS_PER_REQUEST} part numbers "
                f"between 1 and {upload.part_count}.",
                "",
            )
        for n in numbers:
            if upload.signatures.get(n, 0) >= MAX_SIGNATURES_PER_PART:
                raise UploadError("bad-request", f"Part {n} was signed too often.", "")
        signer = self._get_signer()
        parts = []
        for n in sorted(set(numbers)):
            length = part_length(upload.record["size"], upload.part_size, n)
            signed = signer.presign_part(upload.record["key"], upload.s3_upload_id, n, length)
            upload.signatures[n] = upload.signatures.get(n, 0) + 1
            parts.append(
                {
                    "part_number": n,
                    "length": length,
                    "method": signed.method,
                    "url": signed.url,
                    "headers": dict(signed.headers),
                }
            )
        return {"parts": parts}

    def _complete(self, args: dict) -> dict:
        upload = self._upload_for(args)
        self._expect_status(upload, "uploading")
        record = upload.record
        if upload.mode == "single":
            # "" when the bucket's CORS hides the ETag header: HEAD reads it instead.
            if not isinstance(args.get("etag"), str):
                raise UploadError("bad-request", "'etag' must be a string.", "")
        else:
            parts = args.get("parts")
            if not isinstance(parts, list) or len(parts) != upload.part_count:
                raise UploadError(
                    "bad-request",
                    f"'parts' must list all {upload.part_count} parts with their ETags.",
                    "",
                )
        record["status"] = "completing"
        self._changed()
        try:
            signer = self._get_signer()
            if upload.mode == "single":
                stored = self._stored_single(signer, record, args["etag"])
                if stored["size"] != record["size"]:
                    raise UploadError(
                        "size-mismatch",
                        f"S3 holds {stored['size']} bytes for {record['key']!r}, "
                        f"but the file has {record['size']}.",
                        "Upload the file again.",
                    )
            else:
                stored = signer.complete_multipart(
                    record["key"],
                    upload.s3_upload_id,
                    args["parts"],
                    expected_size=record["size"],
                    overwrite=self.options.overwrite,
                )
                upload.s3_upload_id = ""  # completed: nothing left to abort
        except UploadError as err:
            self._fail_upload(upload, err)
            raise
        record.update(status="done", loaded=record["size"], etag=stored.get("etag", ""))
        self._changed()
        self._on_done(dict(record))
        return {"record": dict(record)}

    @staticmethod
    def _stored_single(signer: Any, record: dict, etag: str) -> dict:
        """What S3 holds for a single PUT; trusts the signed length if HEAD is denied."""
        try:
            return signer.head(record["key"])
        except UploadError as err:
            if err.code != "access-denied":
                raise
            # An upload-only role may not HEAD. S3 accepted exactly the signed
            # Content-Length, so the size is known; the ETag is the browser's.
            return {"size": record["size"], "etag": etag}

    def _fail(self, args: dict) -> dict:
        upload = self._upload_for(args)
        if _is_final(upload):
            return {"record": dict(upload.record)}
        error = args.get("error")
        if not isinstance(error, dict):
            raise UploadError("bad-request", "'error' must be an object.", "")
        reason = error.get("reason")
        if reason not in P.FAILURE_REASONS:
            reason = "internal"
        status = error.get("status")
        part_number = error.get("part_number")
        cors_problems = None
        if reason == "network" and self._cors_checker is not None:
            try:
                cors_problems = self._cors_checker(self.origin)
            except Exception:  # diagnosis is a bonus: never let it hide the failure
                log.debug("CORS check failed", exc_info=True)
        err = explain_browser_failure(
            reason=reason,
            status=status if _is_int(status) else 0,
            s3_code=_short_str(error.get("s3_code")),
            s3_message=_short_str(error.get("s3_message")),
            part_number=part_number if _is_int(part_number) else None,
            origin=self.origin,
            bucket=self.options.bucket,
            key=upload.record["key"],
            filename=upload.record["name"],
            cors_problems=cors_problems,
        )
        self._fail_upload(upload, err)
        return {"record": dict(upload.record)}

    def _cancel(self, args: dict) -> dict:
        upload = self._upload_for(args)
        if self._finish_cancelled(upload):
            self._changed()
        return {"record": dict(upload.record)}

    def _progress(self, msg: dict) -> None:
        updates = msg.get("updates")
        if not isinstance(updates, list):
            return
        changed = False
        for update in updates[:MAX_FILES_PER_MESSAGE]:
            if not isinstance(update, dict):
                continue
            upload = self._uploads.get(update.get("upload_id"))  # type: ignore[arg-type]
            loaded = update.get("loaded")
            if upload is None or not _is_int(loaded) or upload.record["status"] != "uploading":
                continue
            loaded = max(0, min(loaded, upload.record["size"]))
            if loaded != upload.record["loaded"]:
                upload.record["loaded"] = loaded
                changed = True
        if changed:
            self._changed()

    # --- helpers -----------------------------------------------------------------

    def _get_signer(self) -> Any:
        if self._signer is None:
            self._signer = self._signer_factory()
        return self._signer

    def _upload_for(self, args: dict) -> _Upload:
        upload_id = args.get("upload_id")
        upload = self._uploads.get(upload_id) if isinstance(upload_id, str) else None
        if upload is None:
            raise UploadError(
                "unknown-upload", f"No upload with id {upload_id!r} in this widget.", ""
            )
        return upload

    def _expect_status(self, upload: _Upload, *statuses: str) -> None:
        status = upload.record["status"]
        if status not in statuses:
            raise UploadError(
                "bad-request",
                f"The upload of {upload.record['name']!r} is {status}; "
                f"this request needs it to be {' or '.join(statuses)}.",
                "",
            )

    def _fail_upload(self, upload: _Upload, err: UploadError) -> None:
        self._abort_multipart(upload)
        _set_error(upload.record, err)
        self._changed()

    def _finish_cancelled(self, upload: _Upload) -> bool:
        if _is_final(upload):
            return False
        self._abort_multipart(upload)
        upload.record.update(status="cancelled", error="", error_code="")
        return True

    def _abort_multipart(self, upload: _Upload) -> None:
        if not upload.s3_upload_id:
            return
        try:
            self._get_signer().abort_multipart(upload.record["key"], upload.s3_upload_id)
            upload.s3_upload_id = ""
        except UploadError as err:
            # Keep the id: the record says the abort failed, and close() tries again.
            log.warning("Could not abort multipart upload of %s: %s", upload.record["key"], err)

    def _changed(self) -> None:
        self._on_change(self.records)


def _set_error(record: dict, err: UploadError) -> None:
    record.update(status="error", error=str(err), error_code=err.code)


def _is_final(upload: _Upload) -> bool:
    return upload.record["status"] in P.FINAL_STATUSES


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short_str(value: object, limit: int = 1000) -> str:
    return value[:limit] if isinstance(value, str) else ""
