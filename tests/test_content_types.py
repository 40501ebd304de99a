"""The page cannot choose the signed Content-Type: the kernel's type comes from the file's
name, the browser's only where it agrees, and active types (HTML, SVG, XML, JavaScript,
multipart) are stored as application/octet-stream unless allow_active_types."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3_upload_widget import _types
from s3_upload_widget._errors import UploadError
from s3_upload_widget._policy import FileInfo, UploadPolicy
from s3_upload_widget._types import (
    OCTET_STREAM,
    content_type_for,
    file_type,
    is_accepted,
    is_active_type,
    is_valid_mime_type,
)

SAFE = UploadPolicy()
ALLOWING = UploadPolicy(allow_active_types=True)

ACTIVE_TYPES = [
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/vnd.google-earth.kml+xml",
    "application/xslt+xml",
    "text/xsl",
    "text/javascript",
    "application/javascript",
    "application/ecmascript",
    "text/ecmascript",
    "application/x-javascript",
    "text/x-javascript",
    "text/jscript",
    "text/javascript1.5",
    "multipart/x-mixed-replace",
    "multipart/related",
]


def info(name: str, declared: str = "", size: int = 10) -> FileInfo:
    return FileInfo(name=name, size=size, content_type=declared)


# -- the two examples -------------------------------------------------------------
def test_a_csv_declared_html_is_accepted_as_csv_and_signed_text_csv():
    policy = UploadPolicy(accept=".csv")
    report = info("report.csv", "text/html")
    policy.check_file(report)
    assert policy.content_type(report) == "text/csv"
    assert UploadPolicy(accept="text/csv").content_type(report) == "text/csv"
    UploadPolicy(accept="text/csv").check_file(report)
    with pytest.raises(UploadError) as exc_info:
        UploadPolicy(accept="text/html").check_file(report)
    assert exc_info.value.code == "not-accepted"


def test_an_html_page_declared_svg_is_not_an_image():
    page = info("page.html", "image/svg+xml")
    assert not is_accepted("image/*", page.name, page.content_type)
    with pytest.raises(UploadError) as exc_info:
        UploadPolicy(accept="image/*").check_file(page)
    assert exc_info.value.code == "not-accepted"
    assert "'page.html' (text/html)" in exc_info.value.message
    assert SAFE.content_type(page) == OCTET_STREAM
    assert ALLOWING.content_type(page) == "text/html"


# -- active types -------------------------------------------------------------------------
@pytest.mark.parametrize("ctype", ACTIVE_TYPES)
def test_every_active_type_is_active(ctype):
    assert is_active_type(ctype)
    assert is_active_type(ctype.upper() + "; charset=utf-8")


@pytest.mark.parametrize(
    "ctype",
    ["text/plain", "text/csv", "text/css", "application/json", "application/x-ipynb+json",
     "image/png", "image/jpeg", "application/pdf", "application/wasm", OCTET_STREAM,
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
)  # fmt: skip
def test_data_types_are_not_active(ctype):
    assert not is_active_type(ctype)


@pytest.mark.parametrize("ctype", ACTIVE_TYPES)
@pytest.mark.parametrize("declared", ["", "same", "text/plain"])
def test_an_active_type_from_the_name_is_signed_only_when_allowed(monkeypatch, ctype, declared):
    monkeypatch.setitem(_types._EXTRA_TYPES, ".zzactive", ctype)
    file = info("thing.zzactive", ctype if declared == "same" else declared)
    assert file_type(file.name, file.content_type) == ctype
    assert SAFE.content_type(file) == OCTET_STREAM
    assert content_type_for(file.name, file.content_type) == OCTET_STREAM
    assert ALLOWING.content_type(file) == ctype


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("page.html", "text/html"),
        ("page.htm", "text/html"),
        ("page.xhtml", "application/xhtml+xml"),
        ("logo.svg", "image/svg+xml"),
        ("data.xml", "application/xml"),
        ("app.js", "text/javascript"),
        ("module.mjs", "text/javascript"),
    ],
)
def test_common_active_files(name, ctype):
    for declared in ("", ctype, "text/plain", "image/png"):
        assert SAFE.content_type(info(name, declared)) == OCTET_STREAM
        assert ALLOWING.content_type(info(name, declared)) == ctype


@pytest.mark.parametrize("ctype", ACTIVE_TYPES)
@pytest.mark.parametrize("name", ["noext", "x.unknownext", "x.bin", "image.png"])
def test_a_declared_active_type_never_makes_a_file_active(name, ctype):
    """The page's word alone never signs an active type, even when they are allowed."""
    for policy in (SAFE, ALLOWING):
        signed = policy.content_type(info(name, ctype))
        assert not is_active_type(signed)
        assert signed == ("image/png" if name == "image.png" else OCTET_STREAM)


