// The controller and view together, in node: a pick or a drop becomes one add-files
// request whose files carry relative_path, and what was skipped shows in the notice.
// A tiny fake DOM stands in for the browser; widget.css is loaded as nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { entryOf, fakeDataTransfer, folderFileList, itemOf } from "./folder-fakes.js";

register(
  "data:text/javascript," +
    encodeURIComponent(`export async function load(url, context, next) {
      if (url.endsWith(".css")) return { format: "module", source: "", shortCircuit: true };
      return next(url, context);
    }`),
);
const { default: widget } = await import("../src/widget.js");

class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.className = "";
    this.textContent = "";
    this.hidden = false;
    this.children = [];
    this.parent = null;
    this.dataset = {};
    this.style = {};
    this.attributes = {};
    this.listeners = {};
    this.clicks = 0;
    const classes = new Set();
    this.classList = { add: (c) => classes.add(c), remove: (c) => classes.delete(c), contains: (c) => classes.has(c) };
  }
  append(...nodes) {
    for (const node of nodes) {
      node.parent = this;
      this.children.push(node);
    }
  }
  remove() {
    if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this);
  }
  setAttribute(name, value) {
    this.attributes[name] = value;
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  dispatch(type, event = {}) {
    for (const fn of this.listeners[type] ?? []) fn(event);
  }
  click() {
    this.clicks++;
  }
  find(className) {
    if (this.className.split(" ").includes(className)) return this;
    for (const child of this.children) {
      const hit = child.find(className);
      if (hit) return hit;
    }
    return null;
  }
}

globalThis.document = { createElement: (tag) => new FakeElement(tag) };
globalThis.requestAnimationFrame = (fn) => setTimeout(fn, 0);
globalThis.cancelAnimationFrame = (id) => clearTimeout(id);

function fakeModel(traits = {}) {
  const values = {
    _widget_id: `w${Math.random()}`, multiple: true, accept: "", bucket: "b", prefix: "in/", max_size: null,
    concurrency: 2, uploads: [], ...traits,
  };
  const handlers = {};
  return {
    sent: [],
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      for (const fn of handlers[`change:${name}`] ?? []) fn();
    },
    send(msg) {
      this.sent.push(msg);
    },
    on: (event, fn) => (handlers[event] ??= []).push(fn),
    off: (event, fn) => (handlers[event] = (handlers[event] ?? []).filter((f) => f !== fn)),
    answer(msg, result, ok = true) {
      const reply = ok ? { id: msg.id, kind: `${msg.kind}-response`, ok, result } : { id: msg.id, kind: `${msg.kind}-response`, ok, error: result };
      for (const fn of handlers["msg:custom"] ?? []) fn(reply);
    },
  };
}

/** A widget with one view; `close()` ends it (and its timers). */
function open(traits) {
  const model = fakeModel(traits);
  const el = new FakeElement("div");
  const end = widget.initialize({ model });
  const unrender = widget.render({ model, el });
  return { model, el, close: () => (unrender(), end()) };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
async function until(check, what) {
  for (let i = 0; i < 200; i++) {
    const value = check();
    if (value) return value;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}
const addFiles = (model) => model.sent.filter((m) => m.kind === "add-files");

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
    const [request] = addFiles(model);
    assert.deepEqual(request.args, {
      files: [
        { name: "a.csv", size: 9, type: "", relative_path: "top/a.csv" },
        { name: "b.csv", size: 13, type: "", relative_path: "top/sub/b.csv" },
      ],
    });
    assert.equal(input.value, "", "the same folder can be chosen again");
    // The kernel accepts the first: the engine asks to sign that one, and only that one.
    model.answer(request, { uploads: [{ id: "u1", status: "queued" }, { id: "u2", status: "error" }] });
    const sign = await until(() => model.sent.find((m) => m.kind === "sign"), "a sign request");
    assert.deepEqual(sign.args, { upload_id: "u1" });
  } finally {
    close();
  }
});

test("Choose files: relative_path is empty", async () => {
  const { model, el, close } = open();
  try {
    const input = el.find("s3uw-input");
    input.files = { length: 1, 0: new File(["abc"], "a.txt", { type: "text/plain" }) };
    input.dispatch("change");
    assert.deepEqual(addFiles(model)[0].args.files, [{ name: "a.txt", size: 3, type: "text/plain", relative_path: "" }]);
  } finally {
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
