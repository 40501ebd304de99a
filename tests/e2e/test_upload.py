"""End-to-end tests of S3UploadWidget: a real JupyterLab in headless Chromium uploads to
moto's S3 server on 127.0.0.1 (global CORS off, so bucket CORS rules apply as on AWS)."""

from __future__ import annotations

import json
import random
import time
import unicodedata

import pytest

from .browser import throttle_upload
from .notebook_helpers import WIDGET_STATE
from .s3_servers import TEST_ACCESS_KEY, TEST_SECRET_KEY
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import (
    RECORD_FIELDS,
    MiB,
    assert_all_done,
    assert_multipart_stored,
    open_widget,
    unquote,
    wait_final,
    wait_rows,
)

pytestmark = pytest.mark.e2e


def make_random_bytes(size: int, seed: str) -> bytes:
    return random.Random(seed).randbytes(size)


def test_pick_several_files(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    csv_name = unicodedata.normalize("NFC", "résumé final 2024.csv")
    csv = tmp_path / csv_name
    rows = [f"{i},{(i * 7919) % 1000},naïve café {i}" for i in range(300)]
    csv.write_text("id,value,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    big = make_random_file(tmp_path / "big.bin", 30 * MiB + 12345, seed="big")
    files = [csv, empty, big]

    open_widget(nb, notebook_name, bucket)
    nb.pick_files(0, files)
    records = wait_final(nb, 3, timeout=120)
    assert_all_done(records)

    state = nb.eval_json("{'key': w.key, 'keys': w.uploaded_keys}")
    assert len(state["keys"]) == 3, state
    assert state["key"] == state["keys"][-1], state
    assert sorted(state["keys"]) == sorted(r["key"] for r in records)

    by_name = {r["name"]: r for r in records}
    assert set(by_name) == {csv_name, "empty.bin", "big.bin"}, list(by_name)
    for path in files:
        r = by_name[path.name]
        assert set(r) >= RECORD_FIELDS, f"record lacks {RECORD_FIELDS - set(r)}: {r}"
        assert r["status"] == "done" and r["error"] == "", r
        assert r["size"] == path.stat().st_size, r
        assert r["loaded"] == r["size"], r
        assert r["bucket"] == bucket, r
        assert r["key"].startswith("uploads/"), r
        assert r["key"].endswith("/" + path.name), r  # "{prefix}{uuid}/{filename}"
        # The bucket holds exactly the bytes of the local file, with the record's etag.
        data = s3.get_bytes(bucket, r["key"])
        assert len(data) == r["size"], (r["key"], len(data))
        assert sha256_bytes(data) == sha256_file(path), f"bytes differ for {path.name}"
        head = s3.client().head_object(Bucket=bucket, Key=r["key"])
        assert unquote(r["etag"]) == unquote(head["ETag"]), (r, head["ETag"])
        assert head["ContentType"] == r["content_type"], (r, head["ContentType"])

    # Accents and spaces survive, in NFC, in the record and the key.
    r = by_name[csv_name]
    assert unicodedata.is_normalized("NFC", r["name"]) and r["name"] == csv_name
    assert r["key"].split("/")[-1] == csv_name and unicodedata.is_normalized("NFC", r["key"])
    assert sorted(s3.list_keys(bucket)) == sorted(state["keys"])

    wait_rows(nb, "done", 3)
    names = nb.widget(0).locator(".s3uw-row .s3uw-name").all_text_contents()
    assert sorted(names) == sorted(p.name for p in files), names


def test_drop_file(nb, s3, jupyter, notebook_name):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    data = make_random_bytes(50_000, seed="drop")

    open_widget(nb, notebook_name, bucket)
    nb.drop_files(0, [("dropped notes.txt", data, "text/plain")])
    (record,) = wait_final(nb, 1, timeout=60)
    assert_all_done([record])
    assert record["name"] == "dropped notes.txt", record
    assert record["key"].startswith("uploads/"), record
    assert record["key"].endswith("/dropped notes.txt"), record
    assert record["size"] == record["loaded"] == len(data), record
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_bytes(data)
    assert nb.eval_json("w.uploaded_keys") == [record["key"]]
    wait_rows(nb, "done", 1)


def test_decomposed_name_is_stored_nfc(nb, s3, jupyter, notebook_name):
    """macOS hands out file names in NFD ("e" + combining accent): the key and the record
    use NFC, so the name a person types in Python matches."""
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    nfd = unicodedata.normalize("NFD", "naïve café.txt")
    nfc = unicodedata.normalize("NFC", nfd)
    assert nfd != nfc

    open_widget(nb, notebook_name, bucket)
    nb.drop_files(0, [(nfd, b"accents\n", "text/plain")])
    (record,) = wait_final(nb, 1, timeout=60)
    assert_all_done([record])
    assert record["key"].split("/")[-1] == nfc, f"key not in NFC: {record['key']!r}"
    assert s3.list_keys(bucket) == [record["key"]]
    assert record["name"] == nfc, (
        f"record name not in NFC: {record['name']!r} (key file name: "
        f"{record['key'].split('/')[-1]!r})"
    )


def test_bucket_without_cors_reports_cors_error(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=None)  # no CORS rule at all
    path = make_random_file(tmp_path / "blocked.bin", 200_000, seed="cors")

    open_widget(nb, notebook_name, bucket)
    started = time.monotonic()
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=60)
    elapsed = time.monotonic() - started
    assert record["status"] == "error", record
    error = record["error"]
    for needle in ("CORS", jupyter.origin, "configure_cors"):
        assert needle in error, f"the record's error does not mention {needle!r}: {error!r}"

    row_error = nb.widget(0).locator(".s3uw-row .s3uw-error").first
    wait_until(
        lambda: jupyter.origin in (row_error.text_content() or ""),
        timeout=10,
        page=nb.page,
        message="the row's .s3uw-error to show the CORS message",
    )
    text = row_error.text_content() or ""
    for needle in ("CORS", jupyter.origin, "configure_cors"):
        assert needle in text, f"the row's error does not mention {needle!r}: {text!r}"
    assert row_error.is_visible()
    wait_rows(nb, "error", 1)

    assert s3.list_keys(bucket) == [], "an object was stored although the browser was blocked"
    assert s3.list_multipart_uploads(bucket) == []
    assert nb.eval_json("(w.key, w.uploaded_keys)") == ["", []]
    print(f"CORS failure reported after {elapsed:.1f} s: {error}")


def test_saved_notebook_has_no_secrets(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / "report.bin", 300_000, seed="save")

    open_widget(nb, notebook_name, bucket)
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=60)
    assert_all_done([record])
    wait_rows(nb, "done", 1)

    saved_path = nb.save()
    text = saved_path.read_text(encoding="utf-8")
    saved = json.loads(text)

    # The file holds widget state (else this test would prove nothing)...
    state = saved["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert state, "the saved notebook holds no widget state (saveState off?)"
    ours = [m["state"] for m in state.values() if "_widget_id" in m.get("state", {})]
    assert len(ours) == 1, f"expected one widget model in the saved state: {ours}"
    assert ours[0]["bucket"] == bucket and ours[0]["key"] == record["key"]
    # The records stay in Python: the page gets patches, and the file stays small.
    assert "uploads" not in ours[0] and "uploaded_keys" not in ours[0]

    # ...and no signatures or credentials anywhere in it.
    for secret in ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
                   TEST_SECRET_KEY, TEST_ACCESS_KEY):  # fmt: skip
        assert secret not in text, f"the saved notebook contains {secret!r}"
    # The same with JSON escapes undone (a "/" in the secret may be written as "\/").
    flat = json.dumps(saved, ensure_ascii=False)
    assert TEST_SECRET_KEY not in flat and TEST_ACCESS_KEY not in flat


