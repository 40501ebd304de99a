import { test } from "node:test";
import assert from "node:assert/strict";
import { PartSigner, partBounds, runParts, uploadParts } from "../src/multipart.js";
import { blobOf, signedPart, tick } from "./engine-fakes.js";

test("partBounds slices parts and clips the last one", () => {
  assert.deepEqual(partBounds(25, 10, 1), [0, 10]);
  assert.deepEqual(partBounds(25, 10, 3), [20, 25]);
  assert.deepEqual(partBounds(20, 10, 2), [10, 20]);
  assert.deepEqual(partBounds(0, 10, 1), [0, 0]);
});

test("runParts runs every part once, in order, with the given concurrency", async () => {
  const started = [];
  let inFlight = 0;
  let maxInFlight = 0;
  await runParts({
    partCount: 7,
    concurrency: 3,
    runPart: async (n) => {
      started.push(n);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      for (let i = 0; i < n % 3 + 1; i++) await tick();
      inFlight--;
    },
  });
  assert.deepEqual(started, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(maxInFlight, 3);
});

test("runParts rejects with the first failure and starts no part after it", async () => {
  const started = [];
  const run = runParts({
    partCount: 10,
    concurrency: 2,
    runPart: async (n) => {
      started.push(n);
      await tick();
      if (n === 2) throw new Error("part 2 broke");
      await tick();
    },
  });
  await assert.rejects(run, /part 2 broke/);
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(started, [1, 2]);
});

test("runParts starts nothing more once shouldStop() holds", async () => {
  const started = [];
  let stop = false;
  await runParts({
    partCount: 10,
    concurrency: 2,
    shouldStop: () => stop,
    runPart: async (n) => {
      started.push(n);
      if (n === 3) stop = true;
      await tick();
    },
  });
  assert.deepEqual(started, [1, 2, 3]);
});

test("PartSigner signs in batches just ahead of use, never everything", async () => {
  const requests = [];
  const signer = new PartSigner({
    partCount: 10,
    batchSize: 4,
    signParts: async (numbers) => {
      requests.push(numbers);
      return { parts: numbers.map((n) => signedPart(n, `u${n}`)) };
    },
  });
  // The first part alone, so its bytes can leave while the next batch is hashed and signed.
  assert.equal((await signer.get(1)).url, "u1");
  assert.deepEqual(requests, [[1], [2, 3, 4, 5]]);
  await signer.get(2);
  await signer.get(3);
  assert.equal(requests.length, 2, "2 parts still signed ahead");
  await signer.get(4); // one left ahead: fetch the next batch now
  assert.deepEqual(requests, [[1], [2, 3, 4, 5], [6, 7, 8, 9]]);
  for (const n of [5, 6, 7]) await signer.get(n);
  assert.equal(requests.length, 3);
  await signer.get(8);
  assert.deepEqual(requests.at(-1), [10]);
  await signer.get(10);
  assert.equal(requests.length, 4);
  assert.throws(() => signer.get(11), RangeError);
});

test("PartSigner re-signs one part, and reports a part missing from the answer", async () => {
  let version = 0;
  const signer = new PartSigner({
    partCount: 3,
    batchSize: 3,
    signParts: async (numbers) => ({
      parts: numbers.filter((n) => n !== 2).map((n) => signedPart(n, `v${++version}`)),
    }),
  });
  const first = await signer.get(1);
  const again = await signer.resign(1);
  assert.notEqual(first.url, again.url);
  assert.equal((await signer.get(1)).url, again.url);
  await assert.rejects(signer.get(2), /no URL for part 2/);
});

test("a batch signed ahead that fails is not an unhandled rejection", async () => {
  const signer = new PartSigner({
    partCount: 4,
    batchSize: 1,
    signParts: async (numbers) => {
      if (numbers[0] === 2) throw new Error("refused");
      return { parts: numbers.map((n) => signedPart(n, "u")) };
    },
  });
  await signer.get(1); // prefetches part 2, which fails with nobody waiting
  await tick();
  await assert.rejects(signer.get(2), /refused/);
});

test("uploadParts refuses a plan that does not fit the file", async () => {
  const options = { concurrency: 2, batchSize: 2, signParts: async () => ({ parts: [] }), putPart: async () => "e",
    partDone: () => {}, shouldStop: () => false };
  await assert.rejects(uploadParts({ ...options, blob: blobOf(100), partSize: 10, partCount: 5 }), /Bad multipart plan/);
  await assert.rejects(uploadParts({ ...options, blob: blobOf(100), partSize: 10, partCount: 12 }), /Bad multipart plan/);
  await assert.rejects(uploadParts({ ...options, blob: blobOf(100), partSize: 0, partCount: 1 }), /Bad multipart plan/);
});

test("uploadParts refuses a part signed for another length", async () => {
  await assert.rejects(uploadParts({
    blob: blobOf(25), partSize: 10, partCount: 3, concurrency: 1, batchSize: 3,
    signParts: async (numbers) => ({ parts: numbers.map((n) => signedPart(n, "u", 10)) }),
    putPart: async () => "e", partDone: () => {}, shouldStop: () => false,
  }), /Part 3 was signed for 10 bytes but has 5/);
});
