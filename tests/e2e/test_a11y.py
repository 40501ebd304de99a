"""Accessibility of the widget in JupyterLab (issue 12, item 6).

- axe-core finds no serious or critical violation in the widget, before any upload and
  with rows (done, refused), and the one polite live region announces what happened.
- Keyboard only: Tab reaches "Choose files", Enter opens the file chooser and the file
  lands in the bucket (bytes checked, ``w.uploaded_keys``); "Choose folder" opens the
  folder chooser with Space and the folder lands; a slow file is paused, resumed and
  cancelled with its row's buttons from the keyboard. The focus ring shows each time.
"""

from __future__ import annotations

import pytest

from .a11y_helpers import (
    UI_MIN,
    assert_no_blocking_violations,
    contrast,
    contrast_problems,
    focus_visible,
    focused_class,
)
from .browser import NB, throttle_upload
from .support import make_random_file, sha256_bytes, sha256_file, wait_until
from .widget_helpers import MiB, open_widget, wait_final

pytestmark = pytest.mark.e2e

WIDGET = f"{NB} .jp-OutputArea-output .s3uw"


def listen(nb) -> None:
    """Keep every text the widget's live region takes (it holds only the latest), as a
    screen reader hears them, in the page's ``window.__s3uwSaid``."""
    nb.widget(0).locator(".s3uw-live").evaluate(
        """(live) => {
          window.__s3uwSaid = [];
          new MutationObserver(() => live.textContent && window.__s3uwSaid.push(live.textContent))
            .observe(live, {childList: true, characterData: true, subtree: true});
        }"""
    )


def said(nb) -> list[str]:
    return nb.page.evaluate("() => window.__s3uwSaid")


def wait_live(nb, needle: str, timeout: float = 30) -> None:
    """Wait until the live region has announced ``needle`` (since `listen`)."""
    wait_until(
        lambda: any(needle in text for text in said(nb)),
        timeout=timeout,
        page=nb.page,
        message=f"the live region to announce {needle!r} (it said {said(nb)!r})",
    )


def tab_to(
    nb, cls: str, *, start: str | None = None, key: str = "Tab", presses: int = 40
) -> list[str]:
    """Press Tab, or ``key`` (from the element matching ``start``, given the focus first) until the
    focused element has class ``cls``; returns the classes passed on the way. Fails if
    the keyboard never gets there."""
    page = nb.page
    if start:
        page.locator(start).first.focus()
    seen: list[str] = []
    for _ in range(presses):
        page.keyboard.press(key)
        now = focused_class(page)
        seen.append(now)
        if cls in now.split():
            assert focus_visible(page), f"{cls} has the focus without a visible focus ring"
            return seen
    raise AssertionError(f"{key} never reached .{cls}; the focus went through {seen}")


