import { test } from "node:test";
import assert from "node:assert/strict";
import { FAILURE_REASONS, KernelError, KernelTimeoutError, Rpc } from "../src/protocol.js";
import { kernelApi } from "../src/engine.js";
import { TransportError } from "../src/transport.js";
import {
  FakeClock, FakeTransport, ManualTransport, blobOf, fakeApi, fakeRecord, makeEngine, multipartPlan, partOf, s3Error,
  signedPart, tick, waitFor,
} from "./engine-fakes.js";

/** One engine, one file, run to the end. */
async function runOne({ size = 100, plan, respond, engineOptions = {}, apiOverrides = {} } = {}) {
  const transport = new FakeTransport(respond);
  const api = fakeApi({ plans: plan ? { u1: plan } : {}, overrides: apiOverrides, transport });
  const engine = makeEngine({ api, transport, ...engineOptions });
  engine.add("u1", blobOf(size));
  await engine.whenIdle();
  return { api, transport, engine, state: engine.state("u1") };
}

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
    assert.ok(ahead <= 3 + 3, `part ${Math.max(...partNumbers)} signed with only ${sentBefore} PUTs sent`);
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
  assert.deepEqual(api.calls.signParts.map((b) => b.partNumbers), [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);
});

test("a part failing with 503 twice is retried alone, with backoff", async () => {
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
  // Full jitter with random() = 0.5: half of 500 * 2**attempt.
  assert.deepEqual(engine.sleeps, [250, 500]);
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

// --- Cancel --------------------------------------------------------------------------------

test("cancel during multipart aborts the requests, calls cancel once and never completes", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ plans: { u1: multipartPlan(100, 10) }, transport });
  const engine = makeEngine({ api, transport, concurrency: 3 });
  engine.add("u1", blobOf(100));
  await waitFor(() => transport.pending.length === 3, "3 parts in flight");
  transport.pending[0].resolve({ status: 200, etag: '"a"', body: "" });
  await waitFor(() => transport.pending.length === 4, "the next part");

  assert.equal(engine.cancel("u1"), true);
  assert.equal(engine.cancel("u1"), false, "a second cancel does nothing");
  engine.cancelAll();
  await engine.whenIdle();
  await tick();

  assert.ok(transport.pending.slice(1).every((p) => p.request.signal.aborted));
  assert.deepEqual(api.calls.cancel, ["u1"]);
  assert.equal(api.calls.complete.length, 0);
  assert.equal(api.calls.fail.length, 0);
  assert.equal(transport.puts.length, 4, "no part started after the cancel");
  assert.equal(engine.state("u1").status, "cancelled");
});

test("a request that resolves after a cancel changes nothing", async () => {
  const transport = new FakeTransport(null, { ignoreAbort: true, turns: 5 });
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport });
  engine.add("u1", blobOf(10));
  await waitFor(() => transport.puts.length === 1, "the PUT");
  engine.cancel("u1");
  await waitFor(() => transport.inFlight === 0, "the late answer");
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(api.calls.complete.length, 0);
  assert.equal(api.calls.fail.length, 0);
  assert.equal(engine.state("u1").status, "cancelled");
});

test("a cancel while completing: the late answer does not mark it done", async () => {
  let finish;
  const api = fakeApi({ overrides: {} });
  api.complete = (id, payload) => {
    api.calls.complete.push({ id, payload });
    return new Promise((resolve) => { finish = resolve; });
  };
  const engine = makeEngine({ api, transport: new FakeTransport() });
  engine.add("u1", blobOf(10));
  await waitFor(() => api.calls.complete.length === 1, "complete");
  engine.cancel("u1");
  finish({ record: fakeRecord("u1", { status: "done" }, 10) });
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "cancelled");
  assert.deepEqual(api.calls.cancel, ["u1"]);
});

