// @ts-check
/**
 * This file owns the parts of a multipart upload: where each part lies in the file,
 * the pool that keeps `concurrency` parts in flight, and the lazy batch signing of
 * their URLs. One part's PUT and its retries are put.js's.
 */

/**
 * One entry of a "sign-parts" result: the signed PUT of a part and the bytes it must carry.
 * @typedef {import("./put.js").SignedRequest & {part_number: number, length: number}} SignedPart
 */

/**
 * The result of a "sign-parts" request (see _protocol.py).
 * @typedef {{parts: SignedPart[]}} SignedParts
 */

/** @typedef {(partNumbers: number[]) => Promise<SignedParts>} SignParts */

/** @typedef {import("./put.js").PutJob & {partNumber: number}} PartJob  a part's PUT */

/**
 * Byte range [start, end) of a part (1-based), clipped to the file size.
 * @param {number} size
 * @param {number} partSize
 * @param {number} partNumber
 * @returns {[number, number]}
 */
export function partBounds(size, partSize, partNumber) {
  const start = (partNumber - 1) * partSize;
  return [Math.min(start, size), Math.min(start + partSize, size)];
}

/**
 * Run `runPart(n)` for each n of `numbers` (default 1..partCount), in that order, with at
 * most `concurrency` running at once. Rejects with the first failure (without waiting
 * for the parts still running: the caller aborts them); `shouldStop()` keeps the
 * workers from starting new parts once the file is stopped or paused.
 * @param {{partCount: number, numbers?: number[], concurrency: number,
 *          runPart: (n: number) => Promise<void>, shouldStop?: () => boolean}} options
 * @returns {Promise<void>}
 */
