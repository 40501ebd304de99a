"""Upload files from a notebook straight to Amazon S3, and get the keys back in Python.

>>> from s3_upload_widget import S3UploadWidget
>>> w = S3UploadWidget(bucket="my-bucket", prefix="uploads/")  # doctest: +SKIP
"""

from ._cors import check_cors, configure_cors
from ._errors import UploadError
from ._local import LocalS3
from ._widget import InvalidOption, S3UploadWidget

__all__ = [
    "InvalidOption",
    "LocalS3",
    "S3UploadWidget",
    "UploadError",
    "check_cors",
    "configure_cors",
]
__version__ = "0.1.0"
