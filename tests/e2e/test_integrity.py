"""Integrity checked by S3, in a real browser: a part and a single PUT damaged on the way
(one byte flipped by NetProxy) are refused by an S3 that verifies checksums (ministack,
tests/e2e/checksum_server.py), the page sends them again from the file, and the objects
end byte-identical, with the CRC32C S3 holds in the record."""

from __future__ import annotations

import time

import pytest
from checksums import b64crc, verifying_server

from .netproxy_faults import PART, corrupt
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import MiB, open_widget, wait_final

pytestmark = pytest.mark.e2e


def hash_workers(page) -> int:
    """The page's Web Workers started from a blob: URL (the widget's hash workers)."""
    return sum(worker.url.startswith("blob:") for worker in page.workers)


def settled_hash_workers(page) -> int:
    """The hash workers once none has started for 2 s. Earlier widgets on the shared page
    have pools of their own, so "at least 2" held before this widget's pool had started
    (a worker that started after the count failed the test now and then)."""
    seen = {"count": -1, "since": 0.0}

    def settled():
        count, now = hash_workers(page), time.monotonic()
        if count != seen["count"]:
            seen.update(count=count, since=now)
        return count if count >= 2 and now - seen["since"] >= 2.0 else None

    return wait_until(
        settled, timeout=30, page=page, message="hash workers started with the widget"
    )


@pytest.fixture(scope="module")
def verifying_s3():
    with verifying_server() as server:
        yield server


def test_damaged_bytes_are_refused_by_s3_and_sent_again(
    proxied_nb, proxy, verifying_s3, notebook_name, tmp_path
):
    nb = proxied_nb
    bucket = verifying_s3.make_bucket(cors_origins=[nb.origin])
    big = make_random_file(tmp_path / "big.bin", 12 * MiB + 777, seed="integrity-big")
    small = make_random_file(tmp_path / "small.csv", 300_000, seed="integrity-small")
    proxy.clear()
    proxy.faults(
        [
            corrupt(method="PUT", query=PART, times=1, fraction=0.3),
            corrupt(method="PUT", when=lambda head: PART not in head.query, times=1),
        ]
    )
    kwargs = ", multipart_threshold=5 * 1024**2, part_size=5 * 1024**2"
    open_widget(nb, notebook_name, bucket, kwargs, endpoint=verifying_s3.endpoint_url)
    # The hash workers start when the widget appears (HashPool.warm), before any pick.
    workers_before = settled_hash_workers(nb.page)
    nb.pick_files(0, [big, small])
    records = {r["name"]: r for r in wait_final(nb, 2, timeout=120)}
    proxy.faults([])

    for path in (big, small):
        record = records[path.name]
        assert record["status"] == "done", record
        assert sha256_bytes(verifying_s3.get_bytes(bucket, record["key"])) == sha256_file(path)
        head = verifying_s3.client().head_object(
            Bucket=bucket, Key=record["key"], ChecksumMode="ENABLED"
        )
        assert head["ChecksumCRC32C"] == record["checksum_crc32c"]
    assert records["small.csv"]["checksum_crc32c"] == b64crc(small.read_bytes())
    assert records["big.bin"]["checksum_crc32c"].endswith("-3")
    # The parts' CRC32Cs S3 accepted were computed off the main thread (hash-pool.js), in
    # the workers started when the widget appeared (HashPool.warm): none started later.
    assert hash_workers(nb.page) == workers_before, nb.page.workers

    puts = [r for r in proxy.settle() if r.method == "PUT"]
    damaged = [r for r in puts if r.fault == "corrupt"]
    assert len(damaged) == 2, [(r.path, r.fault, r.status) for r in puts]
    for bad in damaged:
        assert bad.status == 400, bad  # S3 refused the damaged body: BadDigest
        path = bad.path.partition("?")[0]
        again = [r for r in puts if r.path.partition("?")[0] == path and r.started > bad.started]
        if bad.is_part:
            number = bad.path.split(PART)[1].split("&")[0]
            again = [r for r in again if f"{PART}{number}&" in r.path + "&"]
        assert any(r.status == 200 for r in again), (bad.path, [(r.path, r.status) for r in again])
