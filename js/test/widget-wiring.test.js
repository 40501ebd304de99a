// The controller and view together, in node: a pick or a drop becomes one add-files
// request whose files carry relative_path, and what was skipped shows in the notice; the
// engine behind the view follows parallel_files. The fakes are in widget-fakes.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { entryOf, fakeDataTransfer, folderFileList, itemOf } from "./folder-fakes.js";
import { addFiles, hello, open, record, rowsOf, until } from "./widget-fakes.js";

test("Choose folder: its files go in one add-files, each with its relative_path", async () => {
  const { model, el, close } = open();
  try {
    const input = el.find("s3uw-folder-input");
    assert.equal(input.type, "file");
    assert.equal(input.webkitdirectory, true);
    el.find("s3uw-folder-button").dispatch("click");
    assert.equal(input.clicks, 1);
    input.files = folderFileList(["top/sub/b.csv", "top/a.csv"]);
    input.dispatch("change");
    const [request] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    assert.ok(request.args.files.every((f) => Number.isSafeInteger(f.last_modified)), "each File's lastModified");
    assert.deepEqual({ files: request.args.files.map(({ last_modified, ...rest }) => rest) }, {
      files: [
        { name: "a.csv", size: 9, type: "", relative_path: "top/a.csv" },
        { name: "b.csv", size: 13, type: "", relative_path: "top/sub/b.csv" },
      ],
    });
    assert.equal(input.value, "", "the same folder can be chosen again");
    // The kernel accepts the first: the engine asks to sign that one, and only that one.
    model.answer(request, { uploads: [{ id: "u1", status: "queued" }, { id: "u2", status: "error" }] });
    const sign = await until(() => model.sent.find((m) => m.kind === "sign-files"), "a sign-files request");
    assert.deepEqual(sign.args, { upload_ids: ["u1"] });
  } finally {
    close();
  }
});

test("Choose files: relative_path is empty", async () => {
  const { model, el, close } = open();
  try {
    const input = el.find("s3uw-input");
    input.files = { length: 1, 0: new File(["abc"], "a.txt", { type: "text/plain", lastModified: 1234 }) };
    input.dispatch("change");
    const [request] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    assert.deepEqual(request.args.files, [
      { name: "a.txt", size: 3, type: "text/plain", relative_path: "", last_modified: 1234 },
    ]);
  } finally {
    close();
  }
});

test("describing thousands of picked files gives the page a turn now and then", async () => {
  const { model, el, close } = open();
  const realNow = performance.now.bind(performance);
  let t = 0;
  performance.now = () => (t += 1); // each look costs 1 ms
  try {
    const input = el.find("s3uw-input");
    const files = Array.from({ length: 300 }, (_, i) => new File(["x"], `f${i}.txt`, { lastModified: 7 }));
    input.files = { length: files.length, ...files };
    input.dispatch("change");
    let sentBeforeTurn = null;
    setTimeout(() => { sentBeforeTurn = addFiles(model).length; }, 0);
    const [request] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    assert.equal(sentBeforeTurn, 0, "the page had a turn before add-files went");
    assert.equal(request.args.files.length, 300);
    assert.deepEqual(request.args.files[299], { name: "f299.txt", size: 1, type: "", relative_path: "", last_modified: 7 });
  } finally {
    performance.now = realNow;
    close();
  }
});

test("a dropped folder is walked: one add-files, and the empty folder in the notice", async () => {
  const { model, el, close } = open();
  try {
    const data = fakeDataTransfer([
      itemOf(entryOf("photos", { "a.jpg": 2, 2024: { "b.jpg": 3 }, empty: {} })),
      itemOf(entryOf("notes.txt", 4)),
    ]);
    let prevented = 0;
    const event = { dataTransfer: data, preventDefault: () => prevented++, stopPropagation: () => {} };
    el.find("s3uw-dropzone").dispatch("drop", event);
    data.protect(); // the drop event is over
    assert.equal(prevented, 1);
    const [request] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    assert.deepEqual(
      request.args.files.map((f) => [f.name, f.relative_path, f.size]),
      [["a.jpg", "photos/a.jpg", 2], ["b.jpg", "photos/2024/b.jpg", 3], ["notes.txt", "", 4]],
    );
    const notice = el.find("s3uw-notice");
    assert.equal(notice.textContent, "Skipped 1 empty folder: photos/empty.");
    assert.equal(notice.hidden, false);
    // The kernel refuses the batch: the notice keeps the skip and adds the refusal.
    model.answer(request, { code: "too-many-files", message: "Too many.", hint: "Fewer." }, false);
    await until(() => notice.textContent.includes("Too many."), "the refusal in the notice");
    assert.equal(notice.textContent, "Skipped 1 empty folder: photos/empty.\nToo many. Fewer.");
    assert.equal(addFiles(model).length, 1, "one request per drop");
  } finally {
    close();
  }
});