test("a queued file can be cancelled: it is never signed", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, maxActiveFiles: 1 });
  engine.add("a", blobOf(10));
  engine.add("b", blobOf(10));
  await waitFor(() => transport.pending.length === 1, "a's PUT");
  assert.equal(engine.state("b").status, "queued");
  engine.cancel("b");
  transport.pending[0].resolve({ status: 200, etag: '"x"', body: "" });
  await engine.whenIdle();
  assert.deepEqual(api.calls.sign, ["a"]);
  assert.deepEqual(api.calls.cancel, ["b"]);
  assert.equal(engine.state("a").status, "done");
  assert.equal(engine.state("b").status, "cancelled");
});

test("cancel({notify: false}) does not call the kernel", async () => {
  const api = fakeApi();
  const engine = makeEngine({ api, transport: new ManualTransport() });
  engine.add("a", blobOf(10));
  engine.cancel("a", { notify: false });
  await engine.whenIdle();
  assert.deepEqual(api.calls.cancel, []);
  assert.equal(engine.state("a").status, "cancelled");
});

test("cancelAll cancels every file that is not finished", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, maxActiveFiles: 1 });
  for (const id of ["a", "b", "c"]) engine.add(id, blobOf(10));
  await waitFor(() => transport.pending.length === 1, "a's PUT");
  engine.cancelAll();
  await engine.whenIdle();
  assert.deepEqual(api.calls.cancel.sort(), ["a", "b", "c"]);
  assert.deepEqual(api.calls.sign, ["a"], "no queued file started while cancelling");
});

// --- Queue ---------------------------------------------------------------------------------

test("at most maxActiveFiles files at once, in the order they were added", async () => {
  let active = 0;
  let maxActive = 0;
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  const sign = api.sign;
  api.sign = async (id) => {
    active++;
    maxActive = Math.max(maxActive, active);
    return sign(id);
  };
  api.complete = async (id, payload) => {
    api.calls.complete.push({ id, payload });
    await tick();
    active--;
    return { record: fakeRecord(id, { status: "done" }, 10) };
  };
  const engine = makeEngine({ api, transport, maxActiveFiles: 2 });
  const ids = ["f1", "f2", "f3", "f4", "f5"];
  ids.forEach((id) => engine.add(id, blobOf(10)));
  assert.equal(engine.totals().queued, 3);
  await engine.whenIdle();
  assert.equal(maxActive, 2);
  assert.deepEqual(api.calls.sign, ids);
  assert.equal(engine.totals().done, 5);
});

test("all files together keep at most maxRequests PUTs in flight", async () => {
  const transport = new FakeTransport(null, { turns: 4 });
  const plans = { a: multipartPlan(80, 10), b: multipartPlan(80, 10), c: multipartPlan(80, 10) };
  const api = fakeApi({ plans, transport });
  const engine = makeEngine({ api, transport, concurrency: 4, maxActiveFiles: 3, maxRequests: 6 });
  for (const id of ["a", "b", "c"]) engine.add(id, blobOf(80));
  await engine.whenIdle();
  assert.equal(engine.totals().done, 3);
  assert.equal(transport.maxInFlight, 6);
});

