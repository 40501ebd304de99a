"""Two connection pools per S3 host name in a real browser (js/src/in-flight.js): with
``connection_pools=2`` half the page's requests go with credentials, which Chromium
keeps on connections of their own, so the link through the proxy carries up to 12
requests at once to one host name instead of 6. When the S3 does not answer credentialed
requests (a CORS rule of ``*``: S3 then answers ``Access-Control-Allow-Origin: *``), the
page falls back to one pool and every file still arrives byte-identical."""

from __future__ import annotations

import pytest

from .support import make_random_file, sha256_bytes, sha256_file
from .test_queue_ahead import (
    COUNT_OPEN_XHRS,
    most_at_once,
    pick_over_a_slow_link,
    requests_to_s3,
)
from .widget_helpers import assert_all_done, open_widget, wait_final

pytestmark = pytest.mark.e2e


def _upload_small_files(nb, proxy, s3, notebook_name, tmp_path, *, origins, count=36):
    bucket = s3.make_bucket(cors_origins=origins)
    files = [
        make_random_file(tmp_path / f"p{i:02}.csv", 20_000 + i, seed=f"pool{i}")
        for i in range(count)
    ]
    open_widget(nb, notebook_name, bucket, kwargs=", form_posts=True, connection_pools=2")
    # each request a round trip long: the pools have time to fill
    seen = pick_over_a_slow_link(nb, proxy, s3, bucket, files, rtt=0.15)
    return files, requests_to_s3(proxy, s3, "POST"), seen["credentialed"]


def test_two_pools_carry_twice_the_requests_to_one_host_name(
    proxied_nb, proxy, s3, notebook_name, tmp_path
):
    files, log, credentialed = _upload_small_files(
        proxied_nb, proxy, s3, notebook_name, tmp_path, origins=[proxied_nb.origin]
    )
    assert len(log) == len(files), "each file one POST: no credentialed one was refused"
    # About half went with credentials...
    assert len(files) // 3 <= credentialed <= len(files) * 2 // 3, credentialed
    # ...and the link carried more than one pool's 6 at once, at most two pools' 12.
    assert 6 < most_at_once([(r.started, r.ended) for r in log]) <= 12


def test_a_server_that_refuses_credentials_falls_back_to_one_pool(
    proxied_nb, proxy, s3, notebook_name, tmp_path
):
    # A rule for every origin: S3 (and moto, made to answer like it) then sends
    # "Access-Control-Allow-Origin: *", which a credentialed request may not use.
    files, log, credentialed = _upload_small_files(
        proxied_nb, proxy, s3, notebook_name, tmp_path, origins=["*"]
    )
    assert credentialed >= 1, "the page tried the second pool"
    # It stopped at the first refusals (half of 36 files would be 18 and more)...
    assert credentialed <= 12, credentialed
    # ...and each refused POST (stored, its answer hidden) was sent again without credentials.
    assert len(log) == len(files) + credentialed


def test_two_pools_carry_twice_the_parts_of_one_file(
    proxied_nb, proxy, s3, notebook_name, tmp_path
):
    nb = proxied_nb
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    path = make_random_file(tmp_path / "big.bin", 60 * 1024 * 1024 + 123, seed="pools-big")
    options = ", connection_pools=2, part_size=5 * 1024 * 1024, multipart_threshold=8 * 1024 * 1024"
    open_widget(nb, notebook_name, bucket, kwargs=options)
    nb.page.evaluate(COUNT_OPEN_XHRS, s3.endpoint_url)
    # Slow enough per connection that every part is still moving when the last one starts.
    proxy.shape(per_connection_bps=40e6, rtt=0.05)
    nb.pick_files(0, [path])
    records = wait_final(nb, 1, timeout=180)
    proxy.shape()
    assert_all_done(records)
    data = s3.get_bytes(bucket, records[0]["key"])
    assert sha256_bytes(data) == sha256_file(path)
    assert s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    parts = requests_to_s3(proxy, s3, "PUT")
    assert len(parts) == 13, "13 parts, each sent once: no credentialed preflight was refused"
    assert nb.page.evaluate("window.__openXhrs.credentialed") >= 5
    assert 6 < most_at_once([(r.started, r.ended) for r in parts]) <= 12
