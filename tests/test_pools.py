"""Two connection pools (`_pools`): the ``connection_pools`` option's check, which CORS
rules let S3 answer a page's requests with credentials (`_cors.answers_with_credentials`),
what "auto" resolves to against a real moto server, the ``pools`` field of the
sign-files and sign-parts answers, and LocalS3's moto answering credentials as S3 does.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from session_helpers import BUCKET, Harness, MiB
from widget_wiring import Wired

from s3_upload_widget import LocalS3, S3UploadWidget
from s3_upload_widget import _protocol as P
from s3_upload_widget._cors import RULE_HEADERS, answers_with_credentials, configure_cors
from s3_upload_widget._local import (
    create_bucket,
    loopback_client,
    start_moto_server,
    stop_moto_server,
)
from s3_upload_widget._options import SessionOptions
from s3_upload_widget._pools import check_connection_pools, resolve_connection_pools
from s3_upload_widget._records import outstanding_limit

PAGE = "http://localhost:8888"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def rule(origins, methods=("PUT", "POST"), headers=RULE_HEADERS, **more):
    return {"AllowedOrigins": list(origins), "AllowedMethods": list(methods),
            "AllowedHeaders": list(headers), "ExposeHeaders": ["ETag"], **more}  # fmt: skip


# -- the option ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["auto", 1, 2])
def test_the_option_keeps_auto_1_and_2(value):
    assert check_connection_pools(value) == value


@pytest.mark.parametrize("value", [0, 3, -1, "3", "2", "yes", "", None, 2.0, [2]])
def test_other_values_are_refused_naming_the_values_and_the_fix(value):
    with pytest.raises(ValueError) as caught:
        check_connection_pools(value)
    message = str(caught.value)
    assert f"connection_pools must be 'auto', 1 or 2, not {value!r}." in message
    assert "12 to each S3 host name instead of 6" in message  # what 2 does
    assert "'auto' does so on AWS's S3 when that rule names the origin; 1 never" in message


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_refused_though_true_equals_1(value):
    with pytest.raises(ValueError, match="True and False are no counts of pools"):
        check_connection_pools(value)


def test_the_widget_takes_the_option_and_hands_it_to_the_session():
    w, default = S3UploadWidget(bucket="b", connection_pools=2), S3UploadWidget(bucket="b")
    try:
        assert w.connection_pools == 2 and w._session.options.connection_pools == 2
        w.connection_pools = 1  # a change in Python applies to what is signed next
        assert w._session.options.connection_pools == 1
        assert default.connection_pools == default._session.options.connection_pools == "auto"
    finally:
        w.close()
        default.close()


# -- which rules let S3 answer with credentials --------------------------------------------
def test_a_rule_naming_the_origin_answers_with_credentials():
    assert answers_with_credentials([rule([PAGE])], PAGE)
    assert answers_with_credentials([rule(["http://other:1", PAGE])], PAGE)


def test_a_pattern_of_the_origin_answers_with_credentials():
    assert answers_with_credentials([rule(["http://localhost:*"])], PAGE)
    assert not answers_with_credentials([rule(["http://localhost:*"])], "http://127.0.0.1:8")


def test_a_star_rule_first_answers_star():
    assert not answers_with_credentials([rule(["*"]), rule([PAGE])], PAGE)


def test_the_first_matching_put_rule_with_a_star_decides_though_a_later_one_names_it():
    rules = [rule(["*", PAGE]), rule([PAGE])]
    assert not answers_with_credentials(rules, PAGE)  # S3's choice of entry is unknown
    assert not answers_with_credentials([rule([PAGE, "*"])], PAGE)


def test_rules_for_other_origins_or_methods_before_it_do_not_count():
    get_for_all = rule(["*"], methods=["GET"])
    assert answers_with_credentials([rule(["http://other:1"]), get_for_all, rule([PAGE])], PAGE)


def test_a_later_star_rule_counts_when_a_preflight_may_skip_the_first():
    # A preflight asking for a header the first rule lacks goes on to the next rule.
    narrow = rule([PAGE], headers=["content-type"])
    assert not answers_with_credentials([narrow, rule(["*"])], PAGE)
    assert answers_with_credentials([narrow, rule([PAGE])], PAGE)
    # A first rule allowing every header the widget sends: S3 never gets further.
    assert answers_with_credentials([rule([PAGE]), rule(["*"])], PAGE)
    assert answers_with_credentials([rule([PAGE], headers=["*"]), rule(["*"])], PAGE)


def test_no_rule_no_origin_or_a_missing_method_answers_without():
    assert not answers_with_credentials(None, PAGE)
    assert not answers_with_credentials([], PAGE)
    assert not answers_with_credentials([rule([PAGE])], "")
    assert not answers_with_credentials([rule(["http://other:1"])], PAGE)
    assert not answers_with_credentials([rule([PAGE], methods=["POST", "GET"])], PAGE)  # no PUT
    assert not answers_with_credentials([rule([PAGE], methods=["PUT"])], PAGE)  # no POST
    # Each method by its own first rule: PUT named, POST only through "*".
    assert not answers_with_credentials(
        [rule([PAGE], methods=["PUT"]), rule(["*"], methods=["POST"])], PAGE
    )


# -- "auto" against a real moto server ------------------------------------------------------
@pytest.fixture(scope="module")
def moto_endpoint():
    server, endpoint = start_moto_server()
    yield endpoint
    stop_moto_server(server)


@pytest.fixture
def bucket(moto_endpoint):
    """(client, bucket) on the module's moto server: a new bucket, no CORS rules yet."""
    client = loopback_client(moto_endpoint, "local", "local")
    name = "pools-test"
    create_bucket(client, name)
    yield client, name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def put_rules(client, name, *rules):
    client.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": list(rules)})