test("a failed file frees its slot for the next one", async () => {
  const respond = (req) => (req.url.includes("/bad") ? { status: 400, etag: null, body: "" } : undefined);
  const transport = new FakeTransport(respond);
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, maxActiveFiles: 1 });
  engine.add("bad", blobOf(10));
  engine.add("good", blobOf(10));
  await engine.whenIdle();
  assert.equal(engine.state("bad").status, "error");
  assert.equal(engine.state("good").status, "done");
  assert.deepEqual(engine.totals(), {
    loaded: 10, total: 20, speed: 0, eta: null, active: 0, queued: 0, done: 1, failed: 1, cancelled: 0,
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

// --- Kernel errors -------------------------------------------------------------------------

test("a KernelError from sign shows the kernel's words and sends nothing", async () => {
  const refused = new KernelError({ code: "too-large", message: "big.bin is 9 GB; the limit is 1 GB.", hint: "Pick a smaller file." });
  const { api, transport, state } = await runOne({ apiOverrides: { sign: async () => { throw refused; } } });
  assert.equal(transport.puts.length, 0);
  assert.equal(api.calls.fail.length, 0);
  assert.equal(state.status, "error");
  assert.equal(state.error, "big.bin is 9 GB; the limit is 1 GB. Pick a smaller file.");
});

test("a KernelError from complete fails the file without a fail request", async () => {
  const { api, state } = await runOne({
    apiOverrides: { complete: async () => { throw new KernelError({ code: "key-exists", message: "exists" }); } },
  });
  assert.equal(api.calls.fail.length, 0);
  assert.equal(state.status, "error");
  assert.equal(state.error, "exists");
});

test("a KernelError from sign-parts stops the other parts", async () => {
  const transport = new FakeTransport(null, { turns: 10 });
  const api = fakeApi({ plans: { u1: multipartPlan(100, 10) }, transport });
  const signParts = api.signParts;
  api.signParts = async (id, numbers) => {
    if (numbers.includes(5)) throw new KernelError({ code: "internal", message: "no more" });
    return signParts(id, numbers);
  };
  const engine = makeEngine({ api, transport, concurrency: 2, signBatchSize: 2 });
  engine.add("u1", blobOf(100));
  await engine.whenIdle();
  assert.equal(engine.state("u1").error, "no more");
  assert.ok(transport.puts.every((p) => partOf(p.url) <= 4));
  assert.equal(api.calls.complete.length, 0);
});

test("a kernel timeout is reported as reason timeout", async () => {
  const { api, state } = await runOne({ apiOverrides: { sign: async () => { throw new KernelTimeoutError("sign", 600000); } } });
  assert.equal(api.calls.fail[0].error.reason, "timeout");
  assert.equal(state.error, "kernel words for timeout");
});

test("a kernel error or timeout in sign, sign-parts or complete ends the file in error", async () => {
  const refusals = {
    KernelError: () => new KernelError({ code: "internal", message: "refused" }),
    KernelTimeoutError: (kind) => new KernelTimeoutError(kind, 600000),
  };
  for (const method of ["sign", "signParts", "complete"]) {
    for (const [name, refusal] of Object.entries(refusals)) {
      const { api, engine, state } = await runOne({
        size: 30, plan: multipartPlan(30, 10), apiOverrides: { [method]: async () => { throw refusal(method); } },
      });
      const what = `${name} from ${method}`;
      assert.equal(state.status, "error", what);
      assert.equal(engine.totals().failed, 1, what);
      if (name === "KernelError") {
        assert.equal(state.error, "refused", what);
        assert.equal(api.calls.fail.length, 0, `${what}: the kernel already marked its record`);
      } else {
        assert.deepEqual(api.calls.fail.map((c) => c.error.reason), ["timeout"], what);
      }
    }
  }
});

test("a kernel error while re-signing an expired URL ends the file in error", async () => {
  const expired = { status: 403, etag: null, body: s3Error("AccessDenied", "Request has expired") };
  const refused = async () => { throw new KernelError({ code: "unknown-upload", message: "gone" }); };
  // A single PUT is re-signed with "sign", a part with "sign-parts".
  for (const [plan, method] of [[undefined, "sign"], [multipartPlan(20, 10), "signParts"]]) {
    const transport = new FakeTransport(() => expired);
    const api = fakeApi({ plans: plan ? { u1: plan } : {}, transport });
    const first = api[method];
    api[method] = (...args) => (api.calls[method].length ? refused() : first(...args));
    const engine = makeEngine({ api, transport });
    engine.add("u1", blobOf(20));
    await engine.whenIdle();
    assert.equal(engine.state("u1").status, "error", method);
    assert.equal(engine.state("u1").error, "gone", method);
    assert.equal(api.calls.complete.length, 0);
  }
});

test("every reason the engine sends with fail is one of FAILURE_REASONS, and each is used", async () => {
  const cases = [
    { respond: () => new TransportError("network") },
    { respond: () => ({ status: 400, etag: null, body: "" }) },
    { respond: () => new TransportError("stall") },
    { plan: multipartPlan(20, 10), respond: () => ({ status: 200, etag: null, body: "" }) },
    { apiOverrides: { sign: async () => { throw new KernelTimeoutError("sign", 1000); } } },
    { apiOverrides: { sign: async () => ({ mode: "weird" }) } },
  ];
  const reasons = new Set();
  for (const options of cases) {
    const { api } = await runOne({ size: 20, ...options });
    api.calls.fail.forEach((c) => reasons.add(c.error.reason));
  }
  assert.deepEqual([...reasons].sort(), [...FAILURE_REASONS].sort());
});

test("an unexpected error is reported as internal; local words stay if fail is refused", async () => {
  const { api, state } = await runOne({
    apiOverrides: {
      sign: async () => ({ mode: "weird" }),
      async fail(id, error) {
        this.calls.fail.push({ id, error });
        throw new Error("kernel gone");
      },
    },
  });
  assert.equal(api.calls.fail[0].error.reason, "internal");
  assert.match(api.calls.fail[0].error.s3_message, /weird/);
  assert.equal(state.status, "error");
  assert.match(state.error, /failed in the browser/);
});

test("a throwing onChange does not stop the upload", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    const { state } = await runOne({ engineOptions: { onChange: () => { throw new Error("view bug"); } } });
    assert.equal(state.status, "done");
  } finally {
    console.error = original;
  }
});

