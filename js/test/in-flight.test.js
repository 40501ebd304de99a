import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BROWSER_CONNECTIONS_PER_HOST, QUICK_REQUEST_MAX_BYTES, QUICK_REQUEST_MAX_MS, isQuick, limitRequests, mayMove,
} from "../src/in-flight.js";
import { TransportError } from "../src/transport.js";
import { FakeTransport, ManualTransport, blobOf, fakeApi, makeEngine, multipartPlan, waitFor } from "./engine-fakes.js";

const body = new Blob(["hello"]);

/** A transport whose requests the test ends by hand, by URL. */
function handTransport() {
  const started = [];
  const finish = new Map();
  return {
    started,
    finish,
    put: (request) => {
      started.push(request.url);
      return new Promise((resolve, reject) => finish.set(request.url, (err) => (err ? reject(err) : resolve({ status: 200, etag: request.url, body: "" }))));
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("limitRequests runs at most N PUTs and starts the next one when one ends", async () => {
  const started = [];
  const finish = [];
  const inner = {
    put: (request) => {
      started.push(request.url);
      return new Promise((resolve) => finish.push(() => resolve({ status: 200, etag: request.url, body: "" })));
    },
  };
  const limited = limitRequests(inner, 2);
  const controller = new AbortController();
  const puts = ["a", "b", "c", "d"].map((url) => limited.put({ url, body, signal: url === "c" ? controller.signal : undefined }));
  await Promise.resolve();
  assert.deepEqual(started, ["a", "b"]);
  assert.equal(limited.waiting(), 2);
  controller.abort(); // "c" leaves the queue without ever starting
  await assert.rejects(puts[2], (err) => err instanceof TransportError && err.reason === "aborted");
  finish[0]();
  assert.equal((await puts[0]).etag, "a");
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ["a", "b", "d"]);
  finish[1]();
  finish[2]();
  await Promise.all([puts[1], puts[3]]);
  assert.equal(limited.active(), 0);
  assert.equal(limited.waiting(), 0);
});

test("limitRequests counts its limit per host name: another name of the same S3 gets its own", async () => {
  const started = [];
  const finish = new Map();
  const inner = {
    put: (request) => {
      started.push(request.url);
      return new Promise((resolve) => finish.set(request.url, () => resolve({ status: 200, etag: request.url, body: "" })));
    },
  };
  const limited = limitRequests(inner, 2);
  const urls = ["http://s3:9000/1", "http://s3:9000/2", "http://s3:9000/3", "http://alias:9000/4", "http://alias:9000/5", "http://alias:9000/6"];
  const puts = urls.map((url) => limited.put({ url, body }));
  await Promise.resolve();
  // Two per name at once: four in flight, one of each name waiting.
  assert.deepEqual(started, [urls[0], urls[1], urls[3], urls[4]]);
  assert.equal(limited.active(), 4);
  assert.equal(limited.waiting(), 2);
  finish.get(urls[3])(); // a request of the alias ends: the alias's next one starts, not s3's
  await puts[3];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started.slice(4), [urls[5]]);
  for (const url of [urls[0], urls[1], urls[4], urls[5]]) finish.get(url)();
  await new Promise((resolve) => setImmediate(resolve));
  finish.get(urls[2])();
  await Promise.all(puts);
  assert.equal(limited.active(), 0);
  assert.equal(limited.waiting(), 0);
});

test("quick requests queue ahead (twice the limit) once one was answered fast, and only whole small files", async () => {
  const inner = handTransport();
  let clock = 0;
  const limited = limitRequests(inner, 2, { queueAhead: true, now: () => clock });
  const put = (url, extra = {}) => limited.put({ url: `http://s3/${url}`, body, wholeFile: true, ...extra });
  const first = ["a", "b", "c", "d", "e"].map((url) => put(url));
  await settle();
  // Nothing answered yet: nobody knows whether requests here are quick.
  assert.deepEqual(inner.started, ["http://s3/a", "http://s3/b"]);
  clock = 100;
  inner.finish.get("http://s3/a")();
  await first[0];
  await settle();
  // a was answered in 100 ms: up to 2 × 2 go to the browser.
  assert.deepEqual(inner.started.slice(2), ["http://s3/c", "http://s3/d", "http://s3/e"]);
  assert.equal(limited.active(), 4);
  // A part (not a whole file) and a large file never queue ahead; what comes after them waits.
  const part = limited.put({ url: "http://s3/part", body, wholeFile: false });
  const big = limited.put({ url: "http://s3/big", body: blobOf(QUICK_REQUEST_MAX_BYTES + 1), wholeFile: true });
  const late = [put("f"), put("g")];
  inner.finish.get("http://s3/b")();
  await settle();
  assert.equal(inner.started.length, 5, "3 active: the part waits for a free slot");
  assert.equal(limited.waiting(), 4);
  for (const url of ["c", "d", "e"]) inner.finish.get(`http://s3/${url}`)();
  await settle();
  assert.deepEqual(inner.started.slice(5), ["http://s3/part", "http://s3/big"]);
  // Slow requests active: a quick one waits for a free slot like any other.
  inner.finish.get("http://s3/part")();
  await settle();
  assert.deepEqual(inner.started.slice(7), ["http://s3/f"]);
  inner.finish.get("http://s3/big")();
  await settle();
  assert.deepEqual(inner.started.slice(8), ["http://s3/g"]);
  for (const url of ["f", "g"]) inner.finish.get(`http://s3/${url}`)();
  await Promise.all([...first, part, big, ...late]);
  assert.equal(limited.active(), 0);
});

test("quick requests stop queueing ahead when they get slow or fail, and start again when fast", async () => {
  const inner = handTransport();
  let clock = 0;
  const limited = limitRequests(inner, 1, { queueAhead: true, now: () => clock });
  const put = (url) => limited.put({ url, body, wholeFile: true });
  const run = async (url, ms, err) => {
    const request = put(url);
    await settle();
    clock += ms;
    inner.finish.get(url)(err);
    return request;
  };
  await run("fast", 10);
  const two = [put("x1"), put("x2")];
  await settle();
  assert.deepEqual(inner.started.slice(1), ["x1", "x2"], "fast: one more goes ahead");
  inner.finish.get("x1")();
  inner.finish.get("x2")();
  await Promise.all(two);
  // Slow answers (well over QUICK_REQUEST_MAX_MS on average) end queueing ahead.
  for (let i = 0; i < 6; i++) await run(`slow${i}`, 4 * QUICK_REQUEST_MAX_MS);
  const held = [put("y1"), put("y2")];
  await settle();
  assert.deepEqual(inner.started.slice(-1), ["y1"], "slow: one at a time");
  inner.finish.get("y1")();
  await settle();
  inner.finish.get("y2")();
  await Promise.all(held);
  // A failure forgets how fast they were: one at a time until one is answered.
  await assert.rejects(run("broken", 1, new TransportError("network")), TransportError);
  const after = [put("z1"), put("z2")];
  await settle();
  assert.deepEqual(inner.started.slice(-1), ["z1"]);
  clock += 1;
  inner.finish.get("z1")();
  await settle();
  inner.finish.get("z2")();
  await Promise.all(after);
});

test("without queueAhead the limit holds for quick requests too", async () => {
  const inner = handTransport();
  const limited = limitRequests(inner, 1, { now: () => 0 });
  const puts = ["a", "b", "c"].map((url) => limited.put({ url, body, wholeFile: true }));
  await settle();
  inner.finish.get("a")();
  await settle();
  assert.deepEqual(inner.started, ["a", "b"]);
  inner.finish.get("b")();
  await settle();
  inner.finish.get("c")();
  await Promise.all(puts);
});

test("mayMove: beyond parallelFiles only quick whole files, among quick ones, up to twice", () => {
  const small = { size: 1000, single: true };
  const part = { size: 1000, single: false };
  const large = { size: QUICK_REQUEST_MAX_BYTES + 1, single: true };
  const on = { parallelFiles: 2, queueAhead: true };
  assert.equal(isQuick(QUICK_REQUEST_MAX_BYTES), true);
  assert.equal(mayMove(large, [small], on), true, "below parallelFiles anything moves");
  assert.equal(mayMove(small, [small, small, small], on), true);
  assert.equal(mayMove(small, [small, small, small, small], on), false, "at most twice");
  assert.equal(mayMove(large, [small, small], on), false);
  assert.equal(mayMove(part, [small, small], on), false);
  assert.equal(mayMove(small, [small, part], on), false, "not beside a multipart file");
  assert.equal(mayMove(small, [small, small], { ...on, queueAhead: false }), false);
});

test("the engine queues small files ahead only when asked, and never beside a multipart file", async () => {
  assert.equal(QUICK_REQUEST_MAX_MS > 0 && BROWSER_CONNECTIONS_PER_HOST, 6);
  const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
  for (const [queueAhead, expected] of [[false, 3], [true, 6]]) {
    const transport = new FakeTransport(null, { turns: 6 });
    const engine = makeEngine({ api: fakeApi({ transport }), transport, parallelFiles: 3, queueAhead });
    ids.forEach((id) => engine.add(id, blobOf(10)));
    await engine.whenIdle();
    assert.equal(engine.totals().done, 12);
    assert.equal(transport.maxInFlight, expected, `queueAhead ${queueAhead}`);
  }
  // A multipart file moving: the small files beside it keep to parallelFiles.
  const transport = new FakeTransport(null, { turns: 6 });
  const api = fakeApi({ plans: { big: multipartPlan(20, 10) }, transport });
  const engine = makeEngine({ api, transport, parallelFiles: 2, concurrency: 1, queueAhead: true });
  engine.add("big", blobOf(20));
  ["t1", "t2", "t3", "t4"].forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.equal(engine.totals().done, 5);
  assert.equal(transport.maxInFlight, 2);
});

test("files queued ahead pause, resume and cancel like any other, and all end", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 6, queueAhead: true });
  const ids = Array.from({ length: 20 }, (_, i) => `q${i}`);
  ids.forEach((id) => engine.add(id, blobOf(10)));
  const open = () => transport.pending.filter((p) => !p.done && !p.request.signal?.aborted);
  const answer = (p) => { p.done = true; p.resolve({ status: 200, etag: `"etag-${p.request.url}"`, body: "" }); };
  await waitFor(() => open().length === 6, "six PUTs");
  answer(open()[0]); // answered fast: the next ones queue ahead, 12 out at once
  await waitFor(() => open().length === 12, "twelve PUTs");
  assert.equal(engine.cancel("q7"), true); // one of those waiting inside the browser
  assert.equal(engine.setAllPaused(true), 18);
  assert.equal(engine.setAllPaused(false), 18); // before any abort settled
  for (;;) {
    await waitFor(() => open().length > 0 || engine.totals().done === 19, "a PUT, or all done");
    if (!open().length) break;
    assert.ok(open().length <= 12, `${open().length} out`);
    answer(open()[0]);
  }
  await engine.whenIdle();
  assert.equal(engine.state("q7").status, "cancelled");
  assert.deepEqual(ids.filter((id) => id !== "q7").map((id) => engine.state(id).status), Array(19).fill("done"));
  assert.deepEqual(api.calls.fail, []);
});


