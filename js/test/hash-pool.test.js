import { test } from "node:test";
import assert from "node:assert/strict";
import { HashPool } from "../src/hash-pool.js";
import { crc32cOfBlob } from "../src/checksum.js";

const blobs = Array.from({ length: 6 }, (_, i) => new Blob([new Uint8Array(1000 + i).fill(i + 1)]));

/** A fake Web Worker that hashes like hash-worker.js, a turn later; counts what it does. */
function fakeWorkers({ failOn = -1 } = {}) {
  const made = [];
  let busy = 0;
  let mostBusy = 0;
  const makeWorker = () => {
    const worker = {
      onmessage: null,
      onerror: null,
      terminated: false,
      jobs: 0,
      postMessage({ id, blob }) {
        busy++;
        mostBusy = Math.max(mostBusy, busy);
        const job = worker.jobs++;
        setImmediate(async () => {
          busy--;
          if (made.indexOf(worker) === failOn && job === 0) return worker.onerror?.(new Error("boom"));
          worker.onmessage?.({ data: { id, sum: await crc32cOfBlob(blob) } });
        });
      },
      terminate() {
        worker.terminated = true;
      },
    };
    made.push(worker);
    return worker;
  };
  return { makeWorker, made, mostBusy: () => mostBusy };
}

const expected = await Promise.all(blobs.map((b) => crc32cOfBlob(b)));

test("parts are hashed in at most `size` workers at once, each answer for its own part", async () => {
  const fake = fakeWorkers();
  const pool = new HashPool({ makeWorker: fake.makeWorker, size: 2, fallback: () => Promise.reject(new Error("main thread used")) });
  assert.deepEqual(await Promise.all(blobs.map((b) => pool.hash(b))), expected);
  assert.equal(fake.made.length, 2);
  assert.equal(fake.mostBusy(), 2);
  assert.deepEqual(fake.made.map((w) => w.jobs), [3, 3]);
  pool.close();
  assert.ok(fake.made.every((w) => w.terminated));
});

test("where no worker can start, the main thread hashes: same sums", async () => {
  let mainThread = 0;
  const pool = new HashPool({
    makeWorker: () => {
      throw new Error("blob: workers are refused by this page's CSP");
    },
    fallback: (blob) => (mainThread++, crc32cOfBlob(blob)),
  });
  assert.deepEqual(await Promise.all(blobs.map((b) => pool.hash(b))), expected);
  assert.equal(mainThread, blobs.length);
  assert.equal(pool.broken, true);
});

test("a worker that fails hands its part and every later one to the main thread", async () => {
  const fake = fakeWorkers({ failOn: 0 });
  let mainThread = 0;
  const pool = new HashPool({ makeWorker: fake.makeWorker, size: 1, fallback: (blob) => (mainThread++, crc32cOfBlob(blob)) });
  assert.deepEqual(await Promise.all(blobs.map((b) => pool.hash(b))), expected);
  assert.equal(mainThread, blobs.length);
  assert.equal(fake.made[0].terminated, true);
  assert.deepEqual(await pool.hash(blobs[0]), expected[0]);
  assert.equal(mainThread, blobs.length + 1);
});

test("warm() starts every worker before any part, so the first parts start none", async () => {
  const fake = fakeWorkers();
  const pool = new HashPool({ makeWorker: fake.makeWorker, size: 3, fallback: () => Promise.reject(new Error("main thread used")) });
  pool.warm();
  assert.equal(fake.made.length, 3);
  assert.deepEqual(fake.made.map((w) => w.jobs), [1, 1, 1]);
  pool.warm(); // warm already: nothing more starts
  assert.equal(fake.made.length, 3);
  assert.deepEqual(await Promise.all(blobs.map((b) => pool.hash(b))), expected);
  assert.equal(fake.made.length, 3);
  assert.deepEqual(fake.made.map((w) => w.jobs), [3, 3, 3]);
  pool.close();
});

test("warm() where no worker can start raises nothing, and the main thread hashes", async () => {
  let mainThread = 0;
  const pool = new HashPool({
    makeWorker: () => {
      throw new Error("blob: workers are refused by this page's CSP");
    },
    fallback: (blob) => (mainThread++, crc32cOfBlob(blob)),
  });
  pool.warm();
  assert.equal(pool.broken, true);
  assert.deepEqual(await pool.hash(blobs[0]), expected[0]);
  assert.equal(mainThread, 1);
});

test("a part asked for while the warm-up hashes waits for a warm worker, not a new one", async () => {
  const fake = fakeWorkers();
  const pool = new HashPool({ makeWorker: fake.makeWorker, size: 1, fallback: () => Promise.reject(new Error("main thread used")) });
  pool.warm();
  assert.equal(await pool.hash(blobs[1]), expected[1]);
  assert.equal(fake.made.length, 1);
  assert.equal(fake.made[0].jobs, 2);
});
