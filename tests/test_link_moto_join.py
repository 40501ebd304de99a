"""The benchmark's moto completes a multipart upload by reference (benchmarks/link_moto.py,
`joined_by_reference`): the object, its ETag, its checksum and moto's refusals must be the
ones moto's own join gives, so the only thing the patch changes is the time it takes."""

from __future__ import annotations

import random

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from benchmarks.link_moto import joined_by_reference

MiB = 1024 * 1024
BUCKET = "join-check"


def _client():
    config = Config(
        request_checksum_calculation="when_required", response_checksum_validation="when_required"
    )
    return boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s",
        config=config,
    )  # fmt: skip


def _complete(sizes: list[int], algorithm: str | None, etag_of=None, kind=None) -> dict:
    """Upload parts of ``sizes`` bytes and complete them; what a reader then sees."""
    with mock_aws():
        s3 = _client()
        s3.create_bucket(Bucket=BUCKET)
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        extra.update({"ChecksumType": kind} if kind else {})
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="k", **extra)["UploadId"]
        # The same bytes in every call, so moto's own join and this one can be compared.
        bodies = [random.Random(n).randbytes(size) for n, size in enumerate(sizes)]
        parts = []
        for number, body in enumerate(bodies, start=1):
            answer = s3.upload_part(
                Bucket=BUCKET, Key="k", UploadId=upload, PartNumber=number, Body=body
            )
            etag = etag_of(number, answer["ETag"]) if etag_of else answer["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        try:
            done = s3.complete_multipart_upload(
                Bucket=BUCKET, Key="k", UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except ClientError as error:
            return {"error": error.response["Error"]["Code"]}
        whole = b"".join(bodies)
        head = s3.head_object(Bucket=BUCKET, Key="k", ChecksumMode="ENABLED")
        s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "k"})
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[BUCKET].keys["k"]
        return {
            "stored_checksum": (stored.checksum_type, stored.checksum_value, stored.checksum_parts),
            "bytes_equal": s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == whole,
            "range_equal": s3.get_object(Bucket=BUCKET, Key="k", Range="bytes=5-6000000")[
                "Body"
            ].read()
            == whole[5:6000001],
            "copy_equal": s3.get_object(Bucket=BUCKET, Key="copy")["Body"].read() == whole,
            "etag": done["ETag"],
            "size": head["ContentLength"],
            "checksums": {k: v for k, v in head.items() if k.startswith("Checksum")},
            "complete_checksums": {k: v for k, v in done.items() if k.startswith("Checksum")},
        }


def _both(*args, **kwargs) -> tuple[dict, dict]:
    restore = joined_by_reference()
    try:
        patched = _complete(*args, **kwargs)
    finally:
        restore()
    return patched, _complete(*args, **kwargs)


@pytest.mark.parametrize(
    "algorithm, kind", [("CRC32C", None), ("CRC32", None), (None, None), ("CRC32", "FULL_OBJECT")]
)
def test_the_joined_object_reads_as_moto_s_own(algorithm, kind):
    sizes = [5 * MiB, 5 * MiB + 3, 1234]
    patched, own = _both(sizes, algorithm, kind=kind)
    assert patched["bytes_equal"] and patched["range_equal"] and patched["copy_equal"]
    assert own["bytes_equal"] and own["range_equal"] and own["copy_equal"]
    assert patched["size"] == own["size"] == sum(sizes)
    assert patched["etag"].endswith('-3"') and own["etag"].endswith('-3"')
    # The same bytes give the same ETag and the same checksum, as moto stores and shows it.
    assert patched == own
    assert patched["stored_checksum"][1]  # a value to compare: both computed one


def test_moto_s_refusals_stay():
    bad_etag = _both([5 * MiB, MiB], None, etag_of=lambda n, e: '"0"' if n == 2 else e)
    assert bad_etag == ({"error": "InvalidPart"}, {"error": "InvalidPart"})
    too_small = _both([MiB, MiB], None)
    assert too_small == ({"error": "EntityTooSmall"}, {"error": "EntityTooSmall"})


def test_restore_puts_moto_s_join_back():
    from moto.s3 import models

    complete, value = models.FakeMultipart.complete, models.FakeKey.value
    joined_by_reference()()
    assert models.FakeMultipart.complete is complete and models.FakeKey.value is value


def test_a_joined_object_written_over_lets_its_parts_go():
    restore = joined_by_reference()
    try:
        with mock_aws():
            s3 = _client()
            s3.create_bucket(Bucket=BUCKET)
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
            etag = s3.upload_part(
                Bucket=BUCKET, Key="k", UploadId=upload, PartNumber=1, Body=b"p" * 100
            )["ETag"]
            s3.complete_multipart_upload(
                Bucket=BUCKET, Key="k", UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
            )  # fmt: skip
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.s3.models import s3_backends

            key = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[BUCKET].keys["k"]
            part = key._value_buffer.joined.parts[0]
            assert key.value == b"p" * 100 and not part.disposed
            key.value = b"new bytes"
            assert key.value == b"new bytes" and key.contentsize == 9
            assert part.disposed  # the old parts are let go, not leaked
    finally:
        restore()
