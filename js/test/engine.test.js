// The engine, one file at a time: single PUTs and multipart uploads, retries, re-signs,
// and the limits on files and requests in flight.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TransportError } from "../src/transport.js";
import {
  FakeTransport, blobOf, fakeApi, makeEngine, multipartPlan, partOf, runOne, s3Error,
} from "./engine-fakes.js";

// --- Single PUT --------------------------------------------------------------------------

test("single PUT: sends the signed request and completes with the ETag", async () => {
  const { api, transport, state } = await runOne({ size: 100 });
  assert.equal(transport.puts.length, 1);
  const put = transport.puts[0];
  assert.equal(put.method, "PUT");
  assert.match(put.url, /^https:\/\/s3\.test\/u1/);
  assert.deepEqual(put.headers, { "Content-Type": "application/octet-stream", "If-None-Match": "*" });
  assert.equal(put.body.size, 100);
  assert.equal(put.stallTimeoutMs, 60000);
  assert.deepEqual(api.calls.complete, [{ id: "u1", payload: { etag: `"etag-${put.url}"` } }]);
  assert.equal(api.calls.fail.length, 0);
  assert.equal(state.status, "done");
  assert.equal(state.loaded, 100);
  assert.equal(state.partsDone, 1);
  assert.equal(state.partCount, 1);
  assert.equal(state.error, "");
});

test("statuses go queued, signing, uploading, completing, done", async () => {
  const { engine } = await runOne();
  const statuses = engine.changes.map((s) => s.status).filter((s, i, all) => s !== all[i - 1]);
  assert.deepEqual(statuses, ["queued", "signing", "uploading", "completing", "done"]);
});

test("an empty file goes as one PUT with an empty body", async () => {
  const { api, transport, state } = await runOne({ size: 0 });
  assert.equal(transport.puts.length, 1);
  assert.equal(transport.puts[0].body.size, 0);
  assert.equal(api.calls.complete.length, 1);
  assert.equal(state.status, "done");
  assert.equal(state.loaded, 0);
  assert.equal(state.total, 0);
});

test("a single PUT without a readable ETag completes: the kernel reads the ETag", async () => {
  const { api, state } = await runOne({ respond: () => ({ status: 200, etag: null, body: "" }) });
  assert.equal(api.calls.fail.length, 0);
  assert.equal(api.calls.complete.length, 1);
  assert.equal(api.calls.complete[0].payload.etag, "");
  assert.equal(state.status, "done");
});

test("single PUT whose URL expired is signed again and succeeds", async () => {
  const expired = { status: 403, etag: null, body: s3Error("AccessDenied", "Request has expired") };
  const { api, transport, state } = await runOne({
    respond: (_, i) => (i === 0 ? expired : undefined),
    engineOptions: { retry: { attempts: 1 } }, // a re-sign uses no attempt
  });
  assert.equal(api.calls.sign.length, 2);
  assert.equal(transport.puts.length, 2);
  assert.notEqual(transport.puts[0].url, transport.puts[1].url);
  assert.equal(state.status, "done");
});

// --- Multipart ---------------------------------------------------------------------------

