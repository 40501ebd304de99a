"""RecordBook: one copy per changed record per flush, and patches of only what changed."""

from __future__ import annotations

from s3_upload_widget import _protocol as P
from s3_upload_widget._publish import RecordBook


def record(upload_id: str, **fields) -> dict:
    base = {name: "" for name in P.VIEW_FIELDS}
    base.update(id=upload_id, size=10, loaded=0, status="queued", etag="", batch="b1")
    base.update(fields)
    return base


def test_a_new_record_reaches_the_page_whole_then_as_patches():
    book, a = RecordBook(), record("a", name="a.csv")
    book.mark(a)
    records, delta, done = book.flush()
    assert records == [a] and records[0] is not a  # a copy: later changes don't leak in
    assert delta == {
        "kind": P.RECORDS,
        "records": [{n: a[n] for n in P.VIEW_FIELDS}],
        "removed": [],
    }
    assert done == []
    a.update(status="uploading", loaded=4)
    book.mark(a)
    records, delta, _ = book.flush()
    assert records[0]["status"] == "uploading"
    assert delta["records"] == [{"id": "a", "status": "uploading", "loaded": 4}]


def test_fields_the_page_does_not_draw_change_python_only():
    book, a = RecordBook(), record("a")
    book.mark(a)
    book.flush()
    a["etag"] = '"abc"'  # not a view field
    book.mark(a)
    records, delta, _ = book.flush()
    assert records[0]["etag"] == '"abc"'
    assert delta is None


def test_nothing_marked_publishes_nothing():
    book = RecordBook()
    assert not book.pending
    book.mark(record("a"))
    assert book.pending
    book.flush()
    assert not book.pending


def test_only_marked_records_are_copied_again():
    book = RecordBook()
    rows = [record(str(i)) for i in range(5)]
    for r in rows:
        book.mark(r)
    first, _, _ = book.flush()
    rows[3]["loaded"] = 7
    book.mark(rows[3])
    second, delta, _ = book.flush()
    assert [r["id"] for r in second] == ["0", "1", "2", "3", "4"]  # add order kept
    # Unchanged records are the very same copies: a flush costs O(changed), not O(all).
    assert all(second[i] is first[i] for i in (0, 1, 2, 4))
    assert second[3] is not first[3] and second[3]["loaded"] == 7
    assert delta["records"] == [{"id": "3", "loaded": 7}]


def test_done_records_come_back_after_their_flush_as_copies():
    book, a, b = RecordBook(), record("a"), record("b")
    book.mark(a)
    book.mark(b)
    book.flush()
    a["status"] = "done"
    book.mark_done(a)
    records, _, done = book.flush()
    assert [r["id"] for r in done] == ["a"] and done[0]["status"] == "done"
    done[0]["status"] = "tampered"
    assert records[0]["status"] == "done"


def test_removed_records_leave_python_and_the_page():
    book, a, b = RecordBook(), record("a"), record("b")
    book.mark(a)
    book.mark(b)
    book.flush()
    book.remove(["a", "never-published"])
    records, delta, _ = book.flush()
    assert [r["id"] for r in records] == ["b"]
    assert delta == {"kind": P.RECORDS, "records": [], "removed": ["a"]}
    assert [r["id"] for r in book.view()] == ["b"]


def test_the_view_holds_every_record_as_the_page_draws_it():
    book, a = RecordBook(), record("a", name="a.csv", key="up/a.csv")
    book.mark(a)
    book.flush()
    (view,) = book.view()
    assert set(view) == set(P.VIEW_FIELDS) and view["key"] == "up/a.csv"
    assert "etag" not in view and "batch" not in view
