"""The option checks: the prefix, the key template, and every option's limits."""

from __future__ import annotations

import pytest
import traitlets

from s3_upload_widget import InvalidOption, S3UploadWidget
from s3_upload_widget._options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MULTIPART_THRESHOLD,
    OPTION_NAMES,
    PLACEHOLDERS,
    check_option,
    normalize_prefix,
    validate_key_template,
)

MiB = 1024**2
GiB = 1024**3

# Each bad value, and words its message must hold: the argument, the limit, the fix.
BAD_VALUES = [
    ("bucket", "", ["bucket must be", "my-bucket"]),
    ("bucket", "a/b", ["bucket", "prefix="]),
    ("bucket", "a b", ["bucket"]),
    ("prefix", "/abs/", ["prefix", "'abs/'"]),
    ("key_template", "{prefix}{nope}", ["{nope}", "valid placeholders"]),
    ("accept", None, ["accept", "'.csv,image/*'"]),
    ("multiple", "yes", ["multiple", "True or False"]),
    ("overwrite", 1, ["overwrite", "True or False"]),
    ("max_size", -1, ["max_size", ">= 0", "None for no limit"]),
    ("max_size", 1.5, ["max_size"]),
    ("max_files", 0, ["max_files", ">= 1"]),
    ("max_files", True, ["max_files"]),
    ("max_total_files", 0, ["max_total_files", ">= 1"]),
    ("allow_active_types", "yes", ["allow_active_types", "True or False"]),
    ("expires_in", 0, ["expires_in", "between 1 and 604800", "900"]),
    ("expires_in", 8 * 24 * 3600, ["expires_in", "7 days"]),
    ("multipart_threshold", 1024, ["multipart_threshold", "5 MiB", "5 GiB"]),
    ("multipart_threshold", 10 * GiB, ["multipart_threshold", "5 GiB", "16,777,216"]),
    ("part_size", 1_000_000, ["part_size", "5 MiB", "None lets the widget choose"]),
    ("part_size", 6 * GiB, ["part_size", "5 GiB"]),
    ("concurrency", 0, ["concurrency", "between 1 and 6", "connections"]),
    ("concurrency", 7, ["concurrency", "between 1 and 6"]),
    ("parallel_files", 0, ["parallel_files", "between 1 and 6", "connections"]),
    ("parallel_files", 7, ["parallel_files", "between 1 and 6"]),
    ("parallel_files", "3", ["parallel_files"]),
    ("checksum", "crc32c", ["checksum", "'CRC32C' or None", "refuses bytes"]),
    ("checksum", "MD5", ["checksum", "None turns that off"]),
    ("form_posts", "yes", ["form_posts", "'auto', True or False", "no CORS preflight"]),
    ("form_posts", None, ["form_posts", "'auto'"]),
    ("form_posts", 1, ["form_posts", "not 1"]),
    ("connection_pools", 3, ["connection_pools", "'auto', 1 or 2", "credentials"]),
    ("connection_pools", True, ["connection_pools", "True and False are no counts"]),
    ("extra_args", {"SSECustomerKey": "k"}, ["SSE-C", "browser", "SSE-KMS"]),
    ("extra_args", {"StorageClas": "GLACIER"}, ["unknown key", "Did you mean 'StorageClass'?"]),
    ("extra_args", "aws:kms", ["extra_args must be a dict", "callable"]),
    ("extra_endpoints", "http://127.0.0.2:9000", ["extra_endpoints must be a list", "[]"]),
    ("extra_endpoints", ["ftp://s3.example"], ["'ftp://s3.example'", "http or https"]),
    ("extra_endpoints", ["http://h/bucket"], ["no path", "same bucket"]),
    ("extra_endpoints", ["http://h:port"], ["'http://h:port'", "a host and maybe a port"]),
    ("extra_endpoints", ["http://AKIA:secret@h"], ["carries credentials", "remove them"]),
    ("extra_endpoints", ["http://h", "http://H/"], ["names http://h twice"]),
    (
        "extra_endpoints",
        [f"http://127.0.0.{i}" for i in range(2, 10)],
        ["at most 7", "6 connections"],
    ),
]

GOOD_VALUES = [
    ("bucket", "my-bucket"),
    ("prefix", "uploads/"),
    ("key_template", "{prefix}{filename}"),
    ("accept", ".csv,image/*"),
    ("multiple", False),
    ("overwrite", True),
    ("max_size", None),
    ("max_size", 0),
    ("max_files", None),
    ("max_files", 1),
    ("max_total_files", None),
    ("max_total_files", 5),
    ("allow_active_types", True),
    ("expires_in", 604800),
    ("multipart_threshold", 5 * MiB),
    ("multipart_threshold", 5 * GiB),
    ("part_size", None),
    ("part_size", 5 * MiB),
    ("part_size", 5 * GiB),
    ("concurrency", 1),
    ("concurrency", 6),
    ("parallel_files", 1),
    ("parallel_files", 6),
    ("checksum", "CRC32C"),
    ("checksum", None),
    ("form_posts", "auto"),
    ("form_posts", True),
    ("form_posts", False),
    ("connection_pools", "auto"),
    ("connection_pools", 1),
    ("connection_pools", 2),
    ("extra_args", None),
    ("extra_args", {"ServerSideEncryption": "aws:kms", "Tagging": {"project": "alpha"}}),
    ("extra_endpoints", ()),
    ("extra_endpoints", ("https://s3.dualstack.eu-west-1.amazonaws.com", "http://[::1]:9000")),
]


def test_every_option_has_a_bad_and_a_good_example():
    assert {name for name, _, _ in BAD_VALUES} == set(OPTION_NAMES)
    assert {name for name, _ in GOOD_VALUES} == set(OPTION_NAMES)


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES)
def test_check_option_refuses_with_the_argument_the_limit_and_the_fix(name, value, words):
    with pytest.raises(ValueError) as exc_info:
        check_option(name, value)
    for word in words:
        assert word in str(exc_info.value)


