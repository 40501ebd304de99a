"""One upload as the kernel tracks it: its record (what a person sees) and its S3 state.

The record is a plain dict that goes into the `uploads` trait; everything that must
never leave the kernel (S3's multipart UploadId, signing counts) lives beside it in
`Upload`. Pure: no boto3, no widget.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from . import _protocol as P
from ._errors import UploadError
from ._policy import FileInfo, content_type_for


@dataclass
class Upload:
    """Kernel-only state of one upload; `record` is the part a person may see."""

    record: dict
    info: FileInfo
    mode: str = ""  # "single" or "multipart" once signed
    s3_upload_id: str = ""  # S3's multipart UploadId: never leaves the kernel's control
    part_size: int = 0
    part_count: int = 0
    signatures: dict[int, int] = field(default_factory=dict)  # part number -> times signed

    @property
    def is_final(self) -> bool:
        """Whether the upload has ended (done, error or cancelled)."""
        return self.record["status"] in P.FINAL_STATUSES

    def set_error(self, err: UploadError) -> None:
        """End the record in ``error`` with the words of ``err``."""
        self.record.update(status="error", error=str(err), error_code=err.code)


def new_record(upload_id: str, info: FileInfo, bucket: str) -> dict:
    """The record of a file just added: ``queued``, no key yet."""
    return {
        "id": upload_id,
        # NFC: macOS sends decomposed accents; the key is NFC, so the name matches it.
        "name": unicodedata.normalize("NFC", info.name),
        "size": info.size,
        "content_type": content_type_for(info.name, info.content_type),
        "bucket": bucket,
        "key": "",
        "s3_uri": "",
        "status": "queued",
        "loaded": 0,
        "etag": "",
        "error": "",
        "error_code": "",
        "multipart": False,
    }
