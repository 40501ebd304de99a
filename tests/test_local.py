"""LocalS3: moto's server on 127.0.0.1, its CORS rule, lifecycle, and moto's quirks."""

from __future__ import annotations

import gc
import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import warnings

import pytest

from s3_upload_widget import _local
from s3_upload_widget._cors import RULE_ID, check_cors
from s3_upload_widget._local import DEFAULT_ORIGINS, LocalS3

PAGE = "http://localhost:8888"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def preflight(endpoint: str, bucket: str, origin: str, method: str = "PUT"):
    """(status, Access-Control-Allow-Origin) of a browser's CORS preflight for a PUT."""
    request = urllib.request.Request(
        f"{endpoint}/{bucket}/some/key.bin",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type,if-none-match",
        },
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Access-Control-Allow-Origin")


def refuses_connections(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return True
    return False


@pytest.fixture
def local():
    with LocalS3(bucket="local-test") as s3:
        yield s3


def test_serves_a_bucket_on_loopback(local):
    assert local.endpoint_url.startswith("http://127.0.0.1:")
    assert local.port == int(local.endpoint_url.rsplit(":", 1)[1]) > 0
    assert local.bucket == "local-test"
    assert local.region == "us-east-1"
    assert local.client.meta.region_name == "us-east-1"
    assert local.client.meta.endpoint_url == local.endpoint_url
    local.client.put_object(Bucket=local.bucket, Key="b/2.txt", Body=b"two")
    local.client.put_object(Bucket=local.bucket, Key="a/1.txt", Body=b"one")
    assert local.keys() == ["a/1.txt", "b/2.txt"]
    assert local.keys(prefix="b/") == ["b/2.txt"]
    assert local.read("a/1.txt") == b"one"
    assert repr(local) == (
        f"LocalS3(endpoint_url={local.endpoint_url!r}, bucket='local-test', running)"
    )


def test_presigned_put_from_plain_http_lands(local):
    body = os.urandom(3000)
    url = local.client.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": local.bucket,
            "Key": "up/file.bin",
            "ContentType": "application/octet-stream",
            "ContentLength": len(body),
        },
        ExpiresIn=60,
    )
    request = urllib.request.Request(
        url,
        data=body,
        method="PUT",
        headers={"Content-Type": "application/octet-stream", "Origin": PAGE},
    )
    with OPENER.open(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == PAGE
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]
        assert response.headers["ETag"]
    assert local.read("up/file.bin") == body


def test_default_cors_rule_allows_local_notebooks_only(local):
    (rule,) = local.client.get_bucket_cors(Bucket=local.bucket)["CORSRules"]
    assert rule["ID"] == RULE_ID
    assert rule["AllowedOrigins"] == list(DEFAULT_ORIGINS)
    for page in (PAGE, "http://127.0.0.1:8888", "http://localhost:9999", "https://localhost:1"):
        assert check_cors(local.bucket, page, client=local.client) == []
        # moto honours one-'*' origin patterns like S3 does
        assert preflight(local.endpoint_url, local.bucket, page) == (200, page)
    for page in ("http://evil.example", "https://lab.example.com", "http://10.0.0.5:8888"):
        assert check_cors(local.bucket, page, client=local.client) != []
        assert preflight(local.endpoint_url, local.bucket, page) == (403, None)


def test_explicit_origins():
    with LocalS3(bucket="local-origins", origins=PAGE) as s3:
        assert preflight(s3.endpoint_url, s3.bucket, PAGE) == (200, PAGE)
        assert preflight(s3.endpoint_url, s3.bucket, "http://localhost:9999")[0] == 403
    with LocalS3(bucket="local-star", origins=["*"]) as s3:
        assert preflight(s3.endpoint_url, s3.bucket, "http://anything.example")[0] == 200


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"origins": "http://x/path"}, ValueError),
        ({"origins": []}, ValueError),
        ({"origins": [""]}, ValueError),
        ({"bucket": ""}, ValueError),
        ({"port": -1}, ValueError),
        ({"port": "8000"}, ValueError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        LocalS3(**kwargs)


def test_busy_port_is_an_error_not_a_hang():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(OSError, match=f"port {port}"):
            LocalS3(port=port)
        assert time.monotonic() - started < 5


def test_fixed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with LocalS3(bucket="local-port", port=port) as s3:
        assert s3.endpoint_url == f"http://127.0.0.1:{port}"


def test_stop_is_idempotent_closes_the_port_and_frees_the_data():
    s3 = LocalS3(bucket="local-stop")
    endpoint = s3.endpoint_url
    s3.client.put_object(Bucket=s3.bucket, Key="k", Body=b"x")
    s3.stop()
    s3.stop()
    assert not s3.running
    assert repr(s3).endswith("stopped)")
    assert refuses_connections(endpoint)
    with LocalS3(bucket="local-stop") as again:
        assert again.keys() == []


def test_two_servers_share_moto_store_and_stop_keeps_the_others_bucket():
    with LocalS3(bucket="local-shared") as first:
        with LocalS3(bucket="local-shared") as second:
            first.client.put_object(Bucket="local-shared", Key="k", Body=b"v")
            assert second.read("k") == b"v"
        assert first.read("k") == b"v"  # second.stop() left the bucket to first


def test_missing_moto_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "moto.server", None)
    with pytest.raises(ImportError, match=r'pip install "s3-upload-widget\[local\]"'):
        LocalS3()


