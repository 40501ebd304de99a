"""Folders in Notebook 7 (``jupyter notebook``: its own page at /notebooks/..., its own
origin): a 3-level tree picked through "Choose folder" and one dropped (a real folder
drag through the Chrome DevTools Protocol) land in S3 as the same tree under one batch
folder, byte for byte; the page shows a done row per file."""

from __future__ import annotations

import pytest

from .folder_helpers import check_tree, drop_paths, make_tree
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import open_widget, wait_final, wait_rows

# 110 files take 1-2 min on a busy 2-core machine: room past the 300 s default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_a_folder_picked_keeps_its_tree_in_notebook7(
    nb7, s3, jupyter_notebook7, notebook_name, tmp_path
):
    assert "/notebooks/" in jupyter_notebook7.notebook_url(notebook_name)  # not Lab's /lab/
    bucket = s3.make_bucket(cors_origins=[jupyter_notebook7.origin])
    files = make_tree(tmp_path, "photos")
    open_widget(nb7, notebook_name, bucket)
    nb7.widget(0).locator(".s3uw-folder-input").set_input_files(str(tmp_path / "photos"))

    records = wait_final(nb7, len(files), timeout=600)
    check_tree(s3, bucket, records, files)
    assert sorted(s3.list_keys(bucket)) == sorted(r["key"] for r in records)
    wait_rows(nb7, "done", len(files), timeout=30)


def test_a_folder_dropped_keeps_its_tree_in_notebook7(
    nb7, s3, jupyter_notebook7, notebook_name, tmp_path
):
    bucket = s3.make_bucket(cors_origins=[jupyter_notebook7.origin])
    files = make_tree(tmp_path, "survey")
    (tmp_path / "survey" / "empty").mkdir()
    loose = make_random_file(tmp_path / "loose.csv", 1234, seed="loose")
    open_widget(nb7, notebook_name, bucket)

    drop_paths(nb7, [tmp_path / "survey", loose])

    records = wait_final(nb7, len(files) + 1, timeout=600)
    assert not any(r["name"] == "survey" for r in records), "the folder was sent as a file"
    (loose_record,) = [r for r in records if r["relative_path"] == ""]
    assert loose_record["name"] == "loose.csv" and loose_record["status"] == "done"
    assert sha256_bytes(s3.get_bytes(bucket, loose_record["key"])) == sha256_file(loose)
    check_tree(s3, bucket, [r for r in records if r is not loose_record], files)
    # Notebook 7 did not open the dropped folder or file itself: the page stayed put.
    assert "/notebooks/" in nb7.page.url and notebook_name in nb7.page.url
    wait_rows(nb7, "done", len(files) + 1, timeout=30)
    notice = nb7.widget(0).locator(".s3uw-notice")
    wait_until(
        lambda: "survey/empty" in notice.inner_text(),
        timeout=10,
        message="the empty folder is reported",
        page=nb7.page,
    )
