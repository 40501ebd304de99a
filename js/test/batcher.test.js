import { test } from "node:test";
import assert from "node:assert/strict";
import { Batcher } from "../src/batcher.js";

/** A batcher whose requests the test settles by hand; `later` runs deferred flushes. */
function manual({ maxBatch = 3, maxInFlight = 1, ...more } = {}) {
  const sent = [];
  const deferred = [];
  const batcher = new Batcher({
    maxBatch, maxInFlight, ...more,
    defer: (fn) => deferred.push(fn),
    send: (items) => new Promise((resolve) => sent.push({ items, resolve })),
  });
  const later = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    deferred.splice(0).forEach((fn) => fn());
  };
  return { batcher, sent, later };
}

test("items added together go together, after the current task", async () => {
  const { batcher, sent, later } = manual();
  batcher.add("a", 1);
  batcher.add("b", 2);
  assert.equal(sent.length, 0, "not inside add");
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1, 2]]);
});

test("while a request is out, items wait and go as one batch when it settles", async () => {
  const { batcher, sent, later } = manual({ maxBatch: 10 });
  batcher.add("a", 1);
  await later();
  for (const [key, value] of [["b", 2], ["c", 3], ["d", 4]]) batcher.add(key, value);
  await later();
  assert.equal(sent.length, 1);
  assert.equal(batcher.size, 3);
  sent[0].resolve();
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1], [2, 3, 4]]);
});

test("maxBatch caps a request; maxInFlight requests may be out at once", async () => {
  const { batcher, sent, later } = manual({ maxBatch: 2, maxInFlight: 2 });
  for (const n of [1, 2, 3, 4, 5]) batcher.add(String(n), n);
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1, 2], [3, 4]]);
  assert.equal(batcher.inFlight, 2);
  assert.equal(batcher.sentItems, 4);
  sent[1].resolve();
  await later();
  assert.deepEqual(sent[2].items, [5]);
  assert.equal(batcher.sentItems, 3, "the settled request's items no longer count");
});

test("remove takes an item out of the pending batch only", async () => {
  const { batcher, sent, later } = manual();
  batcher.add("a", 1);
  await later();
  batcher.add("b", 2);
  batcher.add("c", 3);
  assert.equal(batcher.remove("a"), false, "already sent");
  assert.equal(batcher.remove("b"), true);
  assert.equal(batcher.has("b"), false);
  sent[0].resolve();
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1], [3]]);
});

test("a send that throws or rejects frees its place", async () => {
  const original = console.error;
  const logged = [];
  console.error = (...args) => logged.push(args);
  try {
    let calls = 0;
    const batcher = new Batcher({
      maxBatch: 5,
      send: () => {
        calls++;
        if (calls === 1) throw new Error("bug");
        return Promise.reject(new Error("bug 2"));
      },
    });
    batcher.add("a", 1);
    await new Promise((resolve) => setImmediate(resolve));
    batcher.add("b", 2);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 2);
    assert.equal(batcher.inFlight, 0);
    assert.equal(logged.length, 2);
  } finally {
    console.error = original;
  }
});

test("the default deferral calls queueMicrotask as a function (a browser checks its receiver)", async () => {
  const real = globalThis.queueMicrotask;
  globalThis.queueMicrotask = function (fn) {
    if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
    return real(fn);
  };
  try {
    const sent = [];
    const batcher = new Batcher({ maxBatch: 2, send: async (items) => sent.push(items) });
    batcher.add("a", 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sent, [[1]]);
  } finally {
    globalThis.queueMicrotask = real;
  }
});

/** A hold the test turns on and off, and a cap timer the test fires by hand. */
function holding(options = {}) {
  const state = { held: true, timers: [] };
  const parts = manual({
    maxBatch: 10, maxInFlight: 2, ...options,
    hold: () => state.held,
    setTimer: (fn, ms) => {
      const timer = { fn, ms, live: true };
      state.timers.push(timer);
      return () => { timer.live = false; };
    },
  });
  return { ...parts, state };
}

test("while the hold is on, items wait for company; a poke after it ends sends them together", async () => {
  const { batcher, sent, later, state } = holding();
  batcher.add("a", 1);
  await later();
  batcher.add("b", 2);
  await later();
  assert.equal(sent.length, 0, "held");
  assert.equal(state.timers.length, 1, "one cap for the items waiting");
  state.held = false;
  batcher.poke();
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1, 2]]);
  assert.equal(state.timers[0].live, false, "the cap is cancelled once they go");
});

test("a held batch goes when it reaches holdUpTo, hold or not", async () => {
  const { batcher, sent, later } = holding({ holdUpTo: 3 });
  for (const n of [1, 2, 3, 4]) batcher.add(String(n), n);
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1, 2, 3, 4]]);
  batcher.add("5", 5);
  await later();
  assert.equal(sent.length, 1, "a lone item waits again");
});

test("the cap ends a hold that does not end: the oldest items go after maxHoldMs", async () => {
  const { batcher, sent, later, state } = holding({ maxHoldMs: 700 });
  batcher.add("a", 1);
  await later();
  assert.equal(state.timers[0].ms, 700);
  state.timers[0].fn();
  await later();
  assert.deepEqual(sent.map((s) => s.items), [[1]]);
  batcher.add("b", 2); // the hold is still on: b waits with a cap of its own
  await later();
  assert.equal(sent.length, 1);
  assert.equal(state.timers.length, 2);
});

test("a cap that runs out with nothing pending lets no later item skip its hold", async () => {
  const { batcher, sent, later, state } = holding();
  batcher.add("a", 1);
  await later();
  batcher.remove("a");
  state.timers[0].fn();
  batcher.add("b", 2);
  await later();
  assert.equal(sent.length, 0);
});

test("without a hold the batcher sends at once, and no cap is armed", async () => {
  const timers = [];
  const sent = [];
  const batcher = new Batcher({ maxBatch: 4, send: async (items) => sent.push(items), setTimer: (fn, ms) => (timers.push(ms), () => {}) });
  batcher.add("a", 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(sent, [[1]]);
  assert.deepEqual(timers, []);
});
