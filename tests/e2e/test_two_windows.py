"""Two windows of one notebook (the kernel's owner guard, `_owners.py`), in a real
browser: JupyterLab open twice on the same notebook and kernel, the same file picked in
the second window while the first still sends it. The second window says the file is
uploading elsewhere and sends nothing; the first finishes alone: one upload, each part
stored once, the object byte-identical, nothing left in S3."""

from __future__ import annotations

import time

import pytest

from .browser import NotebookDriver
from .netproxy_faults import PART
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import MiB, open_widget, wait_final

pytestmark = pytest.mark.e2e


def test_a_file_another_window_sends_is_not_sent_twice(
    proxied_nb, proxy, s3, jupyter, notebook_name, tmp_path
):
    nb = proxied_nb
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    size, part_size = 40 * MiB + 3, 5 * MiB
    parts = -(-size // part_size)
    path = make_random_file(tmp_path / "big.bin", size, seed="two-windows")
    kwargs = f", multipart_threshold=5 * 1024**2, part_size={part_size}, concurrency=2"
    open_widget(nb, notebook_name, bucket, kwargs)
    nb.save()  # the second window opens the notebook with the widget's output in it

    second_page = nb.page.context.new_page()
    try:
        second = NotebookDriver(second_page, jupyter, host="localhost")
        second.open(notebook_name)
        second.widget(0).wait_for(state="visible", timeout=30_000)

        proxy.clear()
        proxy.shape(per_connection_bps=16e6)  # ~2.5 s a part: the pick comes mid-upload
        nb.pick_files(0, [path])
        wait_until(
            lambda: any(r.is_part and r.status == 200 for r in proxy.log()),
            timeout=60, page=nb.page, message="a first part stored",
        )  # fmt: skip
        picked_second = time.monotonic()
        second.pick_files(0, [path])
        notice = second.widget(0).locator(".s3uw-notice")
        wait_until(
            lambda: "another window" in (notice.text_content() or ""),
            timeout=20, page=second_page, message="the second window says where it goes",
        )  # fmt: skip

        (final,) = wait_final(nb, 1, timeout=180)  # one record: no second upload
        proxy.shape()
        assert final["status"] == "done", final
        assert sha256_bytes(s3.get_bytes(bucket, final["key"])) == sha256_file(path)
        assert s3.list_multipart_uploads(bucket) == []
        part_puts = [r for r in proxy.settle() if r.is_part]
        numbers = [int(r.path.split(PART)[1].split("&")[0]) for r in part_puts]
        assert sorted(numbers) == list(range(1, parts + 1)), "each part sent once"
        # The second window only watched: nothing it could have sent went out after its pick
        # beyond the parts the first window still had to send.
        assert all(r.status == 200 for r in part_puts if r.started > picked_second)
    finally:
        second_page.close()
