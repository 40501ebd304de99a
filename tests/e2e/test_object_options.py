"""Object options (`extra_args`) in a real browser: Chromium sends the headers the kernel
signed on a single PUT, the kernel sets them on a multipart upload, and S3 (moto) stores
them on both objects."""

from __future__ import annotations

import pytest

from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import MiB, assert_all_done, open_widget, wait_final

pytestmark = pytest.mark.e2e

OPTIONS = (
    ', extra_args={"ServerSideEncryption": "AES256", "Tagging": {"project": "alpha"}, '
    '"Metadata": {"team": "data"}, "CacheControl": "max-age=60"}, '
    "multipart_threshold=5 * 1024**2"
)


def test_signed_object_options_reach_s3_on_both_paths(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    small = make_random_file(tmp_path / "small.bin", 200_000, seed="options-small")
    big = make_random_file(tmp_path / "big.bin", 6 * MiB + 7, seed="options-big")

    open_widget(nb, notebook_name, bucket, OPTIONS)
    nb.pick_files(0, [small, big])
    records = wait_final(nb, 2, timeout=120)
    assert_all_done(records)

    client = s3.client()
    by_name = {r["name"]: r for r in records}
    assert by_name["big.bin"]["multipart"] and not by_name["small.bin"]["multipart"]
    for path in (small, big):
        key = by_name[path.name]["key"]
        assert sha256_bytes(s3.get_bytes(bucket, key)) == sha256_file(path)
        head = client.head_object(Bucket=bucket, Key=key)
        assert head.get("ServerSideEncryption") == "AES256", (path.name, head)
        assert head.get("Metadata") == {"team": "data"}, (path.name, head)
        assert head.get("CacheControl") == "max-age=60", (path.name, head)
        tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert tags == [{"Key": "project", "Value": "alpha"}], (path.name, tags)
