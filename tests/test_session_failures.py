"""No record stays half-way: a handler that fails for a known upload ends its record.

Each request kind is sent with the code behind its handler forced to raise (a bug of
ours, not an `UploadError`): the browser gets an ``internal`` answer, the record ends in
``error`` with words, a multipart upload is aborted in S3, and a waiting cell returns.
"""

from __future__ import annotations

import pytest
from session_helpers import BUCKET, Harness, MiB, s3, start_multipart

from s3_upload_widget import _diagnose, _parts, _verify
from s3_upload_widget import _protocol as P
from s3_upload_widget._errors import UploadError

__all__ = ["s3"]  # the fixture, used by name


def kaput(*_args, **_kwargs):
    raise RuntimeError("kaput")


def assert_ended(h: Harness, reply: dict, code: str = "internal") -> dict:
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    record = h.session.records[-1]
    assert record["status"] == "error", record
    assert record["error_code"] == code and record["error"]
    assert h.changes[-1][-1]["status"] == "error"  # the trait saw it too
    return record


def no_multipart_left(s3) -> bool:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_sign_that_raises_ends_the_record(s3, monkeypatch):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    signer = h.session._get_signer()
    monkeypatch.setattr(signer, "presign_put", kaput)
    record = assert_ended(h, h.request(P.SIGN, upload_id=record["id"]))
    assert "kaput" in record["error"]


def test_sign_of_a_multipart_upload_that_raises_ends_the_record(s3, monkeypatch):
    h = Harness(s3, multipart_threshold=5 * MiB)
    record = h.add("big.bin", 6 * MiB)
    monkeypatch.setattr(_parts, "plan_parts", kaput)
    assert_ended(h, h.request(P.SIGN, upload_id=record["id"]))
    assert no_multipart_left(s3)


def test_sign_parts_that_raises_ends_the_record_and_aborts(s3, monkeypatch):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 11 * MiB)
    assert not no_multipart_left(s3)
    monkeypatch.setattr(h.session._get_signer(), "presign_part", kaput)
    assert_ended(h, h.request(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[1]))
    assert no_multipart_left(s3)


def test_complete_that_raises_ends_the_record(s3, monkeypatch):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    s3.put_object(Bucket=BUCKET, Key=record["key"], Body=b"hello")
    monkeypatch.setattr(_verify, "verify_single", kaput)
    assert_ended(h, h.request(P.COMPLETE, upload_id=record["id"], etag=""))
    assert h.done == []  # no on_upload for an upload that did not finish


def test_complete_of_a_multipart_upload_that_raises_ends_and_aborts(s3, monkeypatch):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 11 * MiB)
    monkeypatch.setattr(h.session._get_signer(), "complete_multipart", kaput)
    parts = [{"part_number": n, "etag": '"x"'} for n in (1, 2, 3)]
    assert_ended(h, h.request(P.COMPLETE, upload_id=record["id"], parts=parts))
    assert no_multipart_left(s3)


def test_fail_that_raises_still_ends_the_record(s3, monkeypatch):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    monkeypatch.setattr(_diagnose, "explain_browser_failure", kaput)
    error = {"reason": "http", "status": 500}
    assert_ended(h, h.request(P.FAIL, upload_id=record["id"], error=error))


def test_cancel_whose_abort_raises_still_ends_the_record(s3, monkeypatch):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 11 * MiB)
    monkeypatch.setattr(h.session._get_signer(), "abort_multipart", kaput)
    reply = h.request(P.CANCEL, upload_id=record["id"])
    assert reply["ok"] and reply["result"]["record"]["status"] == "cancelled"
    assert h.changes[-1][-1]["status"] == "cancelled"
    # The abort is owed still: close() tries it again.
    monkeypatch.undo()
    h.session.close()
    assert no_multipart_left(s3)


def test_add_files_that_raises_adds_no_record(s3, monkeypatch):
    h = Harness(s3)
    h.add("first.csv", 5)
    calls = []

    def make_key_then_fail(info, **kwargs):
        calls.append(info.name)
        if len(calls) == 2:
            raise RuntimeError("kaput")
        return f"uploads/{info.name}"

    monkeypatch.setattr(h.policy, "make_key", make_key_then_fail)
    files = [{"name": n, "size": 5, "type": "text/csv"} for n in ("b.csv", "c.csv", "d.csv")]
    reply = h.request(P.ADD_FILES, files=files)
    assert reply["ok"] is False and reply["error"]["code"] == "internal"
    # All or nothing: b.csv was made before c.csv failed, and is gone again.
    assert [r["name"] for r in h.session.records] == ["first.csv"]


def test_hello_that_raises_is_answered_and_changes_nothing(s3, monkeypatch):
    h = Harness(s3)
    h.add("a.csv", 5)
    h.session._router._handlers[P.HELLO] = kaput
    reply = h.request(P.HELLO, origin="http://localhost:8888")
    assert reply["ok"] is False and reply["error"]["code"] == "internal"
    assert h.session.records[0]["status"] == "queued"


def test_progress_that_raises_is_swallowed(s3, monkeypatch):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    monkeypatch.setattr(h.session, "_changed", kaput)
    update = {"kind": P.PROGRESS, "updates": [{"upload_id": record["id"], "loaded": 3}]}
    assert h.session.handle(update) is None


def test_publishing_that_fails_still_ends_the_record(s3, monkeypatch):
    # Even when the trait cannot be published, the record itself ends: wait() sees it.
    h = Harness(s3)
    record = h.add("a.csv", 5)
    monkeypatch.setattr(h.session._get_signer(), "presign_put", kaput)
    monkeypatch.setattr(h.session, "_on_change", kaput)
    reply = h.request(P.SIGN, upload_id=record["id"])
    assert reply["ok"] is False
    assert h.session.records[0]["status"] == "error"


@pytest.mark.parametrize("kind", sorted(P.REQUEST_KINDS - {P.HELLO, P.ADD_FILES}))
def test_an_upload_error_for_a_known_upload_ends_it(s3, monkeypatch, kind):
    """Every per-upload kind: a refusal (UploadError) ends the record too."""
    h = Harness(s3)
    record = h.add("a.csv", 5)

    def refuse(args):
        raise UploadError("bad-request", "Refused for the test.", "")

    monkeypatch.setitem(h.session._router._handlers, kind, refuse)
    reply = h.request(kind, upload_id=record["id"])
    assert_ended(h, reply, code="bad-request")


# --- sizes the settings cannot upload ----------------------------------------------------


def test_a_file_needing_more_than_10000_parts_is_refused_when_added(s3):
    h = Harness(s3, part_size=5 * MiB)
    record = h.add("huge.bin", 60 * 10**9, "application/octet-stream")
    assert record["status"] == "error" and record["error_code"] == "too-large"
    assert "part_size" in record["error"] and "10,000" in record["error"]
    assert "at least 6,291,456 bytes (6 MiB)" in record["error"]
    h.error(P.SIGN, "bad-request", upload_id=record["id"])  # never signed


def test_settings_changed_after_adding_are_checked_at_sign(s3):
    h = Harness(s3)
    record = h.add("huge.bin", 60 * 10**9, "application/octet-stream")
    assert record["status"] == "queued"
    h.session.options.part_size = 5 * MiB  # as w.part_size = 5 * MiB would
    assert_ended(h, h.request(P.SIGN, upload_id=record["id"]), code="too-large")
    assert no_multipart_left(s3)