def test_progress_reaches_python(nb, s3, jupyter, notebook_name, tmp_path):
    """Throttle the browser's uploads so the transfer lasts seconds, then watch the
    kernel's record move: progress must reach Python while the bytes are in flight."""
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    size = 60 * MiB
    path = make_random_file(tmp_path / "sixty.bin", size, seed="progress")
    rate = 15 * MiB  # bytes per second: about 4 s for the file

    history = (
        "import time as _t\n"
        "seen = []\n"
        "w.observe(lambda ch: seen.extend([_t.monotonic(), u['status'], u['loaded'], u['size']]"
        " for u in ch['new']), names='uploads')\n"
    )
    open_widget(nb, notebook_name, bucket, before_display=history)
    throttle_upload(nb.page, rate)
    nb.pick_files(0, [path])

    # While it uploads, the kernel sees a partial byte count.
    partial = nb.wait_for_kernel(
        "[(u['status'], u['loaded'], u['size']) for u in w.uploads]",
        lambda ups: any(s == "uploading" and 0 < n < total for s, n, total in ups),
        timeout=30,
        interval=0.2,
        message="the kernel's record to show 0 < loaded < size while uploading",
    )
    # The row's percentage moves too.
    pct = nb.widget(0).locator(".s3uw-row .s3uw-percent").first
    wait_until(
        lambda: 0 < int((pct.text_content() or "0%").rstrip("%") or 0) < 100,
        timeout=10,
        page=nb.page,
        message="the row's .s3uw-percent to show a value between 0% and 100%",
    )
    (record,) = wait_final(nb, 1, timeout=120)
    assert_all_done([record])
    assert record["loaded"] == record["size"] == size, record

    seen = nb.eval_json("seen")
    uploading = [(t, n) for t, s, n, total in seen if s == "uploading" and 0 < n < total]
    assert len(uploading) >= 3, f"only {len(uploading)} progress updates reached Python: {seen}"
    loaded = [n for _, n in uploading]
    assert loaded == sorted(loaded), f"progress went backwards: {loaded}"
    # Throttled to a few updates a second (design: not one message per XHR progress event).
    span = uploading[-1][0] - uploading[0][0]
    per_second = (len(uploading) - 1) / span if span > 0 else float("inf")
    assert per_second <= 10, f"{per_second:.1f} progress updates/s reached Python: not throttled"
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path)
    print(
        f"first partial progress in kernel: {partial}; {len(uploading)} updates, {per_second:.1f}/s"
    )