def test_auto_is_2_on_aws_where_the_rule_names_the_page(s3_client):
    # s3_client talks to AWS's endpoint names (moto in process answers them).
    assert resolve_connection_pools("auto", s3_client, BUCKET, PAGE) == 1  # no CORS rules yet
    configure_cors(BUCKET, [PAGE], client=s3_client)
    assert resolve_connection_pools("auto", s3_client, BUCKET, PAGE) == 2
    assert resolve_connection_pools("auto", s3_client, BUCKET, "http://other:1") == 1
    assert resolve_connection_pools("auto", s3_client, BUCKET, "") == 1  # no page yet
    put_rules(s3_client, BUCKET, rule(["http://localhost:*"]))
    assert resolve_connection_pools("auto", s3_client, BUCKET, PAGE) == 2


def test_auto_is_1_with_a_star_rule(s3_client):
    put_rules(s3_client, BUCKET, rule(["*"]))
    assert resolve_connection_pools("auto", s3_client, BUCKET, PAGE) == 1


def test_auto_is_1_on_a_local_server_though_it_answers_credentials(bucket):
    # LocalS3's moto answers credentialed requests as S3 does, and its rule names the
    # page, but a request with credentials to 127.0.0.1 would carry the notebook
    # server's cookies (cookies ignore the port): "auto" leaves it at one pool.
    client, name = bucket
    configure_cors(name, [PAGE], client=client)
    assert answers_with_credentials(client.get_bucket_cors(Bucket=name)["CORSRules"], PAGE)
    assert resolve_connection_pools("auto", client, name, PAGE) == 1
    assert resolve_connection_pools(2, client, name, PAGE) == 2  # asked for: two


def test_auto_is_1_when_the_rules_cannot_be_read(s3_client):
    with pytest.raises(s3_client.exceptions.NoSuchBucket):
        s3_client.get_bucket_cors(Bucket="no-such-bucket")
    assert resolve_connection_pools("auto", s3_client, "no-such-bucket", PAGE) == 1


def test_1_and_2_are_taken_as_they_are(bucket, moto_endpoint):
    client, name = bucket
    put_rules(client, name, rule(["*"]))
    assert resolve_connection_pools(1, client, name, PAGE) == 1
    assert resolve_connection_pools(2, client, name, PAGE) == 2
    assert resolve_connection_pools(2, client, "no-such-bucket", "") == 2


# -- LocalS3's moto answers with credentials as S3 does --------------------------------------
def send(method, url, headers, data=None):
    """(status, response headers) of a request sent as a browser sends it."""
    request = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def preflight(endpoint, name, key, headers="content-type,if-none-match,x-amz-checksum-crc32c"):
    return send("OPTIONS", f"{endpoint}/{name}/{key}", {
        "Origin": PAGE, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": headers,
    })  # fmt: skip


def put(client, name, key):
    url = client.generate_presigned_url("put_object", Params={"Bucket": name, "Key": key})
    return send("PUT", url, {"Origin": PAGE}, b"hello")


