"""What ships: one version, and a release bundle without an inline sourcemap."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import s3_upload_widget

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once():
    assert version("s3-upload-widget") == s3_upload_widget.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert not re.search(r"^version\s*=", pyproject, re.M)
    assert "version" not in json.loads((ROOT / "js" / "package.json").read_text())


def test_the_release_build_has_no_sourcemap_and_the_dev_build_has_one():
    scripts = json.loads((ROOT / "js" / "package.json").read_text())["scripts"]
    assert "--minify" in scripts["build"] and "sourcemap" not in scripts["build"]
    assert "--sourcemap=inline" in scripts["build:dev"]
