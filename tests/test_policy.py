"""File names, keys, prefix confinement, accept and per-file limits."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3_upload_widget._errors import UploadError
from s3_upload_widget._names import sanitize_filename, sanitize_relative_path, split_ext
from s3_upload_widget._policy import FileInfo, UploadPolicy
from s3_upload_widget._sizes import MAX_KEY_BYTES, MAX_OBJECT_SIZE
from s3_upload_widget._types import content_type_for, is_accepted

MiB = 1024**2
FIXED_UUID = uuid.UUID("12345678123456781234567812345678")
NOW = datetime(2024, 3, 9, 23, 30, tzinfo=timezone.utc)


def info(name="data.csv", size=10, content_type="text/csv") -> FileInfo:
    return FileInfo(name=name, size=size, content_type=content_type)


# --- sanitize_filename ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("résumé final.csv", "résumé final.csv"),
        ("data.csv", "data.csv"),
        ("C:\\Users\\ana\\data.csv", "data.csv"),
        ("../../etc/passwd", "passwd"),
        ("dir/sub/", "sub"),
        ("..", "file"),
        (".", "file"),
        ("...", "file"),
        ("", "file"),
        ("   ", "file"),
        ("/", "file"),
        ("\u202e", "file"),
        ("\x00\x01", "file"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("a\tb\n  c.csv", "a b c.csv"),
        ("  spaced  out .csv  ", "spaced out .csv"),
        ("zero\u200bwidth.csv", "zerowidth.csv"),
        ("nbsp\u00a0name.csv", "nbsp name.csv"),
        (".env", ".env"),
        ("re\u0301sume\u0301.csv", "résumé.csv"),  # NFD in, NFC out
    ],
)
def test_sanitize_filename_examples(raw, expected):
    assert sanitize_filename(raw) == expected


def test_sanitize_filename_caps_length_and_keeps_extension():
    name = sanitize_filename("x" * 300 + ".parquet")
    assert len(name.encode()) == 255
    assert name.endswith(".parquet")


def test_sanitize_filename_truncates_multibyte_on_character_boundary():
    name = sanitize_filename("é" * 200 + ".csv")  # 400 bytes of stem
    assert len(name.encode()) <= 255
    assert name.endswith(".csv")
    assert set(name[:-4]) == {"é"}


def test_sanitize_filename_with_a_huge_extension_cuts_the_whole_name():
    name = sanitize_filename("a." + "b" * 400)
    assert len(name.encode()) == 255 and name.startswith("a.b")


def test_sanitize_filename_never_returns_dots_only_after_truncation():
    assert sanitize_filename("." * 300 + "y" * 40) == "file"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_sanitize_filename_properties(raw):
    name = sanitize_filename(raw)
    assert name
    assert "/" not in name and "\\" not in name
    assert name not in (".", "..") and set(name) != {"."}
    assert len(name.encode("utf-8")) <= 255
    assert name == name.strip(" ") and "  " not in name
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name)
    assert not any(c.isspace() and c != " " for c in name)
    assert unicodedata.is_normalized("NFC", name)
    assert sanitize_filename(name) == name  # idempotent


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a.csv", ("a", ".csv")),
        ("a.tar.gz", ("a.tar", ".gz")),
        (".env", (".env", "")),
        ("noext", ("noext", "")),
        ("trailing.", ("trailing.", "")),
    ],
)
def test_split_ext(name, parts):
    assert split_ext(name) == parts


# --- make_key ------------------------------------------------------------------------


def test_default_key_is_prefix_batch_relpath():
    policy = UploadPolicy(prefix="uploads/")
    key = policy.make_key(info("My Data.csv"), batch="b" * 16)
    assert key == f"uploads/{'b' * 16}/My Data.csv"
    nested = FileInfo("a.csv", 1, "text/csv", relative_path="trip/day 1/a.csv")
    assert policy.make_key(nested, batch="b" * 16) == f"uploads/{'b' * 16}/trip/day 1/a.csv"


def test_uuid_is_32_hex_digits_and_batch_16_and_both_differ_per_call():
    policy = UploadPolicy(prefix="u/", key_template="{prefix}{uuid}/{batch}/{filename}")
    first, second = policy.make_key(info()), policy.make_key(info())
    assert first != second
    _, uuid_part, batch_part, _ = first.split("/")
    assert len(uuid_part) == 32 and int(uuid_part, 16) >= 0
    assert len(batch_part) == 16 and int(batch_part, 16) >= 0


@pytest.mark.parametrize(
    ("relative_path", "name", "expected"),
    [
        ("", "a.csv", "a.csv"),
        ("top/a.csv", "a.csv", "top/a.csv"),
        (
            "year=2024/month=05/part-0.parquet",
            "part-0.parquet",
            "year=2024/month=05/part-0.parquet",
        ),
        ("../../etc/passwd", "passwd", "etc/passwd"),  # dropped "..": stays inside
        ("/abs/x/a.csv", "a.csv", "abs/x/a.csv"),
        ("a\\b\\c.csv", "c.csv", "a/b/c.csv"),
        ("a//./b/../c.csv", "c.csv", "a/b/c.csv"),
        ("top/\u202eevil/a.csv", "a.csv", "top/evil/a.csv"),
        ("top/other-name.csv", "a.csv", "top/a.csv"),  # the name is the file's own
        (
            "/".join(["d"] * 100) + "/a.csv",
            "a.csv",
            "/".join(["d"] * 63) + "/" + "_".join(["d"] * 37) + "/a.csv",
        ),
    ],
)
def test_sanitize_relative_path(relative_path, name, expected):
    assert sanitize_relative_path(relative_path, name) == expected


def test_all_placeholders():
    policy = UploadPolicy(prefix="p/", key_template="{prefix}{date}/{stem}_{uuid:.6}{ext}")
    key = policy.make_key(info("../report.v2.csv"), uuid=FIXED_UUID, now=NOW)
    assert key == "p/2024-03-09/report.v2_123456.csv"


def test_date_is_utc():
    policy = UploadPolicy(key_template="{date}/{filename}")
    tokyo = datetime(2024, 3, 10, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # 23:00 UTC the 9th
    assert policy.make_key(info(), now=tokyo, uuid=FIXED_UUID) == "2024-03-09/data.csv"


def test_ext_is_empty_without_extension():
    policy = UploadPolicy(key_template="{stem}|{ext}")
    assert policy.make_key(info("Makefile")) == "Makefile|"


def test_template_without_prefix_gets_the_prefix():
    policy = UploadPolicy(prefix="uploads/", key_template="{filename}")
    assert policy.make_key(info()) == "uploads/data.csv"


def test_string_prefix_without_slash():
    policy = UploadPolicy(prefix="data-", key_template="{prefix}{filename}")
    assert policy.make_key(info()) == "data-data.csv"


def test_callable_template_gets_all_fields():
    seen = {}

    def template(fields):
        seen.update(fields)
        return f"{fields['prefix']}{fields['size']}/{fields['filename']}"

    policy = UploadPolicy(prefix="u/", key_template=template)
    key = policy.make_key(info("a/b c.csv", 7, ""), uuid=FIXED_UUID, now=NOW)
    assert key == "u/7/b c.csv"
    assert seen == {
        "prefix": "u/",
        "uuid": FIXED_UUID.hex,
        "filename": "b c.csv",
        "stem": "b c",
        "ext": ".csv",
        "date": "2024-03-09",
        "relpath": "b c.csv",
        "batch": seen["batch"],
        "original_name": "a/b c.csv",
        "size": 7,
        "content_type": "text/csv",
    }


@pytest.mark.parametrize("returned", [None, 42, b"bytes/key", ["k"]])
def test_callable_returning_non_str_is_bad_name(returned):
    policy = UploadPolicy(key_template=lambda fields: returned)
    with pytest.raises(UploadError) as exc_info:
        policy.make_key(info("x.csv"))
    assert exc_info.value.code == "bad-name"
    assert "'x.csv'" in exc_info.value.message and "str" in exc_info.value.message


def test_callable_that_raises_is_bad_name():
    def template(fields):
        raise KeyError("missing")

    with pytest.raises(UploadError) as exc_info:
        UploadPolicy(key_template=template).make_key(info("x.csv"))
    assert exc_info.value.code == "bad-name"
    assert "KeyError" in exc_info.value.message and "x.csv" in exc_info.value.message


@pytest.mark.parametrize(
    ("prefix", "returned", "words"),
    [
        ("uploads/", "uploads/../secret", "'..'"),
        ("uploads/", "../secret", "'..'"),
        ("", "/etc/passwd", "starts with '/'"),
        ("uploads/", "/etc/passwd", "empty path segment"),
        ("", "a//b", "empty path segment"),
        ("", "a/./b", "'.'"),
        ("", "folder/", "empty path segment"),
        ("", "a\nb", "control characters"),
        ("", "x" * (MAX_KEY_BYTES + 1), "1025 bytes"),
        ("uploads/", "", "empty path segment"),
    ],
)
def test_unsafe_keys_are_bad_name_naming_the_file(prefix, returned, words):
    policy = UploadPolicy(prefix=prefix, key_template=lambda fields: returned)
    with pytest.raises(UploadError) as exc_info:
        policy.make_key(info("holiday.jpg"))
    error = exc_info.value
    assert error.code == "bad-name"
    assert "holiday.jpg" in error.message and words in error.message
    assert error.hint


def test_key_exactly_at_the_byte_limit_is_fine():
    key = "k" * MAX_KEY_BYTES
    assert UploadPolicy(key_template=lambda f: key).make_key(info()) == key


def test_long_prefix_plus_long_name_over_1024_bytes_is_bad_name():
    policy = UploadPolicy(prefix="p" * 900 + "/", key_template="{prefix}{filename}")
    with pytest.raises(UploadError, match="over S3's limit of 1024"):
        policy.make_key(info("n" * 200 + ".csv"))


TEMPLATES = [
    "{prefix}{uuid}/{filename}",
    "{prefix}{batch}/{relpath}",
    "{relpath}",
    lambda f: f["prefix"] + "../" + f["relpath"],
    "{prefix}{filename}",
    "{filename}",
    "{stem}/{ext}",
    "{prefix}{date}/{stem}{ext}",
    lambda f: f["original_name"],
    lambda f: f["prefix"] + f["original_name"],
    lambda f: f["prefix"] + "../" + f["filename"],
]


_PATH_PARTS = st.sampled_from(
    ["..", ".", "", "/", "\\", " ", "a", "é", "\u202e", "\x00", "x" * 300]
)


@settings(max_examples=800, deadline=None)
@given(
    name=st.text(max_size=300),
    relative_path=st.one_of(
        st.text(max_size=300),
        st.lists(st.one_of(_PATH_PARTS, st.text(max_size=20)), max_size=12).map("/".join),
    ),
    template=st.sampled_from(TEMPLATES),
    prefix=st.sampled_from(["", "uploads/", "data-", "a/b/"]),
)
def test_no_file_name_or_path_escapes_the_prefix(name, relative_path, template, prefix):
    policy = UploadPolicy(prefix=prefix, key_template=template)
    try:
        key = policy.make_key(FileInfo(name, 10, "text/csv", relative_path=relative_path))
    except UploadError as error:
        assert error.code == "bad-name"
        return
    assert key.startswith(prefix)
    segments = key.split("/")
    assert not key.startswith("/")
    assert all(s not in ("", ".", "..") for s in segments)
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in key)


# --- accept and content types --------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "name", "ctype", "ok"),
    [
        ("", "anything.exe", "", True),
        ("  ", "anything.exe", "", True),
        (".csv", "data.csv", "", True),
        (".csv", "DATA.CSV", "", True),
        (".CSV", "data.csv", "", True),
        (".csv", "data.csv.exe", "", False),
        (".csv", "csv", "", False),
        (".tar.gz", "backup.tar.gz", "", True),
        (".tar.gz", "backup.gz", "", False),
        (".csv,.parquet", "t.parquet", "", True),
        (".csv, .parquet ,image/*", "photo.jpg", "image/jpeg", True),
        ("image/*", "photo.png", "", True),  # type guessed from the extension
        ("image/*", "photo.png", "IMAGE/PNG", True),
        ("image/*", "notes.txt", "text/plain", False),
        ("text/csv", "x.bin", "text/csv", True),
        ("text/csv", "x.csv", "text/csv; charset=utf-8", True),
        ("text/csv", "x.txt", "text/plain", False),
        ("application/vnd.apache.parquet", "t.parquet", "", True),
        ("*/*", "x.bin", "", True),
        (".csv", "dir/evil.exe/../x.csv", "", True),  # the stored name is x.csv
    ],
)
def test_is_accepted(accept, name, ctype, ok):
    assert is_accepted(accept, name, ctype) is ok


@pytest.mark.parametrize(
    ("name", "browser", "expected"),
    [
        ("x.bin", "text/csv", "text/csv"),
        ("x.csv", "", "text/csv"),
        ("x.CSV", "", "text/csv"),
        ("x.png", "not a type", "image/png"),
        ("x.png", "text/csv\r\nX-Evil: 1", "image/png"),
        ("x.png", "a/" + "b" * 300, "image/png"),
        ("x.parquet", "", "application/vnd.apache.parquet"),
        ("x.csv.gz", "", "application/gzip"),
        ("x.unknownext", "", "application/octet-stream"),
        ("noext", "", "application/octet-stream"),
        ("data:text/html,x", "", "application/octet-stream"),
        ("x.txt", "text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("x.txt", "text/plain;", "text/plain"),
        ("x.txt", 'text/plain; name="a b"', 'text/plain; name="a b"'),
        ("x.txt", 'text/plain; name="é"', "text/plain"),
        ("x.txt", "text/plaîn", "text/plain"),
        ("x.txt", "text/plain;\u00a0a=b", "text/plain"),
    ],
)
def test_content_type_for(name, browser, expected):
    assert content_type_for(name, browser) == expected


# --- limits --------------------------------------------------------------------------


def test_too_large_names_file_size_and_limit():
    policy = UploadPolicy(max_size=10_000_000)
    with pytest.raises(UploadError) as exc_info:
        policy.check_file(info("big.csv", 12_000_000))
    error = exc_info.value
    assert error.code == "too-large"
    assert "'big.csv' is 12.0 MB, over the 10.0 MB limit (max_size=10,000,000 bytes)" in (
        error.message
    )
    assert "max_size" in error.hint


def test_size_at_the_limit_is_fine():
    UploadPolicy(max_size=100).check_file(info(size=100))
    UploadPolicy(max_size=0).check_file(info(size=0))


def test_over_5_tib_is_too_large_even_without_max_size():
    with pytest.raises(UploadError, match="5 TiB") as exc_info:
        UploadPolicy().check_file(info(size=MAX_OBJECT_SIZE + 1))
    assert exc_info.value.code == "too-large"


@pytest.mark.parametrize("size", [True, False, -1, 1.5, "10", None])
def test_check_file_refuses_non_int_sizes(size):
    with pytest.raises(UploadError) as exc_info:
        UploadPolicy().check_file(info(size=size))
    assert exc_info.value.code == "bad-request"


def test_not_accepted_names_file_and_accepted_types():
    policy = UploadPolicy(accept=".csv,.parquet,image/*")
    with pytest.raises(UploadError) as exc_info:
        policy.check_file(info("setup.exe", 10, "application/x-msdownload"))
    error = exc_info.value
    assert error.code == "not-accepted"
    assert "'setup.exe'" in error.message
    assert ".csv, .parquet, image/*" in error.message
    assert "accept=" in error.hint


def test_check_batch():
    policy = UploadPolicy(max_files=3)
    policy.check_batch(3)
    with pytest.raises(UploadError) as exc_info:
        policy.check_batch(5)
    assert exc_info.value.code == "too-many-files"
    assert "5 files" in exc_info.value.message and "max_files=3" in exc_info.value.message
    UploadPolicy().check_batch(10_000)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prefix": "/x/"},
        {"key_template": "{nope}"},
        {"max_size": -1},
        {"max_size": True},
        {"max_size": 1.5},
        {"max_files": 0},
        {"max_files": False},
        {"accept": None},
    ],
)
def test_bad_policy_configuration_fails_at_construction(kwargs):
    with pytest.raises(ValueError):
        UploadPolicy(**kwargs)


# --- FileInfo.from_message -----------------------------------------------------------


def test_file_info_from_message():
    assert FileInfo.from_message({"name": "a.csv", "size": 3, "type": "text/csv"}) == FileInfo(
        "a.csv", 3, "text/csv"
    )
    assert FileInfo.from_message({"name": "a", "size": 0}).content_type == ""
    assert FileInfo.from_message({"name": "a", "size": MAX_OBJECT_SIZE, "type": ""}).size == (
        MAX_OBJECT_SIZE
    )


@pytest.mark.parametrize(
    "message",
    [
        None,
        "a.csv",
        ["a.csv", 3],
        {"size": 3, "type": ""},
        {"name": "", "size": 3, "type": ""},
        {"name": "x" * 4097, "size": 3, "type": ""},
        {"name": 5, "size": 3, "type": ""},
        {"name": "a", "type": ""},
        {"name": "a", "size": True, "type": ""},
        {"name": "a", "size": -1, "type": ""},
        {"name": "a", "size": 1.0, "type": ""},
        {"name": "a", "size": "3", "type": ""},
        {"name": "a", "size": MAX_OBJECT_SIZE + 1, "type": ""},
        {"name": "a", "size": 3, "type": None},
        {"name": "a", "size": 3, "type": 7},
    ],
)
def test_file_info_from_bad_message(message):
    with pytest.raises(UploadError) as exc_info:
        FileInfo.from_message(message)
    assert exc_info.value.code == "bad-request"
    assert exc_info.value.message.startswith("The browser sent an invalid file description")
