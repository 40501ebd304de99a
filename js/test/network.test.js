import { test } from "node:test";
import assert from "node:assert/strict";
import { LIFE_AFTER_MS, PROBE_MS, QUIET_MS, rideOutages } from "../src/network.js";
import { TransportError } from "../src/transport.js";
import { FakeClock, fakeNetwork, tick } from "./engine-fakes.js";

const ORIGIN = "https://bucket.s3.test";
const URL_A = `${ORIGIN}/key?partNumber=1`;

/** Settle a promise's state without awaiting it: "pending", or its value / error. */
function watchPromise(promise) {
  const seen = { state: "pending", value: undefined };
  promise.then(
    (value) => Object.assign(seen, { state: "resolved", value }),
    (value) => Object.assign(seen, { state: "rejected", value }),
  );
  return seen;
}

async function turns(n = 5) {
  for (let i = 0; i < n; i++) await tick();
}

test("judge: a sign of life after the failure makes it a failed attempt of its own", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  await clock.advance(100);
  watch.failed();
  const verdict = watchPromise(watch.judge(clock.now()));
  await clock.advance(10);
  watch.life(); // another request moved
  await turns();
  assert.deepEqual(verdict, { state: "resolved", value: "attempt" });
  // Life already seen after the failure: at once.
  assert.equal(await watch.judge(50), "attempt");
});

test("judge: quiet after one failure is an attempt; after two, the network is down", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  watch.failed();
  const one = watchPromise(watch.judge(clock.now()));
  await clock.advance(QUIET_MS - 1);
  assert.equal(one.state, "pending");
  await clock.advance(1);
  assert.deepEqual(one, { state: "resolved", value: "attempt" });
  assert.equal(watch.offline(), false);

  watch.failed();
  const two = watchPromise(watch.judge(clock.now()));
  await clock.advance(QUIET_MS);
  assert.deepEqual(two, { state: "resolved", value: "wait" });
  assert.equal(watch.offline(), true);
  assert.equal(await watch.judge(clock.now()), "wait", "down: at once");
  watch.life();
  assert.equal(watch.offline(), false);
  assert.equal(watch.failures, 0);
});

test("the browser's offline event: failures wait at once; its online event lets them go", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  watch.setBrowserOnline(false);
  assert.equal(watch.offline(), true);
  assert.equal(await watch.judge(0), "wait");
  const waiting = [watchPromise(watch.whenOnline()), watchPromise(watch.whenOnline())];
  await turns();
  assert.deepEqual(waiting.map((w) => w.state), ["pending", "pending"]);
  watch.setBrowserOnline(true);
  await turns();
  assert.deepEqual(waiting.map((w) => w.state), ["resolved", "resolved"]);
  assert.equal(watch.waiting(), 0);
});

test("whenOnline: one waiting request goes every PROBE_MS, all of them at a sign of life; abort rejects", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  assert.equal(await watch.whenOnline(), undefined, "online: at once");
  watch.down = true;
  const controller = new AbortController();
  const aborted = watchPromise(watch.whenOnline(controller.signal));
  const waiting = [watchPromise(watch.whenOnline()), watchPromise(watch.whenOnline()), watchPromise(watch.whenOnline())];
  controller.abort();
  await turns();
  assert.equal(aborted.state, "rejected");
  assert.equal(aborted.value.reason, "aborted");
  assert.equal(watch.waiting(), 3);
  await clock.advance(PROBE_MS);
  assert.deepEqual(waiting.map((w) => w.state), ["resolved", "pending", "pending"], "the oldest is the probe");
  await clock.advance(PROBE_MS);
  assert.deepEqual(waiting.map((w) => w.state), ["resolved", "resolved", "pending"]);
  watch.life();
  await turns();
  assert.equal(waiting[2].state, "resolved");
  assert.equal(watch._probe, null, "no probe timer left");
});

/** A transport whose answers the test sets: `fail` true → reset, else 200; progress on the way. */
function flakyTransport(clock) {
  const inner = {
    fail: true,
    puts: 0,
    async put(request) {
      inner.puts++;
      await tick();
      request.onProgress?.(5);
      if (inner.fail) throw new TransportError("network");
      return { status: 200, etag: '"e"', body: "" };
    },
  };
  return inner;
}

