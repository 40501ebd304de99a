"""Folders in a real browser: a tree picked through "Choose folder" and a tree dropped
(a real drag of a folder, synthesised through the Chrome DevTools Protocol) land in S3 as
the same tree under one batch folder, byte for byte; an empty folder is reported."""

from __future__ import annotations

import pytest

from .folder_helpers import check_tree, drop_paths, make_tree
from .support import make_random_file, wait_until
from .widget_helpers import open_widget, wait_final

pytestmark = pytest.mark.e2e


def test_a_folder_picked_keeps_its_tree(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    files = make_tree(tmp_path, "photos")
    open_widget(nb, notebook_name, bucket)
    nb.widget(0).locator(".s3uw-folder-input").set_input_files(str(tmp_path / "photos"))
    check_tree(s3, bucket, wait_final(nb, len(files), timeout=180), files)


def test_a_folder_dropped_keeps_its_tree_and_reports_empty_folders(
    nb, s3, jupyter, notebook_name, tmp_path
):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    files = make_tree(tmp_path, "survey")
    (tmp_path / "survey" / "empty").mkdir()
    loose = make_random_file(tmp_path / "loose.csv", 1234, seed="loose")
    open_widget(nb, notebook_name, bucket)
    drop_paths(nb, [tmp_path / "survey", loose])

    records = wait_final(nb, len(files) + 1, timeout=180)
    assert not any(r["name"] == "survey" for r in records), "the folder was sent as a file"
    (loose_record,) = [r for r in records if r["relative_path"] == ""]
    assert loose_record["name"] == "loose.csv"
    check_tree(s3, bucket, [r for r in records if r is not loose_record], files)
    notice = nb.widget(0).locator(".s3uw-notice")
    wait_until(
        lambda: "survey/empty" in notice.inner_text(),
        timeout=10,
        message="the empty folder is reported",
        page=nb.page,
    )
