// Pause and resume: a paused file stops its requests, keeps what S3 stored, and sends
// only the rest when it resumes; the kernel hears of it only when no request is out.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  FakeTransport, ManualTransport, blobOf, fakeApi, makeEngine, multipartPlan, partOf, tick, waitFor,
} from "./engine-fakes.js";

const ok = (request) => ({ status: 200, etag: `"etag-${request.url}"`, body: "" });

test("a multipart file paused mid-way sends only the missing parts when it resumes", async () => {
  const size = 95; // 10 parts
  const transport = new ManualTransport();
  const api = fakeApi({ plans: { u1: multipartPlan(size, 10) }, transport });
  const engine = makeEngine({ api, transport, concurrency: 2 });
  engine.add("u1", blobOf(size));
  await waitFor(() => transport.pending.length === 2, "two parts in flight");
  // Part 1 is stored; part 2 is still moving when the file pauses.
  const [first, second] = transport.pending;
  first.resolve(ok(first.request));
  await waitFor(() => transport.pending.length === 3, "part 3 started");
  assert.equal(engine.pause("u1"), true);
  await waitFor(() => api.calls.pause.length === 1, "the kernel hears of the pause");
  assert.equal(second.request.signal.aborted, true, "the part in flight is aborted");
  assert.equal(engine.state("u1").status, "paused");
  assert.deepEqual(api.calls.pause, ["u1"]);
  const putsBefore = transport.puts.length;
  await tick();
  assert.equal(transport.puts.length, putsBefore, "nothing is sent while paused");
  assert.equal(engine.totals().paused, 1);

  assert.equal(engine.resume("u1"), true);
  assert.deepEqual(api.calls.resume, ["u1"]);
  for (let answered = 0; answered < 9; answered++) {
    await waitFor(() => transport.pending.length > 3 + answered, "the next part");
    const entry = transport.pending[3 + answered];
    entry.resolve(ok(entry.request));
  }
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  const resent = transport.puts.slice(putsBefore).map((put) => partOf(put.url));
  assert.deepEqual(resent.sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10], "part 1 is not sent again");
  const signedAfter = api.calls.signParts.slice(-5).flatMap((batch) => batch.partNumbers);
  assert.ok(!signedAfter.includes(1), "a stored part is not signed again");
  const { parts } = api.calls.complete[0].payload;
  assert.deepEqual(parts.map((p) => p.part_number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.match(parts[0].etag, /\/part\/1\?v=1/, "part 1 completes with the ETag of its only PUT");
});

test("a queued file paused before it starts is never signed until it resumes", async () => {
  const transport = new FakeTransport();
  const api = fakeApi({ transport });
  // One file moving and one signed ahead at most: u3 stays queued.
  const engine = makeEngine({ api, transport, parallelFiles: 1, batchSize: 1 });
  for (const id of ["u1", "u2", "u3"]) engine.add(id, blobOf(10));
  assert.equal(engine.state("u3").status, "queued");
  assert.equal(engine.pause("u3"), true);
  assert.deepEqual(api.calls.pause, ["u3"], "a queued file is held at once");
  await waitFor(() => engine.state("u2").status === "done", "u2 done");
  await tick();
  assert.deepEqual(api.calls.sign, ["u1", "u2"], "u3 waits unsigned");
  assert.equal(engine.state("u3").status, "paused");
  engine.resume("u3");
  await engine.whenIdle();
  assert.equal(engine.state("u3").status, "done");
  assert.deepEqual(api.calls.sign, ["u1", "u2", "u3"], "signed once, after it resumed");
  assert.equal(transport.puts.filter((put) => put.url.includes("/u3")).length, 1);
});

test("a single PUT paused in flight starts again on resume", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport });
  engine.add("u1", blobOf(10));
  await waitFor(() => transport.pending.length === 1, "the PUT");
  engine.pause("u1");
  await waitFor(() => api.calls.pause.length === 1, "pause reaches the kernel");
  assert.equal(transport.pending[0].request.signal.aborted, true);
  engine.resume("u1");
  await waitFor(() => transport.pending.length === 2, "the PUT again");
  transport.pending[1].resolve(ok(transport.pending[1].request));
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(api.calls.complete.length, 1);
});