@pytest.mark.parametrize(("name", "value"), GOOD_VALUES)
def test_check_option_keeps_good_values(name, value):
    assert check_option(name, value) == value


# --- the widget: at construction, on a later change, and misspelt keywords ---------------

_WIDGET_OPTIONS = [(n, v, w) for n, v, w in BAD_VALUES if n != "bucket"]


@pytest.mark.parametrize(("name", "value", "words"), _WIDGET_OPTIONS)
def test_widget_refuses_a_bad_option_at_construction(name, value, words):
    with pytest.raises(InvalidOption) as exc_info:
        S3UploadWidget(bucket="b", **{name: value})
    # Both spellings of "a bad value" catch it.
    assert isinstance(exc_info.value, ValueError)
    assert isinstance(exc_info.value, traitlets.TraitError)
    assert words[0] in str(exc_info.value)


@pytest.mark.parametrize(
    ("name", "value", "words"), [t for t in _WIDGET_OPTIONS if t[0] != "key_template"]
)
def test_widget_refuses_a_bad_option_set_later_and_keeps_the_old_value(name, value, words):
    w = S3UploadWidget(bucket="b")
    before = getattr(w, name)
    with pytest.raises(InvalidOption, match=words[0]):
        setattr(w, name, value)
    assert getattr(w, name) == before
    # The session still works with the old value.
    assert w._session.options.multipart_threshold == w.multipart_threshold


def test_widget_defaults_come_from_options():
    w = S3UploadWidget(bucket="b")
    assert w.multipart_threshold == DEFAULT_MULTIPART_THRESHOLD
    assert w.concurrency == DEFAULT_CONCURRENCY
    assert w.part_size is None


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [("prefx", "prefix"), ("max_file", "max_files"), ("partsize", "part_size"), ("zzz", None)],
)
def test_a_misspelt_keyword_names_the_closest_option(keyword, suggestion):
    with pytest.raises(TypeError) as exc_info:
        S3UploadWidget(bucket="b", **{keyword: "x"})
    text = str(exc_info.value)
    assert repr(keyword) in text and "Valid options:" in text
    if suggestion:
        assert f"Did you mean {suggestion}=?" in text
    else:
        assert "Did you mean" not in text


def test_results_cannot_be_passed_in():
    with pytest.raises(TypeError, match="sets itself"):
        S3UploadWidget(bucket="b", uploaded_keys=["x"])


def test_base_widget_keywords_still_work():
    w = S3UploadWidget(bucket="b", layout={"width": "300px"}, tooltip="Upload here")
    assert w.layout.width == "300px" and w.tooltip == "Upload here"


# --- normalize_prefix ----------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "uploads/", "data-", "a/b/c/", "a/b", "team x/é/"])
def test_valid_prefixes_are_kept_as_given(prefix):
    assert normalize_prefix(prefix) == prefix


@pytest.mark.parametrize(
    ("prefix", "words"),
    [
        ("/uploads/", "start with '/'"),
        ("a/../b/", "'..'"),
        ("../", "'..'"),
        ("./a", "'.'"),
        ("a//b/", "empty segments"),
        ("a//", "empty segments"),
        ("a\nb/", "control characters"),
        ("a\u202eb/", "control characters"),
        ("x" * 1000, "bytes"),
    ],
)
def test_invalid_prefixes_raise_value_error(prefix, words):
    with pytest.raises(ValueError, match="prefix") as exc_info:
        normalize_prefix(prefix)
    assert words in str(exc_info.value)


def test_prefix_must_be_str():
    with pytest.raises(ValueError, match="str"):
        normalize_prefix(None)  # type: ignore[arg-type]


# --- key templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{prefix}{uuid}/{filename}",
        "{prefix}{date}/{stem}-{uuid}{ext}",
        "{prefix}{uuid:.8}/{filename}",
        "fixed/latest.csv",
        "{{literal}}/{filename}",
        lambda fields: fields["filename"],
    ],
)
def test_valid_key_templates(template):
    validate_key_template(template)


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{prefix}{name}", "{name}"),
        ("{user}/{filename}", "{user}"),
        ("{}", "{}"),
        ("{0}", "{0}"),
        ("{filename.__class__}", "{filename.__class__}"),
        ("{uuid[0]}", "{uuid[0]}"),
        ("{prefix", "not a valid template"),
        ("prefix}", "not a valid template"),
        ("{uuid:{ext}}", "nested"),
        ("{uuid:d}", "cannot be rendered"),
        ("", "must not be empty"),
        (42, "str or a callable"),
    ],
)
def test_invalid_key_templates(template, words):
    with pytest.raises(ValueError) as exc_info:
        validate_key_template(template)
    assert words in str(exc_info.value)


def test_unknown_placeholder_error_lists_the_valid_ones():
    with pytest.raises(ValueError) as exc_info:
        validate_key_template("{prefix}{name}")
    for placeholder in PLACEHOLDERS:
        assert "{" + placeholder + "}" in str(exc_info.value)


def test_extra_endpoints_are_normalized_and_multiply_the_parts_in_flight():
    value = ["HTTP://LocalHost:9000/", "https://s3.dualstack.eu-west-1.amazonaws.com"]
    assert check_option("extra_endpoints", value) == (
        "http://localhost:9000",
        "https://s3.dualstack.eu-west-1.amazonaws.com",
    )
    w = S3UploadWidget(bucket="b", concurrency=4, extra_endpoints=value)
    assert w._session.options.in_flight == 12  # 4 on each of 3 host names
    w.extra_endpoints = []
    assert w._session.options.in_flight == 4