def test_an_svg_is_an_image_for_accept_and_stored_as_octet_stream():
    logo = info("logo.svg", "image/svg+xml")
    UploadPolicy(accept="image/*").check_file(logo)
    assert UploadPolicy(accept="image/*").content_type(logo) == OCTET_STREAM
    assert UploadPolicy(accept="image/*", allow_active_types=True).content_type(logo) == (
        "image/svg+xml"
    )


# -- files whose name names no type -------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("noext", "", OCTET_STREAM),
        ("noext", "text/plain", "text/plain"),
        ("noext", "Text/Plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("noext", "application/pdf", "application/pdf"),
        ("noext", "image/png", "image/png"),
        ("noext", "unknown/unknown", OCTET_STREAM),  # makes browsers sniff the bytes
        ("noext", "application/unknown", OCTET_STREAM),
        ("noext", "application/x-unknown-content-type", OCTET_STREAM),
        ("noext", "text/html", OCTET_STREAM),
        ("noext", "text/plain\r\nX-Evil: 1", OCTET_STREAM),
        ("noext", "not a type", OCTET_STREAM),
        ("Makefile", "text/x-makefile", "text/x-makefile"),
        (".env", "text/plain", "text/plain"),
        ("x.unknownext", "application/x-custom", "application/x-custom"),
        ("x.bin", "text/csv", "text/csv"),  # .bin names no more than octet-stream
    ],
)
def test_a_name_without_a_type_takes_a_safe_declared_type(name, declared, expected):
    for policy in (SAFE, ALLOWING):
        assert policy.content_type(info(name, declared)) == expected


# -- a name with a type: the declared one only where it agrees ------------------------------
@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("report.csv", "text/csv", "text/csv"),
        ("report.csv", "text/csv; charset=utf-8", "text/csv; charset=utf-8"),
        ("REPORT.CSV", "TEXT/CSV", "text/csv"),
        ("report.csv", "application/vnd.ms-excel", "text/csv"),  # Windows' word for .csv
        ("report.csv", "text/html", "text/csv"),
        ("photo.png", "text/html", "image/png"),
        ("photo.png", "image/jpeg", "image/png"),
        ("photo.png", "", "image/png"),
        ("t.parquet", "text/html", "application/vnd.apache.parquet"),
        ("x.csv.gz", "text/csv", "application/gzip"),
        ("notes.txt", "text/plain; charset=utf-8", "text/plain; charset=utf-8"),
    ],
)
def test_a_name_with_a_type_wins_unless_the_declared_one_agrees(name, declared, expected):
    assert SAFE.content_type(info(name, declared)) == expected
    assert file_type(name, declared) == expected


@pytest.mark.parametrize(
    ("accept", "name", "declared", "ok"),
    [
        ("image/*", "photo.png", "text/html", True),
        ("image/*", "noext", "image/png", True),
        ("image/*", "noext", "image/svg+xml", False),  # the page's word: not trusted
        ("image/*", "notes.txt", "image/png", False),
        ("text/csv", "report.csv", "application/vnd.ms-excel", True),
        ("text/html", "page.html", "", True),  # accepted, and stored as octet-stream
        ("text/html", "page.txt", "text/html", False),
    ],
)
def test_accept_matches_the_kernels_type(accept, name, declared, ok):
    assert is_accepted(accept, name, declared) is ok


def test_a_callable_key_template_sees_the_signed_type():
    seen = {}

    def template(fields):
        seen.update(fields)
        return "k"

    UploadPolicy(key_template=template).make_key(info("page.html", "text/html"))
    assert seen["content_type"] == OCTET_STREAM


@settings(max_examples=400, deadline=None)
@given(
    name=st.one_of(
        st.text(max_size=30),
        st.sampled_from(["page.html", "logo.svg", "a.js", "x.xml", "noext", "x.csv", "x.bin"]),
    ),
    declared=st.one_of(
        st.text(max_size=40),
        st.sampled_from([*ACTIVE_TYPES, "unknown/unknown", "text/plain", "image/png"]),
    ),
)
def test_nothing_active_or_sniffed_is_ever_signed_by_default(name, declared):
    signed = content_type_for(name, declared)
    assert is_valid_mime_type(signed)
    assert not is_active_type(signed)
    assert signed.split(";")[0] not in ("unknown/unknown", "application/unknown")
    allowed = content_type_for(name, declared, allow_active_types=True)
    assert allowed == signed or is_active_type(allowed)