export async function runParts({ partCount, numbers = allParts(partCount), concurrency, runPart,
  shouldStop = () => false }) {
  let next = 0;
  let failed = false; // set at once, before the caller hears of the failure
  const worker = async () => {
    while (next < numbers.length && !failed && !shouldStop()) {
      const n = numbers[next++];
      try {
        await runPart(n);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, numbers.length));
  await Promise.all(Array.from({ length: workers }, worker));
}

/** @param {number} partCount @returns {number[]} 1..partCount */
function allParts(partCount) {
  return Array.from({ length: partCount }, (_, i) => i + 1);
}

/**
 * Upload every part of a multipart upload: `concurrency` parts in flight, URLs
 * signed lazily in batches, each part sliced right before it is sent (the file is
 * never read as a whole). `putPart` does one part's retries; a part that
 * succeeded is never sent again: its ETag goes into `stored`, and a part already there
 * (stored before a pause) is neither signed nor sent.
 * @param {object} options
 * @param {Blob} options.blob
 * @param {number} options.partSize
 * @param {number} options.partCount
 * @param {number} options.concurrency
 * @param {number} options.batchSize
 * @param {SignParts} options.signParts   one "sign-parts" request
 * @param {(job: PartJob) => Promise<string>} options.putPart  -> ETag
 * @param {(partNumber: number, length: number) => void} options.partDone
 * @param {() => boolean} options.shouldStop
 * @param {Map<number, string>} [options.stored]  ETags of the parts S3 holds, by part number
 * @returns {Promise<{part_number: number, etag: string}[]>} in part order
 */
export async function uploadParts({ blob, partSize, partCount, concurrency, batchSize, signParts, putPart,
  partDone, shouldStop, stored = new Map() }) {
  const fits = (partCount - 1) * partSize < Math.max(blob.size, 1) && partCount * partSize >= blob.size;
  if (!(partSize > 0 && partCount >= 1 && fits)) {
    throw new Error(`Bad multipart plan for ${blob.size} bytes: ${partCount} parts of ${partSize}.`);
  }
  const numbers = allParts(partCount).filter((n) => !stored.has(n));
  const signer = new PartSigner({ signParts, partCount, batchSize, numbers });
  /** @param {number} n */
  const runPart = async (n) => {
    const signed = await signer.get(n);
    if (shouldStop()) return;
    const [start, end] = partBounds(blob.size, partSize, n);
    if (signed.length !== end - start) {
      throw new Error(`Part ${n} was signed for ${signed.length} bytes but has ${end - start}.`);
    }
    const etag = await putPart({
      partNumber: n, length: end - start, body: () => blob.slice(start, end), signed,
      resign: () => signer.resign(n),
    });
    stored.set(n, etag);
    signer.release(n);
    partDone(n, end - start);
  };
  await runParts({ partCount, numbers, concurrency, runPart, shouldStop });
  return allParts(partCount).map((n) => ({ part_number: n, etag: stored.get(n) ?? "" }));
}

/**
 * Signs part URLs in small batches just before they are needed, because URLs
 * expire: never all up front. Parts are taken in the order of `numbers` (those not yet
 * stored), so the signed parts are always a prefix of it and one counter tracks them.
 *
 * When part n is taken and fewer than half a batch is signed beyond it, the next
 * batch is requested in the background, so that the kernel round trip overlaps
 * the parts in flight instead of stalling the pipeline. At most about
 * 1.5 batches are signed ahead of the part being started.
 */
export class PartSigner {
  /**
   * @param {{signParts: SignParts, partCount: number, batchSize: number, numbers?: number[]}} options
   */
  constructor({ signParts, partCount, batchSize, numbers = allParts(partCount) }) {
    this.signParts = signParts;
    this.partCount = partCount;
    this.batchSize = Math.max(1, Math.floor(batchSize));
    this.order = numbers;
    /** @type {Map<number, number>} part number -> its place in `order` */
    this.place = new Map(numbers.map((n, i) => [n, i]));
    this.frontier = 0; // order[0..frontier-1] are signed
    /** @type {Map<number, Promise<SignedPart>>} */
    this.signed = new Map();
  }

  /**
   * The signed request for part n (signing it, and maybe the next batch, if needed).
   * @param {number} n
   * @returns {Promise<SignedPart>}
   */
  get(n) {
    if (!(n >= 1 && n <= this.partCount)) throw new RangeError(`No part ${n} in 1..${this.partCount}.`);
    const at = this.place.get(n);
    if (at === undefined) throw new Error(`Part ${n} is stored already.`);
    // The very first part is signed alone: its bytes can leave while the rest of the first
    // round is still being hashed (on a link one connection can fill, that is the whole
    // head start; the next batch is asked for at once, below).
    while (this.frontier <= at) this._requestBatch(this.frontier === 0 ? 1 : this.batchSize);
    const ahead = this.frontier - 1 - at;
    if (ahead < Math.ceil(this.batchSize / 2) && this.frontier < this.order.length) this._requestBatch();
    const signed = this.signed.get(n);
    if (!signed) throw new Error(`Part ${n} was taken after it was stored.`);
    return signed;
  }

  /**
   * Sign part n again (its URL expired).
   * @param {number} n
   * @returns {Promise<SignedPart>}
   */
  resign(n) {
    const entry = this._track(this.signParts([n]).then((result) => pick(result, n)));
    this.signed.set(n, entry);
    return entry;
  }

  /**
   * Forget part n's URL once the part is stored.
   * @param {number} n
   */
  release(n) {
    this.signed.delete(n);
  }

  /** @param {number} [size] */
  _requestBatch(size = this.batchSize) {
    const numbers = this.order.slice(this.frontier, this.frontier + size);
    this.frontier += numbers.length;
    const batch = this.signParts(numbers);
    for (const n of numbers) this.signed.set(n, this._track(batch.then((result) => pick(result, n))));
  }

  /**
   * A batch signed ahead may fail while no part awaits it yet; mark the promise
   * handled so that is not an "unhandled rejection". Whoever awaits it still sees the error.
   * @template T
   * @param {Promise<T>} promise
   */
  _track(promise) {
    promise.catch(() => {});
    return promise;
  }
}

/**
 * @param {SignedParts} result
 * @param {number} n
 * @returns {SignedPart}
 */
function pick(result, n) {
  const part = result.parts.find((p) => p.part_number === n);
  if (!part) throw new Error(`The kernel's "sign-parts" answer has no URL for part ${n}.`);
  return part;
}
