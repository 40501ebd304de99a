"""End-to-end behind JupyterHub (issue 12 item 2): a user logs in through the hub's form,
the hub spawns their JupyterLab under ``/user/<name>/``, and the widget uploads from
there. The page's origin is the hub's (one per hub, whatever the user), so the bucket's
CORS names the hub's origin; with a bucket whose CORS does not, the error names it.

JupyterHub with DummyAuthenticator and SimpleLocalProcessSpawner, configurable-http-proxy
from tests/hub (npm), everything on 127.0.0.1 (hub_server.py).
"""

from __future__ import annotations

import pytest

from .browser import NotebookDriver
from .hub_server import JupyterHubServer
from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import assert_all_done, wait_final, widget_cells

pytestmark = pytest.mark.e2e

# An origin the user may have allowed before moving to the hub: a local JupyterLab's.
LOCAL_LAB_ORIGIN = "http://localhost:8888"


@pytest.fixture(scope="module")
def jupyterhub(s3):
    hub = JupyterHubServer(env=s3.kernel_env()).start()
    yield hub
    hub.stop()


def test_upload_behind_jupyterhub(jupyterhub, s3, page, request, tmp_path):
    hub = jupyterhub
    request.node._s3uw_jupyter = hub  # the hub's log (with the user's server's) on failure
    allowed = s3.make_bucket(cors_origins=[hub.origin])
    not_allowed = s3.make_bucket(cors_origins=[LOCAL_LAB_ORIGIN])

    hub.login(page)
    nb = NotebookDriver(page, hub, use_app=True, open_timeout=90)
    second = f'w2 = S3UploadWidget(bucket="{not_allowed}", prefix="uploads/", client=client)\nw2'
    nb.create("hub_upload", [*widget_cells(allowed), second])
    nb.open()
    assert page.evaluate("location.origin") == hub.origin
    assert page.url.startswith(f"{hub.origin}/user/{hub.user}/lab/")

    nb.run_cell(0)
    nb.widget(0).wait_for(state="visible", timeout=20_000)
    path = make_random_file(tmp_path / "hub-data.bin", 200_000, seed="jupyterhub")
    nb.pick_files(0, [path])
    (record,) = wait_final(nb, 1, timeout=60)
    assert_all_done([record])
    assert record["key"].startswith("uploads/") and record["key"].endswith("hub-data.bin")
    assert sha256_bytes(s3.get_bytes(allowed, record["key"])) == sha256_file(path)
    assert nb.eval_json("w.uploaded_keys") == [record["key"]]

    # A bucket whose CORS allows a local Lab's origin but not the hub's: the kernel checks
    # the bucket's CORS for the page's origin, the hub's, and says so.
    nb.run_cell(1)
    nb.widget(1).wait_for(state="visible", timeout=20_000)
    nb.pick_files(1, [path])
    (failed,) = nb.wait_for_kernel(
        "w2.uploads",
        lambda ups: len(ups) == 1 and ups[0]["status"] in ("done", "error"),
        timeout=60,
        interval=0.5,
        message="the upload to the bucket without the hub's origin to end",
    )
    assert failed["status"] == "error" and failed["error_code"] == "cors", failed
    error = failed["error"]
    assert f"does not allow this notebook's origin {hub.origin}" in error, error
    assert f'No CORS rule of bucket "{not_allowed}" allows the origin {hub.origin}' in error
    assert LOCAL_LAB_ORIGIN in error, error  # what the rules allow instead
    assert f'configure_cors("{not_allowed}", ["{hub.origin}"])' in error, error  # the fix
    assert s3.list_keys(not_allowed) == []
