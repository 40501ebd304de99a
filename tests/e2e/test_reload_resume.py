"""Resume after a page reload (issue 11 item 5), in a real browser through a shaped link:
the page reloads in the middle of a multipart upload while the kernel lives, the new
view shows the upload as interrupted, the same file picked again resumes it, only the
missing parts cross the link, and the object is byte-identical with nothing left over.

The short version runs in ``make test``; the issue's 300 MB is marked ``slow_link``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

import s3_upload_widget

from .netproxy_faults import PART
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import MiB, open_widget, wait_final

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scenario:
    size: int
    part_size: int
    per_connection_bps: float  # the shaped link, per connection (4 parts in flight)

    @property
    def parts(self) -> int:
        return -(-self.size // self.part_size)


SHORT = Scenario(size=40 * MiB + 5, part_size=5 * MiB, per_connection_bps=16e6)  # ~6 s
FULL = Scenario(size=300 * 10**6, part_size=16 * MiB, per_connection_bps=30e6)  # ~20 s


def part_number(record) -> int:
    return int(record.path.split(PART)[1].split("&")[0])


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(SHORT, id="short"),
        pytest.param(FULL, id="full", marks=[pytest.mark.slow_link, pytest.mark.timeout(900)]),
    ],
)
def test_a_reload_mid_upload_resumes_with_the_same_file(
    proxied_nb, proxy, s3, notebook_name, tmp_path, capsys, scenario
):
    nb, sc = proxied_nb, scenario
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    path = make_random_file(tmp_path / "big.bin", sc.size, seed="reload")
    kwargs = f", multipart_threshold=5 * 1024**2, part_size={sc.part_size}, concurrency=4"
    open_widget(nb, notebook_name, bucket, kwargs)
    where = nb.eval_json("__import__('s3_upload_widget').__file__")
    assert where == s3_upload_widget.__file__, "the kernel must run this checkout's package"
    nb.save()  # the widget's output is in the file: the reloaded page shows it again
    proxy.clear()
    proxy.shape(per_connection_bps=sc.per_connection_bps)
    started = time.monotonic()
    nb.pick_files(0, [path])

    def stored_parts() -> set[int]:
        return {part_number(r) for r in proxy.log() if r.is_part and r.status == 200}

    wanted = max(1, int(0.4 * sc.parts))
    wait_until(lambda: len(stored_parts()) >= wanted, timeout=120, page=nb.page,
               message=f"{wanted} parts stored")  # fmt: skip
    nb.page.reload()
    reloaded_at = time.monotonic()
    row = nb.widget(0).locator(".s3uw-row").first
    row.wait_for(state="visible", timeout=60_000)
    status = nb.widget(0).locator(".s3uw-row .s3uw-status").first
    wait_until(lambda: "interrupted" in (status.text_content() or ""), timeout=20,
               page=nb.page, message="the row says interrupted")  # fmt: skip
    record = nb.eval_json("w.uploads[0]")
    assert record["status"] == "uploading", record  # the kernel kept it
    assert len(s3.list_multipart_uploads(bucket)) == 1
    # A part whose body had fully crossed when the page went away is still answered 200
    # after the reload, so the parts stored are counted once nothing is in flight.
    proxy.settle()
    before = stored_parts()

    picked_at = time.monotonic()
    nb.pick_files(0, [path])
    (final,) = wait_final(nb, 1, timeout=300)  # one record: the same upload, adopted
    elapsed = time.monotonic() - started
    proxy.shape()
    assert final["status"] == "done", final
    assert final["id"] == record["id"]
    assert sha256_bytes(s3.get_bytes(bucket, final["key"])) == sha256_file(path)
    assert s3.list_multipart_uploads(bucket) == []
    log = proxy.settle()
    after = [r for r in log if r.is_part and r.started > picked_at]
    again = {part_number(r) for r in after} & before
    assert not again, f"parts stored before the reload were sent again: {sorted(again)}"
    missing = sc.parts - len(before)
    assert len(after) < 1.2 * missing, [(part_number(r), r.status) for r in after]
    # Before the pick: the parts stored, and those the reload cut off (4 in flight at most).
    part_puts = [r for r in log if r.is_part]
    cut = [r for r in part_puts if r.started < picked_at and r.status != 200]
    assert len(cut) <= 4 and len(part_puts) == len(before) + len(cut) + len(after)
    with capsys.disabled():
        print(
            f"\nreload-resume {sc.size / 1e6:.0f} MB, {sc.parts} parts: {len(before)} stored "
            f"before the reload, {len(cut)} cut off by it, {len(after)} part PUTs after the "
            f"pick for {missing} missing parts, {len(part_puts)} in all; {elapsed:.1f} s in "
            f"all, reload to pick "
            f"{picked_at - reloaded_at:.1f} s"
        )
