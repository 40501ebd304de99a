"""sign-files and complete-files: many files per request, each as if on its own.

Against moto in process: a batch signs and completes every file it names, one file's
failure ends that file only, a malformed batch is refused whole, and the records are
published once per message, as patches for the page.
"""

from __future__ import annotations

import pytest
from session_helpers import BUCKET, Harness, MiB, with_page_checksums

from s3_upload_widget import _protocol as P
from s3_upload_widget import _verify


@pytest.fixture
def s3(s3_client):
    """moto in process, with the bucket BUCKET (tests/conftest.py)."""
    return s3_client


def add_many(h: Harness, n: int, size: int = 5) -> list[dict]:
    files = [{"name": f"f{i}.csv", "size": size, "type": "text/csv"} for i in range(n)]
    return h.ok(P.ADD_FILES, files=files)["uploads"]


def put(h: Harness, record: dict, body: bytes) -> str:
    return h.client.put_object(Bucket=BUCKET, Key=record["key"], Body=body)["ETag"]


def test_a_batch_signs_every_file_in_order_and_publishes_once(s3):
    h = Harness(s3)
    records = add_many(h, 10)
    before = len(h.changes)
    answer = h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in records])
    assert [e["upload_id"] for e in answer["results"]] == [r["id"] for r in records]
    for entry in answer["results"]:
        assert entry["ok"] is True
        assert entry["result"]["mode"] == "single" and entry["result"]["url"]
        assert entry["result"]["headers"]["If-None-Match"] == "*"
    assert len(h.changes) == before + 1  # one publication for the whole message
    assert {r["status"] for r in h.changes[-1]} == {"uploading"}
    assert h.deltas[-1]["records"] == [{"id": r["id"], "status": "uploading"} for r in records]


def test_one_bad_file_in_a_batch_ends_only_that_file(s3):
    h = Harness(s3)
    good, refused = add_many(h, 2)
    h.session.policy.max_size = 4  # tightened after the files were added: sign checks again
    h.session.policy.max_size = None
    h.ok(P.CANCEL, upload_id=refused["id"])  # a cancelled file is no longer signable
    answer = h.ok(P.SIGN_FILES, upload_ids=[refused["id"], "nobody", good["id"]])
    first, unknown, last = answer["results"]
    assert first["ok"] is False and first["error"]["code"] == "bad-request"
    assert "cancelled" in first["error"]["message"]
    assert unknown["ok"] is False and unknown["error"]["code"] == "unknown-upload"
    assert last["ok"] is True and last["result"]["url"]
    statuses = {r["id"]: r["status"] for r in h.session.records}
    assert statuses == {good["id"]: "uploading", refused["id"]: "cancelled"}


def test_a_file_the_rules_now_refuse_fails_alone(s3):
    h = Harness(s3, accept=".csv,.txt")
    kept, dropped = h.ok(
        P.ADD_FILES,
        files=[
            {"name": "a.csv", "size": 5, "type": "text/csv"},
            {"name": "b.txt", "size": 5, "type": "text/plain"},
        ],
    )["uploads"]
    h.session.policy.accept = ".csv"  # changed in Python while both were queued
    h.session.policy = type(h.session.policy)(prefix="uploads/", accept=".csv")
    answer = h.ok(P.SIGN_FILES, upload_ids=[kept["id"], dropped["id"]])
    assert answer["results"][0]["ok"] is True
    assert answer["results"][1]["ok"] is False
    records = {r["id"]: r for r in h.session.records}
    assert records[dropped["id"]]["status"] == "error"
    assert records[dropped["id"]]["error_code"] == answer["results"][1]["error"]["code"]
    assert records[kept["id"]]["status"] == "uploading"


@pytest.mark.parametrize(
    ("upload_ids", "words"),
    [
        (None, "must list 1 to 64"),
        ([], "must list 1 to 64"),
        ("abc", "must list 1 to 64"),
        ([f"id{i}" for i in range(P.MAX_FILES_PER_BATCH + 1)], "must list 1 to 64"),
        ([1, 2], "distinct upload ids"),
        ([{"upload_id": "x"}], "distinct upload ids"),
    ],
)
def test_a_malformed_batch_is_refused_whole(s3, upload_ids, words):
    h = Harness(s3)
    err = h.error(P.SIGN_FILES, "bad-request", upload_ids=upload_ids)
    assert words in err["message"]


def test_a_batch_naming_a_file_twice_is_refused_and_ends_it(s3):
    # As with a single request: a refused request about an upload ends that upload.
    h = Harness(s3)
    (record,) = add_many(h, 1)
    err = h.error(P.SIGN_FILES, "bad-request", upload_ids=[record["id"], record["id"]])
    assert "distinct" in err["message"]
    assert h.session.records[0]["status"] == "error"


