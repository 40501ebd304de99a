// The engine with many files: "sign-files" and "complete-files" batches, how far ahead
// files are signed, slots freed as soon as the bytes are stored, and one file's failure
// or cancel inside a batch touching only that file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KernelError, KernelTimeoutError, MAX_FILES_PER_BATCH } from "../src/protocol.js";
import { FakeClock, FakeTransport, ManualTransport, blobOf, fakeApi, fakeRecord, makeEngine, multipartPlan, tick, waitFor } from "./engine-fakes.js";

/** Make `api[method]` take `turns` event-loop turns before it answers. */
function slow(api, method, turns) {
  const inner = api[method];
  api[method] = async (...args) => {
    for (let i = 0; i < turns; i++) await tick();
    return inner(...args);
  };
}

/** Make `api[method]` wait until the test opens its gate (`gates[i]()` for call i). */
function gated(api, method) {
  const inner = api[method];
  const gates = [];
  api[method] = (...args) => {
    const call = inner.bind(null, ...args);
    return new Promise((resolve, reject) => gates.push(() => call().then(resolve, reject)));
  };
  return gates;
}

const ids = (n, prefix = "f") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const statuses = (engine, list) => list.map((id) => engine.state(id).status);

// --- Batching ------------------------------------------------------------------------------

test("a lone file is signed at once, in a sign-files of one", async () => {
  const clock = new FakeClock(); // no timer fires unless the test says so
  const api = fakeApi();
  const engine = makeEngine({ api, transport: new FakeTransport(), now: clock.now, sleep: clock.sleep });
  engine.add("a", blobOf(10));
  assert.equal(engine.state("a").status, "signing");
  await Promise.resolve();
  assert.deepEqual(api.calls.signFiles, [["a"]]);
  await engine.whenIdle();
  assert.deepEqual(api.calls.completeFiles, [["a"]]);
  assert.equal(engine.state("a").status, "done");
});

test("10 files added one by one to a slow kernel: far fewer than 10 sign-files", async () => {
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  slow(api, "signFiles", 20);
  const engine = makeEngine({ api, transport });
  for (const id of ids(10)) {
    engine.add(id, blobOf(10));
    await tick();
  }
  await engine.whenIdle();
  // The first two go alone (two may be out at once), the other eight wait together.
  assert.deepEqual(api.calls.signFiles, [["f0"], ["f1"], ids(10).slice(2)]);
  assert.deepEqual(api.calls.sign, ids(10), "each file signed once");
  assert.deepEqual(statuses(engine, ids(10)), Array(10).fill("done"));
});

test("with one request out at a time, batches grow while it is out", async () => {
  const api = fakeApi();
  slow(api, "signFiles", 20);
  const engine = makeEngine({ api, transport: new FakeTransport(), batchesInFlight: 1 });
  for (const id of ids(10)) {
    engine.add(id, blobOf(10));
    await tick();
  }
  await engine.whenIdle();
  assert.deepEqual(api.calls.signFiles, [["f0"], ids(10).slice(1)]);
});

test("at most 64 files per sign-files, even when asked for more", async () => {
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, batchSize: 500 });
  const all = ids(150);
  all.forEach((id) => engine.add(id, blobOf(10)));
  await Promise.resolve();
  assert.equal(api.calls.signFiles[0].length, MAX_FILES_PER_BATCH);
  assert.equal(engine.totals().queued, 150 - 6 - 64, "signed only a little ahead of the 6 slots");
  await engine.whenIdle();
  assert.ok(api.calls.signFiles.every((batch) => batch.length <= MAX_FILES_PER_BATCH));
  assert.ok(api.calls.completeFiles.every((batch) => batch.length <= MAX_FILES_PER_BATCH));
  assert.deepEqual(api.calls.signFiles.flat().sort(), [...all].sort());
  assert.equal(engine.totals().done, 150);
});

test("files are signed at most parallelFiles + one batch ahead of their PUT", async () => {
  const transport = new FakeTransport(null, { turns: 6 });
  const api = fakeApi({ transport });
  const signFiles = api.signFiles;
  let worst = 0;
  api.signFiles = (list) => {
    worst = Math.max(worst, api.calls.signFiles.flat().length + list.length - transport.puts.length);
    return signFiles(list);
  };
  const engine = makeEngine({ api, transport, parallelFiles: 2, batchSize: 8 });
  ids(60).forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.equal(engine.totals().done, 60);
  assert.ok(worst <= 2 + 8, `signed ${worst} files ahead`);
  assert.ok(worst >= 8, "the look-ahead is used");
});

