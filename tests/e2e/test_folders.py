"""Folders in a real browser: a tree picked through "Choose folder" and a tree dropped
(a real drag of a folder, synthesised through the Chrome DevTools Protocol) land in S3 as
the same tree under one batch folder, byte for byte; an empty folder is reported."""

from __future__ import annotations

import pytest

from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import assert_all_done, open_widget, wait_final

pytestmark = pytest.mark.e2e


def make_tree(root, name: str) -> dict[str, object]:
    """A 3-level folder with > 100 files in one folder (readEntries pages by 100)."""
    top = root / name
    files = {}
    for rel in ("top.txt", "2024/march/img1.bin", "2024/march/img10.bin", "2024/notes.csv"):
        files[f"{name}/{rel}"] = make_random_file(top / rel, 3_000 + len(rel), seed=rel)
    for i in range(105):
        rel = f"many/part-{i:03d}.bin"
        files[f"{name}/{rel}"] = make_random_file(top / rel, 100 + i, seed=rel)
    return files


def check_tree(s3, bucket: str, records: list[dict], files: dict) -> None:
    assert_all_done(records)
    by_path = {r["relative_path"]: r for r in records}
    assert set(by_path) == set(files), sorted(set(by_path) ^ set(files))[:5]
    batches = {r["batch"] for r in records}
    assert len(batches) == 1, batches  # one pick or drop, one batch folder
    (batch,) = batches
    for rel, path in files.items():
        record = by_path[rel]
        assert record["key"] == f"uploads/{batch}/{rel}", record
        assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path), rel


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

    zone = nb.widget(0).locator(".s3uw-dropzone")
    box = zone.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = nb.page.context.new_cdp_session(nb.page)
    data = {"items": [], "files": [str(tmp_path / "survey"), str(loose)], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})

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