def test_axe_finds_no_serious_violation_in_jupyterlab(nb, s3, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    open_widget(nb, notebook_name, bucket, ", max_size=1024**2")
    assert_no_blocking_violations(nb.page, WIDGET, "JupyterLab, no upload")

    good = make_random_file(tmp_path / "table.csv", 4096, seed="axe")
    big = make_random_file(tmp_path / "too-big.bin", 2 * MiB, seed="axe-big")
    listen(nb)
    nb.pick_files(0, [good, big])
    final = {r["name"]: r for r in wait_final(nb, 2, timeout=60)}
    assert final["table.csv"]["status"] == "done", final
    assert final["too-big.bin"]["status"] == "error", final
    assert sha256_bytes(s3.get_bytes(bucket, final["table.csv"]["key"])) == sha256_file(good)
    # Both ended in one pick: one polite sentence each, names and reason included.
    wait_live(nb, "table.csv uploaded.")
    wait_live(nb, "too-big.bin failed: ")
    assert nb.widget(0).locator("[aria-live]").count() == 1
    assert not [t for t in said(nb) if "%" in t], f"a percentage was announced: {said(nb)}"

    assert_no_blocking_violations(nb.page, WIDGET, "JupyterLab, a done and a refused row")
    measured = contrast(nb.widget(0))
    print("contrast (JupyterLab light):", measured)
    assert not contrast_problems(measured), contrast_problems(measured)


def press_for_chooser(page, choosers: list, key: str):
    """Press ``key`` on the focused control and return the file chooser it opened."""
    choosers.clear()
    page.keyboard.press(key)
    wait_until(lambda: choosers, timeout=20, page=page, message=f"{key} to open a file chooser")
    return choosers.pop()


def test_keyboard_only_upload_pause_and_cancel(nb, s3, notebook_name, tmp_path):
    bucket = s3.make_bucket(cors_origins=[nb.origin])
    page = nb.page
    # Listening before any key is pressed: Playwright turns Chromium's file chooser
    # interception on without waiting for it, so `expect_file_chooser` around a key press
    # raced it (the chooser opened unseen, now and then).
    choosers: list = []

    def on_chooser(chooser) -> None:
        choosers.append(chooser)

    page.on("filechooser", on_chooser)
    try:
        keyboard_only(nb, s3, bucket, notebook_name, tmp_path, choosers)
    finally:
        page.remove_listener("filechooser", on_chooser)


def keyboard_only(nb, s3, bucket, notebook_name, tmp_path, choosers: list) -> None:
    page = nb.page
    open_widget(nb, notebook_name, bucket)
    # From the cell's input (a person arriving from the code above the widget), Tab.
    nb.cell(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")  # command mode: Tab moves the focus, it does not indent
    print("tab path:", tab_to(nb, "s3uw-button"))
    ring = contrast(nb.widget(0))["ui"]["focus_ring"]
    print("focus ring (JupyterLab light):", ring)
    assert ring["contrast"] >= UI_MIN, f"the focus ring hardly shows: {ring}"
    listen(nb)

    small = make_random_file(tmp_path / "by-keyboard.csv", 70_001, seed="keyboard")
    chooser = press_for_chooser(page, choosers, "Enter")
    assert chooser.is_multiple()
    chooser.set_files(str(small))
    (record,) = wait_final(nb, 1, timeout=60)
    assert record["status"] == "done", record
    assert sha256_bytes(s3.get_bytes(bucket, record["key"])) == sha256_file(small)
    assert nb.eval_json("w.uploaded_keys") == [record["key"]]
    wait_live(nb, "by-keyboard.csv uploaded.")

    # The folder control, with Space.
    folder = tmp_path / "survey"
    folder.mkdir()
    inner = make_random_file(folder / "answers.json", 3_001, seed="folder")
    tab_to(nb, "s3uw-folder-button", start=f"{WIDGET} .s3uw-button")
    press_for_chooser(page, choosers, "Space").set_files(str(folder))
    records = wait_final(nb, 2, timeout=60)
    (landed,) = [r for r in records if r["name"] == "answers.json"]
    assert landed["status"] == "done" and landed["key"].endswith("survey/answers.json"), landed
    assert sha256_bytes(s3.get_bytes(bucket, landed["key"])) == sha256_file(inner)

    # A slow file: pause, resume and cancel it from its row, by keyboard.
    slow = make_random_file(tmp_path / "slow.bin", 3 * MiB, seed="slow")
    throttle_upload(page, 64 * 1024)
    tab_to(nb, "s3uw-button", start=f"{WIDGET} .s3uw-folder-button", key="Shift+Tab")
    press_for_chooser(page, choosers, "Enter").set_files(str(slow))
    wait_live(nb, "Uploading slow.bin.")
    slow_id = nb.wait_for_kernel(
        "[u['id'] for u in w.uploads if u['name'] == 'slow.bin']",
        lambda ids: len(ids) == 1,
        timeout=30,
        message="the slow file's record",
    )[0]
    slow_row = f'{WIDGET} .s3uw-row[data-upload-id="{slow_id}"]'
    page.locator(f"{slow_row} .s3uw-pause").wait_for(state="visible", timeout=20_000)
    tab_to(nb, "s3uw-pause", start=f"{WIDGET} .s3uw-folder-button")
    assert "slow.bin" in (page.evaluate(_FOCUSED_LABEL) or "")
    page.keyboard.press("Enter")
    nb.wait_for_kernel(
        f"[u['status'] for u in w.uploads if u['id'] == {slow_id!r}]",
        lambda s: s == ["paused"],
        timeout=30,
        message="the kernel's record of slow.bin to say paused",
    )
    page.keyboard.press("Space")  # the same button now resumes
    wait_until(
        lambda: page.locator(slow_row).get_attribute("data-status") == "uploading",
        timeout=30,
        page=page,
        message="slow.bin uploading again after Space on its resume button",
    )
    page.keyboard.press("Tab")
    assert "s3uw-cancel" in focused_class(page).split(), focused_class(page)
    assert focus_visible(page)
    page.keyboard.press("Enter")
    final = {r["name"]: r for r in wait_final(nb, 3, timeout=60)}
    assert final["slow.bin"]["status"] == "cancelled", final
    wait_live(nb, "slow.bin cancelled.")
    throttle_upload(page, None)
    assert final["slow.bin"]["key"] not in s3.list_keys(bucket)
    assert sorted(nb.eval_json("w.uploaded_keys")) == sorted([record["key"], landed["key"]])


_FOCUSED_LABEL = """() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a ? a.getAttribute("aria-label") : "";
}"""
