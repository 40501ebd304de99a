"""The two protocol files agree: kinds, statuses and failure reasons, read from the JS.

`js/src/protocol.js` mirrors `s3_upload_widget/_protocol.py`; this reads the constants
out of the JS source and compares them, so a kind added on one side only fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from s3_upload_widget import _protocol as P

PROTOCOL_JS = Path(__file__).resolve().parent.parent / "js" / "src" / "protocol.js"


def js_constants() -> tuple[dict[str, str], dict[str, list[str]]]:
    """``(strings, lists)``: every ``export const NAME = "x"`` and ``Object.freeze([...])``."""
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    strings = dict(re.findall(r'^export const ([A-Z_]+) = "([^"]*)";', source, re.M))
    lists: dict[str, list[str]] = {}
    for name, body in re.findall(
        r"^export const ([A-Z_]+) = Object\.freeze\(\[(.*?)\]\);", source, re.M | re.S
    ):
        items = []
        for item in re.findall(r'"[^"]*"|[A-Z_]+', body):
            items.append(item.strip('"') if item.startswith('"') else strings[item])
        lists[name] = items
    return strings, lists


STRINGS, LISTS = js_constants()

SCALARS = [
    "HELLO",
    "ADD_FILES",
    "SIGN",
    "SIGN_PARTS",
    "COMPLETE",
    "FAIL",
    "CANCEL",
    "PROGRESS",
    "CANCEL_UPLOADS",
    "SIGN_FILES",
    "COMPLETE_FILES",
    "RECORDS",
    "PAUSE",
    "RESUME",
    "ADOPT",
    "PAUSE_UPLOADS",
    "RESUME_UPLOADS",
    "RESPONSE_SUFFIX",
]


def test_the_js_file_was_read():
    # Guards the parser: an empty read would make every comparison below vacuous.
    assert len(STRINGS) >= len(SCALARS) and len(LISTS) >= 4, (STRINGS, LISTS)


@pytest.mark.parametrize("name", SCALARS)
def test_each_kind_has_the_same_value(name):
    assert STRINGS.get(name) == getattr(P, name), name


@pytest.mark.parametrize(
    ("name", "ordered"),
    [
        ("REQUEST_KINDS", False),
        ("COMMAND_KINDS", False),
        ("VIEW_FIELDS", True),
        ("NOTIFICATION_KINDS", False),
        ("FAILURE_REASONS", False),
        ("FINAL_STATUSES", False),
        ("STATUSES", True),
    ],
)
def test_each_set_is_the_same(name, ordered):
    js = LISTS.get(name)
    assert js is not None, f"js/src/protocol.js does not export {name}"
    python = getattr(P, name)
    assert len(js) == len(set(js)), f"{name} lists a value twice in protocol.js"
    if ordered:
        assert tuple(js) == tuple(python)
    else:
        assert set(js) == set(python)


def test_the_batch_limit_is_the_same():
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    found = re.search(r"^export const MAX_FILES_PER_BATCH = (\d+);", source, re.M)
    assert found, "js/src/protocol.js does not export MAX_FILES_PER_BATCH"
    assert int(found.group(1)) == P.MAX_FILES_PER_BATCH


def test_the_form_post_limit_is_the_same():
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    found = re.search(r"^export const FORM_POST_MAX_BYTES = 1024 \* 1024;", source, re.M)
    assert found, "js/src/protocol.js does not export FORM_POST_MAX_BYTES = 1024 * 1024"
    assert P.FORM_POST_MAX_BYTES == 1024 * 1024


def test_the_window_of_another_page_is_the_same():
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    found = re.search(r"^export const ELSEWHERE_MS = (\d+);", source, re.M)
    assert found, "js/src/protocol.js does not export ELSEWHERE_MS"
    assert int(found.group(1)) == P.ELSEWHERE_MS == 10_000


def test_every_python_kind_is_mirrored():
    """A kind defined in Python only (a new constant) fails here."""
    python_kinds = {
        name
        for name, value in vars(P).items()
        if name.isupper() and isinstance(value, str) and not name.startswith("_")
    }
    assert python_kinds == set(SCALARS)
