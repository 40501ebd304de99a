"""Turns a page's report of a failed upload into words a person can act on.

The page only says what it saw (a reason, an HTTP status, S3's code); the kernel adds
what it can find out: whether the bucket's CORS allows the page (a failed request with
no status is most often CORS), and which IAM actions the object options need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import _protocol as P
from ._errors import UploadError, explain_browser_failure
from ._extra_args import iam_hint

log = logging.getLogger(__name__)


def diagnose_failure(
    error: object,
    *,
    origin: str,
    bucket: str,
    record: dict,
    extra_args: dict,
    cors_checker: Callable[[str], list[str]] | None,
) -> UploadError:
    """The error to end ``record`` with, from a ``fail`` request's ``error`` object."""
    if not isinstance(error, dict):
        raise UploadError("bad-request", "'error' must be an object.", "")
    failure = P.read_failure(error)
    cors_problems = None
    if failure["reason"] == "network" and cors_checker and origin:
        try:
            cors_problems = cors_checker(origin)
        except Exception:  # diagnosis is a bonus: never let it hide the failure
            log.debug("CORS check failed", exc_info=True)
    err = explain_browser_failure(
        **failure,
        origin=origin,
        bucket=bucket,
        key=record["key"],
        filename=record["name"],
        cors_problems=cors_problems,
    )
    if err.code == "access-denied" and (more := iam_hint(extra_args)):
        err.hint = f"{err.hint} {more}"
    return err
