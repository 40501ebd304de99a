"""Pause and resume in a real browser, on a link slow enough to pause in the middle: the
parts S3 stored before the pause are never sent again, nothing moves while paused, and
the file ends byte-identical with nothing left in list_multipart_uploads."""

from __future__ import annotations

import time

import pytest

from .netproxy_faults import PART
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import MiB, open_widget, wait_final

pytestmark = pytest.mark.e2e


def part_number(record) -> int:
    return int(record.path.split(PART)[1].split("&")[0])


def test_pause_keeps_stored_parts_and_resume_sends_only_the_rest(
    proxied_nb, proxy, s3, notebook_name, tmp_path
):
    nb = proxied_nb
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    path = make_random_file(tmp_path / "big.bin", 30 * MiB + 5, seed="pause")  # 7 parts
    proxy.clear()
    proxy.shape(per_connection_bps=32e6)  # 4 MB/s per connection: a part takes ~1.3 s
    kwargs = ", multipart_threshold=5 * 1024**2, part_size=5 * 1024**2, concurrency=2"
    open_widget(nb, notebook_name, bucket, kwargs)
    nb.pick_files(0, [path])

    def stored_parts():
        return {part_number(r) for r in proxy.log() if r.is_part and r.status == 200}

    wait_until(lambda: len(stored_parts()) >= 2, timeout=60, page=nb.page, message="2 parts")
    nb.widget(0).locator(".s3uw-pause").first.click()
    row = nb.widget(0).locator(".s3uw-row").first
    wait_until(lambda: row.get_attribute("data-status") == "paused", timeout=15, page=nb.page,
               message="the row paused")  # fmt: skip
    record = nb.wait_for_kernel(
        "w.uploads[0]", lambda r: r["status"] == "paused", timeout=15, message="kernel paused"
    )
    assert record["status"] == "paused"
    before = stored_parts()
    assert len(s3.list_multipart_uploads(bucket)) == 1  # kept while paused
    # Nothing moves while paused (requests aborted at the pause may still be settling).
    nb.page.wait_for_timeout(1500)
    settled = len(proxy.log())
    nb.page.wait_for_timeout(2000)
    assert len(proxy.log()) == settled, "requests were sent while paused"

    resumed_at = time.monotonic()
    nb.widget(0).locator(".s3uw-pause").first.click()  # now "Resume this upload"
    (final,) = wait_final(nb, 1, timeout=120)
    proxy.shape()
    assert final["status"] == "done", final
    assert sha256_bytes(s3.get_bytes(bucket, final["key"])) == sha256_file(path)
    assert s3.list_multipart_uploads(bucket) == []
    after = [r for r in proxy.settle() if r.is_part and r.started > resumed_at]
    again = {part_number(r) for r in after} & before
    assert not again, f"parts stored before the pause were sent again: {sorted(again)}"
    part_puts = [r for r in proxy.log() if r.is_part]
    assert len(part_puts) < 1.2 * 7 + 2, [(part_number(r), r.status) for r in part_puts]
