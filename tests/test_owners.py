"""Two windows of one widget (_owners.py): a page takes over another page's multipart
upload only once that page stopped moving it (`ELSEWHERE_S`), and from then on the old
page's requests about it are refused with ``in-another-window``, which leaves the upload
to the new page. Pages are told apart by their request ids' prefix (Harness.page).
"""

from __future__ import annotations

import pytest
from checksums import b64crc
from session_helpers import BUCKET, MiB
from test_resume import BODIES, DATA, add, harness, interrupted, put_part

from s3_upload_widget import _owners
from s3_upload_widget import _protocol as P

SIZE_NEARLY_ALL = len(DATA) - 1


@pytest.fixture
def s3(s3_client):
    """moto in process, with the bucket BUCKET."""
    return s3_client


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock _owners reads, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(_owners.time, "monotonic", lambda: now[0])
    return now


def progress(h, record, loaded):
    h.session.handle({"kind": P.PROGRESS, "page": h.page,
                      "updates": [{"upload_id": record["id"], "loaded": loaded}]})  # fmt: skip


def test_page_of_reads_a_request_id_or_a_notification():
    assert _owners.page_of({"id": "k3x9qa-17", "kind": P.SIGN}) == "k3x9qa"
    assert _owners.page_of({"kind": P.PROGRESS, "page": "k3x9qa"}) == "k3x9qa"
    assert _owners.page_of({"id": "r1", "kind": P.SIGN}) == ""  # names no page
    assert _owners.page_of({"kind": P.PROGRESS, "page": 7}) == ""
    assert _owners.page_of("not a message") == ""


def test_an_upload_another_window_still_sends_is_neither_offered_nor_adopted(s3, clock):
    h = harness(s3)
    h.page = "pageA"
    record, _ = interrupted(h, parts=(1,))
    clock[0] += 4
    progress(h, record, 5 * MiB + 100)  # A's bytes move
    clock[0] += 9  # 13 s since A signed, 9 s since its bytes moved
    h.page = "pageB"
    entry = add(h)  # B picks the same file
    assert entry["id"] == record["id"] and entry["elsewhere"] is True and "resume" not in entry
    assert len(h.session.records) == 1  # no second upload of it
    err = h.error(P.ADOPT, "in-another-window", upload_id=record["id"], checksum=b64crc(BODIES[1]))
    assert "another window" in err["message"] and err["hint"]
    assert h.session.records[0]["status"] == "uploading"  # A's upload goes on
    # A goes on untroubled.
    h.page = "pageA"
    put_part(h, record, 2)
    assert h.session.records[0]["status"] == "uploading"


def test_once_the_other_window_stops_this_one_takes_over_and_the_old_one_is_refused(s3, clock):
    h = harness(s3)
    h.page = "pageA"
    record, etags = interrupted(h, parts=(1,))
    clock[0] += _owners.ELSEWHERE_S + 1  # A went away (or paused) 11 s ago
    h.page = "pageB"
    entry = add(h)
    assert "elsewhere" not in entry and entry["resume"]["part_number"] == 1
    adopted = h.ok(P.ADOPT, upload_id=record["id"], checksum=b64crc(BODIES[1]))
    assert adopted["adopted"] is True
    # A comes back (a laptop that slept): each of its requests is refused, none ends the
    # upload, and its progress is not taken.
    h.page = "pageA"
    h.error(P.SIGN_PARTS, "in-another-window", upload_id=record["id"], part_numbers=[2])
    h.error(P.PAUSE, "in-another-window", upload_id=record["id"])
    parts = [{"part_number": n, "etag": etags[1]} for n in (1, 2, 3)]
    h.error(P.COMPLETE, "in-another-window", upload_id=record["id"], parts=parts)
    h.error(P.FAIL, "in-another-window", upload_id=record["id"], error={"reason": "network"})
    loaded = h.session.records[0]["loaded"]
    progress(h, record, SIZE_NEARLY_ALL)
    assert h.session.records[0]["loaded"] == loaded
    assert h.session.records[0]["status"] == "uploading"
    # B finishes it: the object is the file.
    h.page = "pageB"
    for n in (2, 3):
        etags[n] = put_part(h, record, n)
    parts = [{"part_number": n, "etag": etags[n]} for n in (1, 2, 3)]
    assert h.ok(P.COMPLETE, upload_id=record["id"], parts=parts)["record"]["status"] == "done"
    assert s3.get_object(Bucket=BUCKET, Key=record["key"])["Body"].read() == DATA


def test_any_window_may_cancel_it(s3, clock):
    h = harness(s3)
    h.page = "pageA"
    record, _ = interrupted(h, parts=(1,))
    h.page = "pageB"
    assert h.ok(P.CANCEL, upload_id=record["id"])["record"]["status"] == "cancelled"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
