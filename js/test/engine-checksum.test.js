// Checksums: the engine computes each body's CRC32C before asking the kernel to sign it,
// so that S3 can refuse bytes that changed on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32cOfBlob } from "../src/checksum.js";
import { FakeTransport, fakeApi, makeEngine, multipartPlan } from "./engine-fakes.js";

/** Seeded bytes: a part sent in the wrong place would not have the same CRC. */
function blobOfRandom(size, seed = 1) {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return new Blob([bytes]);
}

/** fakeApi whose signFiles / signParts also record the checksums they were given. */
function recordingApi(options) {
  const api = fakeApi(options);
  const seen = { files: [], parts: [] };
  const { signFiles, signParts, sign } = api;
  api.signFiles = (ids, checksums) => {
    seen.files.push(checksums);
    return signFiles(ids);
  };
  api.signParts = (id, numbers, checksums) => {
    seen.parts.push({ numbers: [...numbers], checksums });
    return signParts(id, numbers);
  };
  api.sign = (id, checksum) => {
    seen.resign = checksum;
    return sign(id);
  };
  return { api, seen };
}

test("a single PUT is signed with the file's CRC32C", async () => {
  const transport = new FakeTransport();
  const { api, seen } = recordingApi({ transport });
  const engine = makeEngine({ api, transport, checksum: "CRC32C", multipartThreshold: 1000 });
  const blob = blobOfRandom(300);
  engine.add("u1", blob);
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.deepEqual(seen.files, [{ u1: await crc32cOfBlob(blob) }]);
});

test("with checksums off, or for a file that goes multipart, no whole-file CRC is computed", async () => {
  for (const options of [{ checksum: null, multipartThreshold: 1000 }, { checksum: "CRC32C", multipartThreshold: 100 }]) {
    const transport = new FakeTransport();
    const { api, seen } = recordingApi({ transport, plans: { u1: multipartPlan(300, 100) } });
    const engine = makeEngine({ api, transport, ...options });
    engine.add("u1", blobOfRandom(300));
    await engine.whenIdle();
    assert.deepEqual(seen.files, [undefined], JSON.stringify(options));
  }
});

test("each part is signed with its own CRC32C when the plan asks for checksums", async () => {
  const size = 250;
  const blob = blobOfRandom(size, 7);
  const transport = new FakeTransport();
  // The same object multipartPlan made: fakeApi finds the file size by it.
  const plan = Object.assign(multipartPlan(size, 100), { checksum: "CRC32C" });
  const { api, seen } = recordingApi({ transport, plans: { u1: plan } });
  const engine = makeEngine({ api, transport, concurrency: 2, checksum: "CRC32C", multipartThreshold: 100 });
  engine.add("u1", blob);
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  const expected = {
    1: await crc32cOfBlob(blob.slice(0, 100)),
    2: await crc32cOfBlob(blob.slice(100, 200)),
    3: await crc32cOfBlob(blob.slice(200, 250)),
  };
  assert.ok(seen.parts.length >= 1);
  for (const { numbers, checksums } of seen.parts) {
    assert.deepEqual(checksums, numbers.map((n) => expected[n]));
  }
  assert.deepEqual(seen.parts.flatMap((p) => p.numbers).sort(), [1, 2, 3]);
});

test("a single PUT whose URL expired is signed again with the same CRC32C", async () => {
  let first = true;
  const transport = new FakeTransport(() => {
    if (!first) return undefined;
    first = false;
    return { status: 403, etag: null, body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>" };
  });
  const { api, seen } = recordingApi({ transport });
  const engine = makeEngine({ api, transport, checksum: "CRC32C", multipartThreshold: 1000 });
  const blob = blobOfRandom(50, 3);
  engine.add("u1", blob);
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  assert.equal(seen.resign, await crc32cOfBlob(blob));
});
