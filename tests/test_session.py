"""The message router: every request kind, good and bad, against moto in process."""

from __future__ import annotations

import urllib.parse

import pytest
from checksums import b64crc
from session_helpers import BUCKET, Harness, MiB, s3, start_multipart, upload_single

from s3_upload_widget import _protocol as P
from s3_upload_widget._parts import MAX_PARTS_PER_REQUEST

__all__ = ["s3"]  # the fixture, used by name


# --- add-files ---------------------------------------------------------------------


def test_add_files_creates_queued_records_under_prefix(s3):
    h = Harness(s3)
    record = h.add("résumé final.csv", 12)
    assert record["status"] == "queued"
    assert record["key"].startswith("uploads/")
    assert record["key"].endswith("/résumé final.csv")
    assert record["s3_uri"] == f"s3://{BUCKET}/{record['key']}"
    assert record["bucket"] == BUCKET and record["size"] == 12 and record["loaded"] == 0
    assert set(record) >= {
        "id", "name", "size", "content_type", "bucket", "key", "status", "loaded", "etag", "error",
    }  # fmt: skip
    assert h.changes[-1][0]["id"] == record["id"]
    assert h.signer_calls == 0  # nothing signed, not even a region lookup, before it is needed


def test_refused_file_gets_error_record_and_is_never_signed(s3):
    h = Harness(s3, max_size=10)
    record = h.add("big.bin", 11)
    assert record["status"] == "error"
    assert record["error_code"] == "too-large"
    assert "big.bin" in record["error"]
    h.error(P.SIGN, "bad-request", upload_id=record["id"])
    assert h.signer_calls == 0


def test_too_many_files_refuses_the_batch(s3):
    h = Harness(s3, max_files=2)
    files = [{"name": f"f{i}.txt", "size": 1, "type": "text/plain"} for i in range(3)]
    err = h.error(P.ADD_FILES, "too-many-files", files=files)
    assert "2" in err["message"]
    assert h.session.records == []


def test_a_flood_of_records_is_capped(s3, monkeypatch):
    from s3_upload_widget import _intake

    monkeypatch.setattr(_intake, "MAX_RECORDS", 3)
    h = Harness(s3)
    files = [{"name": f"f{i}.txt", "size": 1, "type": "text/plain"} for i in range(2)]
    h.ok(P.ADD_FILES, files=files)
    err = h.error(P.ADD_FILES, "too-many-files", files=files)
    assert "w.clear()" in err["hint"]
    assert len(h.session.records) == 2


def test_single_file_widget_refuses_two_files(s3):
    h = Harness(s3, multiple=False)
    files = [{"name": f"f{i}.txt", "size": 1, "type": "text/plain"} for i in range(2)]
    err = h.error(P.ADD_FILES, "too-many-files", files=files)
    assert "multiple=True" in err["hint"]


@pytest.mark.parametrize(
    "files",
    [
        None,
        [],
        "a.txt",
        [{"name": "a.txt", "size": -1, "type": ""}],
        [{"name": "a.txt", "size": "5", "type": ""}],
        [{"name": "a.txt", "size": True, "type": ""}],
        [{"size": 5, "type": ""}],
        [{"name": "ok.txt", "size": 1, "type": ""}, {"name": 5, "size": 1, "type": ""}],
    ],
)
def test_malformed_add_files_gets_error_reply_and_adds_nothing(s3, files):
    h = Harness(s3)
    h.error(P.ADD_FILES, "bad-request", files=files)
    assert h.session.records == []


# --- envelopes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        ("not a dict", "unknown-response"),
        ({"id": "1", "kind": "launch-missiles", "args": {}}, "launch-missiles-response"),
        ({"id": "1", "args": {}}, "unknown-response"),
        ({"id": "1", "kind": 7, "args": {}}, "unknown-response"),
        ({"kind": P.SIGN, "args": {}}, "sign-response"),
        ({"id": True, "kind": P.SIGN, "args": {}}, "sign-response"),
        ({"id": "1", "kind": P.SIGN, "args": "x"}, "sign-response"),
    ],
)
def test_malformed_envelopes_get_error_replies(s3, msg, kind):
    reply = Harness(s3).session.handle(msg)
    assert reply["ok"] is False
    assert reply["kind"] == kind
    assert reply["error"]["code"] == "bad-request"


