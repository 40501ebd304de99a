"""What the folder browser tests share: a 3-level test tree and its check in S3, a real
folder drop (synthesised through the Chrome DevTools Protocol), and the check that a key
stays where it belongs."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import assert_all_done

MAX_KEY_BYTES = 1024  # S3's limit on a key, in bytes of UTF-8


def make_tree(root: Path, name: str) -> dict[str, Path]:
    """A 3-level folder ``root/name`` with > 100 files in one folder (Chromium's
    ``readEntries`` pages by 100): ``{relative path with the folder's name first: file}``."""
    top = root / name
    files = {}
    for rel in ("top.txt", "2024/march/img1.bin", "2024/march/img10.bin", "2024/notes.csv"):
        files[f"{name}/{rel}"] = make_random_file(top / rel, 3_000 + len(rel), seed=rel)
    for i in range(105):
        rel = f"many/part-{i:03d}.bin"
        files[f"{name}/{rel}"] = make_random_file(top / rel, 100 + i, seed=rel)
    return files


def check_tree(s3, bucket: str, records: list[dict], files: dict, prefix: str = "uploads/") -> None:
    """Every file of ``files`` (from `make_tree`) is done, at ``prefix + batch/relpath``
    (one batch folder for all), with its bytes."""
    assert_all_done(records)
    by_path = {r["relative_path"]: r for r in records}
    assert set(by_path) == set(files), sorted(set(by_path) ^ set(files))[:5]
    batches = {r["batch"] for r in records}
    assert len(batches) == 1, batches  # one pick or drop, one batch folder
    (batch,) = batches
    for rel, path in files.items():
        record = by_path[rel]
        assert record["key"] == f"{prefix}{batch}/{rel}", record
        assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path), rel


def drop_paths(nb, paths: Sequence[str | os.PathLike], cell_i: int = 0) -> None:
    """Drop files and folders from disk onto the widget's ``.s3uw-dropzone`` in cell
    ``cell_i``, as a person dragging them from a file manager: a DataTransfer built in
    page JS cannot hold a folder, a CDP drag can (the page then sees directory entries)."""
    zone = nb.widget(cell_i).locator(".s3uw-dropzone")
    zone.scroll_into_view_if_needed()
    box = zone.bounding_box()
    assert box, "the drop zone has no bounding box (not visible?)"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = nb.page.context.new_cdp_session(nb.page)
    data = {"items": [], "files": [str(p) for p in paths], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})


def key_problems(key: str, prefix: str) -> list[str]:
    """Why ``key`` is not a safe key under ``prefix`` (``[]`` when it is): it must start
    with the prefix, have no ``.``, ``..`` or empty segment, no control or invisible format
    character, and fit S3's 1,024 bytes."""
    problems = []
    if not key.startswith(prefix):
        problems.append(f"not under {prefix!r}")
    if key.startswith("/"):
        problems.append("starts with '/'")
    bad = [s for s in key.split("/") if s in ("", ".", "..")]
    if bad:
        problems.append(f"has segments {bad!r}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in key):
        problems.append("has control or format characters")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        problems.append(f"is {len(key.encode('utf-8'))} bytes long")
    return problems
