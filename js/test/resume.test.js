// Resume after a page reload (resume.js): a picked file that "add-files" answered with
// `resume` is hashed where the kernel said, "adopt" goes with that CRC32C, and an
// adopted file sends only the parts S3 does not hold; another file gets a fresh upload.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeTransport, fakeApi, makeEngine, multipartPlan, partOf } from "./engine-fakes.js";
import { adoptFile, resumeUpload } from "../src/resume.js";
import { crc32cOfBlob } from "../src/checksum.js";

const SIZE = 95; // parts of 10: 10 parts, the last of 5
const bytes = Uint8Array.from({ length: SIZE }, (_, i) => (i * 7 + 3) % 251);
const blob = () => new Blob([bytes]);

function setup() {
  const transport = new FakeTransport();
  const plan = Object.assign(multipartPlan(SIZE, 10), { checksum: "CRC32C" }); // parts carry their CRC32C
  const api = fakeApi({ plans: { u1: plan, u2: multipartPlan(SIZE, 10) }, transport });
  api.calls.adopt = [];
  const engine = makeEngine({ api, transport, concurrency: 2 });
  return { transport, plan, api, engine };
}

const stored = [3, 4, 7].map((n) => ({ part_number: n, etag: `"s3-${n}"` }));

test("an adopted file signs and sends only the parts S3 lacks, and completes with every ETag", async () => {
  const { transport, plan, api, engine } = setup();
  assert.equal(adoptFile(engine, "u1", blob(), plan, stored), true);
  const state = engine.state("u1");
  assert.equal(state.partsDone, 3);
  assert.equal(state.loaded, 30, "the stored parts count as loaded");
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.deepEqual(api.calls.sign, [], "no sign-files: the kernel gave the plan");
  const sent = transport.puts.map((put) => partOf(put.url)).sort((a, b) => a - b);
  assert.deepEqual(sent, [1, 2, 5, 6, 8, 9, 10]);
  const signed = api.calls.signParts.flatMap((batch) => batch.partNumbers);
  assert.ok(!signed.some((n) => [3, 4, 7].includes(n)), `stored parts signed again: ${signed}`);
  const { parts } = api.calls.complete[0].payload;
  assert.deepEqual(parts.map((p) => p.part_number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(parts[3].etag, '"s3-4"', "a stored part completes with S3's ETag");
  assert.equal(engine.state("u1").loaded, SIZE);
});

test("resumeUpload hashes exactly the part the kernel named and adopts on a match", async () => {
  const { transport, plan, api, engine } = setup();
  const expected = await crc32cOfBlob(new Blob([bytes.slice(20, 30)]));
  api.adopt = async (id, checksum) => {
    api.calls.adopt.push({ id, checksum });
    return { adopted: true, plan, parts: stored };
  };
  const outcome = await resumeUpload(engine, api, "u1", { part_number: 3, offset: 20, length: 10 }, blob());
  assert.equal(outcome, "adopted");
  assert.deepEqual(api.calls.adopt, [{ id: "u1", checksum: expected }]);
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(transport.puts.length, 7);
  // The same file picked again while it uploads: nothing happens.
  assert.equal(await resumeUpload(engine, api, "u1", { part_number: 3, offset: 20, length: 10 }, blob()), "skipped");
  assert.equal(api.calls.adopt.length, 1);
});

test("another file of that name is uploaded anew under the kernel's new record", async () => {
  const { transport, api, engine } = setup();
  api.adopt = async (id, checksum) => {
    api.calls.adopt.push({ id, checksum });
    return { adopted: false, record: { id: "u2", status: "queued" } };
  };
  const outcome = await resumeUpload(engine, api, "u1", { part_number: 1, offset: 0, length: 10 }, blob());
  assert.equal(outcome, "new");
  await engine.whenIdle();
  assert.equal(engine.state("u1"), undefined, "the interrupted upload is not touched");
  assert.equal(engine.state("u2").status, "done");
  assert.deepEqual(api.calls.sign, ["u2"]);
  assert.equal(transport.puts.length, 10, "every part of the new upload is sent");
});

test("a refusal of the new record uploads nothing", async () => {
  const { transport, api, engine } = setup();
  api.adopt = async () => ({ adopted: false, record: { id: "u2", status: "error" } });
  assert.equal(await resumeUpload(engine, api, "u1", { part_number: 1, offset: 0, length: 10 }, blob()), "skipped");
  await engine.whenIdle();
  assert.equal(transport.puts.length, 0);
});