test("multipart: 10 parts, at most 3 in flight, signed lazily in small batches", async () => {
  const size = 95;
  const transport = new FakeTransport();
  const api = fakeApi({ plans: { u1: multipartPlan(size, 10) }, transport });
  const engine = makeEngine({ api, transport, concurrency: 3 });
  engine.add("u1", blobOf(size));
  await engine.whenIdle();

  assert.equal(engine.state("u1").status, "done");
  assert.equal(transport.puts.length, 10);
  assert.ok(transport.maxInFlight <= 3, `in flight: ${transport.maxInFlight}`);
  assert.equal(transport.maxInFlight, 3, "the 3 slots are used");
  // Each part is the right slice.
  for (const put of transport.puts) {
    const n = partOf(put.url);
    assert.equal(put.body.size, n === 10 ? 5 : 10);
  }
  // Several small batches, each part signed once, never far ahead of the PUTs.
  const batches = api.calls.signParts;
  assert.ok(batches.length >= 3, `batches: ${batches.length}`);
  assert.ok(batches.every((b) => b.partNumbers.length <= 3));
  assert.deepEqual(batches.flatMap((b) => b.partNumbers).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const { partNumbers, sentBefore } of batches) {
    const ahead = Math.max(...partNumbers) - sentBefore;
    // 3 in flight, half a batch and a batch ahead; the first part was signed alone.
    assert.ok(ahead <= 3 + 3 + 1, `part ${Math.max(...partNumbers)} signed with only ${sentBefore} PUTs sent`);
  }
  // Complete gets every ETag, in part order.
  const { parts } = api.calls.complete[0].payload;
  assert.deepEqual(parts.map((p) => p.part_number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const p of parts) assert.match(p.etag, new RegExp(`/part/${p.part_number}\\?`));
  assert.equal(engine.state("u1").partsDone, 10);
  assert.equal(engine.state("u1").loaded, size);
});

test("a part without a readable ETag fails the file with etag-unreadable", async () => {
  const size = 95;
  const transport = new FakeTransport((req) =>
    partOf(req.url) === 2 ? { status: 200, etag: null, body: "" } : undefined,
  );
  const api = fakeApi({ plans: { u1: multipartPlan(size, 10) }, transport });
  const engine = makeEngine({ api, transport, concurrency: 2 });
  engine.add("u1", blobOf(size));
  await engine.whenIdle();
  assert.equal(api.calls.complete.length, 0);
  assert.equal(api.calls.fail.length, 1);
  assert.equal(api.calls.fail[0].error.reason, "etag-unreadable");
  assert.equal(api.calls.fail[0].error.part_number, 2);
  assert.equal(engine.state("u1").status, "error");
});

test("signBatchSize sets the batch size", async () => {
  const { api } = await runOne({
    size: 100, plan: multipartPlan(100, 10), engineOptions: { concurrency: 2, signBatchSize: 5 },
  });
  // The first part alone (its bytes leave while the others hash), then batches of 5.
  assert.deepEqual(api.calls.signParts.map((b) => b.partNumbers), [[1], [2, 3, 4, 5, 6], [7, 8, 9, 10]]);
});

test("a part failing with 503 twice is retried alone, with backoff; its siblings wait too", async () => {
  let failures = 0;
  const respond = (req) => {
    if (partOf(req.url) === 4 && failures < 2) {
      failures++;
      return { status: 503, etag: null, body: s3Error("SlowDown", "Please reduce your request rate.") };
    }
  };
  const { api, transport, engine, state } = await runOne({
    size: 100, plan: multipartPlan(100, 10), respond, engineOptions: { concurrency: 3 },
  });
  assert.equal(state.status, "done");
  const counts = transport.putsPerPart();
  assert.equal(counts[4], 3);
  for (const n of [1, 2, 3, 5, 6, 7, 8, 9, 10]) assert.equal(counts[n], 1, `part ${n}`);
  // S3 asked to slow down: equal jitter with random() = 0.5, 3/4 of 4000 * 2**attempt,
  // and the other parts' requests wait as long (throttle.js), then 1/8 of it more.
  for (const ms of [3000, 6000]) assert.ok(engine.sleeps.includes(ms), `${ms} in ${engine.sleeps}`);
  assert.ok(engine.sleeps.includes(375), `siblings held after the first 503: ${engine.sleeps}`);
  assert.equal(api.calls.complete[0].payload.parts.length, 10);
  assert.equal(api.calls.fail.length, 0);
});

test("a 400 fails the file at once with S3's code and aborts the other parts", async () => {
  const transport = new FakeTransport((req) => {
    if (partOf(req.url) === 2) return { status: 400, etag: null, body: s3Error("InvalidArgument", "Bad &amp; wrong") };
    return new Promise(() => {}); // the other parts never finish on their own
  });
  const api = fakeApi({ plans: { u1: multipartPlan(100, 10) }, transport });
  const engine = makeEngine({ api, transport, concurrency: 3 });
  engine.add("u1", blobOf(100));
  await engine.whenIdle();

  assert.deepEqual(api.calls.fail, [{
    id: "u1",
    error: { reason: "http", status: 400, s3_code: "InvalidArgument", s3_message: "Bad & wrong", part_number: 2 },
  }]);
  assert.equal(transport.putsPerPart()[2], 1, "not retried");
  assert.equal(transport.puts.length, 3, "no part scheduled after the failure");
  assert.ok(transport.puts.every((p) => p.signal.aborted), "in-flight parts aborted");
  assert.equal(api.calls.complete.length, 0);
  assert.equal(engine.state("u1").status, "error");
  assert.equal(engine.state("u1").error, "kernel words for http");
});

test("retries exhausted: fails with the reason and the part number", async () => {
  const respond = (req) => (partOf(req.url) === 2 ? { status: 500, etag: null, body: s3Error("InternalError", "oops") } : undefined);
  const { api, transport, engine } = await runOne({
    size: 30, plan: multipartPlan(30, 10), respond, engineOptions: { retry: { attempts: 4 } },
  });
  assert.equal(transport.putsPerPart()[2], 4, "4 attempts in total");
  assert.equal(engine.sleeps.length, 3);
  assert.equal(api.calls.fail.length, 1);
  const { error } = api.calls.fail[0];
  assert.equal(error.reason, "http");
  assert.equal(error.status, 500);
  assert.equal(error.s3_code, "InternalError");
  assert.equal(error.part_number, 2);
});

test("a part whose URL expired is signed again without using an attempt", async () => {
  let expired = 0;
  const respond = (req) => {
    if (partOf(req.url) === 3 && expired < 2) {
      expired++;
      return { status: 403, etag: null, body: s3Error("AccessDenied", "Request has expired") };
    }
  };
  const { api, transport, state } = await runOne({
    size: 50, plan: multipartPlan(50, 10), respond, engineOptions: { retry: { attempts: 1 } },
  });
  assert.equal(state.status, "done");
  const resigns = api.calls.signParts.filter((b) => b.partNumbers.length === 1 && b.partNumbers[0] === 3);
  assert.equal(resigns.length, 2);
  const part3 = transport.puts.filter((p) => partOf(p.url) === 3).map((p) => p.url);
  assert.deepEqual(part3.map((u) => u.split("?v=")[1]), ["1", "2", "3"]);
});

test("re-signing is bounded", async () => {
  const expired = { status: 403, etag: null, body: s3Error("AccessDenied", "Request has EXPIRED") };
  const { api, transport } = await runOne({
    size: 20, plan: multipartPlan(20, 10), respond: (req) => (partOf(req.url) === 1 ? expired : undefined),
    engineOptions: { maxResigns: 3 },
  });
  assert.equal(transport.putsPerPart()[1], 4);
  assert.equal(api.calls.fail[0].error.status, 403);
  assert.equal(api.calls.fail[0].error.s3_code, "AccessDenied");
  assert.equal(api.calls.fail[0].error.part_number, 1);
});

test("a 403 that is not an expiry fails at once", async () => {
  const { api, transport } = await runOne({
    respond: () => ({ status: 403, etag: null, body: s3Error("SignatureDoesNotMatch", "The signature ...") }),
  });
  assert.equal(transport.puts.length, 1);
  assert.equal(api.calls.sign.length, 1);
  assert.equal(api.calls.fail[0].error.s3_code, "SignatureDoesNotMatch");
});

test("network errors are retried, then fail with reason network", async () => {
  const { api, transport, state } = await runOne({ respond: () => new TransportError("network") });
  assert.equal(transport.puts.length, 4);
  assert.equal(api.calls.fail[0].error.reason, "network");
  assert.equal(api.calls.fail[0].error.status, 0);
  assert.equal(state.error, "kernel words for network");
});

test("a response with status 0 counts as a network error", async () => {
  const { api, transport } = await runOne({
    respond: () => ({ status: 0, etag: null, body: "" }), engineOptions: { retry: { attempts: 2 } },
  });
  assert.equal(transport.puts.length, 2);
  assert.equal(api.calls.fail[0].error.reason, "network");
});

test("a stall is retried like a network error", async () => {
  const respond = (_, i) => (i === 0 ? new TransportError("stall") : undefined);
  const { api, transport, state } = await runOne({ respond });
  assert.equal(transport.puts.length, 2);
  assert.equal(state.status, "done");
  assert.equal(api.calls.fail.length, 0);
});

test("429 and 408 are retried; 404 is not", async () => {
  for (const [status, puts] of [[429, 2], [408, 2], [404, 1]]) {
    const respond = (_, i) => (i === 0 ? { status, etag: null, body: "" } : undefined);
    const { transport } = await runOne({ respond });
    assert.equal(transport.puts.length, puts, `status ${status}`);
  }
});

// --- Queue ---------------------------------------------------------------------------------

test("at most parallelFiles files move at once, in the order they were added", async () => {
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 2 });
  const ids = ["f1", "f2", "f3", "f4", "f5"];
  ids.forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.equal(transport.maxInFlight, 2);
  assert.deepEqual(transport.puts.map((p) => p.url.split("?")[0].split("/").pop()), ids);
  assert.deepEqual(api.calls.signFiles, [ids], "one sign-files for the five");
  assert.equal(engine.totals().done, 5);
});

