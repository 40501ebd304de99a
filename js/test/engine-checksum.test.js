// Checksums: the engine computes each body's CRC32C before asking the kernel to sign it,
// so that S3 can refuse bytes that changed on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32cOfBlob, wholeFileSums } from "../src/checksum.js";
import { FORM_POST_MAX_BYTES } from "../src/protocol.js";
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
  api.signFiles = (ids, checksums, md5s) => {
    seen.files.push(checksums);
    seen.md5s = [...(seen.md5s ?? []), md5s];
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

test("a file below FORM_POST_MAX_BYTES is signed with its MD5 too (a form POST's Content-MD5)", async () => {
  const transport = new FakeTransport();
  const { api, seen } = recordingApi({ transport });
  const threshold = FORM_POST_MAX_BYTES + 100;
  const engine = makeEngine({ api, transport, checksum: "CRC32C", multipartThreshold: threshold });
  const small = blobOfRandom(FORM_POST_MAX_BYTES - 1, 2);
  const large = blobOfRandom(FORM_POST_MAX_BYTES, 3);
  engine.add("small", small);
  await engine.whenIdle();
  engine.add("large", large);
  await engine.whenIdle();
  const { md5 } = await wholeFileSums(small);
  assert.match(md5, /^[A-Za-z0-9+/]{22}==$/);
  assert.deepEqual(seen.md5s, [{ small: md5 }, undefined]);
  assert.deepEqual(seen.files, [{ small: await crc32cOfBlob(small) }, { large: await crc32cOfBlob(large) }]);
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

/**
 * A multipart file whose reads are logged (a File's slice), with "sign-files" marking
 * where in that log it was asked: run with or without add-files' first_part.
 */
async function runLoggingReads(firstPart) {
  const size = 250;
  const real = blobOfRandom(size, 9);
  const reads = [];
  const blob = { size, slice: (start, end) => (reads.push(`${start}-${end}`), real.slice(start, end)) };
  const transport = new FakeTransport();
  const plan = Object.assign(multipartPlan(size, 100), { checksum: "CRC32C" });
  const { api, seen } = recordingApi({ transport, plans: { u1: plan } });
  const { signFiles } = api;
  api.signFiles = (...args) => (reads.push("sign-files"), signFiles(...args));
  const engine = makeEngine({ api, transport, concurrency: 2, checksum: "CRC32C", multipartThreshold: 100 });
  engine.add("u1", /** @type {Blob} */ (/** @type {unknown} */ (blob)), firstPart);
  await engine.whenIdle();
  assert.equal(engine.state("u1").status, "done");
  const part1 = seen.parts.find((p) => p.numbers.includes(1));
  assert.equal(part1.checksums[part1.numbers.indexOf(1)], await crc32cOfBlob(real.slice(0, 100)));
  return reads;
}

test("add-files' first_part is hashed before sign-files is answered, and not hashed again", async () => {
  const reads = await runLoggingReads({ offset: 0, length: 100 });
  assert.ok(reads.indexOf("0-100") < reads.indexOf("sign-files"), reads.join(" "));
  assert.equal(reads.filter((r) => r === "0-100").length, 2, reads.join(" ")); // its hash, its PUT body
  // Without the hint, part 1 is read only once the plan is back.
  const plain = await runLoggingReads(null);
  assert.ok(plain.indexOf("0-100") > plain.indexOf("sign-files"), plain.join(" "));
  assert.equal(plain.filter((r) => r === "0-100").length, 2, plain.join(" "));
});

test("a first_part that is not the plan's part 1 goes unused: part 1 is hashed from its own bytes", async () => {
  const reads = await runLoggingReads({ offset: 0, length: 120 }); // the options changed before signing
  assert.ok(reads.indexOf("0-120") < reads.indexOf("sign-files"), reads.join(" "));
  assert.equal(reads.filter((r) => r === "0-100").length, 2, reads.join(" "));
});
