"""A page that sends whatever it likes, through the widget's message handler.

Each test reproduces one attack or failure of issue 9 (holes 1, 2, 3, 6, 7, 8, 9)
against moto in process, and checks the kernel holds: records stay sendable, nothing is
"done" that was not uploaded, limits hold across messages, aborts are not forgotten.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions as bex
import pytest
from conftest import TEST_BUCKET
from widget_wiring import Wired

from s3_upload_widget import S3UploadWidget, _intake
from s3_upload_widget import _protocol as P
from s3_upload_widget._records import MAX_OUTSTANDING_PARTS

BUCKET = TEST_BUCKET
MiB = 1024**2


@pytest.fixture
def client(s3_client):
    return s3_client  # its teardown closes the widgets a test left open (conftest.py)


def widget(client, **kwargs) -> Wired:
    return Wired(S3UploadWidget(bucket=BUCKET, prefix="up/", client=client, **kwargs))


def put_signed(client, record: dict, body: bytes) -> str:
    """What an honest browser does with a single-PUT signature: returns the ETag."""
    return client.put_object(Bucket=BUCKET, Key=record["key"], Body=body)["ETag"]


def sendable(w: S3UploadWidget) -> None:
    """The traits can be sent to the browser and saved in the notebook."""
    json.dumps(w.get_state(), ensure_ascii=False).encode("utf-8")


# --- hole 1: one bad string breaks the widget --------------------------------------------


def test_a_lone_surrogate_in_a_name_cannot_break_the_widget(client):
    wired = widget(client)
    bad, good = wired.add(("x\ud800.csv", 5), ("good.csv", 5))
    assert bad["name"] == "x\ufffd.csv" and bad["status"] == "queued"
    sendable(wired.widget)
    # An honest upload beside it goes all the way, and cancel works in the user's cell.
    wired.ok(P.SIGN, upload_id=good["id"])
    put_signed(client, good, b"hello")
    assert wired.ok(P.COMPLETE, upload_id=good["id"], etag="")["record"]["status"] == "done"
    assert wired.widget.cancel() == [bad["id"]]
    sendable(wired.widget)


def test_lone_surrogates_in_hello_and_fail_are_cleaned(client):
    wired = widget(client)
    wired.ok(P.HELLO, origin="http://a\ud800.com")
    (record,) = wired.add(("a.csv", 5))
    wired.ok(P.SIGN, upload_id=record["id"])
    error = {"reason": "http", "status": 500, "s3_code": "X\ud800", "s3_message": "m\udfff" * 9}
    failed = wired.ok(P.FAIL, upload_id=record["id"], error=error)["record"]
    assert failed["status"] == "error" and "\ufffd" in failed["error"]
    sendable(wired.widget)
    assert wired.widget._session.origin == ""


@pytest.mark.parametrize("request_id", ["x\ud800", "i" * (P.MAX_ID_CHARS + 1), "", 2**60, 1.5])
def test_bad_request_ids_are_refused_without_echoing_them(client, request_id):
    w = S3UploadWidget(bucket=BUCKET, client=client)
    sent = []
    w.send = sent.append
    w._on_custom_msg(w, {"id": request_id, "kind": P.HELLO, "args": {}}, [])
    assert sent[-1]["ok"] is False and sent[-1]["id"] is None
    json.dumps(sent[-1]).encode("utf-8")


def test_kept_request_ids_are_bounded():
    from s3_upload_widget import _router

    assert 3 * MiB > _router.MAX_SEEN_REQUEST_IDS * P.MAX_ID_CHARS * 4


# --- hole 2: "done" without an upload when HEAD is denied ----------------------------------


class DeniedReads:
    """A client whose role may PUT but not read objects (nor list, with ``listing=False``)."""

    def __init__(self, client, *, listing: bool):
        self._client, self._listing = client, listing

    def __getattr__(self, name):
        return getattr(self._client, name)

    @staticmethod
    def _deny(operation):
        error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
        error["ResponseMetadata"] = {"HTTPStatusCode": 403}
        raise bex.ClientError(error, operation)

    def head_object(self, **kwargs):
        self._deny("HeadObject")

    def list_objects_v2(self, **kwargs):
        if not self._listing:
            self._deny("ListObjectsV2")
        return self._client.list_objects_v2(**kwargs)


def test_without_read_rights_a_made_up_etag_is_not_done(client):
    wired = widget(DeniedReads(client, listing=False))
    called = []
    wired.widget.on_upload(called.append)
    (record,) = wired.add(("a.csv", 5))
    wired.ok(P.SIGN, upload_id=record["id"])
    ended = wired.ok(P.COMPLETE, upload_id=record["id"], etag='"made-up"')["record"]
    assert ended["status"] == "unverified" and "s3:GetObject" in ended["error"]
    assert wired.widget.uploaded_keys == [] and wired.widget.key == "" and called == []


def test_with_only_listing_rights_completion_is_still_checked(client):
    wired = widget(DeniedReads(client, listing=True))
    fake, real = wired.add(("fake.csv", 5), ("real.csv", 5))
    wired.ok(P.SIGN, upload_id=fake["id"])
    wired.error(P.COMPLETE, "size-mismatch", upload_id=fake["id"], etag='"made-up"')
    wired.ok(P.SIGN, upload_id=real["id"])
    etag = put_signed(client, real, b"hello")
    done = wired.ok(P.COMPLETE, upload_id=real["id"], etag=etag)["record"]
    assert done["status"] == "done" and wired.widget.uploaded_keys == [real["key"]]


# --- hole 3: completion trusts whatever object sits at the key ------------------------------


def test_an_old_object_at_the_key_is_not_taken_for_the_upload(client):
    client.put_object(Bucket=BUCKET, Key="up/report.csv", Body=b"the old secret report")
    time.sleep(3)  # LastModified has whole seconds: the old object is clearly older
    wired = widget(client, overwrite=True, key_template="{prefix}{filename}")
    (record,) = wired.add(("report.csv", len(b"the old secret report")))
    wired.ok(P.SIGN, upload_id=record["id"])
    error = wired.error(P.COMPLETE, "size-mismatch", upload_id=record["id"], etag="")
    # Nothing about the old object (its size: 21 bytes) is told.
    assert "holds" not in error["message"] and not re.search(r"\b21\b", error["message"])
    # The honest upload of the same name then works.
    (again,) = wired.add(("report.csv", 3))
    wired.ok(P.SIGN, upload_id=again["id"])
    etag = put_signed(client, again, b"new")
    assert wired.ok(P.COMPLETE, upload_id=again["id"], etag=etag)["record"]["status"] == "done"


def test_an_etag_other_than_the_one_stored_is_refused(client):
    wired = widget(client)
    (record,) = wired.add(("a.csv", 5))
    wired.ok(P.SIGN, upload_id=record["id"])
    put_signed(client, record, b"hello")
    wired.error(P.COMPLETE, "size-mismatch", upload_id=record["id"], etag='"0000"')


def test_two_live_records_never_share_a_key(client):
    wired = widget(client, key_template="{prefix}{filename}")
    first, second = wired.add(("same.csv", 5), ("same.csv", 5))
    assert first["status"] == "queued"
    assert second["status"] == "error" and second["error_code"] == "key-exists"
    (third,) = wired.add(("same.csv", 5))  # another message: still refused while live
    assert third["status"] == "error"
    wired.ok(P.SIGN, upload_id=first["id"])
    put_signed(client, first, b"hello")
    wired.ok(P.COMPLETE, upload_id=first["id"], etag="")
    wired.error(P.SIGN, "bad-request", upload_id=second["id"])
    assert wired.widget.uploaded_keys == ["up/same.csv"]


# --- hole 6: a failed abort is forgotten ---------------------------------------------------


def test_an_abort_that_failed_on_cancel_is_done_by_close(client, monkeypatch):
    wired = widget(client, multipart_threshold=5 * MiB)
    (record,) = wired.add(("big.bin", 6 * MiB))
    wired.ok(P.SIGN, upload_id=record["id"])
    signer = wired.widget._session._get_signer()
    real_abort = signer.abort_multipart

    def flaky(key, upload_id):
        raise RuntimeError("network down")

    monkeypatch.setattr(signer, "abort_multipart", flaky)
    assert wired.ok(P.CANCEL, upload_id=record["id"])["record"]["status"] == "cancelled"
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    with pytest.warns(RuntimeWarning, match="big.bin"):
        wired.widget.close()
    monkeypatch.setattr(signer, "abort_multipart", real_abort)
    assert wired.widget._session.close() == []
    assert not client.list_multipart_uploads(Bucket=BUCKET).get("Uploads")


# --- hole 7: changed options apply to every later signature ---------------------------------


def test_expires_in_applies_to_the_next_signature(client):
    wired = widget(client)
    first, second = wired.add(("a.csv", 5), ("b.csv", 5))
    url = wired.ok(P.SIGN, upload_id=first["id"])["url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["900"]
    wired.widget.expires_in = 60
    url = wired.ok(P.SIGN, upload_id=second["id"])["url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["60"]


def test_rules_tightened_while_queued_apply_at_sign(client):
    wired = widget(client)
    big, csv, moved = wired.add(("big.csv", 50), ("a.csv", 5), ("m.csv", 5))
    wired.widget.max_size = 10
    wired.error(P.SIGN, "too-large", upload_id=big["id"])
    wired.widget.accept = ".parquet"
    wired.error(P.SIGN, "not-accepted", upload_id=csv["id"])
    wired.widget.accept = ""
    wired.widget.prefix = "elsewhere/"
    signed = wired.ok(P.SIGN, upload_id=moved["id"])
    assert "/elsewhere/" in urlsplit(signed["url"]).path
    assert wired.widget.uploads[-1]["key"].startswith("elsewhere/")


# --- hole 8: floods and limits ---------------------------------------------------------------


def test_max_files_holds_across_messages(client):
    wired = widget(client, max_files=2)
    assert len(wired.add(("a.csv", 1), ("b.csv", 1))) == 2
    error = wired.error(P.ADD_FILES, "too-many-files", files=[{"name": "c.csv", "size": 1}])
    assert "max_files=2" in error["message"]
    wired.widget.cancel()
    assert len(wired.add(("c.csv", 1), ("d.csv", 1))) == 2  # finished ones free their place


def test_multiple_false_means_one_at_a_time_across_messages(client):
    wired = widget(client, multiple=False)
    wired.add(("a.csv", 1))
    wired.error(P.ADD_FILES, "too-many-files", files=[{"name": "b.csv", "size": 1}])


def test_max_total_files_counts_the_widgets_whole_life(client):
    wired = widget(client, max_total_files=3)
    wired.add(("a.csv", 1), ("b.csv", 1))
    wired.widget.cancel()
    wired.widget.clear()
    error = wired.error(
        P.ADD_FILES, "too-many-files", files=[{"name": n, "size": 1} for n in ("c", "d")]
    )
    assert "max_total_files=3" in error["message"]
    assert len(wired.add(("c.csv", 1))) == 1


def test_the_record_cap_refuses_a_flood(client):
    wired = widget(client)
    files = [{"name": f"f{i}.csv", "size": 1} for i in range(_intake.MAX_RECORDS)]
    assert len(wired.ok(P.ADD_FILES, files=files)["uploads"]) == _intake.MAX_RECORDS
    error = wired.error(P.ADD_FILES, "too-many-files", files=[{"name": "one.csv", "size": 1}])
    assert "w.clear()" in error["hint"]


def test_a_huge_file_list_is_refused_outright(client):
    wired = widget(client)
    files = [{"name": "f.csv", "size": 1}] * (_intake.MAX_FILES_PER_MESSAGE + 1)
    wired.error(P.ADD_FILES, "too-many-files", files=files)
    assert wired.widget.uploads == []


# --- hole 9: part URLs as needed, not all at once ---------------------------------------------


def test_part_urls_outstanding_are_bounded(client):
    wired = widget(client, multipart_threshold=5 * MiB, part_size=5 * MiB)
    (record,) = wired.add(("big.bin", 25 * 5 * MiB))
    assert wired.ok(P.SIGN, upload_id=record["id"])["part_count"] == 25
    batch = list(range(1, MAX_OUTSTANDING_PARTS + 1))
    parts = wired.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=batch)["parts"]
    assert len(parts) == MAX_OUTSTANDING_PARTS
    # Nothing was uploaded: one more URL is refused, and the upload ends.
    nxt = MAX_OUTSTANDING_PARTS + 1
    wired.error(P.SIGN_PARTS, "bad-request", upload_id=record["id"], part_numbers=[nxt])
    assert wired.widget.uploads[0]["status"] == "error"


def test_uploaded_parts_free_their_place(client):
    wired = widget(client, multipart_threshold=5 * MiB, part_size=5 * MiB)
    (record,) = wired.add(("big.bin", 25 * 5 * MiB))
    wired.ok(P.SIGN, upload_id=record["id"])
    batch = list(range(1, MAX_OUTSTANDING_PARTS + 1))
    wired.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=batch)
    upload_id = wired.widget._session._uploads[record["id"]].s3_upload_id
    for n in range(1, 7):  # what the browser did with six of them
        client.upload_part(
            Bucket=BUCKET, Key=record["key"], UploadId=upload_id, PartNumber=n, Body=b"x" * 5 * MiB
        )
    more = list(range(MAX_OUTSTANDING_PARTS + 1, 25))
    assert len(wired.ok(P.SIGN_PARTS, upload_id=record["id"], part_numbers=more)["parts"]) == 6


# --- holes 4 and 5: the page picks neither the CORS origin nor the content type ---------


def test_a_wildcard_origin_from_the_page_is_never_written(client):
    wired = widget(client)
    wired.ok(P.HELLO, origin="*")
    with pytest.raises(ValueError, match="no usable origin"):
        wired.widget.configure_cors()
    wired.ok(P.HELLO, origin="http://localhost:8888")
    wired.widget.configure_cors()
    (rule,) = client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ["http://localhost:8888"]
    assert rule["AllowedMethods"] == ["PUT", "POST"] and "*" not in rule["AllowedHeaders"]


def test_the_page_does_not_choose_the_signed_type(client):
    wired = widget(client, accept=".csv")
    (report,) = wired.add(("report.csv", 5), type="text/html")
    signed = wired.ok(P.SIGN, upload_id=report["id"])
    assert signed["headers"]["Content-Type"] == "text/csv"
    images = widget(client, accept="image/*")
    (page,) = images.add(("page.html", 5), type="image/svg+xml")
    assert page["status"] == "error" and page["error_code"] == "not-accepted"


def test_active_types_are_stored_inert_unless_allowed(client):
    for allowed, expected in ((False, "application/octet-stream"), (True, "text/html")):
        wired = widget(client, allow_active_types=allowed)
        (page,) = wired.add(("page.html", 5), type="text/html")
        assert wired.ok(P.SIGN, upload_id=page["id"])["headers"]["Content-Type"] == expected
