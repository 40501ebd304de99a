"""configure_cors / check_cors / cors_problems: merging rules, S3's matching, the words."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from s3_upload_widget._cors import (
    RULE_HEADERS,
    RULE_ID,
    check_cors,
    configure_cors,
    cors_problems,
    merge_rules,
    origin_matches,
    validate_origin,
)
from s3_upload_widget._errors import UploadError

BUCKET = "cors-bucket"
ORIGIN = "http://localhost:8888"

OTHER_RULE = {
    "ID": "website",
    "AllowedOrigins": ["https://www.example.com"],
    "AllowedMethods": ["GET"],
    "AllowedHeaders": ["authorization"],
    "ExposeHeaders": ["x-amz-request-id"],
    "MaxAgeSeconds": 60,
}
ANON_RULE = {"AllowedOrigins": ["https://app.example.org"], "AllowedMethods": ["GET", "HEAD"]}


def ok_rule(**changes):
    rule = {
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
    }
    rule.update(changes)
    return rule


@pytest.fixture
def s3(aws_credentials):
    """moto in process (fake credentials from conftest's aws_credentials), one bucket."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def rules_of(client, bucket=BUCKET):
    return client.get_bucket_cors(Bucket=bucket)["CORSRules"]


class CountingClient:
    """Passes calls through to a real client, counting put_bucket_cors."""

    def __init__(self, client):
        self._client = client
        self.puts = 0

    def put_bucket_cors(self, **kwargs):
        self.puts += 1
        return self._client.put_bucket_cors(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


# -- origins ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8888",
        "https://example.com",
        "http://127.0.0.1:*",
        "https://*.example.com",
        "http://[::1]:8888",
        "vscode-webview://*",
        "*",
    ],
)
def test_valid_origins(origin):
    assert validate_origin(origin) == origin


@pytest.mark.parametrize(
    ("origin", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("http://x/path", "path"),
        ("http://localhost:8888/", "path"),
        ("http://localhost:8888/lab?x=1", "'http://localhost:8888'"),
        ("localhost:8888", "no scheme"),
        ("HTTP://LOCALHOST:8888", "lower case"),
        ("http://*.*.example.com", "at most one"),
        ("http://local host", "spaces"),
        ("http://localhost:88888888", "scheme://host[:port]"),
        (8888, "string"),
        (None, "string"),
    ],
)
def test_invalid_origins_raise_clear_value_errors(origin, words):
    with pytest.raises(ValueError, match="origin") as info:
        validate_origin(origin)
    assert words in str(info.value)


def test_configure_cors_rejects_bad_origins_before_calling_s3():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client):  # no responses queued: any S3 call would fail the test
        for bad in ("", "http://x/path", [], ["http://ok:1", "http://x/path"]):
            with pytest.raises(ValueError):
                configure_cors(BUCKET, bad, client=client)
        with pytest.raises(ValueError):
            configure_cors("", ORIGIN, client=client)
        with pytest.raises(ValueError, match="exact origin"):
            check_cors(BUCKET, "http://localhost:*", client=client)


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        ("http://localhost:8888", "http://localhost:8888", True),
        ("http://localhost:8888", "http://localhost:8889", False),
        ("http://localhost:*", "http://localhost:8888", True),
        ("http://localhost:*", "http://localhost.evil.com:1", False),
        ("http://127.0.0.1:*", "http://127.0.0.1:8888", True),
        ("http://127.0.0.1:*", "https://127.0.0.1:8888", False),
        ("https://*.example.com", "https://lab.example.com", True),
        ("https://*.example.com", "https://lab.example.com.evil.net", False),
        ("https://*.example.com", "http://lab.example.com", False),
        ("*", "http://anything:1", True),
        ("http://LOCALHOST:8888", "http://localhost:8888", False),  # S3 is case-sensitive
        ("http://localhost", "http://localhost:8888", False),
    ],
)
def test_origin_matching_follows_s3(allowed, origin, expected):
    assert origin_matches(allowed, origin) is expected


_no_star = st.text(alphabet=st.characters(blacklist_characters="*"), max_size=12)


