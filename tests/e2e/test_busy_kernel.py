"""A file picked while a cell runs: the kernel answers no message until the cell ends, so
the widget must say it is waiting for the kernel, then upload, never fail on a timeout."""

from __future__ import annotations

import pytest

from .harness import make_random_file, sha256_bytes, sha256_file, wait_until
from .test_upload import assert_all_done, wait_final, widget_cells

pytestmark = pytest.mark.e2e

BUSY_SECONDS = 8  # longer than the widget's "slow kernel" notice delay (1.5 s)


def test_busy_kernel_shows_waiting_then_uploads(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / "while-busy.bin", 200_000, seed="busy")
    nb.create(notebook_name, [*widget_cells(bucket), f"import time; time.sleep({BUSY_SECONDS})"])
    nb.open()
    nb.run_cell(0)
    waiting = nb.widget(0).locator(".s3uw-waiting")
    waiting.wait_for(state="hidden", timeout=20_000)

    nb.cell(1).locator(".jp-InputArea-editor").click()
    nb.page.keyboard.press("Shift+Enter")  # the kernel is now busy for BUSY_SECONDS
    nb.pick_files(0, [path])
    waiting.wait_for(state="visible", timeout=(BUSY_SECONDS - 2) * 1000)
    assert "Python kernel" in (waiting.text_content() or "")

    (record,) = wait_final(nb, 1, timeout=BUSY_SECONDS + 60)
    assert_all_done([record])
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path)
    wait_until(
        lambda: waiting.is_hidden(),
        timeout=10,
        page=nb.page,
        message="the 'waiting for the Python kernel' notice to go away",
    )