def test_replayed_request_id_is_refused(s3):
    h = Harness(s3)
    msg = {"id": "same", "kind": P.HELLO, "args": {"origin": "http://a"}}
    assert h.session.handle(msg)["ok"] is True
    again = h.session.handle(dict(msg))
    assert again["ok"] is False and "already used" in again["error"]["message"]


def test_unknown_upload_id_is_refused_for_every_kind(s3):
    h = Harness(s3)
    for kind in (P.SIGN, P.SIGN_PARTS, P.COMPLETE, P.FAIL, P.CANCEL):
        h.error(kind, "unknown-upload", upload_id="nope", part_numbers=[1], etag="x", error={})
        h.error(kind, "unknown-upload", upload_id=None)


def test_a_handler_bug_still_gets_an_answer(s3):
    h = Harness(s3)

    def boom(args):
        raise RuntimeError("kaput")

    h.session._router._handlers[P.HELLO] = boom
    reply = h.request(P.HELLO)
    assert reply["ok"] is False and reply["error"]["code"] == "internal"
    assert "kaput" in reply["error"]["message"]


def test_progress_notifications_update_loaded_and_ignore_junk(s3):
    h = Harness(s3)
    record = h.add(size=100)
    h.ok(P.SIGN, upload_id=record["id"])
    junk = [None, {"upload_id": "other", "loaded": 5}, {"upload_id": record["id"], "loaded": "x"}]
    updates = [*junk, {"upload_id": record["id"], "loaded": 40}]
    assert h.session.handle({"kind": P.PROGRESS, "updates": updates}) is None
    assert h.session.records[0]["loaded"] == 40
    h.session.handle(
        {"kind": P.PROGRESS, "updates": [{"upload_id": record["id"], "loaded": 10**9}]}
    )
    assert h.session.records[0]["loaded"] == 100  # never more than the file
    assert h.session.handle({"kind": P.PROGRESS, "updates": "junk"}) is None


# --- single PUT ----------------------------------------------------------------------


def test_sign_single_put_signs_type_length_and_no_overwrite(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    signed = h.ok(P.SIGN, upload_id=record["id"])
    assert signed["method"] == "PUT"
    assert signed["headers"]["Content-Type"] == "text/csv"
    assert signed["headers"]["If-None-Match"] == "*"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(signed["url"]).query)
    signed_headers = query["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-length", "content-type", "if-none-match"} <= set(signed_headers)
    assert query["X-Amz-Expires"] == ["300"]
    assert h.session.records[0]["status"] == "uploading"
    # The URL is for the browser only: it is in no record.
    assert signed["url"] not in repr(h.changes)