def test_dropping_the_object_keeps_the_server_running():
    """A widget may hold only `LocalS3().client`: the server must outlive the object."""
    before = set(_local._servers)
    s3 = LocalS3(bucket="local-dropped")
    client, endpoint = s3.client, s3.endpoint_url
    (key,) = set(_local._servers) - before
    del s3
    gc.collect()
    try:
        client.put_object(Bucket="local-dropped", Key="k", Body=b"still here")
        assert client.get_object(Bucket="local-dropped", Key="k")["Body"].read() == b"still here"
    finally:
        server = _local._servers.pop(key)
        _local._bucket_users.pop("local-dropped", None)
        client.delete_object(Bucket="local-dropped", Key="k")
        client.delete_bucket(Bucket="local-dropped")
        _local._shutdown(server)
    assert refuses_connections(endpoint)


def test_request_log_stays_out_of_the_notebook(local, capfd):
    local.client.put_object(Bucket=local.bucket, Key="quiet", Body=b"x")
    local.read("quiet")
    out, err = capfd.readouterr()
    assert "PUT /local-test/quiet" not in out + err


def _run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTO_DISABLE_GLOBAL_CORS"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )


PREFLIGHT_SRC = """
import json, sys, urllib.request, urllib.error
def preflight(endpoint, bucket, origin):
    req = urllib.request.Request(f"{endpoint}/{bucket}/k", method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "PUT"})
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
"""


def test_moto_allows_every_origin_unless_global_cors_is_disabled():
    """The control for the next test: plain moto answers CORS for any origin."""
    proc = _run_python(
        PREFLIGHT_SRC
        + """
import boto3
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
endpoint = "http://%s:%d" % server.get_host_and_port()
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="a", aws_secret_access_key="b")
s3.create_bucket(Bucket="plain")
print(json.dumps(preflight(endpoint, "plain", "http://evil.example")))
server.stop()
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == 200


def test_cors_is_enforced_even_when_moto_was_imported_first():
    proc = _run_python(
        PREFLIGHT_SRC
        + """
import warnings
warnings.simplefilter("error")
import moto.server  # imported before LocalS3 could set MOTO_DISABLE_GLOBAL_CORS
from moto.moto_server import werkzeug_app
assert werkzeug_app.DISABLE_GLOBAL_CORS is False
from s3_upload_widget._local import LocalS3
with LocalS3(bucket="late") as s3:
    print(json.dumps([preflight(s3.endpoint_url, "late", "http://evil.example"),
                      preflight(s3.endpoint_url, "late", "http://localhost:8888")]))
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [403, 200]


def test_atexit_handler_stops_servers_not_stopped_by_hand():
    proc = _run_python(
        """
import atexit, socket
from s3_upload_widget._local import LocalS3
s3 = LocalS3(bucket="atexit")
socket.create_connection(("127.0.0.1", s3.port), timeout=2).close()
atexit._run_exitfuncs()  # what the interpreter does when the kernel exits
try:
    socket.create_connection(("127.0.0.1", s3.port), timeout=2).close()
    print("still listening")
except OSError:
    print("stopped", s3.running)
"""
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "stopped False"


def test_no_warning_when_cors_is_enforced():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with LocalS3(bucket="local-warn"):
            pass


def test_put_without_signature_is_accepted_by_moto(local):
    """moto checks no signature at all: security must be tested on s3rver (see
    test_signing_security.py), never on LocalS3."""
    conn = http.client.HTTPConnection("127.0.0.1", local.port, timeout=10)
    try:
        conn.request("PUT", f"/{local.bucket}/anonymous", body=b"anyone")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert local.read("anonymous") == b"anyone"
