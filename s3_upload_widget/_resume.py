"""Resume after a page reload: a new page picks again a file whose multipart upload the
kernel still holds, proves it is the same file, and sends only the parts S3 lacks.

A page that reloads (or a browser that crashes) loses its uploads; the kernel keeps
their records (``uploading`` or ``paused``) and S3 keeps their parts. When a page adds a
file with the same name, folder path, size and ``last_modified`` as such an upload
(multipart, with per-part checksums), `resume_entry` answers with that upload's record
and the lowest part S3 holds, instead of a new record. The page hashes those bytes and
sends ADOPT: the same CRC32C as the stored part's adopts the upload (its plan and every
stored part go back to the page); another one is a different file of that name, which
gets a new record while the interrupted upload stays as it was. Without checksums no
resume is offered: nothing would tell the two files apart. An upload that another page
still sends (its bytes moved within `_owners.ELSEWHERE_S`) is neither offered nor
adopted: two windows never send the same parts, and once one takes an upload over, the
other's requests about it are refused (_owners.py).
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from typing import Any

from ._errors import UploadError
from ._intake import MAX_FILES_PER_MESSAGE
from ._owners import moving_elsewhere, refuse_takeover, take
from ._parts import read_checksum
from ._policy import FileInfo
from ._records import Upload
from ._sizes import part_length
from ._values import is_int

log = logging.getLogger(__name__)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


RESUMABLE = ("uploading", "paused")
"""Statuses of an upload that a new page may take over."""


def offers_resume(upload: Upload) -> bool:
    """Whether ``upload`` is an unfinished multipart upload with per-part checksums."""
    return (
        upload.record["status"] in RESUMABLE
        and upload.mode == "multipart"
        and bool(upload.s3_upload_id)
        and bool(upload.checksum_algorithm)
    )


def same_file(upload: Upload, info: FileInfo) -> bool:
    """Whether the page describes ``upload``'s file: name, path, size and last_modified
    (a file described without last_modified never matches)."""
    record = upload.record
    return (
        info.last_modified is not None
        and record.get("last_modified") == info.last_modified
        and record["name"] == info.name
        and record["relative_path"] == info.relative_path
        and record["size"] == info.size
    )


class ResumeHandlers:
    """ADD_FILES' look for an interrupted upload, and the ADOPT handler, of
    `UploadSession` (which provides the methods below)."""

    _uploads: Any
    _accepted: int
    _page: str

    def _get_signer(self) -> Any:  # pragma: no cover - UploadSession's
        raise NotImplementedError

    def _upload_for(self, args: dict, *, any_page: bool = False) -> Upload:  # pragma: no cover
        raise NotImplementedError

    def _changed(self, *uploads: Upload) -> None:  # pragma: no cover - UploadSession's
        raise NotImplementedError

    def _finish_cancelled(self, upload: Upload) -> bool:  # pragma: no cover
        raise NotImplementedError

    def _new_upload(self, info: FileInfo, batch: str) -> Upload:  # pragma: no cover
        raise NotImplementedError

    def _stored_parts(self, upload: Upload) -> dict[int, dict]:
        """S3's ListParts of ``upload``: part number -> {PartNumber, Size, ETag, ...}."""
        signer = self._get_signer()
        return signer.stored_parts(upload.record["key"], upload.s3_upload_id)

    def resuming(self, args: dict) -> int:
        """How many unfinished uploads the files of an ADD_FILES look like they resume: no
        new live upload for the limits of `_intake` (``multiple=False``, ``max_files``).
        A cheap look at the raw files, before they are checked."""
        files = args.get("files")
        if not isinstance(files, list) or len(files) > MAX_FILES_PER_MESSAGE:
            return 0
        wanted = {
            (nfc(f["name"]), nfc(f.get("relative_path", "")), f.get("size"), f["last_modified"])
            for f in files
            if isinstance(f, dict) and isinstance(f.get("name"), str)
            and isinstance(f.get("relative_path", ""), str)
            and is_int(f.get("size")) and is_int(f.get("last_modified"))
        }  # fmt: skip
        if not wanted:
            return 0
        fields = ("name", "relative_path", "size", "last_modified")
        return sum(
            offers_resume(u) and tuple(u.record.get(k) for k in fields) in wanted
            for u in self._uploads.values()
        )

    def resume_entry(self, info: FileInfo, look: dict) -> dict | None:
        """The ADD_FILES entry of a file that resumes an interrupted upload: its record
        plus ``resume`` (the lowest stored part), or None (a new record is made). An
        upload of that file of which S3 holds no part is cancelled (aborted) here.
        ``look``: one request's scratch: the uploads that may resume, found once (not
        once per file), and the ids already answered (each resumes once)."""
        if info.last_modified is None:
            return None
        if "candidates" not in look:
            look["candidates"] = [u for u in self._uploads.values() if offers_resume(u)]
            look["taken"] = set()
        taken: set[str] = look["taken"]
        for upload in look["candidates"]:
            if upload.record["id"] in taken or not offers_resume(upload):
                continue
            if not same_file(upload, info):
                continue
            if moving_elsewhere(upload, self._page) is not None:
                # Another window still sends it: that page's row, not a new upload.
                taken.add(upload.record["id"])
                return {**upload.record, "elsewhere": True}
            try:
                stored = self._stored_parts(upload)
            except UploadError as err:  # e.g. NoSuchUpload: nothing to resume
                log.warning("s3-upload-widget: cannot list the parts to resume: %s", err)
                stored = {}
            if not stored:
                self._finish_cancelled(upload)
                return None
            taken.add(upload.record["id"])
            first = min(stored)
            offset = (first - 1) * upload.part_size
            length = part_length(upload.record["size"], upload.part_size, first)
            resume = {"part_number": first, "offset": offset, "length": length}
            return {**upload.record, "resume": resume}
        return None

    def _adopt(self, args: dict) -> dict:
        # upload_id is taken out of args: the router ends the upload a failed request
        # names, and a refused ADOPT must leave the interrupted upload as it is.
        upload = self._upload_for({"upload_id": args.pop("upload_id", None)}, any_page=True)
        checksum = read_checksum(args.get("checksum"), "the stored part to resume")
        record = upload.record
        if not offers_resume(upload):
            raise UploadError(
                "bad-request",
                f"The upload of {record['name']!r} is {record['status']}: it cannot be resumed.",
                "Pick the file again to upload it anew.",
            )
        since = moving_elsewhere(upload, self._page)
        if since is not None:
            raise refuse_takeover(upload, since)
        stored = self._stored_parts(upload)
        if not stored:  # aborted meanwhile (or the parts expired): start anew
            self._finish_cancelled(upload)
            return {"adopted": False, "record": dict(self._renew(upload).record)}
        first = min(stored)
        # S3's checksum of the part, or (a server that does not list it) the one this
        # kernel signed for it: S3 refused the part's body unless it matched.
        expected = stored[first].get("ChecksumCRC32C") or upload.part_checksums.get(first, "")
        if not expected or checksum != expected:
            return {"adopted": False, "record": dict(self._renew(upload).record)}
        parts = [
            {"part_number": n, "etag": part["ETag"]}
            for n, part in sorted(stored.items())
            if n <= upload.part_count
            and part.get("Size") == part_length(record["size"], upload.part_size, n)
        ]
        upload.paused_from = ""
        upload.outstanding = set()  # the old page's unused URLs: its requests are gone
        take(upload, self._page)  # the old page's requests about it are refused from now
        record["status"] = "uploading"
        record["loaded"] = sum(stored[p["part_number"]]["Size"] for p in parts)
        self._changed(upload)
        plan = {"mode": "multipart", "part_size": upload.part_size,
                "part_count": upload.part_count, "checksum": upload.checksum_algorithm}  # fmt: skip
        return {"adopted": True, "plan": plan, "parts": parts}

    def _renew(self, upload: Upload) -> Upload:
        """A new queued record for the file ``upload`` describes, in a batch of its own."""
        fresh = self._new_upload(upload.info, uuid.uuid4().hex[:16])
        self._accepted += not fresh.is_final
        self._changed(fresh)
        return fresh