def test_complete_single_put_marks_done_and_reports(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    done = upload_single(h, record, b"hello")
    assert done["status"] == "done" and done["loaded"] == 5 and done["etag"]
    assert h.done == [done]


def test_complete_with_wrong_size_in_s3_is_an_error(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    s3.put_object(Bucket=BUCKET, Key=record["key"], Body=b"hello world")
    err = h.error(P.COMPLETE, "size-mismatch", upload_id=record["id"], etag="")
    assert "did not arrive, or the object was replaced" in err["message"]
    assert h.session.records[0]["status"] == "error"
    assert h.done == []


def test_complete_before_sign_or_twice_is_refused(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.error(P.COMPLETE, "bad-request", upload_id=record["id"], etag='"x"')
    # A refused request ends its upload: the browser gives the file up too.
    assert h.session.records[0]["status"] == "error"
    again = h.add("a.csv", 5)
    upload_single(h, again, b"hello")
    h.error(P.COMPLETE, "bad-request", upload_id=again["id"], etag='"x"')
    assert len(h.done) == 1 and h.session.records[1]["status"] == "done"


def test_complete_with_unreadable_etag_reads_it_from_s3(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    stored = s3.put_object(Bucket=BUCKET, Key=record["key"], Body=b"hello")
    done = h.ok(P.COMPLETE, upload_id=record["id"], etag="")["record"]
    assert done["status"] == "done" and done["etag"] == stored["ETag"]


def test_complete_without_etag_is_refused(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    h.error(P.COMPLETE, "bad-request", upload_id=record["id"], etag=5)
    ended = h.session.records[0]
    assert ended["status"] == "error" and ended["error_code"] == "bad-request"


def test_existing_key_refused_before_any_byte_when_overwrite_is_off(s3):
    # Said before any byte is sent, for small files too: S3's 412 for the signed
    # If-None-Match may come without CORS headers (moto), and s3rver ignores it.
    h = Harness(s3, key_template="{prefix}{filename}")
    s3.put_object(Bucket=BUCKET, Key="uploads/a.csv", Body=b"old")
    record = h.add("a.csv", 5)
    err = h.error(P.SIGN, "key-exists", upload_id=record["id"])
    assert "uploads/a.csv" in err["message"] and "overwrite=True" in err["hint"]
    assert h.session.records[0]["status"] == "error"


def test_a_412_reported_by_the_page_ends_the_record_as_key_exists(s3):
    """The signed If-None-Match still guards a write racing the check."""
    h = Harness(s3, key_template="{prefix}{filename}")
    record = h.add("a.csv", 5)
    signed = h.ok(P.SIGN, upload_id=record["id"])
    assert signed["headers"]["If-None-Match"] == "*"
    error = {"reason": "http", "status": 412, "s3_code": "PreconditionFailed"}
    final = h.ok(P.FAIL, upload_id=record["id"], error=error)["record"]
    assert final["status"] == "error" and final["error_code"] == "key-exists"


def test_overwrite_on_signs_without_if_none_match(s3):
    h = Harness(s3, overwrite=True, key_template="{prefix}{filename}")
    s3.put_object(Bucket=BUCKET, Key="uploads/a.csv", Body=b"old")
    signed = h.ok(P.SIGN, upload_id=h.add("a.csv", 5)["id"])
    assert "If-None-Match" not in signed["headers"]


def test_expired_single_put_can_be_signed_again(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    first = h.ok(P.SIGN, upload_id=record["id"])
    again = h.ok(P.SIGN, upload_id=record["id"])
    assert again["mode"] == "single" and again["url"]
    assert first["headers"] == again["headers"]


def test_empty_file_uploads(s3):
    h = Harness(s3)
    record = h.add("empty.bin", 0, "")
    assert record["content_type"] == "application/octet-stream"
    assert upload_single(h, record, b"")["status"] == "done"


# --- multipart -----------------------------------------------------------------------


def test_multipart_sign_parts_complete(s3):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    size = 11 * MiB
    record, plan = start_multipart(h, size)
    assert plan == {
        "mode": "multipart",
        "part_size": 5 * MiB,
        "part_count": 3,
        "checksum": "CRC32C",
    }
    parts = h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[3, 1])["parts"]
    assert [p["part_number"] for p in parts] == [1, 3]
    assert [p["length"] for p in parts] == [5 * MiB, 1 * MiB]
    h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[2])
    upload_id = h.session._uploads[record["id"]].s3_upload_id
    etags = []
    for n, length in ((1, 5 * MiB), (2, 5 * MiB), (3, 1 * MiB)):
        r = s3.upload_part(
            Bucket=BUCKET, Key=record["key"], UploadId=upload_id, PartNumber=n, Body=b"x" * length
        )
        etags.append({"part_number": n, "etag": r["ETag"]})
    done = h.ok(P.COMPLETE, upload_id=record["id"], parts=etags)["record"]
    assert done["status"] == "done" and done["multipart"] is True
    assert s3.head_object(Bucket=BUCKET, Key=record["key"])["ContentLength"] == size
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


@pytest.mark.parametrize(
    "numbers",
    [[0], [4], [-1], ["1"], [True], [], None, list(range(1, MAX_PARTS_PER_REQUEST + 2))],
)
def test_sign_parts_rejects_bad_part_numbers(s3, numbers):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 11 * MiB)
    h.error(P.SIGN_PARTS, "bad-request", upload_id=record["id"], part_numbers=numbers)
    # The upload the bad request was about ends, and S3 keeps no parts of it.
    assert h.session.records[0]["status"] == "error"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_sign_parts_for_a_single_put_is_refused(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    h.ok(P.SIGN, upload_id=record["id"])
    h.error(P.SIGN_PARTS, "bad-request", upload_id=record["id"], part_numbers=[1])


def test_cancel_aborts_multipart_upload(s3):
    h = Harness(s3, multipart_threshold=5 * MiB)
    record, _ = start_multipart(h, 6 * MiB)
    assert len(s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]) == 1
    done = h.ok(P.CANCEL, upload_id=record["id"])["record"]
    assert done["status"] == "cancelled"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    h.error(P.SIGN_PARTS, "bad-request", upload_id=record["id"], part_numbers=[1])


def test_close_aborts_every_unfinished_multipart_upload(s3):
    h = Harness(s3, multipart_threshold=5 * MiB)
    start_multipart(h, 6 * MiB)
    start_multipart(h, 7 * MiB)
    h.session.close()
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert {r["status"] for r in h.session.records} == {"cancelled"}


def test_complete_multipart_with_missing_parts_is_refused(s3):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    record, _ = start_multipart(h, 11 * MiB)
    h.error(P.COMPLETE, "bad-request", upload_id=record["id"], parts=[])


# --- fail and cancel ----------------------------------------------------------------


def test_network_failure_checks_cors_and_names_the_origin(s3):
    h = Harness(s3)
    h.ok(P.HELLO, origin="http://127.0.0.1:8888")
    record = h.add()
    h.ok(P.SIGN, upload_id=record["id"])
    failed = h.ok(P.FAIL, upload_id=record["id"], error={"reason": "network", "status": 0})[
        "record"
    ]
    assert failed["status"] == "error" and failed["error_code"] == "cors"
    assert "http://127.0.0.1:8888" in failed["error"]
    assert h.cors_checks == ["http://127.0.0.1:8888"]


def test_http_failure_quotes_s3(s3):
    h = Harness(s3)
    record = h.add()
    h.ok(P.SIGN, upload_id=record["id"])
    error = {"reason": "http", "status": 400, "s3_code": "EntityTooSmall", "s3_message": "Small"}
    failed = h.ok(P.FAIL, upload_id=record["id"], error=error)["record"]
    assert failed["status"] == "error" and "EntityTooSmall" in failed["error"]


def test_fail_with_junk_fields_still_fails_cleanly(s3):
    h = Harness(s3)
    record = h.add()
    h.error(P.FAIL, "bad-request", upload_id=record["id"], error="x")
    error = {"reason": "bogus", "status": "x", "part_number": [], "s3_code": 5}
    failed = h.ok(P.FAIL, upload_id=record["id"], error=error)["record"]
    assert failed["status"] == "error" and failed["error"]


def test_fail_after_done_changes_nothing(s3):
    h = Harness(s3)
    record = h.add("a.csv", 5)
    upload_single(h, record, b"hello")
    again = h.ok(P.FAIL, upload_id=record["id"], error={"reason": "network"})["record"]
    assert again["status"] == "done"


def test_cancel_from_python_and_clear(s3):
    h = Harness(s3)
    a, b = h.add("a.csv", 5), h.add("b.csv", 5)
    upload_single(h, a, b"hello")
    assert h.session.cancel() == [b["id"]]
    assert [r["status"] for r in h.session.records] == ["done", "cancelled"]
    with pytest.raises(KeyError, match="nope"):
        h.session.cancel("nope")
    h.session.clear()
    assert h.session.records == []


def test_one_upload_failing_leaves_the_others_alone(s3):
    h = Harness(s3)
    a, b = h.add("a.csv", 5), h.add("b.csv", 5)
    h.ok(P.SIGN, upload_id=a["id"])
    h.ok(P.SIGN, upload_id=b["id"])
    h.ok(P.FAIL, upload_id=a["id"], error={"reason": "stall"})
    statuses = {r["name"]: r["status"] for r in h.session.records}
    assert statuses == {"a.csv": "error", "b.csv": "uploading"}


def test_extra_endpoints_plan_whole_rounds_over_every_name_and_sign_in_turn(s3):
    """Two names x concurrency 3: a round is 6 parts, and the part URLs alternate names."""
    alias = "https://s3.dualstack.us-east-1.amazonaws.com"  # moto in-process answers it too
    h = Harness(s3, multipart_threshold=5 * MiB, concurrency=3, extra_endpoints=(alias,))
    record, plan = start_multipart(h, 60 * MiB)
    assert (plan["part_size"], plan["part_count"]) == (10 * MiB, 6)
    parts = h.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=[1, 2, 3, 4])["parts"]
    hosts = [p["url"].split("/")[2] for p in parts]
    own, dual = f"{BUCKET}.s3.amazonaws.com", f"{BUCKET}.s3.dualstack.us-east-1.amazonaws.com"
    assert hosts == [own, dual, own, dual]


def test_a_first_view_warms_the_signer_aside_so_the_first_pick_does_not_wait(s3):
    alias = "https://s3.dualstack.us-east-1.amazonaws.com"
    h = Harness(s3, warm_signer=True, extra_endpoints=(alias,))  # as the widget makes it
    assert h.signer_calls == 0
    h.ok(P.HELLO, origin="http://127.0.0.1:8888")
    h.session._warmer.join(timeout=30)
    assert h.signer_calls == 1
    assert h.session._signer._host_clients is not None, "both signing clients made"
    assert len(h.session._signer._host_clients) == 2
    h.ok(P.HELLO, origin="http://127.0.0.1:8888")  # another view: nothing more
    assert h.signer_calls == 1
    assert h.session.close() == []  # and close() waits for a warm-up still running


def test_a_view_still_says_hello_when_the_signer_cannot_be_made(s3):
    h = Harness(s3, warm_signer=True)

    def broken():
        raise RuntimeError("no client")

    h.session._signer_factory = broken
    assert h.ok(P.HELLO, origin="http://127.0.0.1:8888") == {"records": []}


# --- a single PUT whose answer was lost -------------------------------------------------


def _put_as_the_page(h: Harness, record: dict, body: bytes, checksum: str) -> dict:
    signed = h.ok(P.SIGN, upload_id=record["id"], checksum=checksum)
    h.client.put_object(
        Bucket=BUCKET,
        Key=record["key"],
        Body=body,
        ContentType=signed["headers"]["Content-Type"],
        ChecksumAlgorithm="CRC32C",  # moto keeps a checksum only when the SDK names it
        ChecksumCRC32C=checksum,
    )
    return signed


def test_a_put_stored_but_reported_failed_is_done(s3):
    """The page's try stored the body but its answer was lost; the retry met the 412 of
    If-None-Match (or a network error) and the page reports a failure: the kernel finds
    the object of the signed size and CRC32C, written after the signature, and it is done."""
    h = Harness(s3)
    body = b"id,value\n1,2\n"
    record = h.add("lost-answer.csv", len(body))
    _put_as_the_page(h, record, body, b64crc(body))
    failure = {"reason": "http", "status": 412, "s3_code": "PreconditionFailed"}
    done = h.ok(P.FAIL, upload_id=record["id"], error=failure)["record"]
    assert done["status"] == "done", done
    assert done["checksum_crc32c"] == b64crc(body) and done["etag"], done


def test_a_failed_put_whose_key_holds_other_bytes_stays_failed(s3):
    """Another writer's object of the same size at the key (another CRC32C) is never
    taken for this upload's: the failure stands, and the object is left alone."""
    h = Harness(s3)
    body, other = b"id,value\n1,2\n", b"id,value\n9,9\n"
    record = h.add("replaced.csv", len(body))
    h.ok(P.SIGN, upload_id=record["id"], checksum=b64crc(body))
    s3.put_object(
        Bucket=BUCKET,
        Key=record["key"],
        Body=other,
        ChecksumAlgorithm="CRC32C",
        ChecksumCRC32C=b64crc(other),
    )
    failure = {"reason": "network"}
    failed = h.ok(P.FAIL, upload_id=record["id"], error=failure)["record"]
    assert failed["status"] == "error", failed
    assert s3.get_object(Bucket=BUCKET, Key=record["key"])["Body"].read() == other
