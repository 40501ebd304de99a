"""End-to-end: the life of multipart uploads after they started. Cancel (from the row's
button and from Python), closing the widget, and part URLs that expire before they are
used: nothing half-written may be left in the bucket, and an expired URL is signed again.

Also takes the README's screenshots, widget.png and widget-dark.png, of a widget
mid-upload (one file done, two uploading with speed and time left): into docs/ with
S3UW_UPDATE_DOCS=1, else into tests/e2e/_artifacts/screenshots/ (gitignored).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .browser import throttle_upload
from .s3_servers import ExpiringMotoS3Server
from .support import make_random_file, wait_until
from .widget_helpers import (
    MiB,
    assert_all_done,
    assert_multipart_stored,
    check_colours,
    lab_theme,
    make_bucket_named,
    open_widget,
    row,
    row_statuses,
    screenshot_dir,
    screenshot_widget,
    wait_final,
    wait_row_status,
    wait_rows,
    wait_theme,
)

pytestmark = pytest.mark.e2e

MULTIPART = ", multipart_threshold=5 * 1024**2, part_size=5 * 1024**2, concurrency=2"


def wait_no_multipart(s3, bucket: str, timeout: float = 15, *, page=None) -> None:
    """Poll until the bucket holds no multipart upload, then check it stays so a moment
    (a late part or create must not bring one back)."""
    left: list = []

    def none_left() -> bool:
        left[:] = [(u["Key"], u["UploadId"]) for u in s3.list_multipart_uploads(bucket)]
        return not left

    try:
        wait_until(none_left, timeout=timeout, page=page, message="")
    except AssertionError:
        raise AssertionError(
            f"bucket {bucket} still holds multipart uploads after {timeout:g} s: {left}"
        ) from None
    for _ in range(4):
        if page is not None:
            page.wait_for_timeout(500)
        else:
            time.sleep(0.5)
        left = s3.list_multipart_uploads(bucket)
        assert left == [], f"a multipart upload came back after being aborted: {left}"


def csv_file(path: Path, rows: int = 4000) -> Path:
    lines = ["date,station,temperature_c,humidity_pct"]
    lines += [
        f"2024-{1 + i % 12:02d}-{1 + i % 28:02d},ST{i % 17:03d},{(i * 37) % 400 / 10:.1f},"
        f"{(i * 53) % 100}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def uploading_scene(
    nb, s3, jupyter, notebook_name: str, tmp_path: Path, rate: int, bucket_name: str
) -> dict:
    """Open a multipart widget, upload a small CSV (done), then start two ~40 MB files
    throttled to ``rate`` bytes/s and wait until both are uploading with bytes counted in
    the kernel and speed / time left shown in their rows. Returns the bucket, the files
    and the kernel's records by name."""
    bucket = make_bucket_named(s3, bucket_name, [jupyter.origin])
    notes = csv_file(tmp_path / "station-notes.csv")
    big = [
        make_random_file(tmp_path / "field-recordings.zip", 40 * MiB + 4097, seed="rec"),
        make_random_file(tmp_path / "survey_2024.parquet", 38 * MiB + 1234, seed="survey"),
    ]
    open_widget(nb, notebook_name, bucket, MULTIPART)

    nb.pick_files(0, [notes])
    (done,) = wait_final(nb, 1, timeout=60)
    assert_all_done([done])

    throttle_upload(nb.page, rate)
    nb.pick_files(0, big)
    records = nb.wait_for_kernel(
        "w.uploads",
        lambda ups: (
            len(ups) == 3 and all(u["status"] == "uploading" and u["loaded"] > 0 for u in ups[1:])
        ),
        timeout=60,
        interval=0.3,
        message="both big files to be uploading with loaded > 0 in the kernel",
    )
    by_name = {r["name"]: r for r in records}
    for path in big:
        rate_text = row(nb, by_name[path.name]["id"]).locator(".s3uw-rate")
        wait_until(
            lambda rate_text=rate_text: "left" in (rate_text.text_content(timeout=2000) or ""),
            timeout=20,
            page=nb.page,
            message=f"the row of {path.name} to show its speed and time left (.s3uw-rate)",
        )
    return {"bucket": bucket, "notes": notes, "big": big, "records": by_name}