def test_moto_answers_a_rule_naming_the_origin_with_credentials(bucket, moto_endpoint):
    client, name = bucket
    configure_cors(name, [PAGE], client=client)  # AllowedHeaders: the widget's patterns
    status, answer = preflight(moto_endpoint, name, "a.txt", "content-type,x-amz-meta-a,x-evil")
    assert status == 200
    assert answer["Access-Control-Allow-Origin"] == PAGE
    assert answer["Access-Control-Allow-Credentials"] == "true"
    # The headers asked for that the rule allows, echoed: a browser reads a pattern
    # ("x-amz-*") literally for a request with credentials. x-evil stays out.
    assert answer["Access-Control-Allow-Headers"] == "content-type, x-amz-meta-a"
    status, answer = put(client, name, "a.txt")
    assert status == 200
    assert answer["Access-Control-Allow-Origin"] == PAGE
    assert answer["Access-Control-Allow-Credentials"] == "true"
    assert "etag" in answer["Access-Control-Expose-Headers"].lower()


def test_moto_answers_a_pattern_rule_with_credentials(bucket, moto_endpoint):
    client, name = bucket
    put_rules(client, name, rule(["http://localhost:*"], headers=["*"]))
    status, answer = preflight(moto_endpoint, name, "b.txt")
    assert status == 200 and answer["Access-Control-Allow-Origin"] == PAGE
    assert answer["Access-Control-Allow-Credentials"] == "true"
    assert answer["Access-Control-Allow-Headers"] == "content-type, if-none-match, " + (
        "x-amz-checksum-crc32c"
    )


def test_moto_answers_a_star_rule_with_star_and_no_credentials(bucket, moto_endpoint):
    client, name = bucket
    put_rules(client, name, rule(["*"], headers=["*"]))
    status, answer = preflight(moto_endpoint, name, "c.txt")
    assert status == 200
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer
    assert answer["Access-Control-Allow-Headers"] == "*"  # as moto answers it: no credentials
    status, answer = put(client, name, "c.txt")
    assert status == 200
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer


def test_moto_answers_by_the_first_rule_of_the_origin(bucket, moto_endpoint):
    client, name = bucket
    put_rules(client, name, rule(["*"], headers=["*"]), rule([PAGE], headers=["*"]))
    status, answer = put(client, name, "d.txt")
    assert status == 200 and answer["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer
    # Another origin under a rule naming only PAGE: no CORS headers at all, as before.
    put_rules(client, name, rule([PAGE]))
    url = client.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "e.txt"})
    status, answer = send("PUT", url, {"Origin": "http://evil:1"}, b"x")
    assert status == 200 and "Access-Control-Allow-Origin" not in answer
    assert "Access-Control-Allow-Credentials" not in answer


# -- the session's answers --------------------------------------------------------------
def hello_with_rules(h: Harness, client, origins=(PAGE,)) -> None:
    """The page says hello from PAGE; the bucket (in-process moto, at AWS's endpoint
    name: it answers like S3) has the widget's rule for ``origins``."""
    configure_cors(BUCKET, list(origins), client=client)
    h.ok(P.HELLO, origin=PAGE)


def cors_reads(client) -> list[str]:
    """The bucket names of every GetBucketCors the client sends from now on."""
    reads: list[str] = []
    client.meta.events.register(
        "before-call.s3.GetBucketCors", lambda params, **_: reads.append(params["url_path"])
    )
    return reads


def test_sign_files_and_sign_parts_say_how_many_pools(s3_client):
    h = Harness(s3_client, form_posts=False)
    hello_with_rules(h, s3_client)
    reads = cors_reads(s3_client)
    small = h.add("a.csv", 10)
    big = h.add("big.bin", 20 * MiB, "application/octet-stream")
    answer = h.ok(P.SIGN_FILES, upload_ids=[small["id"], big["id"]])
    assert answer["pools"] == 2
    assert [r["ok"] for r in answer["results"]] == [True, True]
    parts = h.ok(P.SIGN_PARTS, upload_id=big["id"], part_numbers=[1, 2])
    assert parts["pools"] == 2 and len(parts["parts"]) == 2
    assert len(reads) == 1  # "auto" read the rules once, for both answers
    # The page sends parts on both pools: room for twice the part URLs outstanding.
    upload = h.session._uploads[big["id"]]
    assert upload.max_outstanding == outstanding_limit(h.session.options.in_flight * 2)


def test_the_answers_say_1_without_a_rule_naming_the_page(s3_client):
    h = Harness(s3_client, form_posts=False)
    hello_with_rules(h, s3_client, origins=["*"])
    big = h.add("big.bin", 20 * MiB, "application/octet-stream")
    assert h.ok(P.SIGN_FILES, upload_ids=[big["id"]])["pools"] == 1
    assert h.ok(P.SIGN_PARTS, upload_id=big["id"], part_numbers=[1])["pools"] == 1
    upload = h.session._uploads[big["id"]]
    assert upload.max_outstanding == outstanding_limit(h.session.options.in_flight)


