"""The widget hands record changes to the page as RECORDS patches, once per message, and
keeps `w.uploads`, `uploaded_keys`, `key`, observers and on_upload as before."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_BUCKET
from widget_wiring import Wired

from s3_upload_widget import S3UploadWidget
from s3_upload_widget import _protocol as P

BUCKET = TEST_BUCKET


@pytest.fixture
def client(s3_client):
    return s3_client  # its teardown closes the widgets a test left open (conftest.py)


def commands(wired: Wired) -> list[dict]:
    return [m for m in wired.sent if m.get("kind") == P.RECORDS]


def upload_all(wired: Wired, client, n: int) -> list[dict]:
    added = wired.add(*[(f"f{i:03d}.csv", 5) for i in range(n)])
    ids = [r["id"] for r in added]
    wired.ok(P.SIGN_FILES, upload_ids=ids)
    etags = [client.put_object(Bucket=BUCKET, Key=r["key"], Body=b"12345")["ETag"] for r in added]
    items = [{"upload_id": i, "etag": e} for i, e in zip(ids, etags, strict=True)]
    wired.ok(P.COMPLETE_FILES, uploads=items)
    return added


def test_the_page_gets_each_change_once_and_only_what_changed(client):
    wired = Wired(S3UploadWidget(bucket=BUCKET, prefix="up/", client=client))
    added = wired.add(("a.csv", 5), ("b.csv", 5))
    (new,) = commands(wired)
    assert [p["id"] for p in new["records"]] == [r["id"] for r in added]
    assert set(new["records"][0]) == set(P.VIEW_FIELDS)
    # The patch comes before the answer, so the page knows the rows it is told about.
    assert wired.sent.index(new) < len(wired.sent) - 1
    wired.sent.clear()
    wired.ok(P.SIGN_FILES, upload_ids=[r["id"] for r in added])
    (signed,) = commands(wired)
    assert signed["records"] == [{"id": r["id"], "status": "uploading"} for r in added]
    assert "X-Amz" not in json.dumps(signed)  # no URL ever goes to a record


def test_python_sees_every_record_and_observers_fire_once_per_message(client):
    w = S3UploadWidget(bucket=BUCKET, prefix="up/", client=client)
    wired = Wired(w)
    seen: list[int] = []
    w.observe(lambda change: seen.append(len(change["new"])), names="uploads")
    done: list[str] = []
    w.on_upload(lambda record: done.append(record["key"]))
    added = upload_all(wired, client, 40)
    assert seen == [40, 40, 40]  # add-files, sign-files, complete-files
    assert [r["status"] for r in w.uploads] == ["done"] * 40
    assert w.uploaded_keys == [r["key"] for r in added] == done
    assert w.key == added[-1]["key"]
    assert w.summary() == "40 files: 40 done"


def test_the_bytes_to_the_page_per_file_do_not_grow_with_the_batch(client):
    def bytes_per_file(n: int) -> float:
        wired = Wired(S3UploadWidget(bucket=BUCKET, prefix=f"up{n}/", client=client))
        upload_all(wired, client, n)
        sent = [m for m in wired.sent if m.get("kind") == P.RECORDS]
        return sum(len(json.dumps(m)) for m in sent) / n

    small, large = bytes_per_file(10), bytes_per_file(60)
    assert large <= small * 1.1, (small, large)
    assert large < 600, large  # whole records once, then patches of a few fields


def test_a_new_view_starts_from_every_record(client):
    wired = Wired(S3UploadWidget(bucket=BUCKET, prefix="up/", client=client))
    upload_all(wired, client, 3)
    snapshot = wired.ok(P.HELLO, origin="http://localhost:8888")["records"]
    assert [r["status"] for r in snapshot] == ["done"] * 3
    assert all(set(r) == set(P.VIEW_FIELDS) for r in snapshot)


def test_clear_tells_the_page_which_rows_went(client):
    w = S3UploadWidget(bucket=BUCKET, prefix="up/", client=client)
    wired = Wired(w)
    added = upload_all(wired, client, 2)
    wired.sent.clear()
    w.clear()
    assert commands(wired) == [
        {"kind": P.RECORDS, "records": [], "removed": [r["id"] for r in added]}
    ]
    assert w.uploads == [] and len(w.uploaded_keys) == 2  # the keys stay: they are in S3
