"""Which page may act on an upload: the one that signed it or took it over last; the
lookup of an upload for a page's request, and a page's progress reports.

The same widget may be open in two windows (two pages of one kernel, or a page
reloaded while its old one still sends). Each page's requests carry its own id prefix
(the page's `Rpc`, js/src/protocol.js; its notifications say it as ``page``), so the
kernel knows which page signed an upload.
A page may take over another page's multipart upload (_resume.py) only once that page
has sent nothing of it for `ELSEWHERE_S` (it is gone or paused); from then on the old
page's requests about it are refused with ``in-another-window``, which ends the file in
that page only: two pages never send the same upload's parts. No widget import.
"""

from __future__ import annotations

import time
from typing import Any

from . import _protocol as P
from ._errors import UploadError
from ._intake import MAX_FILES_PER_MESSAGE
from ._records import Upload
from ._values import is_int

ELSEWHERE_S = P.ELSEWHERE_MS / 1000
"""How long an upload whose bytes moved counts as alive in the page that sends it (the
time a row says "uploading in another window")."""

ELSEWHERE_CODE = "in-another-window"


def page_of(msg: object) -> str:
    """The page a message came from: a request's id prefix (``"k3x9qa-17"`` ->
    ``"k3x9qa"``), a notification's ``page``; "" when it names none (then no page is
    told apart: every page may act on every upload, as before pages had ids)."""
    if not isinstance(msg, dict):
        return ""
    request_id, page = msg.get("id"), msg.get("page")
    if isinstance(request_id, str) and "-" in request_id:
        return request_id.rsplit("-", 1)[0]
    return page if isinstance(page, str) and len(page) <= 64 else ""


def take(upload: Upload, page: str) -> None:
    """``page`` signs or takes over ``upload``: its bytes move from there now."""
    upload.page = page
    moved(upload)


def moved(upload: Upload) -> None:
    """Something of ``upload`` moved (its bytes, a signature): its page is alive."""
    upload.moved_at = time.monotonic()


def moving_elsewhere(upload: Upload, page: str) -> float | None:
    """Seconds since ``upload`` last moved when another page than ``page`` sends it and
    did so within `ELSEWHERE_S`; None when ``page`` may take it over."""
    if not upload.page or upload.page == page:
        return None
    since = time.monotonic() - upload.moved_at
    return since if since < ELSEWHERE_S else None


def lost_by(upload: Upload, page: str) -> bool:
    """Whether another page took ``upload`` over from ``page`` (pages known on both sides)."""
    return bool(upload.page and page and upload.page != page)


def check_owner(upload: Upload, page: str) -> None:
    """``UploadError("in-another-window")`` when another page took ``upload`` over, so
    that ``page`` stops sending it."""
    if lost_by(upload, page):
        raise UploadError(
            ELSEWHERE_CODE,
            f"The upload of {upload.record['name']!r} was taken over by another window of "
            "this notebook, which goes on with it.",
            "Follow it in that window; to go on here, pause or close it there and pick the "
            "file here again.",
        )


def refuse_takeover(upload: Upload, since: float) -> UploadError:
    """The error of a page that tries to take over an upload still moving elsewhere."""
    return UploadError(
        ELSEWHERE_CODE,
        f"{upload.record['name']!r} is uploading in another window of this notebook (its "
        f"bytes moved {since:.0f} s ago).",
        "Pause or close it in that window, then pick the file here again.",
    )


class OwnerHandlers:
    """`_upload_for` (with the page check) and the PROGRESS notification of
    `UploadSession` (which provides `_uploads`, `_changed`, and sets `_page` for each
    message it handles)."""

    _uploads: Any
    _page: str = ""

    def _changed(self, *uploads: Upload) -> None:  # pragma: no cover - UploadSession's
        raise NotImplementedError

    def _upload_for(self, args: dict, *, any_page: bool = False) -> Upload:
        """The upload a request names; ``unknown-upload`` when there is none, and
        ``in-another-window`` when another page took it over (unless ``any_page``:
        cancelling, or taking over, which has rules of its own)."""
        upload_id = args.get("upload_id")
        upload = self._uploads.get(upload_id) if isinstance(upload_id, str) else None
        if upload is None:
            message = f"No upload with id {upload_id!r} in this widget."
            raise UploadError("unknown-upload", message, "")
        if not any_page:
            check_owner(upload, self._page)
        return upload

    def _progress(self, msg: dict) -> None:
        updates = msg.get("updates")
        if not isinstance(updates, list):
            return
        for update in updates[:MAX_FILES_PER_MESSAGE]:
            if not isinstance(update, dict):
                continue
            upload = self._uploads.get(update.get("upload_id"))  # type: ignore[arg-type]
            loaded = update.get("loaded")
            if upload is None or not is_int(loaded) or upload.record["status"] != "uploading":
                continue
            if lost_by(upload, self._page):
                continue  # a page that lost the upload and has not heard yet
            moved(upload)
            loaded = max(0, min(loaded, upload.record["size"]))
            if loaded != upload.record["loaded"]:
                upload.record["loaded"] = loaded
                self._changed(upload)
