"""The widget follows its host's theme where JupyterLab's --jp-* variables don't exist
(issue 12, item 5): a plain page in light and dark (color-scheme, prefers-color-scheme),
VS Code (--vscode-*), Colab (html[theme=dark]), a shadow DOM, marimo light and dark (a
shadow root, marimo's .dark). Each page mounts the built widget ESM with a model stub
that only lets it render (theme_pages.py); no upload is asserted here.

Per host and theme: the contrast of the widget's text (>= 4.5:1), its controls, drop zone
and keyboard focus ring (>= 3:1) against what is actually drawn behind them; no serious or
critical axe-core violation; a screenshot (tests/e2e/_artifacts/screenshots/, or docs/
with S3UW_UPDATE_DOCS=1: docs/widget-<host>-<theme>.png).
"""

from __future__ import annotations

import json

import pytest

from .a11y_helpers import (
    assert_no_blocking_violations,
    contrast,
    contrast_problems,
    focus_visible,
    focused_class,
)
from .theme_pages import HOSTS, Host, open_host
from .widget_helpers import screenshot_dir

pytestmark = pytest.mark.e2e


@pytest.fixture
def host_page(browser, request):
    context = browser.new_context(viewport={"width": 900, "height": 520}, device_scale_factor=2)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    request.node._s3uw_page = pg  # the failure artifacts (conftest.py)
    yield pg
    context.close()


@pytest.mark.parametrize("host", HOSTS, ids=[h.id for h in HOSTS])
def test_widget_follows_the_host_theme(host_page, host: Host):
    page = host_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    widget = open_host(page, host)

    shot = screenshot_dir() / f"widget-{host.id}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.locator("#cell").screenshot(path=str(shot), animations="disabled")
    print(f"screenshot: {shot}")

    # The keyboard reaches "Choose files" first, and its focus ring shows.
    page.keyboard.press("Tab")
    assert "s3uw-button" in focused_class(page).split(), focused_class(page)
    assert focus_visible(page), "Choose files has the focus but not :focus-visible"

    measured = contrast(widget)
    print(f"contrast ({host.id}):", json.dumps(measured))
    # Every part the probe looks for was drawn: a part missing would pass unmeasured.
    for part in ("button", "folder_button", "hint", "target", "name", "status_done", "status_error",
                 "status_cancelled", "error", "cancel"):  # fmt: skip
        assert part in measured["text"], f"{host.id}: no {part} measured: {measured}"
    for part in ("dropzone", "button", "folder_button", "cancel", "progress_fill", "focus_ring"):
        assert part in measured["ui"], f"{host.id}: no {part} measured: {measured}"
    low = contrast_problems(measured)
    assert not low, f"{host.id}: below WCAG AA: {low}"

    # On a dark page the drop zone is not a light box (the bug seen in marimo's dark theme).
    if host.theme == "dark":
        zone = widget.locator(".s3uw-dropzone")
        zone_bg = zone.evaluate("(e) => getComputedStyle(e).backgroundColor")
        assert zone_bg == "rgba(0, 0, 0, 0)", f"{host.id}: drop zone painted {zone_bg}"
        assert measured["text"]["hint"]["bg"] == measured["ui"]["dropzone"]["against"]

    assert_no_blocking_violations(page, "#cell", host.id)
    assert not errors, f"{host.id}: page errors: {errors}"