@given(head=_no_star, middle=st.text(max_size=12), tail=_no_star, other=_no_star)
def test_wildcard_matches_any_middle_and_exact_only_itself(head, middle, tail, other):
    assert origin_matches(f"{head}*{tail}", head + middle + tail)
    assert origin_matches(head, other) is (head == other)


# -- configure_cors -----------------------------------------------------------------------
def test_configure_cors_on_bucket_without_cors(s3):
    config = configure_cors(BUCKET, ORIGIN, client=s3)
    assert rules_of(s3) == config["CORSRules"]
    (rule,) = config["CORSRules"]
    assert rule == {
        "ID": RULE_ID,
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["PUT", "POST"],
        "AllowedHeaders": list(RULE_HEADERS),
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3000,
    }
    assert check_cors(BUCKET, ORIGIN, client=s3) == []


def test_configure_cors_keeps_other_rules_and_puts_ours_first(s3):
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [OTHER_RULE, ANON_RULE]})
    before = rules_of(s3)
    configure_cors(BUCKET, [ORIGIN], client=s3)
    after = rules_of(s3)
    assert [r.get("ID") for r in after] == [RULE_ID, "website", None]
    assert after[1:] == before  # untouched, same order


def test_configure_cors_rerun_is_idempotent_and_writes_nothing(s3):
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [OTHER_RULE]})
    first = configure_cors(BUCKET, ORIGIN, client=s3)
    counting = CountingClient(s3)
    second = configure_cors(BUCKET, [ORIGIN], client=counting)
    assert second == first
    assert counting.puts == 0
    assert rules_of(s3) == first["CORSRules"]
    assert sum(r.get("ID") == RULE_ID for r in rules_of(s3)) == 1


def test_configure_cors_merges_new_origins_into_our_rule(s3):
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [OTHER_RULE]})
    configure_cors(BUCKET, ORIGIN, client=s3)
    configure_cors(BUCKET, ["http://127.0.0.1:*", ORIGIN], client=s3)
    rules = rules_of(s3)
    assert len(rules) == 2
    assert rules[0]["AllowedOrigins"] == [ORIGIN, "http://127.0.0.1:*"]
    assert rules[1] == OTHER_RULE
    for origin in (ORIGIN, "http://127.0.0.1:9999"):
        assert check_cors(BUCKET, origin, client=s3) == []


def test_configure_cors_repairs_our_rule_edited_by_hand(s3):
    edited = {
        "ID": RULE_ID,
        "AllowedOrigins": [ORIGIN],
        "AllowedMethods": ["GET", "DELETE"],
        "AllowedHeaders": ["content-type"],
        "ExposeHeaders": ["x-amz-version-id"],
        "MaxAgeSeconds": 5,
    }
    twin = {**edited, "AllowedOrigins": ["https://twin.example.com"], "AllowedMethods": ["PUT"]}
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [OTHER_RULE, edited, twin]})
    assert check_cors(BUCKET, ORIGIN, client=s3) != []
    config = configure_cors(BUCKET, ORIGIN, client=s3)
    ours, other = config["CORSRules"]
    assert other == OTHER_RULE
    assert ours["AllowedOrigins"] == [ORIGIN, "https://twin.example.com"]
    # The rule is ours: rewritten to what uploads use, the hand-made additions dropped.
    assert ours["AllowedMethods"] == ["PUT", "POST"]
    assert ours["AllowedHeaders"] == list(RULE_HEADERS)
    assert ours["ExposeHeaders"] == ["ETag"]
    assert check_cors(BUCKET, ORIGIN, client=s3) == []


def test_configure_cors_uses_the_default_client(s3):
    configure_cors(BUCKET, ORIGIN)
    assert check_cors(BUCKET, ORIGIN) == []


def _stubbed():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, Stubber(client)