test("big files are signed ahead only one per slot (signAheadBytes)", async () => {
  const transport = new FakeTransport(null, { turns: 6 });
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 2, signAheadBytes: 250 });
  ids(8).forEach((id) => engine.add(id, blobOf(100)));
  assert.equal(engine.totals().active, 2, "two signing: one per slot");
  assert.equal(engine.totals().queued, 6);
  await engine.whenIdle();
  assert.equal(engine.totals().done, 8);
});

test("a stored file frees its slot at once; its completion waits for the small files still moving", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 1 });
  ids(3).forEach((id) => engine.add(id, blobOf(10)));
  for (const id of ids(3)) {
    await waitFor(() => transport.pending.length === 1, `${id}'s PUT`);
    transport.pending.shift().resolve({ status: 200, etag: `"${id}"`, body: "" });
    await waitFor(() => engine.state(id).status === "completing", `${id} stored`);
  }
  // f0 was stored while f1 and f2 still had to move: f0 and f1 waited for company.
  await engine.whenIdle();
  assert.deepEqual(api.calls.completeFiles, [ids(3)]);
  assert.deepEqual(statuses(engine, ids(3)), Array(3).fill("done"));
});

test("a completion waits for at most 32 others, and never for a multipart file", async () => {
  const transport = new FakeTransport(null, { turns: 1 });
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 2 });
  ids(70).forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  const sizes = api.calls.completeFiles.map((batch) => batch.length);
  assert.ok(sizes.every((n) => n <= 32 + 1), `batches of ${sizes}`);
  assert.ok(sizes.length <= 5, `70 files completed in ${sizes.length} requests (${sizes})`);
  assert.deepEqual(api.calls.completeFiles.flat().sort(), ids(70).sort());

  const manual = new ManualTransport();
  const mixed = fakeApi({ transport: manual, plans: { big: multipartPlan(400, 100) } });
  const both = makeEngine({ api: mixed, transport: manual });
  both.add("big", blobOf(400)); // four parts, held by the test
  both.add("small", blobOf(10));
  const isSmall = (/** @type {any} */ p) => p.request.url.includes("/small");
  await waitFor(() => manual.pending.some(isSmall), "the small file's PUT");
  manual.pending.find(isSmall).resolve({ status: 200, etag: '"s"', body: "" });
  await waitFor(() => both.state("small").status === "done", "small done while big still moves");
  assert.equal(both.state("big").status, "uploading");
  both.cancelAll();
  await both.whenIdle();
});

test("a completed file's last count costs no progress message: the kernel counts it itself", async () => {
  const clock = new FakeClock();
  const log = [];
  const api = fakeApi();
  api.progress = (updates) => log.push(...updates.map((u) => `${u.upload_id}=${u.loaded}`));
  const completeFiles = api.completeFiles;
  api.completeFiles = (items) => {
    log.push(`complete ${items.map((i) => i.upload_id)}`);
    return completeFiles(items);
  };
  const engine = makeEngine({
    api, transport: new FakeTransport(null, { turns: 4 }), now: clock.now, sleep: clock.sleep,
    progressIntervalMs: 60_000,
  });
  engine.add("a", blobOf(100));
  await engine.whenIdle();
  assert.deepEqual(log, ["a=25", "complete a"]);
  assert.equal(engine.state("a").loaded, 100);

  log.length = 0; // many small files sent in one go: completions only
  ids(4).forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.ok(log.every((l) => l.startsWith("complete")), log.join("; "));
  assert.deepEqual(log.flatMap((l) => l.slice(9).split(",")).sort(), ids(4));
});

test("parallelFiles bounds the files whose bytes move, and can change on the way", async () => {
  const transport = new FakeTransport(null, { turns: 4 });
  const engine = makeEngine({ api: fakeApi({ transport }), transport, parallelFiles: 3 });
  ids(20).forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.equal(transport.maxInFlight, 3);

  const manual = new ManualTransport();
  const later = makeEngine({ api: fakeApi({ transport: manual }), transport: manual, parallelFiles: 1 });
  ids(5).forEach((id) => later.add(id, blobOf(10)));
  await waitFor(() => manual.pending.length === 1, "one PUT");
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(manual.pending.length, 1);
  later.parallelFiles = 3;
  await waitFor(() => manual.pending.length === 3, "three PUTs");
  later.cancelAll();
  await later.whenIdle();
});

