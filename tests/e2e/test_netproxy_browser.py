"""The network NetProxy makes (tests/e2e/netproxy.py) with a real browser in it: Chromium
sends 127.0.0.1 (S3) through the proxy, the Jupyter page is opened at ``localhost`` and
goes direct (its websockets would need CONNECT). A multipart upload crosses the proxy,
shaped, and lands whole in moto."""

from __future__ import annotations

import pytest

from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import MiB, assert_multipart_stored, open_widget, wait_final

pytestmark = pytest.mark.e2e


def test_upload_crosses_the_shaped_proxy(proxied_nb, proxy, s3, notebook_name, tmp_path):
    nb = proxied_nb
    assert nb.origin.startswith("http://localhost:")
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    size = 7 * MiB + 4321
    path = make_random_file(tmp_path / "through the proxy.bin", size, seed="netproxy")
    proxy.clear()
    proxy.shape(per_connection_bps=24e6)  # a 5 MiB part takes >= 1.7 s

    open_widget(
        nb, notebook_name, bucket, ", multipart_threshold=5 * 1024**2, part_size=5 * 1024**2"
    )
    assert nb.page.url.startswith(nb.origin + "/lab/tree/"), nb.page.url
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=120)
    assert_multipart_stored(s3, bucket, record, path, parts=2)
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(path)

    everything = proxy.settle()
    # Chromium's own calls (http://update.googleapis.com...) reach the proxy too: refused
    # there, never resolved.
    refused = [r for r in everything if r.outcome.startswith("refused")]
    assert all(r.status == 403 and "127.0.0.1" not in r.target for r in refused), refused
    log = [r for r in everything if r not in refused]
    # Only S3's traffic crossed the proxy: the page, its API calls and its websockets
    # went to localhost directly.
    s3_target = s3.endpoint_url.removeprefix("http://")
    assert {r.target for r in log} == {s3_target}, [(r.method, r.target, r.path) for r in log]
    puts = [r for r in log if r.method == "PUT"]
    assert sorted(r.path.split("partNumber=")[1].split("&")[0] for r in puts) == ["1", "2"]
    assert all(r.status == 200 and r.outcome == "ok" and r.fault is None for r in puts), puts
    assert all(r.path.startswith(f"/{bucket}/{record['key'].replace(' ', '%20')}?") for r in puts)
    assert sorted(r.body_received for r in puts) == [size - 5 * MiB, 5 * MiB], puts
    assert sum(r.body_forwarded for r in puts) == size
    counts = proxy.counters()
    assert counts["part_puts"] == 2 and counts["preflights"] >= 1, counts
    start, end = proxy.transfer_window()
    assert end - start >= 1.2, (start, end)  # the cap held with Chromium as the client
