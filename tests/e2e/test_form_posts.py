"""Small files as form POSTs in a real browser: each goes in one request with no CORS
preflight, S3 stores the bytes and the page reads the answer's ETag; a file of 1 MiB or
more still goes as a PUT (with its preflight). Counted at moto's WSGI app."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

import pytest

from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import MiB, assert_all_done, open_widget, unquote, wait_final

pytestmark = pytest.mark.e2e


class MethodCounter:
    """WSGI middleware counting the requests to one bucket by method."""

    def __init__(self, bucket: str):
        self.bucket = bucket
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, app):
        def counted(environ, start_response):
            if environ.get("PATH_INFO", "").lstrip("/").startswith(self.bucket):
                with self._lock:
                    self.counts[environ["REQUEST_METHOD"]] += 1
            return app(environ, start_response)

        return counted


def test_small_files_go_as_form_posts_without_preflights(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    counter = MethodCounter(bucket)
    s3.wrap_app(counter)
    small = [
        make_random_file(tmp_path / f"part-{i:02}.csv", 1000 + i * 37_000, seed=f"s{i}")
        for i in range(12)
    ]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    large = make_random_file(tmp_path / "large.bin", 2 * MiB + 7, seed="large")
    files = [*small, empty, large]

    open_widget(nb, notebook_name, bucket, kwargs=", form_posts=True")
    nb.pick_files(0, files)
    records = wait_final(nb, len(files), timeout=120)
    assert_all_done(records)

    by_name = {r["name"]: r for r in records}
    for path in files:
        r = by_name[path.name]
        data = s3.get_bytes(bucket, r["key"])
        assert sha256_bytes(data) == sha256_file(path), f"bytes differ for {path.name}"
        assert r["loaded"] == r["size"] == path.stat().st_size, r
    for path in [*small, empty]:
        r = by_name[path.name]
        # Sent as a form POST: S3 checked the MD5 its policy pinned, which is the ETag.
        assert unquote(r["etag"]) == hashlib.md5(path.read_bytes()).hexdigest(), r
        assert r["checksum_crc32c"] == "", r
    assert by_name["large.bin"]["checksum_crc32c"], by_name["large.bin"]  # a PUT, CRC32C
    # One request per small file, and the PUT of the large one with its preflight only.
    assert counter.counts["POST"] == len(small) + 1, counter.counts
    assert counter.counts["PUT"] == 1, counter.counts
    assert counter.counts["OPTIONS"] == 1, counter.counts
