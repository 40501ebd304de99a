"""pytest plugin: the `s3rver` fixture (a SigV4-verifying S3 on 127.0.0.1).

Use it from a test module with `pytest_plugins = ["fixtures_s3rver"]` (tests/ is on
sys.path while pytest imports test modules from it).

It skips, with the reason, only when node is not installed and we are not in CI; in CI
(CI=true) a missing node is a failure, never a silent skip. `npm ci` runs automatically
the first time.
"""

from __future__ import annotations

import pytest
from s3rver_server import NodeMissing, S3rverServer, ci


@pytest.fixture(scope="session")
def s3rver():
    server = S3rverServer()
    try:
        server.start()
    except NodeMissing as exc:
        if ci():
            pytest.fail(f"s3rver tests need Node.js >= 20 in CI: {exc}", pytrace=False)
        pytest.skip(f"s3rver tests need Node.js >= 20: {exc}")
    try:
        yield server
    finally:
        server.stop()
