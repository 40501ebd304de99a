"""S3UploadWidget's wiring: constructor validation, traits, messages, callbacks."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
import traitlets
from botocore.config import Config
from conftest import TEST_BUCKET
from widget_wiring import Wired

from s3_upload_widget import S3UploadWidget
from s3_upload_widget import _protocol as P

BUCKET = TEST_BUCKET


@pytest.fixture
def client(s3_client):
    """moto in process, with the bucket BUCKET (tests/conftest.py)."""
    return s3_client


def test_public_traits_and_defaults(client):
    w = S3UploadWidget(bucket=BUCKET, prefix="uploads/", client=client)
    assert (w.key, w.uploaded_keys, w.uploads) == ("", [], [])
    assert w.bucket == BUCKET and w.prefix == "uploads/"
    assert w.multiple is True and w.overwrite is False and w.expires_in == 900
    for name in ("bucket", "prefix", "key", "accept", "max_size", "parallel_files"):
        assert w.trait_metadata(name, "sync"), name
        assert w.trait_metadata(name, "help"), f"{name} needs a docstring"
    # The records go to the page as patches (RECORDS), never whole: not synced.
    for name in ("uploaded_keys", "uploads"):
        assert not w.trait_metadata(name, "sync"), name
        assert w.trait_metadata(name, "help"), f"{name} needs a docstring"
        assert name not in w.keys
    # Credentials live in the client, which is never synced.
    assert "client" not in w.keys and "_client" not in w.keys


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"bucket": ""}, "bucket must be"),
        ({"bucket": "a/b"}, "prefix="),
        ({"bucket": "b", "prefix": "/abs"}, "prefix"),
        ({"bucket": "b", "prefix": "a/../b"}, "prefix"),
        ({"bucket": "b", "expires_in": 0}, "expires_in"),
        ({"bucket": "b", "expires_in": 8 * 24 * 3600}, "expires_in"),
        ({"bucket": "b", "max_size": -1}, "max_size"),
        ({"bucket": "b", "concurrency": 0}, "concurrency"),
        ({"bucket": "b", "multipart_threshold": 1024}, "5 MiB"),
    ],
)
def test_bad_constructor_arguments_name_the_problem(kwargs, words):
    with pytest.raises(traitlets.TraitError, match=words):
        S3UploadWidget(**kwargs)


def test_bad_key_template_is_refused_at_construction():
    with pytest.raises(ValueError, match="nope"):
        S3UploadWidget(bucket="b", key_template="{prefix}{nope}")


def test_front_end_cannot_change_policy_traits(client):
    w = S3UploadWidget(bucket=BUCKET, prefix="uploads/", max_size=10, client=client)
    w.set_state({"prefix": "", "max_size": 10**12, "bucket": "other", "key": "x"})
    assert (w.prefix, w.max_size, w.bucket, w.key) == ("uploads/", 10, BUCKET, "")


def test_python_changes_apply_to_the_next_file(client):
    wired = Wired(S3UploadWidget(bucket=BUCKET, prefix="uploads/", client=client))
    wired.widget.max_size = 3
    reply = wired.request(P.ADD_FILES, files=[{"name": "a.txt", "size": 4, "type": "text/plain"}])
    assert reply["result"]["uploads"][0]["error_code"] == "too-large"


def test_full_single_upload_through_messages(client):
    w = S3UploadWidget(bucket=BUCKET, prefix="uploads/", client=client)
    wired = Wired(w)
    seen = []
    w.on_upload(seen.append)
    added = wired.request(P.ADD_FILES, files=[{"name": "a.txt", "size": 5, "type": "text/plain"}])
    record = added["result"]["uploads"][0]
    assert w.uploads[0]["status"] == "queued"
    signed = wired.request(P.SIGN, upload_id=record["id"])["result"]
    # Presigned URLs travel in messages only, never in synced state.
    assert signed["url"] not in repr(w.get_state())
    etag = client.put_object(Bucket=BUCKET, Key=record["key"], Body=b"hello")["ETag"]
    w._on_custom_msg(
        w, {"kind": P.PROGRESS, "updates": [{"upload_id": record["id"], "loaded": 3}]}, []
    )
    assert w.uploads[0]["loaded"] == 3
    done = wired.request(P.COMPLETE, upload_id=record["id"], etag=etag)["result"]["record"]
    assert done["status"] == "done"
    assert w.key == record["key"] and w.uploaded_keys == [record["key"]]
    assert w.uploads[0]["status"] == "done"
    assert [r["key"] for r in seen] == [record["key"]]


def test_failing_callback_does_not_fail_the_upload(client, caplog):
    w = S3UploadWidget(bucket=BUCKET, client=client)
    wired = Wired(w)

    @w.on_upload
    def broken(record):
        raise ValueError("callback bug")

    record = wired.request(P.ADD_FILES, files=[{"name": "a", "size": 1, "type": ""}])["result"][
        "uploads"
    ][0]
    wired.request(P.SIGN, upload_id=record["id"])
    client.put_object(Bucket=BUCKET, Key=record["key"], Body=b"x")
    reply = wired.request(P.COMPLETE, upload_id=record["id"], etag="")
    assert reply["ok"] and w.uploads[0]["status"] == "done"
    assert "callback bug" in caplog.text


def test_on_upload_rejects_non_callables(client):
    w = S3UploadWidget(bucket=BUCKET, client=client)
    with pytest.raises(TypeError, match="callable"):
        w.on_upload("not a function")


def test_cancel_from_python_tells_the_browser(client):
    w = S3UploadWidget(bucket=BUCKET, client=client)
    wired = Wired(w)
    wired.request(P.ADD_FILES, files=[{"name": "a", "size": 1, "type": ""}])
    ids = w.cancel()
    assert len(ids) == 1 and w.uploads[0]["status"] == "cancelled"
    assert wired.sent[-1] == {"kind": P.CANCEL_UPLOADS, "upload_ids": ids}
    assert w.cancel() == []  # nothing left to cancel
    w.clear()
    assert w.uploads == []


def test_no_credentials_becomes_an_error_reply(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # A closed loopback port: even if something tried to send, nothing leaves the machine.
    session = boto3.session.Session(region_name="us-east-1")
    client = session.client(
        "s3", endpoint_url="http://127.0.0.1:9", config=Config(signature_version="s3v4")
    )
    w = S3UploadWidget(bucket=BUCKET, client=client)
    wired = Wired(w)
    record = wired.request(P.ADD_FILES, files=[{"name": "a", "size": 1, "type": ""}])["result"][
        "uploads"
    ][0]
    reply = wired.request(P.SIGN, upload_id=record["id"])
    assert reply["ok"] is False
    assert reply["error"]["code"] == "no-credentials"
    assert w.uploads[0]["status"] == "error" and "credentials" in w.uploads[0]["error"]


def test_local_widget_uploads_to_its_own_server():
    w = S3UploadWidget.local(max_size=100)
    try:
        assert w.local_s3.running and w.bucket == w.local_s3.bucket
        assert w.prefix == "uploads/" and w.max_size == 100
        wired = Wired(w)
        record = wired.request(P.ADD_FILES, files=[{"name": "a.txt", "size": 2, "type": ""}])[
            "result"
        ]["uploads"][0]
        signed = wired.request(P.SIGN, upload_id=record["id"])["result"]
        assert signed["url"].startswith(w.local_s3.endpoint_url)
        put = urllib.request.Request(signed["url"], b"hi", signed["headers"], method="PUT")
        with urllib.request.urlopen(put, timeout=10) as response:
            etag = response.headers["ETag"]
        done = wired.request(P.COMPLETE, upload_id=record["id"], etag=etag)["result"]["record"]
        assert done["status"] == "done" and w.local_s3.read(w.key) == b"hi"
    finally:
        w.close()
        w.local_s3.stop()


def test_configure_cors_from_the_widget_uses_the_page_origin(client):
    w = S3UploadWidget(bucket=BUCKET, client=client)
    with pytest.raises(ValueError, match="display the widget first"):
        w.configure_cors()
    Wired(w).request(P.HELLO, origin="http://127.0.0.1:8888")
    w.configure_cors()
    [rule] = client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ["http://127.0.0.1:8888"]
    assert "PUT" in rule["AllowedMethods"] and rule["ExposeHeaders"] == ["ETag"]
