"""Hostile file names and folder paths, end to end (issue 10, item 6).

tests/test_policy.py proves the pure part (``sanitize_relative_path`` cases and a
hypothesis test that no name or path escapes the prefix). Here the same holds through the
browser, the kernel and S3:

- a real folder drop (CDP) whose names hold backslashes, control characters, a
  right-to-left override, folders named ``...`` and `` .. ``, a long path that fits and
  one whose key would pass 1,024 bytes, and two files whose paths clean to one key;
- names a real drop cannot carry (``..`` segments, a leading ``/``, ``/`` inside a file
  name, empty segments, NUL): the page's own ``File`` objects are made to report them
  (``File.prototype.name`` / ``webkitRelativePath`` overridden in the page, as a hostile
  page could), then picked through the widget's input, so they take the widget's real path.

Every key is under the prefix and the batch folder, with no ``.``, ``..`` or empty
segment and no control character, at the key expected; the bytes are the file's; the
over-long one is refused with its own record (``bad-name``, the limit in words), of two
files that clean to one key the second is refused (``key-exists``) rather than written over
the first, and the others go on.
"""

from __future__ import annotations

import pytest

from .folder_helpers import drop_paths, key_problems
from .support import make_random_file, sha256_bytes, sha256_file
from .widget_helpers import open_widget, row, wait_final, wait_rows

pytestmark = pytest.mark.e2e

LONG_OK = "/".join(c * 250 for c in "ABC")  # 3 folders of 250 bytes: the key fits
TOO_LONG = "/".join(c * 250 for c in "MNOP")  # 4 of them: the key passes 1,024 bytes

# Path on disk (the dropped folder's name first) -> the key's part after the batch folder.
DROPPED = {
    "hostile/back\\slash.csv": "hostile/back/slash.csv",
    "hostile/dir\\with\\bs/a.csv": "hostile/dir/with/bs/a.csv",
    "hostile/ctl\x01\x1b\x7fname.csv": "hostile/ctlname.csv",
    "hostile/tab\tnew\nline.csv": "hostile/tab new line.csv",
    "hostile/bell\x07dir/b.csv": "hostile/belldir/b.csv",
    "hostile/.../c.csv": "hostile/c.csv",
    "hostile/ .. /d.csv": "hostile/d.csv",
    "hostile/rtl\u202eevil/e\u202ecsv.txt": "hostile/rtlevil/ecsv.txt",
    f"hostile/{LONG_OK}/ok.csv": f"hostile/{LONG_OK}/ok.csv",
    f"hostile/{TOO_LONG}/long.csv": None,  # refused: bad-name
    # Two files whose paths clean to one key: one goes, the other is refused.
    "hostile/dup\\x.csv": "hostile/dup/x.csv",
    "hostile/dup/x.csv": "hostile/dup/x.csv",
}

# File picked -> (name, webkitRelativePath) the page reports -> the key's part after the
# batch folder (None: refused).
CRAFTED = {
    "f00.bin": ("evil.csv", "../../../etc/cron.d/evil.csv", "etc/cron.d/evil.csv"),
    "f01.bin": ("root.csv", "/abs/root.csv", "abs/root.csv"),
    "f02.bin": ("c.csv", "a/./b/../../c.csv", "a/b/c.csv"),
    "f03.bin": ("..\\..\\y.csv", "x\\..\\..\\y.csv", "x/y.csv"),
    "f04.bin": ("../../../../escape.csv", "", "escape.csv"),
    "f05.bin": ("n\nl.csv", "ctl\x00\x1b[31m/n\nl.csv", "ctl[31m/n l.csv"),
    "f06.bin": ("z.csv", "//" + "../" * 50 + "z.csv", "z.csv"),
    "f07.bin": ("..", "d/..", "d/file"),
    "f08.bin": ("e.csv", "a//b///e.csv", "a/b/e.csv"),
    "f09.bin": ("/etc/passwd", "/etc/passwd", "etc/passwd"),
    "f10.bin": ("long.csv", "/".join(["\u00e9" * 120] * 5) + "/long.csv", None),
}

# Makes the page's File objects report other names and paths (a hostile page can), until
# _RESTORE_FILES (the page serves the next test too).
_OVERRIDE_FILES = """(map) => {
  const own = (k) => Object.getOwnPropertyDescriptor(File.prototype, k);
  window.__s3uwFileProps = {name: own("name"), webkitRelativePath: own("webkitRelativePath")};
  const nameOf = own("name").get;
  const pathOf = own("webkitRelativePath").get;
  Object.defineProperty(File.prototype, "name", {
    configurable: true,
    get() { const n = nameOf.call(this); return n in map ? map[n][0] : n; },
  });
  Object.defineProperty(File.prototype, "webkitRelativePath", {
    configurable: true,
    get() { const n = nameOf.call(this); return n in map ? map[n][1] : pathOf.call(this); },
  });
}"""
_RESTORE_FILES = """() => {
  for (const [k, d] of Object.entries(window.__s3uwFileProps || {}))
    Object.defineProperty(File.prototype, k, d);
  delete window.__s3uwFileProps;
}"""


