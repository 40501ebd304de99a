"""End-to-end: a cell that blocks in wait_for_uploads while a person picks a file in a real
JupyterLab (headless Chromium), with moto's S3 server on 127.0.0.1.

The kernel answers the widget while the cell blocks: without that the browser would show
"Waiting for the Python kernel" and the cell would never end.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .browser import NB
from .notebook_helpers import DONE, RUNNING, code_cell_index, run_all, wait_output, wait_prompt
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import widget_cells

pytestmark = pytest.mark.e2e

# After the widget is made, before it shows (see widget_cells): record the thread that
# runs the on_upload callback.
SERVED_IN = (
    "import threading\n"
    "from s3_upload_widget._wait import wait_for_uploads\n"
    "served_in = []  # the thread that ran the on_upload callback\n"
    "w.on_upload(lambda r: served_in.append(threading.current_thread().name))\n"
)
WAIT_CELL = (
    "records = wait_for_uploads(w, 1, 120)\nprint('KEY', records[0]['key'], records[0]['status'])"
)
AFTER_CELL = "print('AFTER', w.key)"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def key_from(text: str) -> str:
    match = re.search(r"^KEY (\S+) done$", text, re.M)
    assert match, f"no 'KEY <key> done' line in the waiting cell's output: {text!r}"
    return match.group(1)


def test_wait_blocks_until_a_file_is_picked(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / "measurements.bin", 300_000, seed="wait")

    nb.create(notebook_name, [*widget_cells(bucket, before_display=SERVED_IN), WAIT_CELL])
    nb.open()
    nb.run_cell(0)
    nb.widget(0).wait_for(state="visible", timeout=20_000)

    nb.start_cell(1, timeout=60)
    nb.page.wait_for_timeout(1000)
    assert RUNNING.match(nb.prompt_text(1)), "the waiting cell ended before a file was picked"

    nb.pick_files(0, [path])
    wait_prompt(nb, 1, DONE, "finished", timeout=60)
    text = nb.output_text(1)
    key = key_from(text)
    # MainThread: the wait served the widget; subshell-...: the kernel routed the widget's
    # messages to JupyterLab's comm subshell, which runs beside the waiting cell.
    print(f"on_upload ran in {nb.eval_json('served_in')}")

    assert key.startswith("uploads/") and key.endswith("/measurements.bin"), key
    assert sha256_bytes(s3.get_bytes(bucket, key)) == sha256_file(path)
    assert nb.eval_json("w.key") == key
    # The kernel answered the widget throughout: no "waiting for the kernel" notice.
    assert nb.widget(0).locator(".s3uw-waiting").is_hidden()
    assert nb.widget(0).locator('.s3uw-row[data-status="done"]').count() == 1


def test_run_all_waits_then_runs_the_next_cells(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / "survey.csv", 120_000, seed="run-all")

    cells = [*widget_cells(bucket, before_display=SERVED_IN), WAIT_CELL, AFTER_CELL]
    nb.create(notebook_name, cells)
    nb.open()
    run_all(nb)

    # Run All sent every cell: the widget shows, cell 1 blocks, cell 2 is queued.
    nb.widget(0).wait_for(state="visible", timeout=30_000)
    wait_prompt(nb, 1, RUNNING, "running")
    nb.page.wait_for_timeout(1000)
    assert RUNNING.match(nb.prompt_text(1)), "the waiting cell ended before a file was picked"
    assert "AFTER" not in nb.output_text(2), "the next cell ran before the wait ended"

    nb.pick_files(0, [path])
    text = wait_output(nb, 1, "KEY ")
    key = key_from(text)
    after = wait_output(nb, 2, "AFTER ")
    assert after.strip() == f"AFTER {key}", after  # it ran after the wait, and saw the key
    assert sha256_bytes(s3.get_bytes(bucket, key)) == sha256_file(path)
    print(f"Run All: on_upload ran in {nb.eval_json('served_in')}")
    wait_until(
        lambda: (
            nb.page.locator(f"{NB} .jp-Notebook-ExecutionIndicator").first.get_attribute(
                "data-status"
            )
            == "idle"
        ),
        timeout=30,
        page=nb.page,
        message="the kernel to be idle after Run All",
    )


def test_quickstart_run_all_stops_at_the_wait(nb, jupyter, tmp_path):
    """The shipped quickstart, Run All on LocalS3 (started in the kernel): it stops at
    w.wait() until a file is picked, then the cells below read the file back."""
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", jupyter.root_dir / "quickstart.ipynb")
    data = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(500))
    path = tmp_path / "squares.csv"
    path.write_bytes(data)

    nb.open("quickstart")
    run_all(nb)
    widget_cell = code_cell_index(nb, "S3UploadWidget(")
    wait_cell = code_cell_index(nb, "w.wait(")
    read_cell = code_cell_index(nb, "get_object(")
    nb.widget(widget_cell).wait_for(state="visible", timeout=30_000)
    wait_prompt(nb, wait_cell, RUNNING, "running")
    nb.page.wait_for_timeout(1000)
    assert RUNNING.match(nb.prompt_text(wait_cell)), "Run All went past the wait"

    nb.pick_files(widget_cell, [path])
    done = wait_output(nb, wait_cell, "done squares.csv -> ")
    key = re.search(r"done squares\.csv -> (\S+)", done).group(1)
    read = wait_output(nb, read_cell, "bytes:")
    assert read.startswith(f"{len(data)} bytes: b'id,value"), read
    assert "uploads/" in key
