// A file picked while another window of the notebook still sends its upload: the kernel
// answers add-files with that record and `elsewhere` (_owners.py); this page says so, and
// asks again once ELSEWHERE_MS has passed, but only while the upload is still unfinished.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { ELSEWHERE_MS } from "../src/protocol.js";
import { addFiles, hello, open, record } from "./widget-fakes.js";

/** Let the page run what is due now (every timer is the mock's: ELSEWHERE_MS passes by hand). */
async function settle() {
  for (let i = 0; i < 10; i++) {
    mock.timers.tick(0);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Pick big.bin; the kernel answers that another window sends it. */
async function pickedWhileElsewhere() {
  // Before anything starts: a timer made by the real setTimeout is not cleared by the mock's.
  mock.timers.enable({ apis: ["setTimeout"] });
  const widget = open();
  const { model, el } = widget;
  model.answer(hello(model), { records: [] });
  const input = el.find("s3uw-input");
  input.files = { length: 1, 0: new File(["abcdef"], "big.bin") };
  input.dispatch("change");
  await settle();
  const [add] = addFiles(model);
  const live = record("u1", { name: "big.bin", size: 6, status: "uploading", loaded: 3 });
  model.command({ kind: "records", records: [live], removed: [] });
  model.answer(add, { uploads: [{ ...live, elsewhere: true }] });
  await settle();
  return { ...widget, add };
}

test("a file another window still sends is not uploaded again here: the page waits, then asks again", async () => {
  const { model, el, close, add } = await pickedWhileElsewhere();
  try {
    assert.match(el.find("s3uw-notice").textContent, /big\.bin is uploading in another window/);
    assert.equal(model.sent.filter((m) => m.kind === "sign-files" || m.kind === "adopt").length, 0);
    mock.timers.tick(ELSEWHERE_MS - 1);
    await settle();
    assert.equal(addFiles(model).length, 1, "asked again too soon");
    mock.timers.tick(1);
    await settle();
    const again = addFiles(model);
    assert.equal(again.length, 2, "asked again once the other window may have stopped");
    assert.deepEqual(again[1].args.files, add.args.files);
  } finally {
    close(); // before the reset: only the mock clears the timers it made
    mock.timers.reset();
  }
});

test("an upload the other window finished meanwhile is not asked for again", async () => {
  const { model, close } = await pickedWhileElsewhere();
  try {
    model.command({ kind: "records", records: [{ id: "u1", status: "done", loaded: 6 }], removed: [] });
    mock.timers.tick(ELSEWHERE_MS);
    await settle();
    assert.equal(addFiles(model).length, 1);
  } finally {
    close(); // before the reset: only the mock clears the timers it made
    mock.timers.reset();
  }
});