test("rideOutages: an origin never answered fails at once, marked firstContact", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  const inner = flakyTransport(clock);
  const transport = rideOutages(inner, watch);
  await assert.rejects(transport.put({ url: URL_A, body: new Blob(["x"]) }), (err) => err.firstContact === true);
  assert.equal(inner.puts, 1);
  inner.fail = false;
  assert.equal((await transport.put({ url: URL_A, body: new Blob(["x"]) })).status, 200);
  assert.ok(watch.reached.has(ORIGIN));
  inner.fail = true; // now a failure is judged: quiet, one failure → an attempt, not first contact
  const next = watchPromise(transport.put({ url: URL_A, body: new Blob(["x"]) }));
  await turns();
  await clock.advance(QUIET_MS);
  await turns();
  assert.equal(next.state, "rejected");
  assert.equal(next.value.firstContact, false);
});

test("rideOutages: requests failing together with no sign of life wait, then go on when the network returns", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  watch.answered(ORIGIN);
  const inner = flakyTransport(clock);
  const transport = rideOutages(inner, watch);
  const events = [];
  const request = (name) => ({
    url: URL_A, body: new Blob(["xxxxx"]),
    onProgress: (loaded) => events.push(`${name} ${loaded}`),
    onWaiting: (waiting) => events.push(`${name} ${waiting ? "waits" : "goes"}`),
  });
  const a = watchPromise(transport.put(request("a")));
  const b = watchPromise(transport.put(request("b")));
  await turns();
  await clock.advance(QUIET_MS);
  await turns();
  assert.equal(watch.offline(), true);
  const of = (name) => events.filter((e) => e.startsWith(name));
  assert.deepEqual(of("a"), ["a 5", "a 0", "a waits"], "this try's bytes dropped");
  assert.deepEqual(of("b"), ["b 5", "b 0", "b waits"]);
  // Probes while the network is still down: they fail and wait again, costing nothing.
  for (let i = 0; i < 5; i++) {
    await clock.advance(PROBE_MS);
    await turns();
  }
  assert.equal(a.state, "pending");
  assert.equal(b.state, "pending");
  const putsWhileDown = inner.puts;
  assert.ok(putsWhileDown >= 2 + 5, `one probe per ${PROBE_MS} ms: ${putsWhileDown} PUTs`);
  assert.ok(putsWhileDown <= 2 + 6, `not more: ${putsWhileDown} PUTs`);
  inner.fail = false;
  await clock.advance(PROBE_MS); // the probe gets through: a sign of life, and everybody goes
  await turns(10);
  assert.equal(a.state, "resolved");
  assert.equal(b.state, "resolved");
  assert.equal(watch.offline(), false);
  assert.equal(events.filter((e) => e.endsWith("goes")).length, events.filter((e) => e.endsWith("waits")).length);
});

test("rideOutages: a failure while other requests move is the request's own (a failed attempt)", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  watch.answered(ORIGIN);
  const inner = flakyTransport(clock);
  const transport = rideOutages(inner, watch);
  const put = watchPromise(transport.put({ url: URL_A, body: new Blob(["x"]) }));
  await turns();
  await clock.advance(100);
  watch.life(); // e.g. a sibling's progress
  await turns();
  assert.equal(put.state, "rejected");
  assert.equal(put.value.reason, "network");
  assert.equal(inner.puts, 1, "not re-sent here: put.js decides");
});

test("rideOutages: progress counts as a sign of life only LIFE_AFTER_MS into a try", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  let progress;
  const inner = { put: (request) => new Promise(() => { progress = request.onProgress; }) };
  rideOutages(inner, watch).put({ url: URL_A, body: new Blob(["x"]) });
  await turns();
  watch.failed();
  progress(10); // a reset connection may take a few bytes first
  assert.equal(watch.failures, 1);
  await clock.advance(LIFE_AFTER_MS);
  progress(20);
  assert.equal(watch.failures, 0);
  assert.equal(watch.lastLife, LIFE_AFTER_MS);
});

test("rideOutages: an abort while waiting for the network rejects as aborted", async () => {
  const clock = new FakeClock();
  const watch = fakeNetwork(clock);
  watch.answered(ORIGIN);
  watch.down = true;
  const inner = flakyTransport(clock);
  const controller = new AbortController();
  const waits = [];
  const put = watchPromise(rideOutages(inner, watch).put({
    url: URL_A, body: new Blob(["x"]), signal: controller.signal, onWaiting: (w) => waits.push(w),
  }));
  await turns();
  assert.deepEqual(waits, [true]);
  controller.abort();
  await turns();
  assert.equal(put.state, "rejected");
  assert.equal(put.value.reason, "aborted");
  assert.deepEqual(waits, [true, false]);
  assert.equal(watch.waiting(), 0);
});