def test_multipart_upload(nb, s3, jupyter, notebook_name, tmp_path):
    """A file above the multipart threshold goes up in parts: the browser must read each
    part's ETag (CORS ExposeHeaders) and the parts must land in order."""
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    size = 23 * MiB + 777  # 5 parts of 5 MiB: the last one short
    path = make_random_file(tmp_path / "parts.bin", size, seed="multipart")

    open_widget(
        nb, notebook_name, bucket,
        kwargs=", multipart_threshold=5 * 1024**2, part_size=5 * 1024**2",
    )  # fmt: skip
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=120)
    assert_multipart_stored(s3, bucket, record, path, parts=5)
    wait_rows(nb, "done", 1)


def test_large_file_goes_multipart_with_defaults(nb, s3, jupyter, notebook_name, tmp_path):
    """A file above the 16 MiB threshold with the default settings: multipart in one round
    of 6 equal parts (concurrency 6), the last a few bytes short; bytes identical, nothing
    left open."""
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    size = 60 * MiB + 4321  # 6 parts of 10 MiB + 721 bytes, the last one 5 bytes short
    path = make_random_file(tmp_path / "dataset.parquet", size, seed="large")

    open_widget(nb, notebook_name, bucket)
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=240)
    assert_multipart_stored(s3, bucket, record, path, parts=6)


def test_upload_in_notebook7(nb7, s3, jupyter_notebook7, notebook_name, tmp_path):
    """The same widget in Notebook 7 (``jupyter notebook``), whose origin differs."""
    bucket = s3.make_bucket(cors_origins=[jupyter_notebook7.origin])
    path = make_random_file(tmp_path / "nb7.bin", 2 * MiB + 3, seed="nb7")

    open_widget(nb7, notebook_name, bucket)
    nb7.pick_files(0, [path])
    (record,) = wait_final(nb7, 1, timeout=60)
    assert_all_done([record])
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path)
    wait_rows(nb7, "done", 1)
