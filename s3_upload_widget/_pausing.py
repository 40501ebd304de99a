"""Pause and resume: the kernel's side of an upload the page stopped and will go on with.

The page pauses (it aborts the file's requests and keeps the parts S3 stored), then says
so; the kernel only records it. While paused, nothing of the file may be signed,
reported or completed: those requests all need the record to be ``uploading``, so a
paused record refuses them without a check of its own (and, as for any refused
request about an upload, the upload then ends in error). PAUSE and RESUME themselves
never end an upload: one that came too late (the file is completing, or ended) changes
nothing, and the answer's record says where the file is. What S3 holds stays: a paused
multipart upload keeps its UploadId and parts until it resumes, is cancelled or the
widget closes (which aborts it, as for any unfinished upload).
"""

from __future__ import annotations

from typing import Any

from ._records import Upload

PAUSABLE = ("queued", "uploading")
"""Statuses a page may pause: a file not yet signed, or whose bytes move."""


class PauseHandlers:
    """The PAUSE and RESUME handlers of `UploadSession` (which provides `_upload_for`,
    `_changed` and `_uploads`)."""

    _uploads: Any

    def _upload_for(self, args: dict, *, any_page: bool = False) -> Upload:  # pragma: no cover
        raise NotImplementedError

    def _changed(self, *uploads: Upload) -> None:  # pragma: no cover - UploadSession's
        raise NotImplementedError

    def _pause(self, args: dict) -> dict:
        upload = self._upload_for(args)
        if upload.record["status"] in PAUSABLE:
            upload.paused_from = upload.record["status"]
            upload.record["status"] = "paused"
            self._changed(upload)
        return {"record": dict(upload.record)}

    def _resume(self, args: dict) -> dict:
        upload = self._upload_for(args)
        if upload.record["status"] == "paused":
            upload.record["status"] = upload.paused_from or "queued"
            upload.paused_from = ""
            self._changed(upload)
        return {"record": dict(upload.record)}

    def ids_in(self, statuses: tuple[str, ...], upload_id: str | None = None) -> list[str]:
        """Ids of the uploads in one of ``statuses``: ``upload_id`` alone when given
        (raises KeyError for an unknown id), else every one, in order of add."""
        if upload_id is not None and upload_id not in self._uploads:
            raise KeyError(f"No upload with id {upload_id!r} in this widget.")
        ids = [upload_id] if upload_id is not None else list(self._uploads)
        return [i for i in ids if self._uploads[i].record["status"] in statuses]