// --- Progress ------------------------------------------------------------------------------

test("loaded never exceeds total and drops when a part is retried", async () => {
  let failed = false;
  const respond = (req) => {
    if (partOf(req.url) === 2 && !failed) {
      failed = true;
      return { status: 500, etag: null, body: "" };
    }
  };
  const transport = new FakeTransport(respond);
  // Report more bytes than the body has: the count is clamped.
  const put = transport.put.bind(transport);
  transport.put = (request) => put({ ...request, onProgress: (n) => request.onProgress(n * 2) });
  const api = fakeApi({ plans: { u1: multipartPlan(40, 10) }, transport });
  const engine = makeEngine({ api, transport, concurrency: 2 });
  engine.add("u1", blobOf(40));
  await engine.whenIdle();

  const loaded = engine.changes.map((s) => s.loaded);
  assert.ok(loaded.every((n) => n >= 0 && n <= 40));
  assert.ok(loaded.some((n, i) => i > 0 && n < loaded[i - 1]), "loaded dropped on the retry");
  assert.equal(engine.state("u1").loaded, 40);
  for (const updates of api.calls.progress) {
    for (const { loaded: n } of updates) assert.ok(n <= 40);
  }
});

test("progress to the kernel is coalesced: one call per interval for all files", async () => {
  const clock = new FakeClock();
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({
    api, transport, now: clock.now, sleep: clock.sleep, progressIntervalMs: 250, maxActiveFiles: 2,
  });
  engine.add("a", blobOf(100));
  engine.add("b", blobOf(100));
  await waitFor(() => transport.pending.length === 2, "2 PUTs");
  const [a, b] = transport.pending;
  const calls = api.calls.progress;

  a.request.onProgress(10); // the first count goes at once
  assert.deepEqual(calls, [[{ upload_id: "a", loaded: 10 }]]);
  a.request.onProgress(20);
  b.request.onProgress(5);
  await clock.advance(100);
  a.request.onProgress(30);
  b.request.onProgress(5); // unchanged: nothing new
  assert.equal(calls.length, 1, "nothing more within the interval");
  await clock.advance(150);
  assert.deepEqual(calls[1], [{ upload_id: "a", loaded: 30 }, { upload_id: "b", loaded: 5 }]);
  await clock.advance(1000);
  assert.equal(calls.length, 2, "no call without a change");

  b.request.onProgress(50);
  assert.deepEqual(calls[2], [{ upload_id: "b", loaded: 50 }], "at once again after a quiet interval");
  a.request.onProgress(100);
  a.resolve({ status: 200, etag: '"a"', body: "" });
  await waitFor(() => engine.state("a").status === "done", "a done");
  // The final flush does not wait for the interval.
  assert.deepEqual(calls[3], [{ upload_id: "a", loaded: 100 }]);
  engine.cancel("b");
  await clock.advance(1000);
  assert.equal(calls.length, 4, "a cancelled file reports nothing");
});

