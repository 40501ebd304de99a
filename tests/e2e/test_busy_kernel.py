"""A file picked while a cell runs.

Where the widget's messages go while a cell runs depends on the front end and kernel:
JupyterLab 4.4+ addresses comm messages to a kernel subshell, and ipykernel 7.4 sends a
comm's messages to the shell that last published on it. On the main shell the kernel
answers nothing until the cell ends, so the widget must say it is waiting for the kernel
and upload afterwards; on a subshell the upload goes on beside the cell. Either way it
never fails on a timeout.
"""

from __future__ import annotations

import pytest

from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import assert_all_done, wait_final, widget_cells

pytestmark = pytest.mark.e2e

# The busy cell runs until the test creates a flag file, so the test and not the clock
# decides how long the kernel stays busy. The cap only stops a broken run from hanging.
BUSY_CAP_SECONDS = 120
KERNELS_SETTINGS = "@jupyterlab/apputils-extension:kernels-settings"


def busy_cell(flag) -> str:
    return (
        "import pathlib, time\n"
        f"_deadline = time.monotonic() + {BUSY_CAP_SECONDS}\n"
        f"while not pathlib.Path({str(flag)!r}).exists() and time.monotonic() < _deadline:\n"
        "    time.sleep(0.05)"
    )


def start_busy_upload(nb, bucket, notebook_name, tmp_path):
    """Show the widget, start a cell that blocks the main shell, then pick a file.
    Returns the picked file, the flag that ends the cell and the waiting notice."""
    path = make_random_file(tmp_path / "while-busy.bin", 200_000, seed="busy")
    flag = tmp_path / "kernel-may-finish"
    nb.create(notebook_name, [*widget_cells(bucket), busy_cell(flag)])
    nb.open()
    nb.run_cell(0)
    nb.widget(0).locator(".s3uw-dropzone").wait_for(state="visible", timeout=20_000)
    nb.start_cell(1)  # the main shell is now busy until the flag exists
    nb.pick_files(0, [path])
    return path, flag, nb.widget(0).locator(".s3uw-waiting")


def check_uploaded(nb, s3, bucket, path, waiting) -> None:
    (record,) = wait_final(nb, 1, timeout=60)
    assert_all_done([record])
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path)
    wait_until(
        lambda: waiting.is_hidden(),
        timeout=10,
        page=nb.page,
        message="the 'waiting for the Python kernel' notice to go away",
    )


def test_main_shell_busy_shows_waiting_then_uploads(fresh_nb, s3, jupyter, notebook_name, tmp_path):
    nb = fresh_nb  # Lab must load with the settings below
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    # No subshells: every widget message waits for the main shell, as in JupyterLab < 4.4,
    # Notebook 6 and ipykernel 6.
    with jupyter.user_settings(KERNELS_SETTINGS, {"commsOverSubshells": "disabled"}):
        path, flag, waiting = start_busy_upload(nb, bucket, notebook_name, tmp_path)
    try:
        waiting.wait_for(state="visible", timeout=30_000)
        assert "Python kernel" in (waiting.text_content() or "")
        # Rows come from the kernel's records: none can exist while it is busy.
        assert nb.widget(0).locator(".s3uw-row").count() == 0
    finally:
        flag.touch()
    check_uploaded(nb, s3, bucket, path, waiting)


def test_busy_cell_with_default_settings_never_fails(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path, flag, waiting = start_busy_upload(nb, bucket, notebook_name, tmp_path)
    done_row = nb.widget(0).locator('.s3uw-row[data-status="done"]')
    try:
        # Whichever shell gets the messages, the person sees one of the two at once.
        wait_until(
            lambda: (
                ("waiting" if waiting.is_visible() else None)
                or ("uploaded beside the cell" if done_row.count() == 1 else None)
            ),
            timeout=30,
            page=nb.page,
            message="the waiting notice, or the upload done while the cell runs",
        )
    finally:
        flag.touch()
    check_uploaded(nb, s3, bucket, path, waiting)
