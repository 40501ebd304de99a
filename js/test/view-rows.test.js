// The view's rows in node: drawn from the kernel's "hello" snapshot and "records"
// deltas, only the rows that changed, collapsed above ROW_LIMIT records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hello, many, open, record, rowsOf, until } from "./widget-fakes.js";

test("rows come from the hello answer, then from records deltas", async () => {
  const { model, el, close } = open();
  try {
    assert.deepEqual(hello(model).args, { origin: "" });
    model.answer(hello(model), { records: [record("a", { status: "uploading", loaded: 30 }), record("b")] });
    await until(() => el.findAll("s3uw-row").length === 2, "two rows");
    assert.deepEqual(rowsOf(el), { a: "uploading", b: "queued" });
    const rowA = el.findAll("s3uw-row")[0];
    assert.equal(rowA.find("s3uw-name").textContent, "a.csv");
    assert.equal(rowA.find("s3uw-percent").textContent, "30%");
    model.command({ kind: "records", records: [{ id: "a", status: "done", loaded: 100 }], removed: ["b"] });
    await until(() => !rowsOf(el).b, "b removed");
    assert.deepEqual(rowsOf(el), { a: "done" });
    assert.equal(rowA.find("s3uw-cancel").hidden, true);
    model.command({ kind: "records", records: [record("c", { status: "error", error: "No such bucket." })], removed: [] });
    await until(() => rowsOf(el).c, "c added");
    const rowC = el.findAll("s3uw-row")[1];
    assert.equal(rowC.find("s3uw-error").textContent, "No such bucket.");
    assert.equal(el.find("s3uw-total").textContent, "1 of 2 files done · 1 failed · 100 B of 200 B");
  } finally {
    close();
  }
});

test("a patch for an id not seen yet is ignored unless whole", async () => {
  const { model, el, close } = open();
  try {
    model.command({ kind: "records", records: [{ id: "x", status: "done" }, record("y")], removed: [] });
    await until(() => el.findAll("s3uw-row").length === 1, "one row");
    assert.deepEqual(rowsOf(el), { y: "queued" });
  } finally {
    close();
  }
});

test("a change redraws only its row", async () => {
  const { model, el, close } = open();
  try {
    model.answer(hello(model), { records: [record("a"), record("b")] });
    await until(() => el.findAll("s3uw-row").length === 2, "two rows");
    const [nameA, nameB] = el.findAll("s3uw-name");
    nameA.textContent = "untouched";
    nameB.textContent = "untouched";
    model.command({ kind: "records", records: [{ id: "b", status: "signing" }], removed: [] });
    await until(() => rowsOf(el).b === "signing", "b redrawn");
    assert.equal(nameA.textContent, "untouched");
    assert.equal(nameB.textContent, "b.csv");
  } finally {
    close();
  }
});

test("above 200 records: rows only for files in progress for a while and failed ones, the rest counted", async () => {
  const { model, el, close } = open();
  try {
    model.answer(hello(model), { records: many({ done: 250, error: 20, uploading: 5, completing: 2, queued: 23 }) });
    await until(() => el.findAll("s3uw-row").length, "rows");
    assert.deepEqual(new Set(Object.values(rowsOf(el))), new Set(["error"]), "in progress: no row at first");
    // A file uploading for more than a second gets a row (small files never do).
    await until(() => el.findAll("s3uw-row").length === 25, "rows of the files uploading", 400);
    const statuses = Object.values(rowsOf(el));
    assert.equal(statuses.filter((s) => s === "error").length, 20);
    assert.equal(statuses.filter((s) => s === "uploading").length, 5);
    assert.equal(statuses.length, 25, "no row for done, queued or finishing files");
    assert.equal(el.find("s3uw-failed").children.length, 20);
    assert.equal(el.find("s3uw-more-failed").hidden, true);
    assert.match(el.find("s3uw-total").textContent, /^250 of 300 files done · 20 failed · 25\.0 kB of 30\.0 kB/);

    // The uploads end: their rows go, a failed one joins the failed rows.
    model.command({
      kind: "records",
      records: [
        { id: "uploading0", status: "completing", loaded: 100 },
        ...["uploading1", "uploading2", "uploading3"].map((id) => ({ id, status: "done", loaded: 100 })),
        { id: "uploading4", status: "error", error: "Denied." },
      ],
      removed: [],
    });
    await until(() => el.findAll("s3uw-row").length === 22, "rows of finished files gone");
    assert.equal(rowsOf(el).uploading0, "completing", "a row stays while its file finishes");
    assert.equal(el.find("s3uw-failed").children.length, 21);
    assert.equal(el.find("s3uw-failed").children.at(-1).find("s3uw-error").textContent, "Denied.");
    assert.match(el.find("s3uw-total").textContent, /^253 of 300 files done · 21 failed/);
  } finally {
    close();
  }
});

test("above 200 records: the first 100 failed get rows, then 'and N more failed'", async () => {
  const { model, el, close } = open();
  try {
    model.answer(hello(model), { records: many({ done: 100, error: 150 }) });
    await until(() => el.findAll("s3uw-row").length, "rows");
    assert.equal(el.findAll("s3uw-row").length, 100);
    const more = el.find("s3uw-more-failed");
    assert.equal(more.hidden, false);
    assert.equal(more.textContent, "and 50 more failed — see w.uploads");
    // w.clear() forgets the finished records: below the limit, one row per file again.
    const gone = [...Array(100).keys()].flatMap((i) => [`done${i}`, `error${i + 50}`]);
    model.command({ kind: "records", records: [], removed: gone });
    await until(() => el.findAll("s3uw-row").length === 50, "50 rows");
    assert.equal(el.find("s3uw-failed").children.length, 0);
    assert.equal(el.find("s3uw-rows").children.length, 50);
    assert.equal(more.hidden, true);
  } finally {
    close();
  }
});

test("an uploading or paused record this page does not run shows as interrupted", async () => {
  const { model, el, close } = open();
  try {
    const records = [record("a", { status: "uploading" }), record("b", { status: "paused" }), record("c")];
    model.answer(hello(model), { records });
    await until(() => el.findAll("s3uw-row").length === 3, "three rows");
    const texts = el.findAll("s3uw-row").map((row) => row.find("s3uw-status").textContent);
    assert.deepEqual(texts, [
      "interrupted — pick the same file to resume", "interrupted — pick the same file to resume", "queued",
    ]);
  } finally {
    close();
  }
});

test("an upload another page sends (its bytes move in the records) says so, until they stop", async () => {
  const { model, el, close } = open();
  const realNow = performance.now;
  try {
    const records = [record("a", { status: "uploading", loaded: 10 }), record("b", { status: "uploading", loaded: 10 })];
    model.answer(hello(model), { records });
    await until(() => el.findAll("s3uw-row").length === 2, "two rows");
    // The kernel passes on another page's progress of "a": a delta of its bytes.
    model.command({ kind: "records", records: [{ id: "a", loaded: 60 }] });
    const statusOf = (id) => el.findAll("s3uw-row").find((r) => r.dataset.uploadId === id).find("s3uw-status").textContent;
    await until(() => statusOf("a") === "uploading in another window", "a: uploading elsewhere");
    assert.equal(statusOf("b"), "interrupted — pick the same file to resume");
    // Ten seconds without a byte moving: the page that sent it is gone.
    const later = realNow.call(performance) + 11_000;
    performance.now = () => later;
    await until(() => statusOf("a") === "interrupted — pick the same file to resume", "a: interrupted", 600);
  } finally {
    performance.now = realNow;
    close();
  }
});
