"""Fixtures shared by the unit tests: fake AWS credentials and an in-process moto S3.

A test module may define its own fixture of the same name; pytest then uses the local one.
"""

from __future__ import annotations

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from moto import mock_aws

TEST_BUCKET = "test-bucket"

# One botocore data loader for every session this process makes. moto gives each test a
# new default boto3 session, and the package makes a botocore session per signing client:
# each would parse S3's model and the endpoint rules from JSON again (~0.3 s a client,
# most of a unit test's time). The loader only reads botocore's own data files, the same
# for every session, and caches what it parsed.
_LOADERS: dict = {}
_create_loader = botocore.loaders.create_loader


def _shared_loader(search_path_string=None):
    if search_path_string not in _LOADERS:
        _LOADERS[search_path_string] = _create_loader(search_path_string)
    return _LOADERS[search_path_string]


botocore.session.create_loader = _shared_loader


@pytest.fixture
def aws_credentials(monkeypatch, tmp_path):
    """Fake credentials in the environment, and no real AWS config or profile, so a test
    can never reach (or be influenced by) a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_client(aws_credentials):
    """A SigV4 boto3 S3 client (us-east-1) on moto in process, with bucket ``test-bucket``."""
    with mock_aws():
        client = boto3.client(
            "s3", region_name="us-east-1", config=Config(signature_version="s3v4")
        )
        client.create_bucket(Bucket=TEST_BUCKET)
        yield client
        _close_live_widgets()


def _close_live_widgets() -> None:
    """Close the widgets a test left open while moto is still in place: at exit an open
    widget aborts its multipart uploads, and without the mock that call would leave
    loopback."""
    import warnings

    from s3_upload_widget import _widget

    for widget in list(_widget._LIVE_WIDGETS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            widget.close()


@pytest.fixture
def bucket(s3_client) -> str:
    """The name of the bucket that ``s3_client`` created."""
    return TEST_BUCKET


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last: unit tests fail faster, and Playwright's session-wide
    event loop would otherwise be running under the unit tests that call asyncio.run."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
