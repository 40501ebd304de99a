// The engine under a broken network: S3 asking to slow down, resets, an outage, and the
// bytes sent again. The network's judgement (network.js) runs on a fake clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TransportError } from "../src/transport.js";
import { PROBE_MS, QUIET_MS } from "../src/network.js";
import {
  FakeClock, FakeTransport, advanceUntil, blobOf, fakeApi, fakeNetwork, makeEngine, multipartPlan, partOf, s3Error,
  tick,
} from "./engine-fakes.js";

const slowDown = () => ({ status: 503, etag: null, body: s3Error("SlowDown", "Please reduce your request rate.") });

test("a 503 SlowDown backs off more than a reset, and grows", async () => {
  const clock = new FakeClock();
  const tries = {};
  const respond = (req) => {
    const n = partOf(req.url);
    tries[n] = (tries[n] ?? 0) + 1;
    if (n === 2 && tries[n] <= 3) return slowDown();
    if (n === 5 && tries[n] === 1) return new TransportError("network"); // a reset, siblings moving
    return undefined;
  };
  const transport = new FakeTransport(respond);
  const api = fakeApi({ plans: { u1: multipartPlan(100, 10) }, transport });
  const engine = makeEngine({ api, transport, network: fakeNetwork(clock), concurrency: 3 });
  engine.add("u1", blobOf(100));
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  // random() = 0.5. SlowDown: 3/4 of 4 s, 8 s, 16 s; the reset: half of 0.5 s. (The
  // other parts wait out each SlowDown too: throttle.js.)
  for (const ms of [250, 3000, 6000, 12000]) assert.ok(engine.sleeps.includes(ms), `${ms} in ${engine.sleeps}`);
  assert.equal(api.calls.fail.length, 0);
});

test("an outage costs no attempt: the file waits for the network, says so, and goes on when it returns", async () => {
  const clock = new FakeClock();
  const network = fakeNetwork(clock);
  let down = false;
  const transport = new FakeTransport(() => (down ? new TransportError("network") : undefined));
  const api = fakeApi({ plans: { u1: multipartPlan(100, 10) }, transport });
  const engine = makeEngine({ api, transport, network, concurrency: 2, retry: { attempts: 2 } });
  engine.add("u1", blobOf(100));
  await advanceUntil(clock, () => engine.state("u1").partsDone >= 2, { what: "two parts stored" });
  down = true;
  await advanceUntil(clock, () => engine.state("u1").waitingForNetwork, { what: "waiting for the network" });
  assert.ok(clock.t <= QUIET_MS + 500, `waiting after ${clock.t} ms`);
  const putsAtOutage = transport.puts.length;
  for (let i = 0; i < 10; i++) { // a long outage: one probe every PROBE_MS
    await clock.advance(PROBE_MS);
    for (let turn = 0; turn < 20; turn++) await tick();
  }
  assert.equal(engine.state("u1").status, "uploading");
  assert.equal(engine.state("u1").waitingForNetwork, true);
  const probes = transport.puts.length - putsAtOutage;
  assert.ok(probes >= 9 && probes <= 11, `${probes} probes in 10 probe periods`);
  down = false;
  await advanceUntil(clock, () => engine.state("u1").status === "done", { what: "done" });
  assert.equal(engine.state("u1").waitingForNetwork, false);
  assert.equal(api.calls.fail.length, 0, "never failed, with 2 attempts per part");
  assert.deepEqual(engine.sleeps, [], "no backoff: no attempt was counted");
  assert.ok(Math.max(...Object.values(transport.putsPerPart())) > 2, "a part went more often than its attempts");
  assert.equal(api.calls.complete[0].payload.parts.length, 10);
  const shown = engine.changes.map((s) => s.waitingForNetwork);
  assert.ok(shown.includes(true) && shown.at(-1) === false);
});

test("the browser's offline event: failures wait at once, even before S3 ever answered; online resumes", async () => {
  const clock = new FakeClock();
  const network = fakeNetwork(clock);
  network.setBrowserOnline(false);
  let offline = true;
  const transport = new FakeTransport(() => (offline ? new TransportError("network") : undefined));
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, network, retry: { attempts: 1 } });
  engine.add("u1", blobOf(50));
  await advanceUntil(clock, () => engine.state("u1").waitingForNetwork, { what: "waiting", maxMs: 0 });
  offline = false;
  network.setBrowserOnline(true);
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(engine.state("u1").waitingForNetwork, false);
  assert.equal(clock.t, 0, "no time passed: the online event let it go");
  assert.equal(api.calls.fail.length, 0);
});

test("resent bytes: every byte of a failed try is counted, what S3 stored is not", async () => {
  const clock = new FakeClock();
  const tries = {};
  const respond = (req) => {
    const n = partOf(req.url) ?? 0;
    tries[n] = (tries[n] ?? 0) + 1;
    if (tries[n] > 1) return undefined;
    if (n === 4) return slowDown(); // after the whole part went
    if (n === 7) return new TransportError("network");
    return undefined;
  };
  const transport = new FakeTransport(respond);
  const api = fakeApi({ plans: { u1: multipartPlan(100, 10) }, transport });
  const engine = makeEngine({ api, transport, network: fakeNetwork(clock), concurrency: 3 });
  engine.add("u1", blobOf(100));
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(engine.state("u1").resent, 20, "parts 4 and 7, 10 bytes each");
  assert.equal(engine.state("u1").loaded, 100);
});

test("a single PUT retried after a reset mid-body counts the bytes that went before", async () => {
  const clock = new FakeClock();
  const network = fakeNetwork(clock);
  network.answered("https://s3.test");
  let first = true;
  const transport = {
    puts: 0,
    async put(request) {
      this.puts++;
      request.onProgress?.(30);
      if (first) {
        first = false;
        setImmediate(() => network.life()); // another file moving: the reset is this request's own
        throw new TransportError("network");
      }
      request.onProgress?.(64);
      return { status: 200, etag: '"e"', body: "" };
    },
  };
  const engine = makeEngine({ api: fakeApi(), transport, network });
  engine.add("u1", blobOf(64));
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(engine.state("u1").resent, 30);
  assert.equal(engine.sleeps.length, 1);
});

test("single PUTs of different files judge each other's stalls; a file's parts judge each other", async () => {
  const { SINGLE_PUTS } = await import("../src/transfer.js");
  const transport = new FakeTransport();
  const api = fakeApi({ transport, plans: { big: multipartPlan(300, 100) } });
  const engine = makeEngine({ api, transport, multipartThreshold: 200 });
  engine.add("a", new Blob(["x".repeat(50)]));
  engine.add("b", new Blob(["y".repeat(60)]));
  engine.add("big", new Blob(["z".repeat(300)]));
  await engine.whenIdle();
  const groups = (size) => transport.puts.filter((p) => p.body.size === size).map((p) => p.stallGroup);
  assert.deepEqual([...groups(50), ...groups(60)], [SINGLE_PUTS, SINGLE_PUTS]);
  const parts = groups(100);
  assert.equal(parts.length, 3);
  assert.ok(parts.every((g) => g === parts[0] && g !== SINGLE_PUTS));
});
