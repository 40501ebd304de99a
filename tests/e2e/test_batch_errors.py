"""Errors in a batch are per file: 120 files picked at once (a folder), of which 10 would
replace objects already in the bucket (``overwrite=False``, the default), 4 are of a type
the widget refuses (``accept=".csv"``) and 2 are over ``max_size``. Every other file
arrives byte for byte; each failed file has its own record (status "error", a stable
``error_code``, words naming the file or key), its own row in the page and a place in the
batch line; the objects that were there stay as they were, and ``w.summary()`` counts it
all in one line."""

from __future__ import annotations

import re

import pytest

from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import open_widget, row, row_statuses, wait_final, wait_rows

# A 120-file batch takes 1.5-2 min on a busy 2-core machine: room past the 300 s default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

FILES = 120
EXISTING = {3, 17, 29, 41, 55, 68, 80, 94, 107, 119}  # keys already in the bucket
WRONG_TYPE = {8, 36, 72, 101}  # .bin while accept=".csv"
TOO_LARGE = {12, 88}  # over max_size
MAX_SIZE = 8 * 1024
BATCH_LINE = re.compile(r"^104 of 120\b[^·]*\bdone · 16 failed\b")


def make_batch(root) -> tuple[dict[str, object], dict[str, str]]:
    """``ledger/part=N/r-III.csv`` (and a few ``.bin``): ``{relative path: file}`` and
    the expected error code of each file that must fail."""
    files, failures = {}, {}
    for i in range(FILES):
        ext = ".bin" if i in WRONG_TYPE else ".csv"
        rel = f"ledger/part={i % 3}/r-{i:03d}{ext}"
        size = MAX_SIZE + 1 + i if i in TOO_LARGE else 1024 + 37 * i  # a few KiB
        files[rel] = make_random_file(root / rel, size, seed=rel)
        if i in EXISTING:
            failures[rel] = "key-exists"
        elif i in WRONG_TYPE:
            failures[rel] = "not-accepted"
        elif i in TOO_LARGE:
            failures[rel] = "too-large"
    return files, failures


def test_failures_in_a_batch_are_per_file_and_summarised(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    files, failures = make_batch(tmp_path)
    assert len(files) == FILES and len(failures) == 16
    # What is in the bucket before: other bytes at 10 of the keys the batch will want.
    before = {}
    for rel, code in failures.items():
        if code == "key-exists":
            before[f"uploads/{rel}"] = b"already here: " + rel.encode() * 50
            s3.client().put_object(
                Bucket=bucket, Key=f"uploads/{rel}", Body=before[f"uploads/{rel}"]
            )

    open_widget(
        nb,
        notebook_name,
        bucket,
        f', key_template="{{prefix}}{{relpath}}", accept=".csv", max_size={MAX_SIZE}',
    )
    nb.widget(0).locator(".s3uw-folder-input").set_input_files(str(tmp_path / "ledger"))
    records = wait_final(nb, FILES, timeout=600)

    # Python: one record per file, each failure with its own code and words.
    by_path = {r["relative_path"]: r for r in records}
    assert set(by_path) == set(files), sorted(set(by_path) ^ set(files))[:5]
    done = {rel: r for rel, r in by_path.items() if r["status"] == "done"}
    failed = {rel: r for rel, r in by_path.items() if r["status"] == "error"}
    assert set(failed) == set(failures), (sorted(set(failed) ^ set(failures)), failed)
    assert len(done) == FILES - len(failures), sorted(
        (rel, r["status"]) for rel, r in by_path.items() if rel not in done and rel not in failed
    )
    for rel, record in failed.items():
        name = rel.rsplit("/", 1)[1]
        assert record["error_code"] == failures[rel], record
        if failures[rel] == "key-exists":
            assert f"s3://{bucket}/uploads/{rel}" in record["error"], record
            assert "overwrite" in record["error"], record
        elif failures[rel] == "not-accepted":
            assert name in record["error"] and ".csv" in record["error"], record
        else:
            assert name in record["error"] and f"max_size={MAX_SIZE:,}" in record["error"], record

    # S3: every other file whole at its predictable key; the old objects untouched;
    # nothing of the refused files.
    for rel, record in done.items():
        assert record["key"] == f"uploads/{rel}", record
        assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(files[rel]), rel
    for key, data in before.items():
        assert s3.get_bytes(bucket, key) == data, f"{key} was replaced"
    assert sorted(s3.list_keys(bucket)) == sorted([r["key"] for r in done.values()] + [*before])

    assert nb.eval_json("w.summary()") == (
        "120 files: 104 done, 16 failed (key-exists 10, not-accepted 4, too-large 2)"
    )

    # The page: a row per file, the failed ones in error with their words, and the
    # batch line counting them.
    wait_rows(nb, "error", len(failures), timeout=30)
    wait_rows(nb, "done", len(done), timeout=30)
    for rel, record in failed.items():
        r = row(nb, record["id"])
        assert r.get_attribute("data-status") == "error", (rel, row_statuses(nb))
        shown = r.locator(".s3uw-error")
        assert shown.is_visible(), rel
        assert shown.text_content() == record["error"], rel
        assert r.locator(".s3uw-name").text_content() == rel.rsplit("/", 1)[1]
    # "104 of 120 done · 16 failed" (later wordings add "files", byte counts after it).
    total = nb.widget(0).locator(".s3uw-total")
    wait_until(
        lambda: BATCH_LINE.search(total.text_content() or ""),
        timeout=15,
        page=nb.page,
        message=f"the batch line to count the failures (it says {total.text_content()!r})",
    )
