import { test } from "node:test";
import assert from "node:assert/strict";
import { ProgressReporter, TransferMeter } from "../src/progress.js";
import { FakeClock } from "./engine-fakes.js";

test("TransferMeter: loaded is stored + in flight, clipped; speed counts re-sent bytes", () => {
  let t = 0;
  const meter = new TransferMeter(100, () => t);
  meter.start();
  meter.setPart(1, 30);
  meter.setPart(2, 20);
  assert.equal(meter.loaded, 50);
  meter.setPart(2, 0); // a failed try
  assert.equal(meter.loaded, 30);
  meter.finishPart(1, 30);
  meter.setPart(3, 500);
  assert.equal(meter.loaded, 100);
  t = 1000;
  meter.setPart(3, 500);
  assert.equal(meter.speed, 550, "first sample taken as is: 30 + 20 + 500 bytes in 1 s");
  t = 1100;
  meter.setPart(4, 1000);
  assert.equal(meter.speed, 550, "samples shorter than 200 ms wait");
});

test("ProgressReporter: immediate first send, then one trailing send per interval", async () => {
  const clock = new FakeClock();
  const sent = [];
  const reporter = new ProgressReporter({ send: (u) => sent.push(u), intervalMs: 250, now: clock.now, sleep: clock.sleep });
  reporter.update("a", 1);
  reporter.update("a", 2);
  reporter.update("b", 1);
  assert.deepEqual(sent, [[{ upload_id: "a", loaded: 1 }]]);
  await clock.advance(249);
  assert.equal(sent.length, 1);
  await clock.advance(1);
  assert.deepEqual(sent[1], [{ upload_id: "a", loaded: 2 }, { upload_id: "b", loaded: 1 }]);
  reporter.update("a", 2); // unchanged
  await clock.advance(250);
  assert.equal(sent.length, 2);
  reporter.update("b", 9);
  reporter.forget("b");
  reporter.flush();
  assert.equal(sent.length, 2, "a forgotten file is not sent");
});

test("ProgressReporter survives a send that throws or rejects", () => {
  const clock = new FakeClock();
  const reporter = new ProgressReporter({ send: () => { throw new Error("closed"); }, intervalMs: 0, now: clock.now, sleep: clock.sleep });
  reporter.update("a", 1);
  const rejecting = new ProgressReporter({ send: () => Promise.reject(new Error("x")), intervalMs: 0, now: clock.now, sleep: clock.sleep });
  rejecting.update("a", 1);
});