def check_outcome(s3, bucket, records, expected, paths, name_of) -> None:
    """``expected``: record -> key part after the batch folder, or None if refused;
    ``paths``: record -> the file on disk; ``name_of``: record -> the name its error names.
    Files whose names clean to the same key: one is uploaded, the others refused
    (``key-exists``), never written over it."""
    batches = {r["batch"] for r in records}
    assert len(batches) == 1, batches
    (batch,) = batches
    under = f"uploads/{batch}/"
    by_key: dict[str, list[dict]] = {}
    for record in records:
        want = expected(record)
        if want is None:
            assert record["status"] == "error", record
            assert record["error_code"] == "bad-name", record
            assert name_of(record) in record["error"] and "1024" in record["error"], record
            continue
        assert record["key"] == under + want, (record["key"], want)
        assert key_problems(record["key"], under) == [], (record["key"], record)
        by_key.setdefault(record["key"], []).append(record)
    for key, same in by_key.items():
        (done,) = [r for r in same if r["status"] == "done"]
        assert sha256_bytes(s3.get_bytes(bucket, key)) == sha256_file(paths(done)), key
        for other in same:
            if other is not done:
                assert other["status"] == "error", other
                assert other["error_code"] == "key-exists", other
                assert f"s3://{bucket}/{key}" in other["error"], other
    stored = s3.list_keys(bucket)
    assert sorted(stored) == sorted(by_key)
    assert all(key_problems(k, under) == [] for k in stored), stored


def test_hostile_names_in_a_dropped_folder_stay_under_the_prefix(
    nb, s3, jupyter, notebook_name, tmp_path
):
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    files = {
        rel: make_random_file(tmp_path / rel, 2_000 + i, seed=rel) for i, rel in enumerate(DROPPED)
    }
    open_widget(nb, notebook_name, bucket)

    drop_paths(nb, [tmp_path / "hostile"])

    records = wait_final(nb, len(DROPPED), timeout=120)
    # The browser sent the names as they are on disk.
    assert {r["relative_path"] for r in records} == set(DROPPED)
    check_outcome(
        s3,
        bucket,
        records,
        expected=lambda r: DROPPED[r["relative_path"]],
        paths=lambda r: files[r["relative_path"]],
        name_of=lambda r: r["relative_path"].rsplit("/", 1)[1],
    )
    assert nb.eval_json("w.summary()") == "12 files: 10 done, 2 failed (bad-name 1, key-exists 1)"
    wait_rows(nb, "error", 2, timeout=30)
    wait_rows(nb, "done", len(DROPPED) - 2, timeout=30)
    for refused in [r for r in records if r["status"] == "error"]:
        assert row(nb, refused["id"]).get_attribute("data-status") == "error"
        assert row(nb, refused["id"]).locator(".s3uw-error").text_content() == refused["error"]
    # The rows show control and bidi characters instead of obeying them.
    shown = nb.widget(0).locator(".s3uw-name").all_text_contents()
    assert not any(set(name) & {"\u202e", "\x01", "\x1b", "\x7f"} for name in shown), shown
    assert "e⟨U+202E⟩csv.txt" in shown and "ctl⟨U+0001⟩⟨U+001B⟩⟨U+007F⟩name.csv" in shown, shown


def test_crafted_paths_from_the_page_stay_under_the_prefix(
    nb, s3, jupyter, notebook_name, tmp_path
):
    """``..``, a leading ``/``, ``/`` and ``\\`` in a file name, empty segments and NUL:
    no real drop carries them, a hostile page can; they take the widget's real path."""
    bucket = s3.make_bucket(cors_origins=[jupyter.origin])
    paths = {f: make_random_file(tmp_path / f, 3_000 + i, seed=f) for i, f in enumerate(CRAFTED)}
    open_widget(nb, notebook_name, bucket)
    nb.page.evaluate(_OVERRIDE_FILES, {f: [name, rel] for f, (name, rel, _) in CRAFTED.items()})
    try:
        nb.pick_files(0, list(paths.values()))
        records = wait_final(nb, len(CRAFTED), timeout=120)
    finally:
        nb.page.evaluate(_RESTORE_FILES)
    by_name = {name: f for f, (name, _, _) in CRAFTED.items()}
    # The kernel got the crafted names and paths, not the files' own.
    assert {(r["name"], r["relative_path"]) for r in records} == {
        (name, rel) for name, rel, _ in CRAFTED.values()
    }
    check_outcome(
        s3,
        bucket,
        records,
        expected=lambda r: CRAFTED[by_name[r["name"]]][2],
        paths=lambda r: paths[by_name[r["name"]]],
        name_of=lambda r: r["name"],
    )
    assert nb.eval_json("w.summary()") == "11 files: 10 done, 1 failed (bad-name 1)"
    wait_rows(nb, "error", 1, timeout=30)
    wait_rows(nb, "done", len(CRAFTED) - 1, timeout=30)