OTHERS_MAY_WRITE = "{prefix}{filename}"
"""Keys without a new random id: an object may be there already, so S3 is asked first."""


def s3_calls(client) -> list[str]:
    """The names of the object reads (listings, HEADs) ``client`` sends from now on."""
    calls: list[str] = []

    def count(model, **_):
        if model.name in ("ListObjectsV2", "HeadObject"):
            calls.append(model.name)

    client.meta.events.register("before-call.s3.*", count, unique_id="count")
    return calls


def test_a_batch_completes_every_file_and_checks_each_with_s3(s3):
    h = Harness(s3)
    records = add_many(h, 6)
    h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in records])
    etags = [put(h, r, f"body{i}".encode()) for i, r in enumerate(records[:5])]
    # The sixth never reached S3: its completion must fail, alone.
    items = [{"upload_id": r["id"], "etag": e} for r, e in zip(records, etags, strict=False)]
    items.append({"upload_id": records[5]["id"], "etag": '"0123"'})
    before = len(h.changes)
    calls = s3_calls(s3)
    answer = h.ok(P.COMPLETE_FILES, uploads=items)
    assert calls == ["ListObjectsV2"]  # the whole batch read back with one listing
    results = answer["results"]
    assert [e["status"] for e in results[:5]] == ["done"] * 5
    assert results[5]["ok"] is False and results[5]["error"]["code"] == "size-mismatch"
    assert len(h.changes) == before + 1
    assert [d["key"] for d in h.done] == [r["key"] for r in records[:5]]
    finals = {r["id"]: r["status"] for r in h.session.records}
    assert finals[records[5]["id"]] == "error"
    assert all(finals[r["id"]] == "done" for r in records[:5])


def test_a_listed_object_replaced_by_another_writer_is_not_done(s3):
    h = Harness(s3)
    first, second = add_many(h, 2)
    h.ok(P.SIGN_FILES, upload_ids=[first["id"], second["id"]])
    etags = [put(h, r, b"mine!") for r in (first, second)]
    s3.put_object(Bucket=BUCKET, Key=second["key"], Body=b"other")  # same size, other bytes
    calls = s3_calls(s3)
    items = [{"upload_id": r["id"], "etag": e} for r, e in zip((first, second), etags, strict=True)]
    first_result, second_result = h.ok(P.COMPLETE_FILES, uploads=items)["results"]
    assert calls == ["ListObjectsV2"]
    assert first_result["status"] == "done"
    assert second_result["ok"] is False and second_result["error"]["code"] == "size-mismatch"


def test_keys_a_crowded_listing_does_not_reach_are_read_by_head(s3, monkeypatch):
    monkeypatch.setattr(_verify, "LIST_PAGES", 1)
    h = Harness(s3, key_template="{prefix}{filename}")
    # Other objects between the batch's keys: one page of the listing cannot reach them all.
    for i in range(40):
        s3.put_object(Bucket=BUCKET, Key=f"uploads/f1-{i:02}.txt", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="uploads/f2.csv", Body=b"old")
    records = add_many(h, 3)
    calls = s3_calls(s3)
    answer = h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in records])
    assert calls[0] == "ListObjectsV2" and calls.count("ListObjectsV2") == 1
    assert calls.count("HeadObject") >= 1  # f2.csv lies beyond the page read
    assert [e["ok"] for e in answer["results"]] == [True, True, False]
    assert answer["results"][2]["error"]["code"] == "key-exists"


def test_a_role_that_may_not_list_is_checked_by_head(s3, monkeypatch):
    from botocore.exceptions import ClientError

    def denied(**_):
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "ListObjectsV2")

    h = Harness(s3, key_template=OTHERS_MAY_WRITE)
    records = add_many(h, 3)
    monkeypatch.setattr(s3, "list_objects_v2", denied)
    calls = s3_calls(s3)
    h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in records])
    assert calls.count("HeadObject") == 3
    etags = [put(h, r, b"12345") for r in records]
    items = [{"upload_id": r["id"], "etag": e} for r, e in zip(records, etags, strict=True)]
    answer = h.ok(P.COMPLETE_FILES, uploads=items)
    assert [e["status"] for e in answer["results"]] == ["done"] * 3
    assert calls.count("HeadObject") == 6  # three before signing, three to complete


