"""Host views whose origin changes with every view (VS Code webviews, Colab output frames):
recognised by `host_of`, kept by `page_origin`, and the CORS diagnosis advises the host's
one-'*' pattern, never the view's exact origin, which would not last. The advised rule is
one S3 accepts (one '*'; written by `configure_cors` to moto, and answered in a real
preflight by moto's server and by s3rver, which evaluates rules as S3 does)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from conftest import TEST_BUCKET  # tests/ is on sys.path (rootdir conftest)
from widget_wiring import Wired

import s3_upload_widget._protocol as P
from s3_upload_widget import S3UploadWidget
from s3_upload_widget._cors import (
    check_cors,
    configure_cors,
    cors_problems,
    page_origin,
    validate_origin,
)
from s3_upload_widget._errors import explain_browser_failure
from s3_upload_widget._local import LocalS3
from s3_upload_widget._origins import HOSTS, allowed_origin_for, host_note, host_of

pytest_plugins = ["fixtures_s3rver"]

BUCKET = TEST_BUCKET
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only

# Origins as reported in the hosts' issue trackers (see s3_upload_widget/_origins.py).
VSCODE = "vscode-webview://161hjp4fs3g7bh2fg3t3be6figqr7ltastm10jjr4t66porl065l"
VSCODE_UUID = "vscode-webview://b421f05c-bc2d-4615-afaa-2a4df3cbdfb1"
VSCODE_WEB = "https://v--0q1i8c2u150mcq90o85f64ukgjbssr515pashf0hfb9o28bfkbqo.vscode-cdn.net"
COLAB = "https://cskfus796ts-496ff2e9c6d22116-0-colab.googleusercontent.com"
EXAMPLES = {
    VSCODE: "VS Code",
    VSCODE_UUID: "VS Code",
    VSCODE_WEB: "VS Code for the Web",
    COLAB: "Google Colab",
}
PATTERNS = {
    "VS Code": "vscode-webview://*",
    "VS Code for the Web": "https://*.vscode-cdn.net",
    "Google Colab": "https://*-colab.googleusercontent.com",
}
LOOKALIKES = [
    "http://vscode-webview.evil.com",
    "vscode-webview://",
    "vscode-webview://*",
    "vscode-webview://ABC",
    "vscode-webview://abc/x",
    "vscode-webview://abc:1",
    "https://x.colab.googleusercontent.com.evil.net",
    "https://x-colab.googleusercontent.com:8443",
    "http://x-colab.googleusercontent.com",
    "https://-colab.googleusercontent.com",
    "https://a.b-colab.googleusercontent.com",
    "https://evil.com/x.vscode-cdn.net",
    "https://x.vscode-cdn.net.evil.com",
    "http://localhost:8888",
    "",
    None,
    42,
]


def ok_rule(origin):
    return {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
    }


# -- recognising a host's views -----------------------------------------------------------
@pytest.mark.parametrize(("origin", "host"), EXAMPLES.items())
def test_host_views_are_recognised_and_kept_as_page_origins(origin, host):
    assert host_of(origin).name == host
    assert page_origin(origin) == origin
    assert allowed_origin_for(origin) == PATTERNS[host]


@pytest.mark.parametrize("value", LOOKALIKES, ids=repr)
def test_lookalikes_are_no_host_view(value):
    assert host_of(value) is None
    assert host_note(value) == ""
    if isinstance(value, str) and value:
        assert allowed_origin_for(value) == value  # an ordinary origin stays itself


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_each_pattern_is_one_s3_accepts_and_lets_in_only_its_hosts_views(host):
    assert host.pattern.count("*") == 1  # S3: at most one wildcard per AllowedOrigin
    assert validate_origin(host.pattern) == host.pattern
    mine = [o for o, name in EXAMPLES.items() if name == host.name]
    assert mine and all(allowed_origin_for(o) == host.pattern for o in mine)
    others = [o for o, name in EXAMPLES.items() if name != host.name]
    assert not any(cors_problems([ok_rule(host.pattern)], o) == [] for o in others)


# -- the diagnosis --------------------------------------------------------------------------
@pytest.mark.parametrize(("origin", "host"), EXAMPLES.items())
def test_no_cors_advises_the_hosts_pattern_never_the_views_origin(origin, host):
    (problem,) = cors_problems([], origin, bucket=BUCKET)
    assert problem.endswith(f'Fix: configure_cors("{BUCKET}", ["{PATTERNS[host]}"])')
    assert f'["{origin}"]' not in problem
    assert "is new with every view, so S3 cannot allow it exactly" in problem
    assert host_of(origin).also_allows in problem  # says plainly what else it lets in


def test_a_rule_for_an_old_view_of_vscode_does_not_match_a_new_one():
    (problem,) = cors_problems([ok_rule(VSCODE_UUID)], VSCODE, bucket=BUCKET)
    assert f'No CORS rule of bucket "{BUCKET}" allows the origin {VSCODE}' in problem
    assert VSCODE_UUID in problem  # what the rules allow instead
    assert f'Fix: configure_cors("{BUCKET}", ["vscode-webview://*"])' in problem


def test_the_hosts_pattern_in_a_rule_lets_every_view_upload():
    for origin, host in EXAMPLES.items():
        assert cors_problems([ok_rule(PATTERNS[host])], origin) == []


def test_a_pattern_rule_without_etag_still_says_what_to_fix():
    rule = {**ok_rule("vscode-webview://*"), "ExposeHeaders": []}
    (problem,) = cors_problems([rule], VSCODE, bucket=BUCKET)
    assert "does not expose the ETag" in problem
    assert problem.endswith(f'Fix: configure_cors("{BUCKET}", ["vscode-webview://*"])')


def test_the_advised_rule_is_written_and_then_found_right(s3_client):
    (problem,) = check_cors(BUCKET, COLAB, client=s3_client)
    assert "has no CORS configuration" in problem
    configure_cors(BUCKET, [PATTERNS["Google Colab"]], client=s3_client)  # what the fix says
    (rule,) = s3_client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://*-colab.googleusercontent.com"]
    assert check_cors(BUCKET, COLAB, client=s3_client) == []
    another_view = "https://another-view-colab.googleusercontent.com"
    assert check_cors(BUCKET, another_view, client=s3_client) == []
    assert check_cors(BUCKET, "https://evil.com", client=s3_client) != []


@pytest.mark.parametrize(("origin", "host"), EXAMPLES.items())
@pytest.mark.parametrize("problems", [None, []])
def test_the_browser_failure_advice_names_the_pattern(origin, host, problems):
    error = explain_browser_failure(
        reason="network", origin=origin, bucket=BUCKET, cors_problems=problems
    )
    assert error.code == "cors"
    assert origin in error.message  # this page is named, as it is
    assert "S3 cannot allow it exactly" in error.message
    assert f'w.configure_cors(["{PATTERNS[host]}"]) on this widget' in error.hint
    assert f'configure_cors("{BUCKET}", ["{PATTERNS[host]}"])' in error.hint
    assert "w.configure_cors() on this widget" not in error.hint
    assert f'["{origin}"]' not in f"{error.message} {error.hint}"


def test_the_checked_problem_and_the_note_are_said_once():
    (problem,) = cors_problems([], VSCODE, bucket=BUCKET)
    error = explain_browser_failure(
        reason="network", origin=VSCODE, bucket=BUCKET, cors_problems=[problem]
    )
    assert error.message.count("S3 cannot allow it exactly") == 1
    assert "has no CORS configuration" in error.message


def test_etag_advice_for_a_host_view_names_the_pattern():
    error = explain_browser_failure(reason="etag-unreadable", origin=COLAB, bucket=BUCKET)
    assert f'configure_cors("{BUCKET}", ["https://*-colab.googleusercontent.com"])' in (error.hint)


# -- w.configure_cors() on a host view --------------------------------------------------------
def test_widget_configure_cors_refuses_to_write_a_views_origin_and_names_the_pattern(s3_client):
    w = S3UploadWidget(bucket=BUCKET, client=s3_client)
    Wired(w).request(P.HELLO, origin=VSCODE)
    with pytest.raises(ValueError, match="new with every view") as info:
        w.configure_cors()
    assert 'w.configure_cors(["vscode-webview://*"])' in str(info.value)
    assert "any extension's" in str(info.value)
    with pytest.raises(s3_client.exceptions.ClientError):  # nothing was written
        s3_client.get_bucket_cors(Bucket=BUCKET)
    w.configure_cors(["vscode-webview://*"])  # the user's own choice
    (rule,) = s3_client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["AllowedOrigins"] == ["vscode-webview://*"]
    w.close()


# -- the advised rule, answered in a real preflight --------------------------------------------
def preflight(endpoint: str, bucket: str, origin: str) -> tuple[int, str]:
    """(status, Access-Control-Allow-Origin) of a browser's PUT preflight from `origin`."""
    request = urllib.request.Request(
        f"{endpoint}/{bucket}/uploads/a.csv",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers.get("Access-Control-Allow-Origin", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Access-Control-Allow-Origin", "")


def test_moto_answers_a_vscode_view_with_the_pattern_rule():
    with LocalS3(bucket="host-views", origins=["vscode-webview://*"]) as local:
        assert preflight(local.endpoint_url, local.bucket, VSCODE) == (200, VSCODE)
        assert preflight(local.endpoint_url, local.bucket, VSCODE_UUID) == (200, VSCODE_UUID)
        status, allowed = preflight(local.endpoint_url, local.bucket, "https://evil.com")
        assert status != 200 and allowed == ""


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_s3rver_answers_each_hosts_views_with_its_pattern(s3rver, host):
    """s3rver picks the rule as S3 does (first match, one '*'), for any scheme."""
    bucket = f"hosts-{HOSTS.index(host)}"
    s3rver.make_bucket(bucket, cors_origins=[host.pattern])
    for origin in [o for o, name in EXAMPLES.items() if name == host.name]:
        status, allowed = preflight(s3rver.endpoint_url, bucket, origin)
        # S3 echoes the origin; s3rver answers '*' for a pattern rule: both let it in.
        assert status == 200 and allowed in (origin, "*"), (status, allowed)
    status, allowed = preflight(s3rver.endpoint_url, bucket, "http://localhost:8888")
    assert status == 403 and allowed == "", (status, allowed)