def test_configure_cors_without_read_permission_names_get_bucket_cors():
    client, stub = _stubbed()
    stub.add_client_error("get_bucket_cors", "AccessDenied", "Access Denied", 403)
    with stub, pytest.raises(UploadError) as info:
        configure_cors(BUCKET, ORIGIN, client=client)
    err = info.value
    assert err.code == "access-denied"
    assert "s3:GetBucketCORS" in str(err)
    assert BUCKET in str(err)
    assert "never drops" in err.hint
    stub.assert_no_pending_responses()


def test_configure_cors_without_write_permission_names_put_bucket_cors():
    client, stub = _stubbed()
    stub.add_client_error(
        "get_bucket_cors", "NoSuchCORSConfiguration", "The CORS configuration does not exist", 404
    )
    stub.add_client_error("put_bucket_cors", "AccessDenied", "Access Denied", 403)
    with stub, pytest.raises(UploadError) as info:
        configure_cors(BUCKET, ORIGIN, client=client)
    assert info.value.code == "access-denied"
    assert "s3:PutBucketCORS" in str(info.value)
    assert BUCKET in str(info.value)


def test_missing_bucket_is_an_upload_error(s3):
    with pytest.raises(UploadError) as info:
        configure_cors("no-such-bucket-here", ORIGIN, client=s3)
    assert info.value.code == "no-such-bucket"
    with pytest.raises(UploadError) as info:
        check_cors("no-such-bucket-here", ORIGIN, client=s3)
    assert info.value.code == "no-such-bucket"


# -- check_cors / cors_problems -----------------------------------------------------------
def _assert_sentence(problem: str, *, bucket=BUCKET, origin=ORIGIN):
    assert f'"{bucket}"' in problem
    assert origin in problem
    assert problem.endswith(f'configure_cors("{bucket}", ["{origin}"])')


def test_no_cors_configuration(s3):
    (problem,) = check_cors(BUCKET, ORIGIN, client=s3)
    assert "no CORS configuration" in problem
    _assert_sentence(problem)
    assert cors_problems(None, ORIGIN, bucket=BUCKET) == [problem]
    assert cors_problems([], ORIGIN, bucket=BUCKET) == [problem]


def test_no_rule_allows_the_origin(s3):
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [OTHER_RULE, ANON_RULE]})
    (problem,) = check_cors(BUCKET, ORIGIN, client=s3)
    assert "No CORS rule" in problem
    assert "https://www.example.com" in problem  # says what is allowed instead
    _assert_sentence(problem)


@pytest.mark.parametrize("allowed", ["http://LOCALHOST:8888", "http://localhost:8888/"])
def test_near_miss_origins_are_explained(allowed):
    (problem,) = cors_problems([ok_rule(AllowedOrigins=[allowed])], ORIGIN, bucket=BUCKET)
    assert f"{allowed} never matches" in problem
    assert "case-sensitively" in problem
    _assert_sentence(problem)


def test_rule_without_put():
    (problem,) = cors_problems([ok_rule(AllowedMethods=["GET", "HEAD"])], ORIGIN, bucket=BUCKET)
    assert "GET, HEAD but not PUT" in problem
    _assert_sentence(problem)


def test_methods_are_case_insensitive_and_put_alone_is_enough():
    assert cors_problems([ok_rule(AllowedMethods=["put"])], ORIGIN) == []


@pytest.mark.parametrize(
    ("headers", "missing"),
    [
        (None, "content-type, if-none-match"),
        (["content-type"], "if-none-match"),
        (["Authorization"], "content-type, if-none-match"),
    ],
)
def test_request_headers_not_allowed(headers, missing):
    rule = ok_rule()
    if headers is None:
        del rule["AllowedHeaders"]
    else:
        rule["AllowedHeaders"] = headers
    (problem,) = cors_problems([rule], ORIGIN, bucket=BUCKET)
    assert f"header(s) {missing}" in problem
    _assert_sentence(problem)


@pytest.mark.parametrize(
    "headers", [["*"], ["Content-Type", "If-None-Match"], ["content-*", "if-*"]]
)
def test_request_headers_allowed(headers):
    assert cors_problems([ok_rule(AllowedHeaders=headers)], ORIGIN) == []


