"""Upload files from a notebook straight to Amazon S3, and get the keys back in Python.

>>> from s3_upload_widget import S3UploadWidget
>>> w = S3UploadWidget(bucket="my-bucket", prefix="uploads/")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cors import check_cors, configure_cors
    from ._errors import UploadError
    from ._housekeeping import (
        IncompleteUpload,
        abort_incomplete_uploads,
        configure_abort_incomplete_uploads,
        list_incomplete_uploads,
    )
    from ._local import LocalS3
    from ._widget import InvalidOption, S3UploadWidget

# Imported on first use: the Jupyter server loads this package for its server extension
# (_server_extension), and should not pay for anywidget and boto3 at every start.
_EXPORTS = {
    "IncompleteUpload": "._housekeeping",
    "InvalidOption": "._widget",
    "LocalS3": "._local",
    "S3UploadWidget": "._widget",
    "UploadError": "._errors",
    "abort_incomplete_uploads": "._housekeeping",
    "check_cors": "._cors",
    "configure_abort_incomplete_uploads": "._housekeeping",
    "configure_cors": "._cors",
    "list_incomplete_uploads": "._housekeeping",
}

__all__ = [
    "IncompleteUpload",
    "InvalidOption",
    "LocalS3",
    "S3UploadWidget",
    "UploadError",
    "abort_incomplete_uploads",
    "check_cors",
    "configure_abort_incomplete_uploads",
    "configure_cors",
    "list_incomplete_uploads",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 's3_upload_widget' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


def _jupyter_server_extension_points() -> list[dict]:
    """The server extension that turns off Nagle's algorithm on kernel websockets
    (`s3_upload_widget._server_extension`)."""
    return [{"module": "s3_upload_widget._server_extension"}]