test("paused and resumed at once, before its aborted PUT settled: it goes again, no error", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 2 });
  for (const id of ["a", "b"]) engine.add(id, blobOf(10));
  await waitFor(() => transport.pending.length === 2, "two PUTs");
  assert.equal(engine.setAllPaused(true), 2);
  assert.equal(engine.setAllPaused(false), 2); // in the same task: no abort has settled yet
  await waitFor(() => transport.pending.length === 4, "both PUTs again");
  for (const pending of transport.pending.slice(2)) pending.resolve(ok(pending.request));
  await engine.whenIdle();
  assert.deepEqual(["a", "b"].map((id) => engine.state(id).status), ["done", "done"]);
  assert.deepEqual(api.calls.fail, []);
  assert.deepEqual(api.calls.pause, [], "the kernel never heard of a pause that no request outlived");
});

test("a file completing, or ended, cannot pause; an unknown or running file cannot resume", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport, overrides: {} });
  let release;
  api.complete = async (id) => {
    await new Promise((resolve) => { release = resolve; });
    return { record: { id, status: "done" } };
  };
  const engine = makeEngine({ api, transport });
  engine.add("u1", blobOf(10));
  await waitFor(() => transport.pending.length === 1, "the PUT");
  assert.equal(engine.resume("u1"), false, "not paused");
  transport.pending[0].resolve(ok(transport.pending[0].request));
  await waitFor(() => engine.state("u1").status === "completing", "completing");
  assert.equal(engine.pause("u1"), false);
  await waitFor(() => typeof release === "function", "complete sent");
  release();
  await engine.whenIdle();
  assert.equal(engine.pause("u1"), false);
  assert.equal(engine.pause("nobody"), false);
  assert.deepEqual(api.calls.pause, []);
});

test("setAllPaused pauses every file that can, and resumes them in order", async () => {
  const transport = new ManualTransport();
  const api = fakeApi({ transport });
  const engine = makeEngine({ api, transport, parallelFiles: 2 });
  for (const id of ["a", "b", "c", "d"]) engine.add(id, blobOf(10));
  await waitFor(() => transport.pending.length === 2, "two PUTs");
  assert.equal(engine.setAllPaused(true), 4);
  await waitFor(() => api.calls.pause.length === 4, "every pause heard");
  assert.equal(engine.totals().paused, 4);
  assert.equal(engine.setAllPaused(false), 4);
  for (let i = 2; i < 6; i++) {
    await waitFor(() => transport.pending.length > i, `PUT ${i}`);
    transport.pending[i].resolve(ok(transport.pending[i].request));
  }
  await engine.whenIdle();
  assert.deepEqual(["a", "b", "c", "d"].map((id) => engine.state(id).status), ["done", "done", "done", "done"]);
  assert.equal(engine.totals().paused, 0);
});

test("a file paused while its sign-files is out is held when the answer comes", async () => {
  const transport = new FakeTransport();
  let answer;
  const api = fakeApi({ transport });
  const realSignFiles = api.signFiles;
  api.signFiles = (ids) => new Promise((resolve) => { answer = () => resolve(realSignFiles(ids)); });
  const engine = makeEngine({ api, transport });
  engine.add("u1", blobOf(10));
  await waitFor(() => typeof answer === "function", "sign-files out");
  engine.pause("u1");
  assert.deepEqual(api.calls.pause, [], "not while its sign-files is out");
  answer();
  await waitFor(() => api.calls.pause.length === 1, "held after the answer");
  assert.equal(transport.puts.length, 0, "a held file sends nothing");
  engine.resume("u1");
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(transport.puts.length, 1);
});
