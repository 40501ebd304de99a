"""The layout rules: every module is listed in docs/ARCHITECTURE.md, is at most 450
lines, and opens by saying what it owns; the architecture doc stands on its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
MAX_LINES = 450

PY_MODULES = sorted((ROOT / "s3_upload_widget").glob("*.py"))
JS_MODULES = sorted((ROOT / "js" / "src").glob("*.js"))
ALL_MODULES = PY_MODULES + JS_MODULES


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_modules_to_check():
    assert len(PY_MODULES) >= 10 and len(JS_MODULES) >= 8


@pytest.mark.parametrize("path", ALL_MODULES, ids=_id)
def test_every_module_has_a_line_in_the_architecture_doc(path):
    doc = ARCHITECTURE.read_text(encoding="utf-8")
    # A line of the module tree: the file name, then its job in words.
    pattern = rf"^\s+{re.escape(path.name)}\s+\S.*$"
    assert re.search(pattern, doc, re.M), f"docs/ARCHITECTURE.md has no line for {path.name}"


@pytest.mark.parametrize("path", ALL_MODULES, ids=_id)
def test_no_module_is_over_450_lines(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{_id(path)} has {lines} lines; split it by concern"


@pytest.mark.parametrize("path", PY_MODULES, ids=_id)
def test_every_python_module_opens_with_what_it_owns(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{_id(path)} has no module docstring"
    first = docstring.split("\n\n")[0].replace("\n", " ")
    assert first.rstrip().endswith((".", ":")), f"{_id(path)}: first paragraph is no sentence"


@pytest.mark.parametrize("path", JS_MODULES, ids=_id)
def test_every_js_module_opens_with_what_it_owns(path):
    source = path.read_text(encoding="utf-8")
    head = re.match(r"\s*(?://\s*@ts-check\s*)?/\*\*(.*?)\*/", source, re.S)
    assert head, f"{_id(path)} does not open with a comment"
    text = " ".join(line.strip(" *") for line in head.group(1).splitlines()).strip()
    assert len(text.split()) >= 5 and "." in text, f"{_id(path)}: opening comment too thin"


def test_the_architecture_doc_refers_to_nothing_outside_the_repo():
    doc = ARCHITECTURE.read_text(encoding="utf-8")
    assert "../" not in doc and "shared/" not in doc


def test_the_doc_lists_no_module_that_is_gone():
    doc = ARCHITECTURE.read_text(encoding="utf-8")
    names = {p.name for p in ALL_MODULES}
    listed = set(re.findall(r"^\s+(_?[a-z_]+\.(?:py|js))\s", doc, re.M))
    assert listed - names == set(), f"listed but missing: {sorted(listed - names)}"
