"""Queue ahead in a real browser (js/src/in-flight.js): with the default parallel_files,
the page hands Chromium more small files' requests than its 6 connections to S3, the
extra ones wait inside the browser and start as connections free; the link through the
proxy still carries at most 6 at once, and every file arrives byte-identical."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .support import make_random_file
from .widget_helpers import assert_all_done, assert_files_stored, open_widget, wait_final

pytestmark = pytest.mark.e2e

# Counts the page's requests to S3 that were sent and have not ended, the most at once,
# and those sent with credentials (the browser's second pool: test_connection_pools.py).
COUNT_OPEN_XHRS = """(origin) => {
  const seen = (window.__openXhrs = { most: 0, sent: 0, credentialed: 0 });
  const open = new Set(); // sent and not DONE (readyState 4 comes before the load event)
  const send = XMLHttpRequest.prototype.send;
  const openRequest = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.__toS3 = String(url).startsWith(origin);
    return openRequest.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (this.__toS3) {
      seen.sent++;
      if (this.withCredentials) seen.credentialed++;
      for (const xhr of open) if (xhr.readyState === 4) open.delete(xhr);
      open.add(this);
      seen.most = Math.max(seen.most, open.size);
    }
    return send.apply(this, args);
  };
}"""


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def requests_to_s3(proxy, s3, method: str) -> list:
    """The proxy's log of ``method`` requests to the S3 server, once none is in flight
    (Chromium's own calls, e.g. its component updater's POST, are in the log too)."""
    host = urlsplit(s3.endpoint_url).netloc
    return [r for r in proxy.settle() if r.method == method and r.target == host]  # host:port


def pick_over_a_slow_link(nb, proxy, s3, bucket: str, files: list, *, rtt: float) -> dict:
    """Pick ``files`` (the widget of cell 0 is showing) with every request to S3 a round
    trip of ``rtt`` long, so that requests pile up; check every file arrived byte for
    byte; return the page's counts of its requests to S3 (`COUNT_OPEN_XHRS`)."""
    nb.page.evaluate(COUNT_OPEN_XHRS, s3.endpoint_url)
    proxy.shape(rtt=rtt)
    nb.pick_files(0, files)
    records = wait_final(nb, len(files), timeout=120)
    proxy.shape()
    assert_all_done(records)
    assert_files_stored(s3, bucket, records, files)
    return nb.page.evaluate("window.__openXhrs")


def test_small_files_queue_ahead_inside_the_browser(proxied_nb, proxy, s3, notebook_name, tmp_path):
    nb = proxied_nb
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    files = [
        make_random_file(tmp_path / f"f{i:02}.csv", 20_000 + i, seed=f"q{i}") for i in range(36)
    ]
    open_widget(nb, notebook_name, bucket, kwargs=", form_posts=True, connection_pools=1")
    # each request a round trip long: the queue has time to fill
    seen = pick_over_a_slow_link(nb, proxy, s3, bucket, files, rtt=0.15)
    assert seen["sent"] == len(files), seen
    # The page had more requests out than the browser has connections to S3...
    assert seen["most"] > 6, seen
    # ...and the link carried 6 at most: the others waited inside the browser.
    log = requests_to_s3(proxy, s3, "POST")
    assert len(log) == len(files)
    assert most_at_once([(r.started, r.ended) for r in log]) <= 6
