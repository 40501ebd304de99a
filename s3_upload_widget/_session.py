"""The kernel's side of every upload: its records, and one handler per request kind.

No widget import here: `UploadSession` takes plain messages and returns plain replies,
so the whole protocol is tested without a browser. `handle` never raises (see
`_router`): every request gets an answer, and a failed request ends, at most, the
upload it was about.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from . import _protocol as P
from . import _verify as verify
from ._batch_handlers import NOTHING_FOUND, BatchHandlers, Found
from ._batches import named_ids
from ._cors import page_origin
from ._diagnose import diagnose_failure
from ._errors import UploadError
from ._extra_args import resolve_extra_args
from ._form_post import plan_form_post, resolve_form_posts
from ._intake import key_in_use_error, read_batch
from ._options import SessionOptions
from ._owners import ELSEWHERE_CODE, OwnerHandlers, moved, page_of, take
from ._parts import MAX_SIGNATURES_PER_PART, new_entry, read_checksum, sign_parts, start_multipart
from ._pausing import PauseHandlers
from ._policy import FileInfo, UploadPolicy
from ._pools import PoolChoice
from ._publish import RecordBook
from ._records import Upload, new_record
from ._resume import ResumeHandlers
from ._router import Router
from ._sizes import check_uploadable

log = logging.getLogger(__name__)


class UploadSession(PoolChoice, BatchHandlers, OwnerHandlers, PauseHandlers, ResumeHandlers):
    """Upload records and the handlers of every request kind of `_protocol`.

    `signer` is a zero-argument callable returning a `Signer`: creating one may look up
    the bucket's region, so it happens on the first request, not at construction.
    Once per message handled (and public call) that changed records, `on_change` gets
    every record, `on_delta` the page's `_protocol.RECORDS` patches (see `_publish`),
    then `on_done(record)` runs for each upload completed meanwhile.

    When a handler fails for a known upload (an `UploadError`, or a bug of ours), that
    upload's record ends in ``error`` and its multipart upload is aborted: no record
    stays half-way, so `w.wait()` always returns.
    """

    def __init__(
        self,
        *,
        policy: UploadPolicy,
        signer: Callable[[], Any],
        options: SessionOptions,
        on_change: Callable[[list[dict]], None] = lambda records: None,
        on_done: Callable[[dict], None] = lambda record: None,
        on_delta: Callable[[dict], None] = lambda command: None,
        cors_checker: Callable[[str], list[str]] | None = None,
        warm_signer: bool = False,
    ) -> None:
        self.policy = policy
        self.options = options
        self._signer_factory = signer
        self._signer = None
        self._warm_signer = warm_signer  # at the first hello, aside (Signer.warm)
        self._warmer: threading.Thread | None = None
        self._on_change = on_change
        self._on_done = on_done
        self._on_delta = on_delta
        self._book = RecordBook()
        self._cors_checker = cors_checker
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._accepted = 0  # files accepted over the widget's life (max_total_files)
        self._key_owner: dict[str, Upload] = {}  # key -> the upload that last took it
        self._absent_since: dict[str, float] = {}  # see _batch_handlers
        self.origin = ""
        self._form_posts: tuple[tuple, bool] = ((), False)  # (asked, answer): see _form_post
        self._pools: tuple[tuple, int] = ((), 1)  # (asked, answer): see _connection_pools
        handlers = {
            P.HELLO: self._hello, P.ADD_FILES: self._add_files, P.SIGN: self._sign,
            P.SIGN_PARTS: self._sign_parts, P.COMPLETE: self._complete, P.FAIL: self._fail,
            P.CANCEL: self._cancel, P.SIGN_FILES: self._sign_files,
            P.COMPLETE_FILES: self._complete_files, P.PAUSE: self._pause,
            P.RESUME: self._resume, P.ADOPT: self._adopt,
        }  # fmt: skip
        self._router = Router(
            handlers, on_notification=self._progress, on_failure=self._end_after_failure
        )

    # --- public ------------------------------------------------------------------

    def handle(self, msg: object, found: Found = NOTHING_FOUND) -> dict | None:
        """Answer one message from the browser; None for notifications. Never raises.

        ``found``: S3's answers read for this message beforehand (`plan_lookups`).
        """
        self._found, self._page = found, page_of(msg)
        try:
            reply = self._router.handle(msg)
        finally:
            self._found, self._page = NOTHING_FOUND, ""
        self._publish()
        return reply

    @property
    def records(self) -> list[dict]:
        """Copies of every upload record, in the order the files were added."""
        return [dict(u.record) for u in self._uploads.values()]

    def cancel(self, upload_id: str | None = None) -> list[str]:
        """Cancel one upload or every unfinished one; returns the ids cancelled."""
        if upload_id is not None and upload_id not in self._uploads:
            raise KeyError(f"No upload with id {upload_id!r} in this widget.")
        ids = [upload_id] if upload_id is not None else list(self._uploads)
        cancelled = [i for i in ids if self._finish_cancelled(self._uploads[i])]
        self._publish()
        return cancelled

    def clear(self) -> None:
        """Forget finished records (done, error, cancelled); active uploads stay."""
        finished = [i for i, u in self._uploads.items() if u.is_final]
        for upload_id in finished:
            upload = self._uploads.pop(upload_id)
            if self._key_owner.get(upload.record["key"]) is upload:
                del self._key_owner[upload.record["key"]]
        self._book.remove(finished)
        self._publish()

    def close(self) -> list[str]:
        """Cancel everything unfinished and abort every multipart upload still held in S3,
        also those whose abort failed earlier; returns the keys it could not abort."""
        self.cancel()
        if self._warmer is not None:
            self._warmer.join(timeout=10)  # it may be using the client the caller closes next
        for upload in self._uploads.values():
            self._abort_multipart(upload)
        return [u.record["key"] for u in self._uploads.values() if u.s3_upload_id]

    # --- failures ----------------------------------------------------------------

    def _end_after_failure(self, args: dict, err: UploadError) -> None:
        """End the records of the uploads a failed request was about, if still on."""
        for upload_id in named_ids(args):
            upload = self._uploads.get(upload_id)
            if upload is None or upload.is_final or err.code == ELSEWHERE_CODE:
                continue  # (another page took it over: it goes on there)
            try:
                self._fail_upload(upload, err)
            except Exception:
                # Aborting failed too: the record itself must still end.
                log.exception("s3-upload-widget: could not end a failed upload")
                upload.set_error(err)

    # --- handlers ----------------------------------------------------------------

    def _hello(self, args: dict) -> dict:
        # Only a real page origin: configure_cors() and the CORS advice use it.
        self.origin = page_origin(args.get("origin"))
        if self._warm_signer and self._warmer is None:  # the first pick's lookups, now
            with contextlib.suppress(Exception):
                warm = self._warm_up(self._get_signer())
                self._warmer = threading.Thread(target=warm, name="s3uw-warm-signer", daemon=True)
                self._warmer.start()
        self._publish()  # the page's view starts from every record as it is now
        return {"records": self._book.view()}

    def _add_files(self, args: dict) -> dict:
        infos = read_batch(
            args.get("files"),
            live=sum(not u.is_final for u in self._uploads.values()) - self.resuming(args),
            held=len(self._uploads),
            accepted=self._accepted,
            options=self.options,
            policy=self.policy,
        )
        added: list[Upload] = []
        entries: list[dict] = []  # a new record, or an interrupted upload's (_resume)
        batch = uuid.uuid4().hex[:16]  # one pick or drop: the {batch} of its keys
        look: dict = {}  # resume_entry's scratch
        pools = self._connection_pools  # called only for a multipart file's first part
        try:
            for info in infos:
                entry = self.resume_entry(info, look)
                if entry is None:
                    added.append(self._new_upload(info, batch))
                entries.append(entry or new_entry(added[-1].record, self.options, pools))
        except Exception:
            for upload in added:  # all or nothing: no record that nobody will upload
                del self._uploads[upload.record["id"]]
            raise
        self._accepted += sum(not u.is_final for u in added)
        self._changed(*added)
        return {"uploads": entries}

    def _new_upload(self, info: FileInfo, batch: str) -> Upload:
        upload_id = uuid.uuid4().hex[:12]
        content_type = self.policy.content_type(info)
        record = new_record(upload_id, info, self.options.bucket, content_type, batch)
        upload = Upload(record=record, info=info)
        try:
            self._check_rules(upload)
        except UploadError as err:
            upload.set_error(err)
        self._uploads[upload_id] = upload
        return upload

    def _check_rules(self, upload: Upload) -> None:
        """The policy's rules for this file as they are now, and a key for it that no
        other unfinished upload writes; makes the key again if the prefix changed."""
        record = upload.record
        self.policy.check_file(upload.info)
        record["content_type"] = self.policy.content_type(upload.info)
        check_uploadable(
            record["name"],
            record["size"],
            multipart_threshold=self.options.multipart_threshold,
            part_size=self.options.part_size,
        )
        if not record["key"] or not record["key"].startswith(self.policy.prefix):
            if self._key_owner.get(record["key"]) is upload:
                del self._key_owner[record["key"]]
            record["key"] = self.policy.make_key(upload.info, batch=record["batch"])
            record["s3_uri"] = f"s3://{self.options.bucket}/{record['key']}"
        # Entries of finished uploads stay until the key is taken again: checked here.
        other = self._key_owner.get(record["key"])
        if other is not None and other is not upload and not other.is_final:
            raise key_in_use_error(self.options.bucket, record["key"], other.record["name"])
        self._key_owner[record["key"]] = upload

    def _sign(self, args: dict, exists: dict | None = None) -> dict:
        """Sign one upload; ``exists`` maps keys already looked for (`_sign_files`) to
        whether an object is there (or the exception the HEAD raised)."""
        upload = self._upload_for(args)
        record = upload.record
        if record["status"] == "uploading" and upload.mode == "single":
            # The browser's URL expired before the PUT finished: sign the same PUT again.
            return self._sign_single(upload)
        upload.expect_status("queued")
        take(upload, self._page)
        record["status"] = "signing"
        self._changed(upload)
        self._check_rules(upload)  # the options may have changed since the file was added
        fields = {k: record[k] for k in ("name", "size", "content_type", "key", "bucket")}
        upload.extra_args = resolve_extra_args(self.options.extra_args, fields)
        signer = self._get_signer()
        if record["size"] >= self.options.multipart_threshold:
            pools = self._connection_pools()  # the page sends parts on each pool at once
            look = self._look_first()
            result = start_multipart(upload, signer, self.options, look_first=look, pools=pools)
        else:
            # Said before any byte is sent: S3's 412 for the signed If-None-Match may come
            # without CORS headers (moto), and some servers ignore If-None-Match (s3rver).
            if self._look_first():
                verify.refuse_if_taken(signer, record["key"], (exists or {}).get(record["key"]))
            upload.mode = "single"
            self._plan_form_post(upload, args.get("md5"))
            if self.options.checksum and upload.form is None:
                upload.checksum = read_checksum(args.get("checksum"), repr(record["name"]))
            result = self._sign_single(upload)
        record["status"] = "uploading"
        self._changed(upload)
        return result

    def _sign_single(self, upload: Upload) -> dict:
        count = upload.signatures.get(1, 0) + 1
        if count > MAX_SIGNATURES_PER_PART:
            raise UploadError(
                "bad-request", f"The upload of {upload.record['name']!r} was signed too often.", ""
            )
        upload.signatures[1] = count
        upload.signed_at = verify.SignedAt.now()
        record = upload.record
        signer, key, size = self._get_signer(), record["key"], record["size"]
        if upload.form is not None:  # a form POST (_form_post): its policy holds the options
            signed = signer.presign_post(
                key, size=size, content_type=record["content_type"], fields=upload.form,
                content_md5=upload.content_md5,
            )  # fmt: skip
        else:
            signed = signer.presign_put(
                key, size=size, content_type=record["content_type"],
                overwrite=self.options.overwrite, extra_args=upload.extra_args,
                checksum=upload.checksum,
            )  # fmt: skip
        return {"mode": "single", **signed.as_dict()}

    def _plan_form_post(self, upload: Upload, md5: object) -> None:
        signer = self._get_signer()
        asked = (self.options.form_posts, signer.bucket, self.origin)
        if self._form_posts[0] != asked:  # "auto" reads the bucket's CORS rules once
            option, bucket, origin = asked
            self._form_posts = (asked, resolve_form_posts(option, signer.client, bucket, origin))
        planned = plan_form_post(
            enabled=self._form_posts[1], size=upload.record["size"], extra_args=upload.extra_args,
            key_template=self.policy.key_template, overwrite=self.options.overwrite,
            checksum=self.options.checksum, md5=md5, what=repr(upload.record["name"]),
        )  # fmt: skip
        upload.form, upload.content_md5 = planned or (None, "")

    def _sign_parts(self, args: dict) -> dict:
        upload = self._upload_for(args)
        upload.expect_status("uploading")
        moved(upload)
        numbers, checksums = args.get("part_numbers"), args.get("checksums")
        parts = sign_parts(upload, self._get_signer(), numbers, checksums)
        return {"parts": parts, "pools": self._connection_pools()}

    def _complete(self, args: dict, verified: Any = None) -> dict:
        """Complete one upload; ``verified`` is `_verify`'s outcome when already known
        (its result, or the exception it raised)."""
        upload = self._upload_for(args)
        upload.expect_status("uploading")
        record = upload.record
        if upload.mode == "single":
            # "" when the bucket's CORS hides the ETag header: HEAD reads it instead.
            if not isinstance(args.get("etag"), str):
                raise UploadError("bad-request", "'etag' must be a string.", "")
        else:
            parts = args.get("parts")
            if not isinstance(parts, list) or len(parts) != upload.part_count:
                message = f"'parts' must list all {upload.part_count} parts with their ETags."
                raise UploadError("bad-request", message, "")
        record["status"] = "completing"
        self._changed(upload)
        signer = self._get_signer()
        if upload.mode == "single":
            try:
                check = verify.SingleCheck.of(record, upload.signed_at, args["etag"])
                stored = verified if verified is not None else self._verify_singles({"": check})[""]
                if isinstance(stored, BaseException):
                    raise stored
            except verify.Unverifiable:
                upload.set_unverified(self.options.bucket)
                self._changed(upload)
                return {"record": dict(upload.record)}
        else:
            stored = signer.complete_multipart(
                record["key"],
                upload.s3_upload_id,
                args["parts"],
                expected_size=record["size"],
                overwrite=self.options.overwrite,
                part_checksums=upload.part_checksums if upload.checksum_algorithm else None,
                look_first=self._look_first(),
            )
            upload.s3_upload_id = ""  # completed: nothing left to abort
        checksum = upload.checksum or stored.get("checksum_crc32c", "")
        record.update(status="done", loaded=record["size"], etag=stored.get("etag", ""))
        record["checksum_crc32c"] = checksum
        self._book.mark_done(record)
        return {"record": dict(record)}

    def _fail(self, args: dict) -> dict:
        upload = self._upload_for(args)
        if upload.is_final:
            return {"record": dict(upload.record)}
        if upload.record["status"] == "uploading":  # the answer may be lost, not the bytes
            landed = verify.landed_anyway(self._get_signer().client, self.options.bucket, upload)
            if landed is not None:
                return self._complete({"upload_id": upload.record["id"], "etag": ""}, landed)
        err = diagnose_failure(
            args.get("error"),
            origin=self.origin,
            bucket=self.options.bucket,
            record=upload.record,
            extra_args=upload.extra_args,
            cors_checker=self._cors_checker,
        )
        self._fail_upload(upload, err)
        return {"record": dict(upload.record)}

    def _cancel(self, args: dict) -> dict:
        upload = self._upload_for(args, any_page=True)  # any window's ✕ cancels
        self._finish_cancelled(upload)
        return {"record": dict(upload.record)}

    def _get_signer(self) -> Any:
        if self._signer is None:
            self._signer = self._signer_factory()
        self._signer.expires_in = self.options.expires_in  # changes apply at once
        self._signer.extra_endpoints = self.options.extra_endpoints
        return self._signer

    def _fail_upload(self, upload: Upload, err: UploadError) -> None:
        self._abort_multipart(upload)
        upload.set_error(err)
        self._changed(upload)

    def _finish_cancelled(self, upload: Upload) -> bool:
        if upload.is_final:
            return False
        self._abort_multipart(upload)
        upload.record.update(status="cancelled", error="", error_code="")
        self._changed(upload)
        return True

    def _abort_multipart(self, upload: Upload) -> None:
        if not upload.s3_upload_id:
            return
        try:
            self._get_signer().abort_multipart(upload.record["key"], upload.s3_upload_id)
            upload.s3_upload_id = ""
        except Exception as err:
            # Keep the id so that close() tries again; the record must end all the same.
            log.warning("Could not abort multipart upload of %s: %s", upload.record["key"], err)

    def _changed(self, *uploads: Upload) -> None:
        for upload in uploads:
            self._book.mark(upload.record)

    def _publish(self) -> None:
        """Hand what changed to the widget: once per message, not once per change."""
        if not self._book.pending:
            return
        records, delta, done = self._book.flush()
        try:
            self._on_change(records)
            if delta is not None:
                self._on_delta(delta)
        except Exception:
            # The records are right; only their copy in the trait lags until the next
            # change. Raising here would leave the message unanswered.
            log.exception("s3-upload-widget: could not publish the upload records")
        for record in done:
            self._on_done(record)
