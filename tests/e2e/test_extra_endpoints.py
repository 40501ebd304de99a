"""``extra_endpoints``: the kernel signs requests for a second name of the same S3, and the
browser, which opens 6 connections per host name, has more than 6 PUTs in flight.

moto listens on 127.0.0.1; ``localhost`` reaches the same server under another host name
(its own connection pool in Chromium), as ``s3.dualstack.<region>.amazonaws.com`` reaches
the same bucket as ``s3.<region>.amazonaws.com``."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import pytest

from .browser import throttle_upload
from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import MiB, assert_all_done, assert_multipart_stored, open_widget, wait_final

pytestmark = pytest.mark.e2e

SECOND_NAME = (
    ', extra_endpoints=[os.environ["S3UW_TEST_ENDPOINT"].replace("127.0.0.1", "localhost")]'
)


class PutLog:
    """The page's PUTs in the order Chromium reported them: started and ended events, so
    that how many were open at once does not depend on when Python saw the events."""

    def __init__(self, page, s3_port: int):
        self.events: list[tuple[str, str]] = []  # ("start" | "end", host)
        self._page = page
        self._port = s3_port  # JupyterLab's own PUTs (settings, saves) are not counted
        self._handlers = {
            "request": lambda r: self._add("start", r),
            "requestfinished": lambda r: self._add("end", r),
            "requestfailed": lambda r: self._add("end", r),
        }
        for name, handler in self._handlers.items():
            page.on(name, handler)

    def _add(self, what: str, request) -> None:
        url = urlsplit(request.url)
        if request.method == "PUT" and url.port == self._port:
            self.events.append((what, url.hostname or ""))

    def hosts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for what, host in self.events:
            if what == "start":
                counts[host] = counts.get(host, 0) + 1
        return counts

    def most_open(self, host: str | None = None) -> int:
        open_now = most = 0
        for what, name in self.events:
            if host is None or name == host:
                open_now += 1 if what == "start" else -1
                most = max(most, open_now)
        return most

    def stop(self) -> None:
        for name, handler in self._handlers.items():
            with contextlib.suppress(Exception):
                self._page.remove_listener(name, handler)


def test_parts_go_to_both_names_with_more_than_six_in_flight(
    nb, s3, jupyter, notebook_name, tmp_path
):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    path = make_random_file(tmp_path / "wide.bin", 60 * MiB + 321, seed="wide")
    open_widget(nb, notebook_name, bucket, SECOND_NAME + ", multipart_threshold=5 * 1024**2")
    log = PutLog(nb.page, urlsplit(s3.endpoint_url).port)
    throttle_upload(nb.page, 12 * MiB)  # ~5 s for the file: its parts overlap visibly
    try:
        nb.pick_files(0, [path])
        (record,) = wait_final(nb, 1, timeout=120)
    finally:
        throttle_upload(nb.page, None)
        log.stop()
    # 2 names x 6 connections: one round of 12 equal parts of 5 MiB.
    assert_multipart_stored(s3, bucket, record, path, parts=12)
    assert log.hosts() == {"127.0.0.1": 6, "localhost": 6}, log.hosts()
    assert log.most_open() > 6, f"at most {log.most_open()} PUTs open at once: {log.events}"
    assert max(log.most_open("127.0.0.1"), log.most_open("localhost")) <= 6


def test_small_files_take_the_names_in_turn(nb, s3, jupyter, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    paths = [
        make_random_file(tmp_path / f"f{i:02}.bin", 40_000 + i, seed=f"small{i}") for i in range(24)
    ]
    open_widget(nb, notebook_name, bucket, SECOND_NAME)
    log = PutLog(nb.page, urlsplit(s3.endpoint_url).port)
    try:
        nb.pick_files(0, paths)
        records = wait_final(nb, len(paths), timeout=120)
    finally:
        log.stop()
    assert_all_done(records)
    assert log.hosts() == {"127.0.0.1": 12, "localhost": 12}, log.hosts()
    by_name = {r["name"]: r for r in records}
    for path in paths:
        stored = s3.get_bytes(bucket, by_name[path.name]["key"])
        assert sha256_bytes(stored) == sha256_file(path), path.name