/** Requests of one host, each ended by hand; records whether each went with credentials. */
function credentialTransport() {
  const sent = [];
  return {
    sent,
    put: (request) => {
      const entry = { url: request.url, credentials: !!request.credentials };
      sent.push(entry);
      return new Promise((resolve, reject) => {
        entry.answer = () => resolve({ status: 200, etag: request.url, body: "" });
        entry.refuse = () => reject(new TransportError("network"));
      });
    },
  };
}

test("two pools: twice the requests per host name, half with credentials, the plain pool first", async () => {
  const inner = credentialTransport();
  const limited = limitRequests(inner, 3);
  limited.setPools(2);
  const puts = Array.from({ length: 8 }, (_, i) => limited.put({ url: `http://s3:9000/${i}`, body }));
  await settle();
  assert.equal(inner.sent.length, 6, "3 per pool");
  assert.deepEqual(inner.sent.map((r) => r.credentials), [false, true, false, true, false, true]);
  assert.equal(limited.waiting(), 2);
  inner.sent[1].answer(); // a credentialed one ends: the next one takes its pool
  await settle();
  assert.equal(inner.sent.length, 7);
  assert.equal(inner.sent[6].credentials, true);
  for (const r of inner.sent.slice(0, 7)) if (r !== inner.sent[1]) r.answer();
  await settle();
  inner.sent[7].answer();
  await Promise.all(puts);
  assert.equal(limited.active(), 0);
});