test("a drop of nothing but an empty folder sends nothing and says why", async () => {
  const { model, el, close } = open();
  try {
    const data = fakeDataTransfer([itemOf(entryOf("nothing", {}))]);
    el.find("s3uw-dropzone").dispatch("drop", { dataTransfer: data, preventDefault() {}, stopPropagation() {} });
    const notice = el.find("s3uw-notice");
    await until(() => notice.textContent, "the notice");
    assert.equal(notice.textContent, "Skipped 1 empty folder: nothing.");
    assert.equal(addFiles(model).length, 0);
  } finally {
    close();
  }
});

test("the folder button is hidden when the widget takes one file", () => {
  const { model, el, close } = open({ multiple: false });
  try {
    const button = el.find("s3uw-folder-button");
    assert.equal(button.textContent, "Choose folder");
    assert.equal(button.hidden, true);
    assert.equal(el.find("s3uw-hint").textContent, "or drop a file here");
    model.set("multiple", true);
    assert.equal(button.hidden, false);
    assert.equal(el.find("s3uw-hint").textContent, "or drop files or folders here");
  } finally {
    close();
  }
});

// --- The engine behind the view --------------------------------------------------------------

/** An XMLHttpRequest the test finishes by hand (`FakeXhr.open`: the PUTs in flight). */
class FakeXhr {
  static open = [];
  constructor() {
    this.upload = {};
  }
  open(method, url) {
    Object.assign(this, { method, url });
  }
  setRequestHeader() {}
  send(body) {
    this.body = body;
    FakeXhr.open.push(this);
  }
  getResponseHeader(name) {
    return name === "ETag" ? `"${this.url}"` : null;
  }
  _close() {
    FakeXhr.open = FakeXhr.open.filter((x) => x !== this);
  }
  abort() {
    this._close();
    this.onabort?.();
  }
  finish() {
    this._close();
    this.upload.onprogress?.({ loaded: this.body.size });
    this.status = 200;
    this.onload();
  }
}

test("parallel_files bounds the PUTs in flight and follows the trait", async () => {
  const saved = globalThis.XMLHttpRequest;
  globalThis.XMLHttpRequest = FakeXhr;
  const { model, el, close } = open({ parallel_files: 2 });
  try {
    model.answer(hello(model), { records: [] });
    const input = el.find("s3uw-input");
    input.files = { length: 5, ...[1, 2, 3, 4, 5].map((i) => new File(["abc"], `f${i}.txt`)) };
    input.dispatch("change");
    const ids = ["u1", "u2", "u3", "u4", "u5"];
    const [add] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    model.answer(add, { uploads: ids.map((id) => ({ id, status: "queued" })) });
    model.command({ kind: "records", records: ids.map((id) => record(id, { size: 3 })), removed: [] });
    const sign = await until(() => model.sent.find((m) => m.kind === "sign-files"), "sign-files");
    assert.deepEqual(sign.args, { upload_ids: ids });
    model.answer(sign, {
      results: ids.map((id) => ({
        upload_id: id, ok: true, result: { mode: "single", method: "PUT", url: `https://s3.test/${id}`, headers: {} },
      })),
    });
    await until(() => FakeXhr.open.length === 2, "two PUTs");
    await until(() => Object.values(rowsOf(el)).filter((s) => s === "uploading").length === 2, "two rows uploading");
    model.set("parallel_files", 4);
    await until(() => FakeXhr.open.length === 4, "four PUTs");
    FakeXhr.open[0].finish();
    const complete = await until(() => model.sent.find((m) => m.kind === "complete-files"), "complete-files");
    assert.deepEqual(complete.args, { uploads: [{ upload_id: "u1", etag: '"https://s3.test/u1"' }] });
    await until(() => FakeXhr.open.length === 4, "the fifth PUT in the freed slot");
    model.answer(complete, { results: [{ upload_id: "u1", ok: true, status: "done" }] });
    model.command({ kind: "records", records: [{ id: "u1", status: "done", loaded: 3 }], removed: [] });
    await until(() => rowsOf(el).u1 === "done", "u1 done");
  } finally {
    close();
    FakeXhr.open = [];
    globalThis.XMLHttpRequest = saved;
  }
});

/**
 * Pick `count` small files, sign them all as single PUTs, and answer the first PUT: how
 * many PUTs are then in flight at once?
 * @param {number | undefined} parallelFiles the trait (undefined: the default)
 */