test("complete-files answering unverified ends the file unverified", async () => {
  const api = fakeApi();
  api.complete = async (id) => ({ record: fakeRecord(id, { status: "unverified" }) });
  const engine = makeEngine({ api, transport: new FakeTransport() });
  engine.add("a", blobOf(10));
  await engine.whenIdle();
  assert.equal(engine.state("a").status, "unverified");
  assert.equal(engine.totals().unverified, 1);
  assert.equal(engine.totals().done, 0);
});

// --- Failure isolation ---------------------------------------------------------------------

test("one ok: false in a sign-files batch ends that file only, with the kernel's words", async () => {
  const api = fakeApi();
  const sign = api.sign;
  api.sign = async (id) => {
    if (id === "b") throw new KernelError({ code: "key-exists", message: "b.bin exists.", hint: "Pass overwrite=True." });
    return sign(id);
  };
  const engine = makeEngine({ api, transport: new FakeTransport() });
  ["a", "b", "c"].forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.deepEqual(api.calls.signFiles, [["a", "b", "c"]]);
  assert.deepEqual(statuses(engine, ["a", "b", "c"]), ["done", "error", "done"]);
  assert.equal(engine.state("b").error, "b.bin exists. Pass overwrite=True.");
  assert.equal(api.calls.fail.length, 0, "the kernel already ended b");
  assert.deepEqual(api.calls.completeFiles.flat().sort(), ["a", "c"]);
});

test("one ok: false in a complete-files batch ends that file only", async () => {
  const api = fakeApi();
  const complete = api.complete;
  api.complete = async (id, payload) => {
    if (id === "b") throw new KernelError({ code: "size-mismatch", message: "b changed.", hint: "" });
    return complete(id, payload);
  };
  const engine = makeEngine({ api, transport: new FakeTransport() });
  ["a", "b", "c"].forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.deepEqual(statuses(engine, ["a", "b", "c"]), ["done", "error", "done"]);
  assert.equal(engine.state("b").error, "b changed.");
  assert.equal(api.calls.fail.length, 0);
});

test("a sign-files refused as a whole fails its files; the next batch goes on", async () => {
  const api = fakeApi();
  const signFiles = api.signFiles;
  api.signFiles = async (list) => {
    if (list.includes("a")) throw new KernelError({ code: "internal", message: "Signing broke.", hint: "Run it again." });
    return signFiles(list);
  };
  const engine = makeEngine({ api, transport: new FakeTransport() });
  engine.add("a", blobOf(10));
  engine.add("b", blobOf(10));
  await engine.whenIdle();
  engine.add("c", blobOf(10));
  await engine.whenIdle();
  assert.deepEqual(statuses(engine, ["a", "b", "c"]), ["error", "error", "done"]);
  assert.equal(engine.state("a").error, "Signing broke. Run it again.");
  assert.equal(api.calls.fail.length, 0);
});

test("a batch request that times out fails each of its files with reason timeout", async () => {
  for (const method of ["signFiles", "completeFiles"]) {
    const api = fakeApi();
    api[method] = async () => { throw new KernelTimeoutError(method, 600000); };
    const engine = makeEngine({ api, transport: new FakeTransport() });
    engine.add("a", blobOf(10));
    engine.add("b", blobOf(10));
    await engine.whenIdle();
    assert.deepEqual(statuses(engine, ["a", "b"]), ["error", "error"], method);
    assert.deepEqual(api.calls.fail.map((c) => [c.id, c.error.reason]), [["a", "timeout"], ["b", "timeout"]], method);
    assert.equal(engine.state("a").error, "kernel words for timeout");
  }
});

test("an answer without an entry for a file fails that file as internal", async () => {
  const api = fakeApi();
  api.signFiles = async (list) => ({
    results: list.filter((id) => id !== "b").map((id) => ({
      upload_id: id, ok: true, result: { mode: "single", method: "PUT", url: `https://s3.test/${id}`, headers: {} },
    })),
  });
  const engine = makeEngine({ api, transport: new FakeTransport() });
  ["a", "b"].forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.deepEqual(statuses(engine, ["a", "b"]), ["done", "error"]);
  assert.deepEqual(api.calls.fail.map((c) => [c.id, c.error.reason]), [["b", "internal"]]);
});