test("one pool (the default, or setPools(1)): no request carries credentials", async () => {
  for (const pools of [undefined, 1]) {
    const inner = credentialTransport();
    const limited = limitRequests(inner, 3);
    if (pools) limited.setPools(pools);
    const puts = Array.from({ length: 5 }, (_, i) => limited.put({ url: `http://s3:9000/${i}`, body }));
    await settle();
    assert.deepEqual(inner.sent.map((r) => r.credentials), [false, false, false]);
    inner.sent.forEach((r) => r.answer());
    await settle();
    inner.sent.slice(3).forEach((r) => r.answer());
    await Promise.all(puts);
  }
});

test("setPools(2) while requests wait starts the second pool's at once", async () => {
  const inner = credentialTransport();
  const limited = limitRequests(inner, 2);
  const puts = Array.from({ length: 4 }, (_, i) => limited.put({ url: `http://s3:9000/${i}`, body }));
  await settle();
  assert.equal(inner.sent.length, 2);
  limited.setPools(2);
  await settle();
  assert.equal(inner.sent.length, 4);
  assert.deepEqual(inner.sent.slice(2).map((r) => r.credentials), [true, true]);
  inner.sent.forEach((r) => r.answer());
  await Promise.all(puts);
});

test("a host that refuses credentialed requests before answering one falls back to one pool", async () => {
  const inner = credentialTransport();
  const limited = limitRequests(inner, 2);
  limited.setPools(2);
  const puts = Array.from({ length: 6 }, (_, i) => limited.put({ url: `http://s3:9000/${i}`, body }));
  await settle();
  assert.deepEqual(inner.sent.map((r) => r.credentials), [false, true, false, true]);
  inner.sent[1].refuse(); // what a missing Access-Control-Allow-Credentials looks like
  await assert.rejects(puts[1], (err) => err instanceof TransportError && err.reason === "network");
  await settle();
  assert.equal(inner.sent.length, 4, "3 active, the room of one pool is 2: nothing starts");
  inner.sent[0].answer();
  inner.sent[2].answer();
  await settle();
  assert.deepEqual(inner.sent.slice(4).map((r) => r.credentials), [false], "plain only from now on");
  // Another name of the same S3 keeps both pools: the verdict is per host.
  const other = limited.put({ url: "http://alias:9000/x", body });
  const more = limited.put({ url: "http://alias:9000/y", body });
  await settle();
  assert.deepEqual(inner.sent.slice(-2).map((r) => [r.url, r.credentials]), [["http://alias:9000/x", false], ["http://alias:9000/y", true]]);
  for (const r of inner.sent) if (r !== inner.sent[1]) r.answer();
  await settle();
  for (const r of inner.sent) if (r !== inner.sent[1]) r.answer();
  await Promise.all([...puts.filter((_, i) => i !== 1), other, more]);
});

test("once a credentialed request was answered, a later network failure keeps both pools", async () => {
  const inner = credentialTransport();
  const limited = limitRequests(inner, 1);
  limited.setPools(2);
  const first = [0, 1].map((i) => limited.put({ url: `http://s3:9000/${i}`, body }));
  await settle();
  inner.sent[1].answer();
  await first[1];
  const later = limited.put({ url: "http://s3:9000/2", body });
  await settle();
  assert.equal(inner.sent[2].credentials, true);
  inner.sent[2].refuse(); // a reset connection: the network, not CORS
  await assert.rejects(later);
  const again = limited.put({ url: "http://s3:9000/3", body });
  await settle();
  assert.equal(inner.sent[3].credentials, true, "still two pools");
  inner.sent[0].answer();
  inner.sent[3].answer();
  await Promise.all([first[0], again]);
});
