// The engine and the kernel: cancels, the kernel's refusals and timeouts, the byte
// counts it hears, and kernelApi over the Rpc.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FAILURE_REASONS, KernelError, KernelTimeoutError, Rpc } from "../src/protocol.js";
import { kernelApi } from "../src/engine.js";
import { TransportError } from "../src/transport.js";
import {
  FakeClock, FakeTransport, ManualTransport, blobOf, fakeApi, fakeRecord, makeEngine, multipartPlan, partOf, runOne,
  s3Error, signedPart, tick, waitFor,
} from "./engine-fakes.js";

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
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  // One slot and batches of one: a and b are signed ahead, c waits in the queue.
  const engine = makeEngine({ api, transport, parallelFiles: 1, batchSize: 1 });
  for (const id of ["a", "b", "c"]) engine.add(id, blobOf(10));
  assert.equal(engine.state("c").status, "queued");
  engine.cancel("c");
  await engine.whenIdle();
  assert.deepEqual(api.calls.sign, ["a", "b"]);
  assert.deepEqual(api.calls.cancel, ["c"]);
  assert.equal(engine.state("a").status, "done");
  assert.equal(engine.state("b").status, "done");
  assert.equal(engine.state("c").status, "cancelled");
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
  const engine = makeEngine({ api, transport, parallelFiles: 1, batchSize: 1 });
  for (const id of ["a", "b", "c", "d"]) engine.add(id, blobOf(10));
  await waitFor(() => transport.pending.length === 1, "a's PUT");
  engine.cancelAll();
  await engine.whenIdle();
  assert.deepEqual(api.calls.cancel.sort(), ["a", "b", "c", "d"]);
  assert.deepEqual(api.calls.sign, ["a", "b", "c"], "no queued file signed while cancelling");
  assert.equal(transport.puts.length, 1);
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
    api, transport, now: clock.now, sleep: clock.sleep, progressIntervalMs: 250, parallelFiles: 2,
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
  await waitFor(() => engine.state("a").status === "completing", "a stored");
  engine.cancel("b"); // nothing small moves now: a's completion goes
  await waitFor(() => engine.state("a").status === "done", "a done");
  await clock.advance(1000);
  assert.equal(calls.length, 3, "neither a completed nor a cancelled file reports a last count");
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
  const signed = { results: [{ upload_id: "u1", ok: true, result: multipartPlan(10, 5) }] };
  const completed = { results: [{ upload_id: "u1", ok: true, status: "done" }] };
  const calls = [
    [() => api.signFiles(["u1", "u2"]), { kind: "sign-files", args: { upload_ids: ["u1", "u2"] } }, signed],
    [() => api.completeFiles([{ upload_id: "u1", etag: '"e"' }]),
      { kind: "complete-files", args: { uploads: [{ upload_id: "u1", etag: '"e"' }] } }, completed],
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
  // A notification names its page (the prefix of its request ids): the kernel tells pages apart by it.
  assert.deepEqual(sent.at(-1), { kind: "progress", page: "t", updates: [{ upload_id: "u1", loaded: 5 }] });
  assert.equal(rpc.pending.size, 0);
});

test("kernelApi hands the pools that sign-files and sign-parts answers name to onPools", async () => {
  const sent = [];
  const heard = [];
  const rpc = new Rpc({ send: (msg) => sent.push(msg) }, { idPrefix: "t" });
  const api = kernelApi(rpc, { onPools: (pools) => heard.push(pools) });
  const answer = (result) => {
    const { id, kind } = sent.at(-1);
    rpc.handle({ id, kind: `${kind}-response`, ok: true, result });
  };
  const signing = api.signFiles(["u1"]);
  answer({ pools: 2, results: [] });
  await signing;
  const parts = api.signParts("u1", [1]);
  answer({ pools: 1, parts: [signedPart(1, "a", 5)] });
  await parts;
  const older = api.signParts("u1", [2]); // a kernel that names no pools: nothing heard
  answer({ parts: [signedPart(2, "b", 5)] });
  await older;
  const odd = api.signFiles(["u2"]);
  answer({ pools: "2", results: [] });
  await odd;
  assert.deepEqual(heard, [2, 1]);
});

test("a kernel answering ok: false over the Rpc ends the file in error with its words", async () => {
  let rpc;
  const kernel = ({ id, kind, args }) => {
    if (!id) return; // a notification
    const answer = kind === "sign-files"
      ? { ok: true, result: { results: [{ upload_id: "u1", ok: true, result: multipartPlan(30, 10) }] } }
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
  // The first part is signed alone and the next batch at the same time: both are answered.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(rpc.pending.size, 0);
});
