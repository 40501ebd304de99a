"""Requests about many files at once (``sign-files``, ``complete-files``).

A batch is checked as a whole (a list of 1 to MAX_FILES_PER_BATCH distinct upload ids),
then each file is handled as its own request would be: one file's failure ends that
file only and becomes its entry in the answer. Pure: no boto3, no widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import _protocol as P
from ._errors import UploadError
from ._intake import MAX_FILES_PER_MESSAGE
from ._router import internal_error

log = logging.getLogger(__name__)


def batch_items(args: dict, name: str, id_of: Callable[[Any], Any]) -> list:
    """``args[name]`` checked: a list of 1 to MAX_FILES_PER_BATCH items, each naming
    (``id_of(item)``) a distinct upload id; else ``UploadError("bad-request")``."""
    items = args.get(name)
    if not isinstance(items, list) or not 1 <= len(items) <= P.MAX_FILES_PER_BATCH:
        raise UploadError(
            "bad-request", f"'{name}' must list 1 to {P.MAX_FILES_PER_BATCH} uploads.", ""
        )
    ids = [id_of(item) if isinstance(item, (dict, str)) else None for item in items]
    if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise UploadError("bad-request", f"'{name}' must name distinct upload ids.", "")
    return items


def named_ids(args: dict) -> list[str]:
    """The upload ids a request names: ``upload_id``, or those of a batch request."""
    if isinstance(args.get("upload_id"), str):
        return [args["upload_id"]]
    items = args.get("upload_ids") or args.get("uploads")
    if not isinstance(items, list):
        return []
    ids = (i.get("upload_id") if isinstance(i, dict) else i for i in items[:MAX_FILES_PER_MESSAGE])
    return [i for i in ids if isinstance(i, str)]


def each(
    kind: str,
    handler: Callable[[dict], dict],
    item: dict,
    on_failure: Callable[[dict, UploadError], None],
) -> dict:
    """One file of a batch: ``{upload_id, ok: true, result}``, or, after
    ``on_failure(item, error)`` ended it, ``{upload_id, ok: false, error}``."""
    upload_id = item["upload_id"]
    try:
        return {"upload_id": upload_id, "ok": True, "result": handler(item)}
    except Exception as exc:
        if isinstance(exc, UploadError):
            err = exc
        else:
            log.exception("s3-upload-widget: unexpected error handling %r", kind)
            err = internal_error(kind, exc)
        on_failure(item, err)
        return {"upload_id": upload_id, "ok": False, "error": err.as_dict()}