def test_etag_not_exposed():
    rule = ok_rule(ExposeHeaders=["x-amz-request-id"])
    (problem,) = cors_problems([rule], ORIGIN, bucket=BUCKET)
    assert "ETag" in problem and "multipart" in problem
    _assert_sentence(problem)
    assert cors_problems([ok_rule(ExposeHeaders=["etag"])], ORIGIN) == []


def test_first_matching_rule_decides_exposed_headers():
    """S3 answers a PUT with the first rule that matches its origin and method."""
    without_etag = ok_rule(ExposeHeaders=[])
    rules = [without_etag, ok_rule()]
    (problem,) = cors_problems(rules, ORIGIN, bucket=BUCKET)
    assert "ETag" in problem
    assert cors_problems(merge_rules(rules, [ORIGIN]), ORIGIN) == []


def test_headers_and_etag_problems_together(s3):
    rule = ok_rule(AllowedHeaders=["x-custom"], ExposeHeaders=[])
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [rule]})
    problems = check_cors(BUCKET, ORIGIN, client=s3)
    assert len(problems) == 2
    for problem in problems:
        _assert_sentence(problem)


@pytest.mark.parametrize(
    ("allowed", "ok"),
    [
        ("http://localhost:*", True),
        ("http://*", True),
        ("*", True),
        ("https://localhost:*", False),
        ("http://localhost:8889", False),
    ],
)
def test_wildcard_origins_in_rules(s3, allowed, ok):
    s3.put_bucket_cors(
        Bucket=BUCKET, CORSConfiguration={"CORSRules": [ok_rule(AllowedOrigins=[allowed])]}
    )
    assert (check_cors(BUCKET, ORIGIN, client=s3) == []) is ok


def test_check_cors_without_read_permission_says_what_to_check():
    client, stub = _stubbed()
    stub.add_client_error("get_bucket_cors", "AccessDenied", "Access Denied", 403)
    with stub:
        (problem,) = check_cors(BUCKET, ORIGIN, client=client)
    assert "s3:GetBucketCORS" in problem
    assert "Could not read" in problem
    for needed in ("PUT", "ETag", "content-type, if-none-match"):
        assert needed in problem
    _assert_sentence(problem)


def test_check_cors_other_failures_raise_upload_error():
    client, stub = _stubbed()
    stub.add_client_error("get_bucket_cors", "InvalidAccessKeyId", "unknown key", 403)
    with stub, pytest.raises(UploadError) as info:
        check_cors(BUCKET, ORIGIN, client=client)
    assert info.value.code == "invalid-credentials"


# -- properties ---------------------------------------------------------------------------
_origins = st.sampled_from(
    [
        ORIGIN,
        "http://localhost:*",
        "http://127.0.0.1:8888",
        "https://*.example.com",
        "https://lab.example.com",
        "*",
        "http://LOCALHOST:8888",
    ]
)
_rules = st.lists(
    st.fixed_dictionaries(
        {
            "AllowedOrigins": st.lists(_origins, min_size=1, max_size=3),
            "AllowedMethods": st.lists(
                st.sampled_from(["GET", "PUT", "POST", "HEAD", "DELETE"]), min_size=1, max_size=3
            ),
        },
        optional={
            "ID": st.sampled_from([RULE_ID, "other", "x"]),
            "AllowedHeaders": st.lists(
                st.sampled_from(["*", "content-type", "if-none-match", "x-amz-*"]), max_size=3
            ),
            "ExposeHeaders": st.lists(st.sampled_from(["ETag", "x-amz-request-id"]), max_size=2),
            "MaxAgeSeconds": st.integers(0, 10_000),
        },
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(rules=_rules, page=st.sampled_from([ORIGIN, "https://lab.example.com", "http://h:1"]))
def test_merge_always_fixes_and_keeps_the_rest(rules, page):
    merged = merge_rules(rules, [page])
    assert cors_problems(merged, page) == []
    assert sum(r.get("ID") == RULE_ID for r in merged) == 1
    assert merged[1:] == [r for r in rules if r.get("ID") != RULE_ID]
    assert merge_rules(merged, [page]) == merged  # idempotent
