"""End-to-end in a Voilà dashboard (issue 12 item 3): notebooks/dashboard.ipynb served by
``voila`` on 127.0.0.1. Voilà runs the notebook when the page loads; a person then picks
a file, it goes to S3, and the dashboard's ``on_upload`` callback (in the kernel) updates
the list of received keys on the page. And what ``w.wait()`` does there: the notebook
runs before the page shows any widget, so it gives up after 10 s with its error.

The kernel finds the test's bucket the way a deployment would: ``S3_UPLOAD_BUCKET``, and
``AWS_ENDPOINT_URL_S3`` for the S3 server (moto on 127.0.0.1), which boto3 reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .s3_servers import cors_rule
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .voila_server import VoilaServer

pytestmark = pytest.mark.e2e

DASHBOARD = Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb"
# A notebook that waits in a cell, as the quickstart does in JupyterLab.
WAITING = [
    "from s3_upload_widget import S3UploadWidget\nw = S3UploadWidget(bucket='some-bucket')\nw",
    "try:\n    w.wait(timeout=120)\nexcept RuntimeError as e:\n    print('wait() raised:', e)",
]


def write_notebook(path: Path, sources: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture(scope="module")
def bucket(s3):
    return s3.make_bucket()  # its CORS rule is added once Voilà's origin is known


@pytest.fixture(scope="module")
def voila(s3, bucket, tmp_path_factory):
    env = {**s3.kernel_env(), "S3_UPLOAD_BUCKET": bucket, "AWS_ENDPOINT_URL_S3": s3.endpoint_url}
    waiting = write_notebook(tmp_path_factory.mktemp("voila") / "waiting.ipynb", WAITING)
    server = VoilaServer([DASHBOARD, waiting], env=env).start()
    yield server
    server.stop()


def test_upload_through_a_voila_dashboard(voila, s3, bucket, page, request, tmp_path):
    request.node._s3uw_jupyter = voila  # Voilà's log on failure
    s3.client().put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={"CORSRules": [cors_rule([voila.origin])]},
    )
    page.goto(voila.dashboard_url(DASHBOARD.name), wait_until="domcontentloaded")
    widget = page.locator(".s3uw").first
    widget.wait_for(state="visible", timeout=60_000)  # the notebook ran, the widget shows
    received = page.locator(".received li code")
    assert received.count() == 0
    assert "No file yet" in page.locator(".jp-OutputArea-output").last.inner_text()

    path = make_random_file(tmp_path / "dashboard-data.bin", 150_000, seed="voila")
    widget.locator(".s3uw-input").set_input_files([str(path)])

    # The page's list changes only when the kernel's on_upload sets it.
    wait_until(
        lambda: received.count() == 1,
        timeout=60,
        page=page,
        message="the dashboard's on_upload to list the received key",
    )
    key = received.first.inner_text()
    assert key.startswith("dashboard/") and key.endswith("dashboard-data.bin"), key
    assert s3.list_keys(bucket) == [key]
    assert sha256_bytes(s3.get_bytes(bucket, key)) == sha256_file(path)
    assert widget.locator('.s3uw-row[data-status="done"]').count() == 1


def test_wait_in_voila_gives_up_before_the_page_shows_the_widget(voila, page, request):
    """Voilà runs every cell before its page renders a widget: ``w.wait()`` finds no
    browser showing the widget and raises after 10 s (the page stays blank that long)."""
    request.node._s3uw_jupyter = voila
    page.goto(voila.dashboard_url("waiting.ipynb"), wait_until="domcontentloaded")
    page.locator(".s3uw").first.wait_for(state="visible", timeout=90_000)
    text = page.locator("body").inner_text()
    assert "wait() raised: No browser is showing this widget (no message from one in 10 s)" in (
        text
    ), text