test("speed is smoothed and eta follows it", async () => {
  const clock = new FakeClock();
  const transport = new ManualTransport();
  const engine = makeEngine({ api: fakeApi({ transport }), transport, now: clock.now, sleep: clock.sleep });
  engine.add("a", blobOf(10_000));
  await waitFor(() => transport.pending.length === 1, "PUT");
  const { request } = transport.pending[0];
  for (let i = 1; i <= 4; i++) {
    await clock.advance(500);
    request.onProgress(i * 1000); // 2000 B/s
  }
  const state = engine.state("a");
  assert.ok(Math.abs(state.speed - 2000) < 1, `speed ${state.speed}`);
  assert.ok(Math.abs(state.eta - 3) < 0.01, `eta ${state.eta}`);
  const totals = engine.totals();
  assert.equal(totals.active, 1);
  assert.equal(totals.loaded, 4000);
  assert.ok(Math.abs(totals.eta - 3) < 0.01);
});

// --- The kernel api over Rpc ---------------------------------------------------------------

test("kernelApi sends each call as one protocol message and resolves with its result", async () => {
  const sent = [];
  const rpc = new Rpc({ send: (msg) => sent.push(msg) }, { idPrefix: "t" });
  const api = kernelApi(rpc);
  const answer = (result) => {
    const { id, kind } = sent.at(-1);
    rpc.handle({ id, kind: `${kind}-response`, ok: true, result });
  };
  const record = fakeRecord("u1", { status: "done" }, 10);
  const calls = [
    [() => api.sign("u1"), { kind: "sign", args: { upload_id: "u1" } }, multipartPlan(10, 5)],
    [() => api.signParts("u1", [1, 2]), { kind: "sign-parts", args: { upload_id: "u1", part_numbers: [1, 2] } },
      { parts: [signedPart(1, "a", 5), signedPart(2, "b", 5)] }],
    [() => api.complete("u1", { etag: '"e"' }), { kind: "complete", args: { upload_id: "u1", etag: '"e"' } }, { record }],
    [() => api.fail("u1", { reason: "network" }), { kind: "fail", args: { upload_id: "u1", error: { reason: "network" } } },
      { record }],
    [() => api.cancel("u1"), { kind: "cancel", args: { upload_id: "u1" } }, { record }],
  ];
  for (const [call, message, result] of calls) {
    const pending = call();
    assert.deepEqual(sent.at(-1), { id: `t-${sent.length}`, ...message });
    answer(result);
    assert.deepEqual(await pending, result);
  }
  api.progress([{ upload_id: "u1", loaded: 5 }]);
  assert.deepEqual(sent.at(-1), { kind: "progress", updates: [{ upload_id: "u1", loaded: 5 }] });
  assert.equal(rpc.pending.size, 0);
});

test("a kernel answering ok: false over the Rpc ends the file in error with its words", async () => {
  let rpc;
  const kernel = ({ id, kind, args }) => {
    if (!id) return; // a notification
    const answer = kind === "sign"
      ? { ok: true, result: multipartPlan(30, 10) }
      : { ok: false, error: { code: "internal", message: `${kind} broke.`, hint: "Run the cell again." } };
    setImmediate(() => rpc.handle({ id, kind: `${kind}-response`, ...answer }));
  };
  rpc = new Rpc({ send: kernel });
  const transport = new FakeTransport();
  const engine = makeEngine({ api: kernelApi(rpc), transport });
  engine.add("u1", blobOf(30));
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "error");
  assert.equal(engine.state("u1").error, "sign-parts broke. Run the cell again.");
  assert.equal(transport.puts.length, 0);
  assert.equal(rpc.pending.size, 0);
});
