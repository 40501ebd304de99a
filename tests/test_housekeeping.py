"""Multipart uploads left in S3: listing, aborting the stale ones, the lifecycle rule.

Moto (in process) keeps real multipart uploads, parts and lifecycle rules, honours
Prefix and pages ListParts; it does not page ListMultipartUploads and stamps every upload
``Initiated`` 2010-11-10. So paging, ages that differ and refusals (access denied) use
botocore's Stubber, which also checks the exact parameters of every call.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

import s3_upload_widget
from s3_upload_widget import (
    IncompleteUpload,
    UploadError,
    abort_incomplete_uploads,
    configure_abort_incomplete_uploads,
    list_incomplete_uploads,
)
from s3_upload_widget import _housekeeping as hk

BUCKET = "test-bucket"  # created by conftest's s3_client
MiB = 1024**2
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def start(client, key: str, sizes: tuple[int, ...] = ()) -> str:
    """Start a multipart upload at `key` and store one part per size; its UploadId."""
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    for number, size in enumerate(sizes, start=1):
        client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=b"x" * size
        )
    return upload_id


def held(client, bucket: str = BUCKET) -> set[tuple[str, str]]:
    """(key, UploadId) of every multipart upload S3 holds, asked directly."""
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return {(u["Key"], u["UploadId"]) for u in uploads}


def pairs(uploads) -> set[tuple[str, str]]:
    return {(u.key, u.upload_id) for u in uploads}


@pytest.fixture
def stubbed(aws_credentials):
    """A client whose every answer the test scripts (no network, no moto)."""
    client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def upload(key: str, upload_id: str, initiated: datetime) -> dict:
    return {"Key": key, "UploadId": upload_id, "Initiated": initiated}


# --- listing (moto) ------------------------------------------------------------------


def test_lists_every_upload_with_key_id_and_an_aware_time(s3_client):
    started = {("a/1.bin", start(s3_client, "a/1.bin")), ("b/2.bin", start(s3_client, "b/2.bin"))}
    started.add(("a/1.bin", start(s3_client, "a/1.bin")))  # two uploads on one key
    found = list_incomplete_uploads(BUCKET, client=s3_client)
    assert pairs(found) == started and len(found) == 3
    assert all(isinstance(u, IncompleteUpload) and u.bucket == BUCKET for u in found)
    assert all(u.initiated.utcoffset() == timedelta(0) for u in found)
    assert all(u.parts is None and u.size is None for u in found)  # not asked for


def test_an_empty_bucket_lists_nothing(s3_client):
    assert list_incomplete_uploads(BUCKET, client=s3_client) == []


def test_a_record_is_frozen(s3_client):
    start(s3_client, "k")
    record = list_incomplete_uploads(BUCKET, client=s3_client)[0]
    with pytest.raises(AttributeError):
        record.key = "other"  # type: ignore[misc]


def test_the_prefix_filters_keys_as_s3_matches_them(s3_client):
    keep = {("up/a", start(s3_client, "up/a")), ("up/b/c", start(s3_client, "up/b/c"))}
    for key in ("upx/a", "other/up/a", "up"):
        start(s3_client, key)
    assert pairs(list_incomplete_uploads(BUCKET, "up/", client=s3_client)) == keep
    assert len(list_incomplete_uploads(BUCKET, "", client=s3_client)) == 5


def test_with_sizes_counts_every_part_on_every_page(s3_client, monkeypatch):
    monkeypatch.setattr(hk, "_MAX_PARTS", 2)  # 5 parts: three ListParts pages
    calls = []
    s3_client.meta.events.register(
        "before-call.s3.ListParts", lambda params, **kw: calls.append(params)
    )
    sizes = (5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 123)
    big = start(s3_client, "big.bin", sizes)
    empty = start(s3_client, "empty.bin")
    found = {
        u.upload_id: u for u in list_incomplete_uploads(BUCKET, client=s3_client, with_sizes=True)
    }
    assert (found[big].parts, found[big].size) == (5, sum(sizes))
    assert (found[empty].parts, found[empty].size) == (0, 0)
    assert len(calls) == 4  # 3 pages for big.bin, 1 for empty.bin


def test_the_default_client_is_used_when_none_is_given(s3_client):
    upload_id = start(s3_client, "k")
    assert pairs(list_incomplete_uploads(BUCKET)) == {("k", upload_id)}


def test_the_package_exports_the_housekeeping_functions():
    for name in (
        "IncompleteUpload",
        "list_incomplete_uploads",
        "abort_incomplete_uploads",
        "configure_abort_incomplete_uploads",
    ):
        assert name in s3_upload_widget.__all__ and name in dir(s3_upload_widget)
        assert getattr(s3_upload_widget, name) is getattr(hk, name)


# --- listing (stubbed) ---------------------------------------------------------------


def test_listing_follows_both_markers_through_every_page(stubbed, monkeypatch):
    client, stub = stubbed
    monkeypatch.setattr(hk, "_MAX_UPLOADS", 2)
    first = {"Bucket": BUCKET, "MaxUploads": 2, "Prefix": "up/"}
    stub.add_response(
        "list_multipart_uploads",
        {
            "Uploads": [upload("up/a", "1", T0), upload("up/b", "2", T0)],
            "IsTruncated": True,
            "NextKeyMarker": "up/b",
            "NextUploadIdMarker": "2",
        },
        first,
    )
    stub.add_response(
        "list_multipart_uploads",
        {
            "Uploads": [upload("up/b", "3", T0), upload("up/c", "4", T0)],
            "IsTruncated": True,
            "NextKeyMarker": "up/c",
            "NextUploadIdMarker": "4",
        },
        {**first, "KeyMarker": "up/b", "UploadIdMarker": "2"},
    )
    stub.add_response(
        "list_multipart_uploads",
        {"Uploads": [upload("up/d", "5", T0)], "IsTruncated": False},
        {**first, "KeyMarker": "up/c", "UploadIdMarker": "4"},
    )
    found = list_incomplete_uploads(BUCKET, "up/", client=client)
    assert [u.upload_id for u in found] == ["1", "2", "3", "4", "5"]


def test_a_listing_that_never_moves_on_fails_instead_of_looping(stubbed):
    client, stub = stubbed
    page = {"Uploads": [upload("a", "1", T0)], "IsTruncated": True}
    stub.add_response("list_multipart_uploads", {**page, "NextKeyMarker": "a"})
    stub.add_response(
        "list_multipart_uploads", {**page, "NextKeyMarker": "a"}
    )  # the same marker again
    with pytest.raises(UploadError) as info:
        list_incomplete_uploads(BUCKET, client=client)
    assert info.value.code == "s3-rejected" and "NextKeyMarker 'a'" in info.value.message


def test_uploads_come_oldest_first(stubbed):
    client, stub = stubbed
    times = [T0 + timedelta(hours=3), T0, T0 + timedelta(hours=1), T0]
    keys = ["d", "b", "c", "a"]
    stub.add_response(
        "list_multipart_uploads",
        {
            "Uploads": [upload(k, k.upper(), t) for k, t in zip(keys, times, strict=True)],
            "IsTruncated": False,
        },
    )
    assert [u.key for u in list_incomplete_uploads(BUCKET, client=client)] == ["a", "b", "c", "d"]


def test_keys_outside_the_prefix_are_dropped_even_if_the_endpoint_sends_them(stubbed):
    client, stub = stubbed
    stub.add_response(
        "list_multipart_uploads",
        {"Uploads": [upload("up/a", "1", T0), upload("elsewhere/b", "2", T0)]},
        {"Bucket": BUCKET, "MaxUploads": 1000, "Prefix": "up/"},
    )
    assert [u.key for u in list_incomplete_uploads(BUCKET, "up/", client=client)] == ["up/a"]


def test_with_sizes_leaves_out_an_upload_finished_meanwhile(stubbed):
    client, stub = stubbed
    stub.add_response(
        "list_multipart_uploads", {"Uploads": [upload("a", "1", T0), upload("b", "2", T0)]}
    )
    stub.add_client_error("list_parts", "NoSuchUpload", http_status_code=404)
    stub.add_response("list_parts", {"Parts": [{"PartNumber": 1, "Size": 7}]})
    found = list_incomplete_uploads(BUCKET, client=client, with_sizes=True)
    assert [(u.key, u.parts, u.size) for u in found] == [("b", 1, 7)]


# --- aborting (moto) -----------------------------------------------------------------


def test_abort_leaves_no_upload_under_the_prefix_and_keeps_the_others(s3_client):
    gone = {("up/a", start(s3_client, "up/a", (MiB,))), ("up/b", start(s3_client, "up/b"))}
    kept = {("other/c", start(s3_client, "other/c", (MiB,)))}
    aborted = abort_incomplete_uploads(BUCKET, "up/", older_than=0, client=s3_client)
    assert pairs(aborted) == gone
    assert held(s3_client) == kept


def test_abort_of_the_whole_bucket_takes_an_explicit_empty_prefix(s3_client):
    start(s3_client, "a")
    start(s3_client, "b/c")
    with pytest.raises(TypeError, match="prefix"):
        abort_incomplete_uploads(BUCKET, older_than=0, client=s3_client)  # type: ignore[call-arg]
    assert len(held(s3_client)) == 2
    assert len(abort_incomplete_uploads(BUCKET, "", older_than=0, client=s3_client)) == 2
    assert held(s3_client) == set()


def test_dry_run_aborts_nothing_and_says_what_it_would(s3_client):
    started = {("up/a", start(s3_client, "up/a", (MiB,))), ("up/b", start(s3_client, "up/b"))}
    would = abort_incomplete_uploads(BUCKET, "up/", older_than=0, client=s3_client, dry_run=True)
    assert pairs(would) == started
    assert held(s3_client) == started


def test_by_default_only_uploads_older_than_a_day_go(s3_client):
    upload_id = start(s3_client, "up/a")
    (record,) = list_incomplete_uploads(BUCKET, client=s3_client)
    young = record.initiated + timedelta(hours=23)
    assert abort_incomplete_uploads(BUCKET, "up/", client=s3_client, now=young) == []
    assert held(s3_client) == {("up/a", upload_id)}
    old = record.initiated + timedelta(days=1, seconds=1)
    assert pairs(abort_incomplete_uploads(BUCKET, "up/", client=s3_client, now=old)) == {
        ("up/a", upload_id)
    }
    assert held(s3_client) == set()


def test_older_than_in_seconds_means_the_same(s3_client):
    start(s3_client, "k")
    (record,) = list_incomplete_uploads(BUCKET, client=s3_client)
    now = record.initiated + timedelta(seconds=100)
    assert abort_incomplete_uploads(BUCKET, "", older_than=101, client=s3_client, now=now) == []
    assert (
        len(abort_incomplete_uploads(BUCKET, "", older_than=99.5, client=s3_client, now=now)) == 1
    )


def test_abort_with_sizes_reports_the_bytes_freed(s3_client):
    start(s3_client, "k", (5 * MiB, 10))
    (gone,) = abort_incomplete_uploads(BUCKET, "", older_than=0, client=s3_client, with_sizes=True)
    assert (gone.parts, gone.size) == (2, 5 * MiB + 10)
    assert held(s3_client) == set()


def test_age_is_measured_from_initiated(s3_client):
    start(s3_client, "k")
    (record,) = list_incomplete_uploads(BUCKET, client=s3_client)
    assert record.age(record.initiated + timedelta(hours=5)) == timedelta(hours=5)
    assert record.age() > timedelta(0)  # moto's uploads start in the past


# --- aborting (stubbed) --------------------------------------------------------------


def test_only_the_stale_uploads_are_aborted(stubbed):
    client, stub = stubbed
    now = T0 + timedelta(days=3)
    stub.add_response(
        "list_multipart_uploads",
        {
            "Uploads": [
                upload("up/new", "N", now - timedelta(hours=2)),
                upload("up/old", "O", now - timedelta(days=2)),
                upload("up/edge", "E", now - timedelta(days=1)),
            ]
        },
    )
    # Stubber fails on any call not scripted here: aborting "up/new" would.
    for key, upload_id in (("up/old", "O"), ("up/edge", "E")):
        stub.add_response(
            "abort_multipart_upload", {}, {"Bucket": BUCKET, "Key": key, "UploadId": upload_id}
        )
    aborted = abort_incomplete_uploads(BUCKET, "up/", client=client, now=now)
    assert [u.key for u in aborted] == ["up/old", "up/edge"]


def test_an_upload_finished_meanwhile_is_skipped_and_the_rest_aborted(stubbed):
    client, stub = stubbed
    stub.add_response(
        "list_multipart_uploads", {"Uploads": [upload("a", "1", T0), upload("b", "2", T0)]}
    )
    stub.add_client_error("abort_multipart_upload", "NoSuchUpload", http_status_code=404)
    stub.add_response("abort_multipart_upload", {})
    aborted = abort_incomplete_uploads(BUCKET, "", older_than=0, client=client)
    assert [u.key for u in aborted] == ["b"]


def test_a_time_without_zone_is_utc_and_an_upload_without_one_is_never_old(stubbed):
    client, stub = stubbed
    naive = datetime(2025, 1, 1, 12, 0)  # what a lax S3-compatible endpoint may send
    listing = {"Uploads": [{"Key": "nodate", "UploadId": "X"}, upload("naive", "N", naive)]}
    stub.add_response("list_multipart_uploads", listing)
    found = list_incomplete_uploads(BUCKET, client=client)
    assert [u.key for u in found] == ["naive", "nodate"]
    assert found[0].initiated == datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    stub.add_response("list_multipart_uploads", listing)
    now = datetime(2025, 1, 2, 12, 0, 1, tzinfo=timezone.utc)
    would = abort_incomplete_uploads(BUCKET, "", client=client, now=now, dry_run=True)
    assert [u.key for u in would] == ["naive"]


# --- errors --------------------------------------------------------------------------


def test_a_missing_bucket_is_named(s3_client):
    for call in (
        lambda: list_incomplete_uploads("no-such-bucket-here", client=s3_client),
        lambda: abort_incomplete_uploads("no-such-bucket-here", "", client=s3_client),
        lambda: configure_abort_incomplete_uploads("no-such-bucket-here", "", client=s3_client),
    ):
        with pytest.raises(UploadError) as info:
            call()
        assert info.value.code == "no-such-bucket"
        assert '"no-such-bucket-here"' in info.value.message
        assert "S3UploadWidget" not in info.value.hint and "bucket name" in info.value.hint


def test_listing_denied_names_the_iam_action_on_the_bucket(stubbed):
    client, stub = stubbed
    stub.add_client_error("list_multipart_uploads", "AccessDenied", http_status_code=403)
    with pytest.raises(UploadError) as info:
        list_incomplete_uploads(BUCKET, "up/", client=client)
    assert info.value.code == "access-denied"
    assert '"s3:ListBucketMultipartUploads" on "arn:aws:s3:::test-bucket"' in info.value.hint


def test_abort_denied_names_the_iam_action_on_the_prefix_and_what_was_done(stubbed):
    client, stub = stubbed
    stub.add_response(
        "list_multipart_uploads",
        {"Uploads": [upload("up/a", "1", T0), upload("up/b", "2", T0), upload("up/c", "3", T0)]},
    )
    stub.add_response("abort_multipart_upload", {})
    stub.add_client_error("abort_multipart_upload", "AccessDenied", http_status_code=403)
    with pytest.raises(UploadError) as info:
        abort_incomplete_uploads(BUCKET, "up/", older_than=0, client=client)
    assert info.value.code == "access-denied"
    assert '"s3:AbortMultipartUpload" on "arn:aws:s3:::test-bucket/up/*"' in info.value.hint
    assert "s3://test-bucket/up/b" in info.value.message
    assert "1 of the 3 uploads were aborted before it" in info.value.message


def test_sizes_denied_names_list_multipart_upload_parts(stubbed):
    client, stub = stubbed
    stub.add_response("list_multipart_uploads", {"Uploads": [upload("up/a", "1", T0)]})
    stub.add_client_error("list_parts", "AccessDenied", http_status_code=403)
    with pytest.raises(UploadError) as info:
        list_incomplete_uploads(BUCKET, "up/", client=client, with_sizes=True)
    assert info.value.code == "access-denied"
    assert '"s3:ListMultipartUploadParts" on "arn:aws:s3:::test-bucket/up/*"' in info.value.hint


class Untouchable:
    """A client that fails the test if anything is asked of S3."""

    def __getattr__(self, name):
        raise AssertionError(f"S3 was called ({name}) despite a bad argument")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"older_than": -1}, "older_than must be 0 or more"),
        ({"older_than": timedelta(seconds=-1)}, "older_than must be 0 or more"),
        ({"older_than": math.nan}, "older_than must be 0 or more"),
        ({"older_than": math.inf}, "older_than must be 0 or more"),
        ({"older_than": True}, "older_than must be a datetime.timedelta"),
        ({"older_than": "1d"}, "older_than must be a datetime.timedelta"),
        ({"prefix": None}, "prefix must be a string"),
        ({"prefix": 5}, "prefix must be a string"),
        ({"prefix": b"up/"}, "prefix must be a string"),
        ({"bucket": ""}, "bucket must be the bucket's name"),
        ({"bucket": None}, "bucket must be the bucket's name"),
        ({"now": datetime(2025, 1, 1)}, "now must be a timezone-aware datetime"),
    ],
)
def test_bad_arguments_to_abort_are_refused_before_any_request(kwargs, words):
    args = {"bucket": BUCKET, "prefix": "up/", "client": Untouchable(), **kwargs}
    with pytest.raises(UploadError) as info:
        abort_incomplete_uploads(**args)
    assert info.value.code == "bad-request" and isinstance(info.value, ValueError)
    assert words in info.value.message and info.value.hint


@pytest.mark.parametrize(("bucket", "prefix"), [("", ""), (BUCKET, None), (BUCKET, ["up/"])])
def test_bad_arguments_to_list_are_refused_before_any_request(bucket, prefix):
    with pytest.raises(UploadError) as info:
        list_incomplete_uploads(bucket, prefix, client=Untouchable())
    assert info.value.code == "bad-request"


# --- the lifecycle rule --------------------------------------------------------------


def rules(client) -> list[dict]:
    return client.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]


def abort_rule(client, rule_id: str) -> dict:
    (rule,) = [r for r in rules(client) if r["ID"] == rule_id]
    return rule


def count_writes(client) -> list:
    writes: list = []
    client.meta.events.register(
        "before-call.s3.PutBucketLifecycleConfiguration", lambda **kw: writes.append(1)
    )
    return writes


def test_the_rule_aborts_incomplete_uploads_after_the_days(s3_client):
    config = configure_abort_incomplete_uploads(BUCKET, "", days=2, client=s3_client)
    rule = abort_rule(s3_client, hk.RULE_ID)
    assert rule["Status"] == "Enabled"
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert rule["Filter"].get("Prefix", "") == ""
    assert config["Rules"][-1]["ID"] == hk.RULE_ID


def test_the_rule_keeps_every_other_rule(s3_client):
    others = [
        {
            "ID": "logs",
            "Filter": {"Prefix": "logs/"},
            "Status": "Enabled",
            "Expiration": {"Days": 30},
        },
        {"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 3}},
    ]
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": others}
    )
    configure_abort_incomplete_uploads(BUCKET, "up/", client=s3_client)
    by_id = {r["ID"]: r for r in rules(s3_client)}
    assert set(by_id) == {"logs", "legacy", f"{hk.RULE_ID} up/"}
    assert by_id["logs"]["Expiration"] == {"Days": 30}
    assert by_id["legacy"]["Prefix"] == "old/"
    assert by_id[f"{hk.RULE_ID} up/"]["Filter"] == {"Prefix": "up/"}


def test_rerunning_replaces_the_rule_and_writes_nothing_when_it_is_as_wanted(s3_client):
    writes = count_writes(s3_client)
    configure_abort_incomplete_uploads(BUCKET, "up/", days=1, client=s3_client)
    configure_abort_incomplete_uploads(BUCKET, "up/", days=1, client=s3_client)
    assert len(writes) == 1
    configure_abort_incomplete_uploads(BUCKET, "up/", days=3, client=s3_client)
    assert len(writes) == 2
    (rule,) = rules(s3_client)  # replaced, not added
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    configure_abort_incomplete_uploads(BUCKET, "other/", client=s3_client)
    assert len(rules(s3_client)) == 2  # another prefix, another rule


def test_a_very_long_prefix_still_gets_a_short_unique_rule_id():
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    assert len(hk._rule_id(long_a)) <= 255
    assert hk._rule_id(long_a) != hk._rule_id(long_b)
    assert hk._rule_id("up/") == f"{hk.RULE_ID} up/" and hk._rule_id("") == hk.RULE_ID


@pytest.mark.parametrize("days", [0, -1, True, 1.5, "1", None])
def test_days_must_be_a_whole_number_of_days(days):
    with pytest.raises(UploadError) as info:
        configure_abort_incomplete_uploads(BUCKET, "", days=days, client=Untouchable())
    assert info.value.code == "bad-request" and "days must be" in info.value.message


@pytest.mark.parametrize(
    ("failing", "action"),
    [
        ("get_bucket_lifecycle_configuration", "s3:GetLifecycleConfiguration"),
        ("put_bucket_lifecycle_configuration", "s3:PutLifecycleConfiguration"),
    ],
)
def test_lifecycle_denied_names_the_iam_action_on_the_bucket(stubbed, failing, action):
    client, stub = stubbed
    if failing == "put_bucket_lifecycle_configuration":
        stub.add_client_error(
            "get_bucket_lifecycle_configuration",
            "NoSuchLifecycleConfiguration",
            http_status_code=404,
        )
    stub.add_client_error(failing, "AccessDenied", http_status_code=403)
    with pytest.raises(UploadError) as info:
        configure_abort_incomplete_uploads(BUCKET, "", client=client)
    assert info.value.code == "access-denied"
    assert f'"{action}" on "arn:aws:s3:::test-bucket"' in info.value.hint
    assert "test-bucket/" not in info.value.hint  # a bucket-level action: the bucket's ARN