def test_a_batch_may_complete_a_multipart_upload_beside_single_puts(s3):
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    small = add_many(h, 1)[0]
    big = h.ok(P.ADD_FILES, files=[{"name": "big.bin", "size": 6 * MiB, "type": ""}])["uploads"][0]
    plans = h.ok(P.SIGN_FILES, upload_ids=[small["id"], big["id"]])["results"]
    assert plans[1]["result"] == {
        "mode": "multipart",
        "part_size": 5 * MiB,
        "part_count": 2,
        "checksum": "CRC32C",
    }
    h.ok(P.SIGN_PARTS, upload_id=big["id"], part_numbers=[1, 2])
    upload = h.session._uploads[big["id"]]
    body = bytes(6 * MiB)
    parts = []
    for n, chunk in ((1, body[: 5 * MiB]), (2, body[5 * MiB :])):
        etag = s3.upload_part(
            Bucket=BUCKET, Key=big["key"], UploadId=upload.s3_upload_id, PartNumber=n, Body=chunk
        )["ETag"]
        parts.append({"part_number": n, "etag": etag})
    small_etag = put(h, small, b"small")
    answer = h.ok(
        P.COMPLETE_FILES,
        uploads=[
            {"upload_id": big["id"], "parts": parts},
            {"upload_id": small["id"], "etag": small_etag},
        ],
    )
    assert [e["status"] for e in answer["results"]] == ["done", "done"]
    assert s3.head_object(Bucket=BUCKET, Key=big["key"])["ContentLength"] == 6 * MiB


def test_complete_before_sign_fails_that_file_only(s3):
    h = Harness(s3)
    signed, unsigned = add_many(h, 2)
    h.ok(P.SIGN_FILES, upload_ids=[signed["id"]])
    etag = put(h, signed, b"12345")
    answer = h.ok(
        P.COMPLETE_FILES,
        uploads=[
            {"upload_id": unsigned["id"], "etag": ""},
            {"upload_id": signed["id"], "etag": etag},
        ],
    )
    assert answer["results"][0]["ok"] is False, answer
    assert answer["results"][1]["status"] == "done", answer


def test_existing_keys_of_a_batch_are_looked_for_at_once(s3):
    h = Harness(s3, key_template="{prefix}{filename}")
    s3.put_object(Bucket=BUCKET, Key="uploads/f3.csv", Body=b"old")
    records = add_many(h, 8)
    calls = s3_calls(s3)
    answer = h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in records])
    assert calls == ["ListObjectsV2"]  # one listing instead of eight HEADs
    oks = [e["ok"] for e in answer["results"]]
    assert oks == [True, True, True, False, True, True, True, True]
    assert answer["results"][3]["error"]["code"] == "key-exists"
    assert s3.get_object(Bucket=BUCKET, Key="uploads/f3.csv")["Body"].read() == b"old"


def test_hello_answers_with_every_record_as_the_page_draws_it(s3):
    h = Harness(s3)
    records = add_many(h, 3)
    (snapshot,) = [h.ok(P.HELLO, origin="http://localhost:8888")["records"]]
    assert [r["id"] for r in snapshot] == [r["id"] for r in records]
    assert set(snapshot[0]) == set(P.VIEW_FIELDS)


# --- whether keys are free: asked once for every queued small file --------------------


def sign_in_batches(h: Harness, records: list[dict], size: int) -> list[dict]:
    results = []
    for i in range(0, len(records), size):
        ids = [r["id"] for r in records[i : i + size]]
        results += h.ok(P.SIGN_FILES, upload_ids=ids)["results"]
    return results


def test_one_listing_says_which_keys_are_free_for_every_queued_small_file(s3):
    h = Harness(s3, key_template=OTHERS_MAY_WRITE)
    records = add_many(h, 30)
    calls = s3_calls(s3)
    results = sign_in_batches(h, records, 10)
    assert all(entry["ok"] for entry in results)
    assert calls == ["ListObjectsV2"]  # not one per batch
    assert all(entry["result"]["headers"]["If-None-Match"] == "*" for entry in results)


def test_an_answer_older_than_its_freshness_is_asked_again(s3, monkeypatch):
    from s3_upload_widget import _batch_handlers

    clock = [1000.0]
    monkeypatch.setattr(_batch_handlers.time, "monotonic", lambda: clock[0])
    h = Harness(s3, key_template=OTHERS_MAY_WRITE)
    records = add_many(h, 4)
    calls = s3_calls(s3)
    first = h.ok(P.SIGN_FILES, upload_ids=[records[0]["id"]])["results"]
    s3.put_object(Bucket=BUCKET, Key=records[1]["key"], Body=b"taken")
    clock[0] += _batch_handlers.PRESENCE_FRESH_S + 1
    later = h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in records[1:]])["results"]
    assert calls == ["ListObjectsV2", "ListObjectsV2"]
    assert first[0]["ok"] and [e["ok"] for e in later] == [False, True, True]
    assert later[0]["error"]["code"] == "key-exists"


