"""Self-test of the e2e harness with a plain ipywidgets widget (not ours)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from .notebook_helpers import WIDGET_STATE

pytestmark = pytest.mark.e2e


def test_slider_value_reaches_kernel(nb, notebook_name):
    nb.create(notebook_name, ["import ipywidgets as w; s = w.IntSlider(value=3); s"])
    nb.open()
    nb.run_cell(0)
    slider = nb.cell(0).locator(".jp-OutputArea-output .widget-slider")
    slider.wait_for(state="visible", timeout=15_000)
    assert nb.eval_json("s.value") == 3
    # The probe runs again and again, and reports kernel errors with their output.
    assert nb.eval_json("{'a': [1, 2], 'b': 'é'}") == {"a": [1, 2], "b": "é"}
    nb.exec("s.value = 7\nt = s.value * 2")
    assert nb.eval_json("t") == 14
    # The front end follows a change made in Python.
    readout = nb.cell(0).locator(".widget-readout")
    nb.wait_for_kernel("s.value", lambda v: v == 7, timeout=5)
    assert (readout.text_content() or "").strip() == "7"
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        nb.eval_json("1 / 0")


def test_saved_notebook_contains_widget_state(nb, notebook_name):
    nb.create(notebook_name, ["import ipywidgets as w; s = w.IntSlider(value=3); s"])
    nb.open()
    nb.run_cell(0)
    nb.cell(0).locator(".widget-slider").wait_for(state="visible", timeout=15_000)
    nb.exec("s.value = 5")
    path = nb.save()
    saved = json.loads(path.read_text())
    state = saved["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert state, (
        "the saved notebook holds no widget state: saveState is off, so a "
        "'no secrets in the saved notebook' test would prove nothing"
    )
    sliders = [m for m in state.values() if m.get("model_name") == "IntSliderModel"]
    assert [m["state"]["value"] for m in sliders] == [5], sliders


def test_slider_in_notebook7(nb7, notebook_name):
    nb7.create(notebook_name, ["import ipywidgets as w; s = w.IntSlider(value=3); s"])
    nb7.open()
    nb7.run_cell(0)
    nb7.cell(0).locator(".widget-slider").wait_for(state="visible", timeout=15_000)
    assert nb7.eval_json("s.value") == 3
    saved = json.loads(nb7.save().read_text())
    assert saved["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state")


def test_moto_applies_bucket_cors_only(s3):
    """The precondition of every CORS test: moto answers a preflight for an origin only
    when the bucket's own CORS rule allows it (MOTO_DISABLE_GLOBAL_CORS took effect)."""
    origin = "http://127.0.0.1:9"
    open_bucket = s3.make_bucket(cors_origins=[origin])
    closed_bucket = s3.make_bucket(cors_origins=None)

    def preflight(bucket: str) -> str | None:
        req = urllib.request.Request(
            f"{s3.endpoint_url}/{bucket}/some-key",
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "PUT"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as err:
            return err.headers.get("Access-Control-Allow-Origin")

    assert preflight(open_bucket) == origin
    assert preflight(closed_bucket) is None, "moto allows CORS on a bucket without a rule"