test("all files together keep at most maxRequests PUTs in flight", async () => {
  const transport = new FakeTransport(null, { turns: 4 });
  const plans = { a: multipartPlan(80, 10), b: multipartPlan(80, 10), c: multipartPlan(80, 10) };
  const api = fakeApi({ plans, transport });
  const engine = makeEngine({ api, transport, concurrency: 4, parallelFiles: 3, maxRequests: 6 });
  for (const id of ["a", "b", "c"]) engine.add(id, blobOf(80));
  await engine.whenIdle();
  assert.equal(engine.totals().done, 3);
  assert.equal(transport.maxInFlight, 6);
});

test("a failed file frees its slot for the next one", async () => {
  const respond = (req) => (req.url.includes("/bad") ? { status: 400, etag: null, body: "" } : undefined);
  const transport = new FakeTransport(respond);
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 1 });
  engine.add("bad", blobOf(10));
  engine.add("good", blobOf(10));
  await engine.whenIdle();
  assert.equal(engine.state("bad").status, "error");
  assert.equal(engine.state("good").status, "done");
  assert.deepEqual(engine.totals(), {
    loaded: 10, total: 20, speed: 0, eta: null, active: 0, queued: 0, paused: 0, done: 1, unverified: 0, failed: 1, cancelled: 0,
  });
});

test("adding an id that is still running throws; a finished id may be added again", async () => {
  const engine = makeEngine({ api: fakeApi(), transport: new FakeTransport() });
  engine.add("a", blobOf(1));
  assert.throws(() => engine.add("a", blobOf(1)), /already/);
  await engine.whenIdle();
  engine.add("a", blobOf(2));
  await engine.whenIdle();
  assert.equal(engine.state("a").total, 2);
  engine.clearFinished();
  assert.equal(engine.state("a"), undefined);
});
