// What the widget says to screen readers: started, done, failed, cancelled, grouped per
// redraw, never each percent; and the view's one polite live region, named drop zone and
// per-file control labels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Announcer, MAX_ERROR_CHARS, sentence } from "../src/announce.js";
import { hello, open, record, until } from "./widget-fakes.js";

test("a file's start, end and failure are each said once", () => {
  const a = new Announcer();
  a.note("1", "a.csv", "queued");
  assert.equal(a.flush(), "");
  a.note("1", "a.csv", "signing");
  a.note("1", "a.csv", "uploading");
  assert.equal(a.flush(), "Uploading a.csv.");
  a.note("1", "a.csv", "uploading");
  a.note("1", "a.csv", "completing");
  assert.equal(a.flush(), "", "progress and completing are not news");
  a.note("1", "a.csv", "done");
  assert.equal(a.flush(), "a.csv uploaded.");
  a.note("1", "a.csv", "done");
  assert.equal(a.flush(), "");
});

test("several files in one redraw make one sentence per event", () => {
  const a = new Announcer();
  for (const id of ["1", "2", "3"]) a.note(id, `${id}.bin`, "uploading");
  a.note("4", "4.bin", "error", "Too large.");
  a.note("5", "5.bin", "unverified", "Not verified.");
  assert.equal(a.flush(), "Uploading 3 files. 2 files failed.");
  a.note("1", "1.bin", "done");
  a.note("2", "2.bin", "cancelled");
  assert.equal(a.flush(), "1.bin uploaded. 2.bin cancelled.");
});

test("a file that starts and ends between two redraws is only said to end", () => {
  const a = new Announcer();
  a.note("1", "tiny.txt", "uploading");
  a.note("1", "tiny.txt", "done");
  assert.equal(a.flush(), "tiny.txt uploaded.");
});

test("a failure names its reason, cut to a sentence's length", () => {
  const a = new Announcer();
  a.note("1", "x.csv", "error", "The bucket refused it.");
  assert.equal(a.flush(), "x.csv failed: The bucket refused it.");
  const long = "e".repeat(500);
  const said = sentence("failed", [{ name: "y", error: long }]);
  assert.equal(said.length, "y failed: ".length + MAX_ERROR_CHARS);
  assert.ok(said.endsWith("…"));
  assert.equal(sentence("failed", [{ name: "z", error: "" }]), "z failed.");
});

test("a failed file that starts again is news; a paused one resuming is not", () => {
  const a = new Announcer();
  a.note("1", "a", "uploading");
  a.note("1", "a", "error", "net");
  a.flush();
  a.note("1", "a", "uploading");
  assert.equal(a.flush(), "Uploading a.");
  a.note("1", "a", "paused");
  a.note("1", "a", "uploading");
  assert.equal(a.flush(), "");
});

test("hush: what a snapshot shows is noted, not said; forget drops a pending event", () => {
  const a = new Announcer();
  a.hush();
  a.note("1", "old.csv", "done");
  a.note("2", "busy.csv", "uploading");
  assert.equal(a.flush(), "");
  a.note("1", "old.csv", "done");
  a.note("2", "busy.csv", "done");
  a.note("3", "gone.csv", "error", "x");
  a.forget("3");
  assert.equal(a.flush(), "busy.csv uploaded.");
});

test("names are shown as rows show them (control characters made visible)", () => {
  const a = new Announcer();
  a.note("1", "a\u0007b", "done");
  assert.doesNotMatch(a.flush(), /\u0007/);
});

test("the view: one polite live region, a named drop zone, labels that name the file", async () => {
  const { model, el, close } = open();
  try {
    const zone = el.find("s3uw-dropzone");
    assert.equal(zone.attributes.role, "group");
    assert.equal(zone.attributes["aria-label"], "Upload files or a folder to s3://b/in/");
    model.set("multiple", false);
    assert.equal(zone.attributes["aria-label"], "Upload a file to s3://b/in/");
    const live = el.findAll("s3uw-live");
    assert.equal(live.length, 1);
    assert.equal(live[0].attributes["aria-live"], "polite");
    assert.equal(live[0].attributes.role, "status");
    // What the kernel's snapshot already shows is not announced.
    model.answer(hello(model), { records: [record("old", { status: "done", loaded: 100 })] });
    await until(() => el.findAll("s3uw-row").length === 1, "the snapshot's row");
    assert.equal(live[0].textContent, "");
    model.command({ kind: "records", records: [record("a", { status: "uploading", loaded: 10 })], removed: [] });
    await until(() => live[0].textContent === "Uploading a.csv.", "the start announced");
    const row = el.findAll("s3uw-row")[1];
    assert.equal(row.find("s3uw-progress").attributes["aria-label"], "Progress of a.csv");
    assert.equal(row.find("s3uw-cancel").attributes["aria-label"], "Cancel the upload of a.csv");
    model.command({ kind: "records", records: [{ id: "a", loaded: 60 }], removed: [] });
    await until(() => row.find("s3uw-percent").textContent === "60%", "progress drawn");
    assert.equal(live[0].textContent, "Uploading a.csv.", "a percent is not announced");
    model.command({ kind: "records", records: [{ id: "a", status: "error", error: "Access denied." }], removed: [] });
    await until(() => live[0].textContent === "a.csv failed: Access denied.", "the failure announced");
  } finally {
    close();
  }
});