def test_the_answer_follows_the_option_the_origin_and_the_rules_read_once_each(s3_client):
    h = Harness(s3_client, form_posts=False)
    reads = cors_reads(s3_client)
    first = h.add("a.csv", 10)
    assert h.ok(P.SIGN_FILES, upload_ids=[first["id"]])["pools"] == 1  # no page origin yet
    assert reads == []  # nothing to read without one
    hello_with_rules(h, s3_client)
    reads.clear()  # configure_cors's own
    for name in ("b.csv", "c.csv"):
        record = h.add(name, 10)
        assert h.ok(P.SIGN_FILES, upload_ids=[record["id"]])["pools"] == 2
    assert len(reads) == 1
    h.session.options = SessionOptions(bucket=BUCKET, form_posts=False, connection_pools=1)
    record = h.add("d.csv", 10)
    assert h.ok(P.SIGN_FILES, upload_ids=[record["id"]])["pools"] == 1
    h.session.options = SessionOptions(bucket=BUCKET, form_posts=False)  # "auto" again
    h.ok(P.HELLO, origin="http://127.0.0.1:9999")  # a page elsewhere: not in the rule
    record = h.add("e.csv", 10)
    assert h.ok(P.SIGN_FILES, upload_ids=[record["id"]])["pools"] == 1
    assert len(reads) == 2  # read again for the new origin; none for 1
    h.session.options = SessionOptions(bucket=BUCKET, form_posts=False, connection_pools=2)
    record = h.add("f.csv", 10)
    assert h.ok(P.SIGN_FILES, upload_ids=[record["id"]])["pools"] == 2
    assert len(reads) == 2


def test_sign_files_answers_1_when_no_signer_can_be_made(s3_client):
    h = Harness(s3_client, connection_pools=2)
    record = h.add("a.csv", 10)

    def no_signer():
        raise RuntimeError("no credentials")

    h.session._signer_factory = no_signer
    answer = h.ok(P.SIGN_FILES, upload_ids=[record["id"]])
    assert answer["pools"] == 1
    (result,) = answer["results"]
    assert result["ok"] is False  # the file says why itself
    assert h.session.records[0]["status"] == "error"


def test_the_widget_answers_pools_from_its_worker_thread():
    with LocalS3(bucket="pools-widget", origins=[PAGE]) as local:
        w = S3UploadWidget(
            bucket=local.bucket, client=local.client, form_posts=False, connection_pools=2
        )
        try:
            wired = Wired(w)
            wired.ok(P.HELLO, origin=PAGE)
            (record,) = wired.add(("a.csv", 10))
            assert wired.ok(P.SIGN_FILES, upload_ids=[record["id"]])["pools"] == 2
            w.connection_pools = "auto"  # a local server: one pool (its host's cookies)
            (record,) = wired.add(("b.csv", 10))
            assert wired.ok(P.SIGN_FILES, upload_ids=[record["id"]])["pools"] == 1
        finally:
            w.close()


def test_with_2_pools_a_multipart_file_is_planned_for_all_its_parts_at_once(s3_client):
    size = 120 * MiB + 5
    plans = {}
    for pools in (1, 2):
        h = Harness(s3_client, form_posts=False, connection_pools=pools, multipart_threshold=MiB)
        hello_with_rules(h, s3_client)
        big = h.add("big.bin", size, "application/octet-stream")
        (entry,) = h.ok(P.SIGN_FILES, upload_ids=[big["id"]])["results"]
        plan = plans[pools] = entry["result"]
        # The page hashed part 1 while sign-files was out: the same bytes as the plan's.
        assert big["first_part"]["length"] == plan["part_size"]
    in_flight = SessionOptions(bucket=BUCKET).in_flight
    assert plans[1]["part_count"] % in_flight == 0  # whole rounds of the parts in flight
    assert plans[2]["part_count"] % (2 * in_flight) == 0
    assert plans[2]["part_count"] > plans[1]["part_count"]


def test_the_first_hello_reads_the_rules_aside_so_the_first_pick_waits_on_nothing(s3_client):
    configure_cors(BUCKET, [PAGE], client=s3_client)
    reads = cors_reads(s3_client)
    h = Harness(s3_client, warm_signer=True, form_posts=False)
    h.ok(P.HELLO, origin=PAGE)
    h.session._warmer.join(timeout=10)
    assert len(reads) == 1  # on the warm-up thread, before any pick
    big = h.add("big.bin", 120 * MiB, "application/octet-stream")
    assert h.ok(P.SIGN_FILES, upload_ids=[big["id"]])["pools"] == 2
    assert len(reads) == 1
    h.session.close()