def test_cancel_multipart_leaves_nothing_behind(hidpi_nb, s3, jupyter, notebook_name, tmp_path):
    nb = hidpi_nb
    scene = uploading_scene(
        nb, s3, jupyter, notebook_name, tmp_path, rate=6 * MiB, bucket_name="team-datasets"
    )
    bucket, big, records = scene["bucket"], scene["big"], scene["records"]
    first, second = (records[p.name] for p in big)
    assert first["multipart"] and second["multipart"], (first, second)

    shot = screenshot_widget(nb, screenshot_dir() / "widget.png")
    print(f"screenshot: {shot} (rows: {row_statuses(nb)})")
    check_colours(nb, "light, mid-upload")

    # Both multipart uploads exist in S3 while the files upload (else this proves nothing).
    open_keys = sorted(u["Key"] for u in s3.list_multipart_uploads(bucket))
    assert open_keys == sorted([first["key"], second["key"]]), open_keys

    # Cancel the first from its row's button, the rest from Python.
    row(nb, first["id"]).locator(".s3uw-cancel").click()
    nb.wait_for_kernel(
        f"[u['status'] for u in w.uploads if u['id'] == {first['id']!r}]",
        lambda s: s == ["cancelled"],
        timeout=30,
        message="the kernel's record of the first big file to say cancelled after its ✕",
    )
    cancelled = nb.eval_json("w.cancel()")
    assert cancelled == [second["id"]], f"w.cancel() cancelled {cancelled}, not the second file"

    final = {r["name"]: r for r in wait_final(nb, 3, timeout=30)}
    assert final[scene["notes"].name]["status"] == "done", final
    for path in big:
        r = final[path.name]
        assert r["status"] == "cancelled", r
        assert r["error"] == "", r
        wait_row_status(nb, r["id"], "cancelled")
        assert row(nb, r["id"]).locator(".s3uw-cancel").is_hidden()
    assert nb.eval_json("w.uploaded_keys") == [final[scene["notes"].name]["key"]]

    wait_no_multipart(s3, bucket, page=nb.page)
    keys = s3.list_keys(bucket)
    for path in big:
        assert final[path.name]["key"] not in keys, f"{path.name} was stored although cancelled"
    assert keys == [final[scene["notes"].name]["key"]], keys


def test_widget_screenshot_dark_theme(hidpi_nb, s3, jupyter, notebook_name, tmp_path):
    """The same scene in JupyterLab Dark, for docs/widget-dark.png; then w.cancel()."""
    nb = hidpi_nb
    with lab_theme(jupyter, "JupyterLab Dark"):
        scene = uploading_scene(
            nb, s3, jupyter, notebook_name, tmp_path, rate=6 * MiB, bucket_name="team-datasets-2"
        )
        wait_theme(nb, light=False)
        shot = screenshot_widget(nb, screenshot_dir() / "widget-dark.png")
        print(f"screenshot: {shot} (rows: {row_statuses(nb)})")
        check_colours(nb, "dark, mid-upload")
        nb.exec("w.cancel()")
        final = wait_final(nb, 3, timeout=30)
        assert [r["status"] for r in final] == ["done", "cancelled", "cancelled"], final
        # An error row too, to see its colours in the dark theme.
        nb.exec("w.max_size = 1000")
        nb.pick_files(0, [make_random_file(tmp_path / "too-big.bin", 2000, seed="dark")])
        final = wait_final(nb, 4, timeout=30)
        assert final[-1]["status"] == "error", final[-1]
        wait_rows(nb, "error", 1)
        wait_rows(nb, "cancelled", 2)
        check_colours(nb, "dark, final rows")
        print("final rows:", screenshot_widget(nb, tmp_path / "widget-dark-final.png"))
    wait_no_multipart(s3, scene["bucket"], page=nb.page)


def start_slow_multipart(nb, s3, jupyter, notebook_name, tmp_path, seed: str):
    """A throttled 30 MiB multipart upload, under way (loaded > 0 in the kernel, the
    multipart upload open in S3); returns (bucket, record)."""
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / f"{seed}.bin", 30 * MiB + 99, seed=seed)
    open_widget(nb, notebook_name, bucket, MULTIPART)
    throttle_upload(nb.page, 2 * MiB)
    nb.pick_files(0, [path])
    (record,) = nb.wait_for_kernel(
        "w.uploads",
        lambda ups: len(ups) == 1 and ups[0]["status"] == "uploading" and ups[0]["loaded"] > 0,
        timeout=60,
        message="the file to be uploading with loaded > 0 in the kernel",
    )
    uploads = s3.list_multipart_uploads(bucket)
    assert [u["Key"] for u in uploads] == [record["key"]], uploads
    return bucket, record


def test_close_aborts_multipart(nb, s3, jupyter, notebook_name, tmp_path):
    bucket, _ = start_slow_multipart(nb, s3, jupyter, notebook_name, tmp_path, "close")
    nb.exec("w.close()")
    state = nb.eval_json("([u['status'] for u in w.uploads], w.comm is None)")
    assert state == [["cancelled"], True], state
    wait_no_multipart(s3, bucket, page=nb.page)
    assert s3.list_keys(bucket) == [], "an object was stored although the widget was closed"