// --- Cancel --------------------------------------------------------------------------------

test("cancel of a file in the pending batch takes it out: it is never signed", async () => {
  const api = fakeApi();
  const gates = gated(api, "signFiles");
  const engine = makeEngine({ api, transport: new FakeTransport(), batchesInFlight: 1 });
  engine.add("a", blobOf(10));
  await waitFor(() => gates.length === 1, "a's sign-files");
  engine.add("b", blobOf(10));
  engine.add("c", blobOf(10));
  assert.equal(engine.cancel("b"), true);
  gates[0]();
  await waitFor(() => gates.length === 2, "the next sign-files");
  gates[1]();
  await engine.whenIdle();
  assert.deepEqual(api.calls.sign, ["a", "c"]);
  assert.deepEqual(api.calls.cancel, ["b"]);
  assert.deepEqual(statuses(engine, ["a", "b", "c"]), ["done", "cancelled", "done"]);
});

test("cancel of a file in a sign-files out: its answer is ignored, the others go on", async () => {
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  const gates = gated(api, "signFiles");
  const engine = makeEngine({ api, transport });
  engine.add("a", blobOf(10));
  engine.add("b", blobOf(10));
  await waitFor(() => gates.length === 1, "the sign-files");
  engine.cancel("b");
  gates[0]();
  await engine.whenIdle();
  assert.deepEqual(statuses(engine, ["a", "b"]), ["done", "cancelled"]);
  assert.equal(transport.puts.length, 1);
  assert.match(transport.puts[0].url, /\/a\?/);
  assert.deepEqual(api.calls.completeFiles, [["a"]]);
  assert.deepEqual(api.calls.cancel, ["b"]);
});

test("cancel of a file waiting for its complete: it leaves the batch", async () => {
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  const gates = gated(api, "completeFiles");
  const engine = makeEngine({ api, transport, batchesInFlight: 1 });
  engine.add("a", blobOf(10));
  await waitFor(() => gates.length === 1, "a's complete-files");
  engine.add("b", blobOf(10));
  engine.add("c", blobOf(10));
  await waitFor(() => engine.state("b").status === "completing" && engine.state("c").status === "completing", "b, c stored");
  engine.cancel("b");
  gates[0]();
  await waitFor(() => gates.length === 2, "the next complete-files");
  gates[1]();
  await engine.whenIdle();
  assert.deepEqual(api.calls.completeFiles, [["a"], ["c"]]);
  assert.deepEqual(statuses(engine, ["a", "b", "c"]), ["done", "cancelled", "done"]);
});

// --- Scale ---------------------------------------------------------------------------------

test("5,000 small files: every one done, in few batches", async () => {
  const transport = new FakeTransport(null, { turns: 1 });
  const api = fakeApi({ transport });
  slow(api, "signFiles", 3);
  slow(api, "completeFiles", 3);
  let changes = 0;
  const engine = makeEngine({ api, transport, parallelFiles: 32, maxRequests: 32, onChange: () => changes++ });
  const all = ids(5000);
  all.forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.equal(engine.totals().done, 5000);
  assert.ok(api.calls.signFiles.length <= 5000 / 8, `${api.calls.signFiles.length} sign-files`);
  assert.ok(api.calls.completeFiles.length <= 5000 / 8, `${api.calls.completeFiles.length} complete-files`);
  assert.ok(changes < 5000 * 10, `${changes} state changes`);
});

test("files checksummed one by one are signed in a few large batches, not one request each", async () => {
  const transport = new FakeTransport(null, { turns: 3 });
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, checksum: "CRC32C", multipartThreshold: 1 << 20 });
  const all = ids(300);
  all.forEach((id) => engine.add(id, blobOf(10)));
  await engine.whenIdle();
  assert.deepEqual(statuses(engine, all), Array(300).fill("done"));
  const sizes = api.calls.signFiles.map((batch) => batch.length);
  assert.ok(sizes.length <= 20, `300 files signed in ${sizes.length} requests: ${sizes}`);
  assert.deepEqual(api.calls.sign.sort(), [...all].sort(), "each file signed once");
});