def test_an_object_written_after_the_answer_meets_the_signed_if_none_match(s3):
    # Within its freshness the answer stands: the URL's If-None-Match is the guard S3
    # itself checks when the bytes arrive (moto refuses the PUT with 412).
    import requests

    h = Harness(s3)
    first, second = add_many(h, 2)
    h.ok(P.SIGN_FILES, upload_ids=[first["id"]])
    s3.put_object(Bucket=BUCKET, Key=second["key"], Body=b"other")
    (entry,) = h.ok(P.SIGN_FILES, upload_ids=[second["id"]])["results"]
    assert entry["ok"] and entry["result"]["headers"]["If-None-Match"] == "*"
    signed = entry["result"]
    answer = requests.put(signed["url"], data=b"12345", headers=signed["headers"], timeout=30)
    assert answer.status_code == 412
    assert s3.get_object(Bucket=BUCKET, Key=second["key"])["Body"].read() == b"other"


def test_reads_done_ahead_of_a_request_are_used_and_not_done_again(s3):
    h = Harness(s3)
    records = add_many(h, 3)
    sign = {"id": "s", "kind": P.SIGN_FILES, "args": {"upload_ids": [r["id"] for r in records]}}
    sign["args"] = with_page_checksums(P.SIGN_FILES, sign["args"])
    found = h.session.plan_lookups(sign).run()
    calls = s3_calls(s3)
    assert all(entry["ok"] for entry in h.session.handle(sign, found)["result"]["results"])
    etags = [put(h, r, b"12345") for r in records]
    items = [{"upload_id": r["id"], "etag": e} for r, e in zip(records, etags, strict=True)]
    complete = {"id": "c", "kind": P.COMPLETE_FILES, "args": {"uploads": items}}
    found = h.session.plan_lookups(complete).run()
    assert calls == ["ListObjectsV2"]  # the read ahead of the completion
    answer = h.session.handle(complete, found)["result"]
    assert [e["status"] for e in answer["results"]] == ["done"] * 3
    assert calls == ["ListObjectsV2"]


def test_nothing_is_read_ahead_of_a_request_its_handler_refuses(s3):
    h = Harness(s3)
    (record,) = add_many(h, 1)
    for args in ({"upload_ids": [record["id"], record["id"]]}, {"upload_ids": "x"}, None):
        assert not h.session.plan_lookups({"id": "x", "kind": P.SIGN_FILES, "args": args})
    assert not h.session.plan_lookups({"id": "x", "kind": P.HELLO, "args": {}})
    assert not h.session.plan_lookups("not a message")


def test_keys_with_a_new_random_id_are_not_looked_for_before_writing(s3):
    # The default key template holds the pick's {batch}: no object can be there yet, so
    # neither a listing nor a HEAD comes before signing, nor before completing the
    # multipart upload; If-None-Match is still signed (S3 checks it when bytes arrive).
    import requests

    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB)
    records = add_many(h, 3)
    big = h.add("big.bin", 6 * MiB, "application/octet-stream")
    calls = s3_calls(s3)
    results = h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in [*records, big]])["results"]
    assert all(entry["ok"] for entry in results)
    assert all(e["result"]["headers"]["If-None-Match"] == "*" for e in results[:3])
    assert calls == []
    body = bytes(range(256)) * (6 * MiB // 256)
    parts = h.ok(P.SIGN_PARTS, upload_id=big["id"], part_numbers=[1, 2])["parts"]
    etags = []
    for part, chunk in zip(parts, (body[: 5 * MiB], body[5 * MiB :]), strict=True):
        answer = requests.put(part["url"], data=chunk, headers=part["headers"], timeout=30)
        etags.append({"part_number": part["part_number"], "etag": answer.headers["ETag"]})
    assert h.ok(P.COMPLETE, upload_id=big["id"], parts=etags)["record"]["status"] == "done"
    assert calls == []
    assert s3.get_object(Bucket=BUCKET, Key=big["key"])["Body"].read() == body


def test_keys_others_may_write_are_looked_for_before_writing(s3):
    # The counterpart: with keys another upload may have written, the same requests ask.
    h = Harness(s3, multipart_threshold=5 * MiB, part_size=5 * MiB, key_template=OTHERS_MAY_WRITE)
    records = add_many(h, 2)
    big = h.add("big.bin", 6 * MiB, "application/octet-stream")
    calls = s3_calls(s3)
    h.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in [*records, big]])
    assert calls == ["ListObjectsV2", "HeadObject"]  # the small files' keys, then big.bin's