def test_kernel_shutdown_aborts_multipart(fresh_nb, s3, jupyter, notebook_name, tmp_path):
    """Shutting the kernel down mid-upload leaves no multipart upload behind in S3."""
    nb = fresh_nb  # a page of its own: its upload goes on without a kernel
    bucket, _ = start_slow_multipart(nb, s3, jupyter, notebook_name, tmp_path, "shutdown")
    nb.shutdown_kernel()
    wait_no_multipart(s3, bucket, page=nb.page)
    assert s3.list_keys(bucket) == [], "an object was stored although the kernel stopped"


# --- expired part URLs ------------------------------------------------------------------

EXPIRES_IN = 3  # s: a part URL signed one batch ahead waits ~5 s (2 MiB/s shared by 2 parts)


@pytest.fixture(scope="module")
def expiring_s3():
    """moto's server, refusing expired presigned URLs like S3 (403 "Request has expired")."""
    server = ExpiringMotoS3Server().start()
    yield server
    server.stop()


def test_expired_part_urls_are_resigned(nb, expiring_s3, jupyter, notebook_name, tmp_path):
    s3 = expiring_s3
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    size = 10 * MiB + 4321  # 3 parts: 2 of 5 MiB, the last one short
    path = make_random_file(tmp_path / "slow-link.bin", size, seed="expiry")
    kwargs = f", expires_in={EXPIRES_IN}{MULTIPART}"
    open_widget(nb, notebook_name, bucket, kwargs, endpoint=s3.endpoint_url)
    # 2 parts in flight share 2 MB/s: a part takes ~5 s, so a URL signed one batch ahead
    # (part 3's, signed as part 2 starts) has expired by the time its part starts.
    throttle_upload(nb.page, 2 * MiB)
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=120)
    assert record["size"] == size, record
    assert_multipart_stored(s3, bucket, record, path, parts=3)

    rejected = s3.expired_rejections
    assert rejected, (
        "S3 (the expiry-enforcing moto) refused no expired URL: the test did not exercise "
        f"re-signing ({s3.presigned_requests} presigned requests seen)"
    )
    assert all(r["method"] == "PUT" and "partNumber" in r["query"] for r in rejected), rejected
    rejected_parts = {int(r["query"]["partNumber"]) for r in rejected}
    # The kernel signed those parts again (its per-part signature count).
    signatures = nb.eval_json(f"dict(w._session._uploads[{record['id']!r}].signatures)")
    signatures = {int(k): v for k, v in signatures.items()}
    assert set(signatures) == {1, 2, 3}, signatures
    assert sum(signatures.values()) > 3, f"no part was signed twice: {signatures}"
    for n in rejected_parts:
        assert signatures[n] >= 2, (
            f"part {n} was refused as expired but not re-signed: {signatures}"
        )
    print(
        f"expired URLs refused: {len(rejected)} (parts {sorted(rejected_parts)}); "
        f"signatures per part: {signatures}; presigned requests: {s3.presigned_requests}"
    )


def test_a_killed_kernels_upload_is_found_and_aborted(
    fresh_nb, s3, jupyter, notebook_name, tmp_path
):
    """A kernel killed mid-upload cannot abort its multipart upload (issue 11 item 6):
    list_incomplete_uploads finds it from another process, abort_incomplete_uploads
    removes it."""
    from s3_upload_widget import abort_incomplete_uploads, list_incomplete_uploads

    nb = fresh_nb  # a page of its own: its upload goes on without a kernel

    bucket, record = start_slow_multipart(nb, s3, jupyter, notebook_name, tmp_path, "killed")
    pids = jupyter.kernel_pids()
    assert pids, "no kernel process found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not jupyter.kernel_pids(), timeout=15, page=nb.page, message="killed")
    nb.page.wait_for_timeout(1000)  # whatever the page still sends is refused or lost
    client = s3.client()
    left = list_incomplete_uploads(bucket, "uploads/", client=client, with_sizes=True)
    assert [u.key for u in left] == [record["key"]], left  # nobody aborted it
    dry = abort_incomplete_uploads(bucket, "uploads/", older_than=0, client=client, dry_run=True)
    assert [u.key for u in dry] == [record["key"]] and len(s3.list_multipart_uploads(bucket)) == 1
    aborted = abort_incomplete_uploads(bucket, "uploads/", older_than=0, client=client)
    assert [u.upload_id for u in aborted] == [left[0].upload_id]
    assert s3.list_multipart_uploads(bucket) == []
    assert list_incomplete_uploads(bucket, "uploads/", client=client) == []
