import { test } from "node:test";
import assert from "node:assert/strict";
import { RecordStore } from "../src/records.js";
import { VIEW_FIELDS } from "../src/protocol.js";

/** A whole view record (every VIEW_FIELD). */
const whole = (id, patch = {}) => ({
  id, name: `${id}.csv`, relative_path: "", size: 100, bucket: "b", key: `in/${id}.csv`, status: "queued",
  loaded: 0, error: "", ...patch,
});

function store() {
  const s = new RecordStore();
  const changes = [];
  s.subscribe((change) => changes.push(change));
  return { s, changes };
}

test("the hello snapshot fills the store in order, with counts and bytes", () => {
  const { s, changes } = store();
  s.reset([whole("a", { status: "done", loaded: 100 }), whole("b", { status: "uploading", loaded: 40 }), whole("c")]);
  assert.deepEqual([...s.values()].map((r) => r.id), ["a", "b", "c"]);
  assert.deepEqual(Object.keys(s.get("a")).sort(), [...VIEW_FIELDS].sort());
  assert.equal(s.count("done"), 1);
  assert.equal(s.count("uploading"), 1);
  assert.equal(s.count("queued"), 1);
  assert.deepEqual(s.bytes, { loaded: 140, size: 300 });
  assert.deepEqual(changes, [{ changed: ["a", "b", "c"], removed: [], reset: true }]);
});

test("a patch changes only its fields; counts and bytes follow", () => {
  const { s, changes } = store();
  s.reset([whole("a"), whole("b")]);
  s.apply({ kind: "records", records: [{ id: "a", status: "uploading", loaded: 60 }], removed: [] });
  assert.equal(s.get("a").status, "uploading");
  assert.equal(s.get("a").loaded, 60);
  assert.equal(s.get("a").name, "a.csv");
  assert.equal(s.count("queued"), 1);
  assert.equal(s.count("uploading"), 1);
  assert.deepEqual(s.bytes, { loaded: 60, size: 200 });
  s.apply({ records: [{ id: "a", status: "cancelled" }] });
  assert.deepEqual(s.bytes, { loaded: 0, size: 100 }, "a cancelled file counts no bytes");
  assert.deepEqual(changes.at(-1), { changed: ["a"], removed: [], reset: false });
});

test("a new id comes whole and is added; an unknown partial patch is ignored", () => {
  const { s, changes } = store();
  s.apply({ records: [{ id: "early", status: "done" }], removed: [] }); // before the snapshot
  assert.equal(s.size, 0);
  assert.equal(changes.length, 0, "nothing changed: no listener call");
  s.apply({ records: [whole("n", { status: "signing" })], removed: [] });
  assert.equal(s.size, 1);
  assert.equal(s.get("n").status, "signing");
  s.apply({ records: [null, { status: "done" }, { id: 5 }, "x"], removed: [] });
  assert.equal(s.size, 1, "malformed patches are skipped");
});

test("removed ids are dropped (w.clear()); unknown ones are ignored", () => {
  const { s, changes } = store();
  s.reset([whole("a", { status: "done", loaded: 100 }), whole("b", { status: "error" })]);
  s.apply({ records: [], removed: ["a", "zzz"] });
  assert.equal(s.get("a"), undefined);
  assert.equal(s.size, 1);
  assert.equal(s.count("done"), 0);
  assert.equal(s.count("error"), 1);
  assert.deepEqual(s.bytes, { loaded: 0, size: 100 });
  assert.deepEqual(changes.at(-1), { changed: [], removed: ["a"], reset: false });
});

test("a later snapshot replaces everything: records it lacks are removed", () => {
  const { s, changes } = store();
  s.apply({ records: [whole("a"), whole("b")] });
  s.reset([whole("b", { status: "done", loaded: 100 }), whole("c")]);
  assert.deepEqual([...s.values()].map((r) => r.id), ["b", "c"]);
  assert.equal(s.get("b").status, "done");
  assert.deepEqual(changes.at(-1), { changed: ["b", "c"], removed: ["a"], reset: true });
  assert.equal(s.count("queued"), 1);
});

test("byte counts from the wire are numbers or 0; texts are strings", () => {
  const { s } = store();
  s.reset([whole("a", { size: "12", loaded: -4, error: null, name: 7 })]);
  assert.equal(s.get("a").size, 0);
  assert.equal(s.get("a").loaded, 0);
  assert.equal(s.get("a").error, "");
  assert.equal(s.get("a").name, "7");
});

test("a listener that throws does not stop the others", () => {
  const original = console.error;
  console.error = () => {};
  try {
    const s = new RecordStore();
    const heard = [];
    s.subscribe(() => { throw new Error("view bug"); });
    const stop = s.subscribe((c) => heard.push(c));
    s.apply({ records: [whole("a")] });
    assert.equal(heard.length, 1);
    stop();
    s.apply({ records: [{ id: "a", status: "done" }] });
    assert.equal(heard.length, 1);
  } finally {
    console.error = original;
  }
});