async function inFlightAfterOneAnswer(parallelFiles, count = 14) {
  const saved = globalThis.XMLHttpRequest;
  globalThis.XMLHttpRequest = FakeXhr;
  const { model, el, close } = open(parallelFiles === undefined ? {} : { parallel_files: parallelFiles });
  try {
    model.answer(hello(model), { records: [] });
    const input = el.find("s3uw-input");
    const names = Array.from({ length: count }, (_, i) => `f${i}.txt`);
    input.files = { length: count, ...names.map((name) => new File(["abc"], name)) };
    input.dispatch("change");
    const ids = names.map((_, i) => `u${i}`);
    const [add] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    model.answer(add, { uploads: ids.map((id) => ({ id, status: "queued" })) });
    model.command({ kind: "records", records: ids.map((id) => record(id, { size: 3 })), removed: [] });
    for (let signed = 0; signed < count;) {
      const sign = await until(() => model.sent.find((m) => m.kind === "sign-files" && !m.answered), "sign-files");
      sign.answered = true;
      signed += sign.args.upload_ids.length;
      model.answer(sign, {
        results: sign.args.upload_ids.map((id) => ({
          upload_id: id, ok: true, result: { mode: "single", method: "PUT", url: `https://s3.test/${id}`, headers: {} },
        })),
      });
    }
    const first = Math.min(parallelFiles ?? 6, 6);
    await until(() => FakeXhr.open.length === first, `${first} PUTs`);
    FakeXhr.open[0].finish();
    await new Promise((resolve) => setTimeout(resolve, 50));
    return FakeXhr.open.length;
  } finally {
    close();
    FakeXhr.open = [];
    globalThis.XMLHttpRequest = saved;
  }
}

test("with the browser's own 6 files per host, small files queue ahead in the browser; fewer stay fewer", async () => {
  // One PUT answered fast: the page hands the browser up to 12 at once (6 wait inside it).
  assert.equal(await inFlightAfterOneAnswer(undefined), 12);
  assert.equal(await inFlightAfterOneAnswer(6), 12);
  assert.equal(await inFlightAfterOneAnswer(5), 5);
});

test("cancel on a row this page never uploaded asks the kernel directly", async () => {
  const { model, el, close } = open();
  try {
    model.answer(hello(model), { records: [record("old", { status: "uploading" }), record("done", { status: "done" })] });
    await until(() => el.findAll("s3uw-row").length === 2, "two rows");
    const [oldRow, doneRow] = el.findAll("s3uw-row");
    doneRow.find("s3uw-cancel").dispatch("click");
    oldRow.find("s3uw-cancel").dispatch("click");
    const cancels = model.sent.filter((m) => m.kind === "cancel");
    assert.deepEqual(cancels.map((m) => m.args), [{ upload_id: "old" }]);
  } finally {
    close();
  }
});

test("the kernel's pools: 2 doubles the PUTs in flight, and half go with credentials", async () => {
  const saved = globalThis.XMLHttpRequest;
  globalThis.XMLHttpRequest = FakeXhr;
  const { model, el, close } = open({});
  try {
    model.answer(hello(model), { records: [] });
    const input = el.find("s3uw-input");
    const names = Array.from({ length: 14 }, (_, i) => `f${i}.txt`);
    input.files = { length: names.length, ...names.map((name) => new File(["abc"], name)) };
    input.dispatch("change");
    const ids = names.map((_, i) => `u${i}`);
    const [add] = await until(() => addFiles(model).length && addFiles(model), "add-files");
    model.answer(add, { uploads: ids.map((id) => ({ id, status: "queued" })) });
    model.command({ kind: "records", records: ids.map((id) => record(id, { size: 3 })), removed: [] });
    for (let signed = 0, first = true; signed < ids.length; first = false) {
      const sign = await until(() => model.sent.find((m) => m.kind === "sign-files" && !m.answered), "sign-files");
      sign.answered = true;
      signed += sign.args.upload_ids.length;
      model.answer(sign, {
        ...(first && { pools: 2 }),
        results: sign.args.upload_ids.map((id) => ({
          upload_id: id, ok: true, result: { mode: "single", method: "PUT", url: `https://s3.test/${id}`, headers: {} },
        })),
      });
    }
    await until(() => FakeXhr.open.length === 12, "12 PUTs: 6 per pool");
    assert.equal(FakeXhr.open.filter((x) => x.withCredentials === true).length, 6);
  } finally {
    close();
    FakeXhr.open = [];
    globalThis.XMLHttpRequest = saved;
  }
});
