// @ts-check
/**
 * Multipart helpers: where each part lies in the file, a pool that keeps
 * `concurrency` parts in flight, and lazy batch signing of part URLs.
 */

/**
 * @typedef {object} SignedPart  one entry of a "sign-parts" result
 * @property {number} part_number
 * @property {number} [length]
 * @property {string} [method]
 * @property {string} url
 * @property {Record<string, string>} [headers]
 */

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
 * Run `runPart(n)` for n = 1..partCount, in order of n, with at most
 * `concurrency` running at once. Rejects with the first failure (without waiting
 * for the parts still running: the caller aborts them); `shouldStop()` keeps the
 * workers from starting new parts once the file is stopped.
 * @param {{partCount: number, concurrency: number, runPart: (n: number) => Promise<void>,
 *          shouldStop?: () => boolean}} options
 * @returns {Promise<void>}
 */
export async function runParts({ partCount, concurrency, runPart, shouldStop = () => false }) {
  let next = 1;
  let failed = false; // set at once, before the caller hears of the failure
  const worker = async () => {
    while (next <= partCount && !failed && !shouldStop()) {
      const n = next++;
      try {
        await runPart(n);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, partCount));
  await Promise.all(Array.from({ length: workers }, worker));
}

/**
 * Upload every part of a multipart upload: `concurrency` parts in flight, URLs
 * signed lazily in batches, each part sliced right before it is sent (the file is
 * never read as a whole). `putPart` does one part's retries; a part that
 * succeeded is never sent again.
 * @param {object} options
 * @param {Blob} options.blob
 * @param {number} options.partSize
 * @param {number} options.partCount
 * @param {number} options.concurrency
 * @param {number} options.batchSize
 * @param {(partNumbers: number[]) => Promise<SignedPart[]>} options.signParts
 * @param {(job: import("./retry.js").PutJob) => Promise<string>} options.putPart  -> ETag
 * @param {(partNumber: number, length: number) => void} options.partDone
 * @param {() => boolean} options.shouldStop
 * @returns {Promise<{part_number: number, etag: string}[]>} in part order
 */
export async function uploadParts({ blob, partSize, partCount, concurrency, batchSize, signParts, putPart,
  partDone, shouldStop }) {
  const fits = (partCount - 1) * partSize < Math.max(blob.size, 1) && partCount * partSize >= blob.size;
  if (!(partSize > 0 && partCount >= 1 && fits)) {
    throw new Error(`Bad multipart plan for ${blob.size} bytes: ${partCount} parts of ${partSize}.`);
  }
  const signer = new PartSigner({ signParts, partCount, batchSize });
  const etags = new Array(partCount);
  const runPart = async (n) => {
    const signed = await signer.get(n);
    if (shouldStop()) return;
    const [start, end] = partBounds(blob.size, partSize, n);
    if (signed.length != null && signed.length !== end - start) {
      throw new Error(`Part ${n} was signed for ${signed.length} bytes but has ${end - start}.`);
    }
    etags[n - 1] = await putPart({
      partNumber: n, length: end - start, body: () => blob.slice(start, end), signed,
      resign: () => signer.resign(n),
    });
    signer.release(n);
    partDone(n, end - start);
  };
  await runParts({ partCount, concurrency, runPart, shouldStop });
  return etags.map((etag, i) => ({ part_number: i + 1, etag }));
}

/**
 * Signs part URLs in small batches just before they are needed, because URLs
 * expire: never all up front. Parts are taken in order, so the signed parts are
 * always a prefix 1..frontier-1 and one counter tracks them.
 *
 * When part n is taken and fewer than half a batch is signed beyond it, the next
 * batch is requested in the background, so that the kernel round trip overlaps
 * the parts in flight instead of stalling the pipeline. At most about
 * 1.5 batches are signed ahead of the part being started.
 */
export class PartSigner {
  /**
   * @param {{signParts: (partNumbers: number[]) => Promise<SignedPart[]>,
   *          partCount: number, batchSize: number}} options
   */
  constructor({ signParts, partCount, batchSize }) {
    this.signParts = signParts;
    this.partCount = partCount;
    this.batchSize = Math.max(1, Math.floor(batchSize));
    this.frontier = 1;
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
    while (this.frontier <= n) this._requestBatch();
    const ahead = this.frontier - 1 - n;
    if (ahead < Math.ceil(this.batchSize / 2) && this.frontier <= this.partCount) this._requestBatch();
    return this.signed.get(n);
  }

  /**
   * Sign part n again (its URL expired).
   * @param {number} n
   * @returns {Promise<SignedPart>}
   */
  resign(n) {
    const entry = this._track(this.signParts([n]).then((parts) => pick(parts, n)));
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

  _requestBatch() {
    const numbers = [];
    const last = Math.min(this.partCount, this.frontier + this.batchSize - 1);
    for (let n = this.frontier; n <= last; n++) numbers.push(n);
    this.frontier = last + 1;
    const batch = this.signParts(numbers);
    for (const n of numbers) this.signed.set(n, this._track(batch.then((parts) => pick(parts, n))));
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
 * @param {SignedPart[]} parts
 * @param {number} n
 * @returns {SignedPart}
 */
function pick(parts, n) {
  const part = (parts || []).find((p) => p.part_number === n);
  if (!part) throw new Error(`The kernel's "sign-parts" answer has no URL for part ${n}.`);
  return part;
}

const SPEED_WINDOW_MS = 2000; // time constant of the speed average
const SPEED_MIN_SAMPLE_MS = 200; // shorter samples are mostly timer noise

/**
 * The byte counts of one file: stored parts plus each part's current try (key 0
 * for a single PUT). `loaded` drops when a try fails, since its bytes go again;
 * `speed` counts every byte put on the wire, retries included, averaged with an
 * exponential weight over ~2 s: steady enough to read, quick to follow a change.
 */
export class TransferMeter {
  /**
   * @param {number} total
   * @param {() => number} now
   */
  constructor(total, now) {
    this.total = total;
    this.now = now;
    /** @type {Map<number, number>} part -> bytes of its current try */
    this.inflight = new Map();
    this.stored = 0;
    this.sent = 0;
    this.speed = 0;
    this.measured = false;
    /** @type {{t: number, sent: number} | null} */
    this.sample = null;
  }

  /** Bytes stored or in flight, never above total. */
  get loaded() {
    let loaded = this.stored;
    for (const bytes of this.inflight.values()) loaded += bytes;
    return Math.min(loaded, this.total);
  }

  /** Seconds left at the current speed, null when unknown. */
  get eta() {
    return this.speed > 0 ? (this.total - this.loaded) / this.speed : null;
  }

  /** Start measuring speed from now (the first byte is about to go). */
  start() {
    this.sample = { t: this.now(), sent: this.sent };
  }

  /**
   * @param {number} key part number, 0 for a single PUT
   * @param {number} bytes sent by its current try
   */
  setPart(key, bytes) {
    const before = this.inflight.get(key) ?? 0;
    this.inflight.set(key, bytes);
    if (bytes > before) this.sent += bytes - before;
    this._sampleSpeed();
  }

  /** @param {number} key @param {number} length */
  finishPart(key, length) {
    this.inflight.delete(key);
    this.stored += length;
  }

  _sampleSpeed() {
    const t = this.now();
    if (!this.sample) this.sample = { t, sent: this.sent };
    const dt = t - this.sample.t;
    if (dt < SPEED_MIN_SAMPLE_MS) return;
    const rate = ((this.sent - this.sample.sent) * 1000) / dt;
    this.speed = this.measured ? this.speed + (1 - Math.exp(-dt / SPEED_WINDOW_MS)) * (rate - this.speed) : rate;
    this.measured = true;
    this.sample = { t, sent: this.sent };
  }
}

/**
 * Coalesces byte counts for the kernel: at most one `send(updates)` per
 * `intervalMs` for all files together (at once when the last send is old enough,
 * else one trailing send), carrying only the counts that changed since sent.
 */
export class ProgressReporter {
  /**
   * @param {{send: (updates: {upload_id: string, loaded: number}[]) => any,
   *          intervalMs: number, now: () => number, sleep: (ms: number) => Promise<void>}} options
   */
  constructor({ send, intervalMs, now, sleep }) {
    this.send = send;
    this.intervalMs = intervalMs;
    this.now = now;
    this.sleep = sleep;
    /** @type {Map<string, number>} counts not sent yet */
    this.latest = new Map();
    /** @type {Map<string, number>} counts the kernel has */
    this.reported = new Map();
    this.lastSent = -Infinity;
    this.scheduled = false;
  }

  /** @param {string} id @param {number} loaded */
  update(id, loaded) {
    this.latest.set(id, loaded);
    if (this.scheduled) return;
    const wait = this.lastSent + this.intervalMs - this.now();
    if (wait <= 0) return this.flush();
    this.scheduled = true;
    Promise.resolve(this.sleep(wait)).then(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Never send this file's count again (it was cancelled or forgotten). @param {string} id */
  forget(id) {
    this.latest.delete(id);
    this.reported.delete(id);
  }

  /** Send the pending counts now (also used when a file finishes). */
  flush() {
    this.lastSent = this.now();
    const updates = [];
    for (const [id, loaded] of this.latest) {
      if (this.reported.get(id) !== loaded) updates.push({ upload_id: id, loaded });
      this.reported.set(id, loaded);
    }
    this.latest.clear();
    if (!updates.length) return;
    try {
      Promise.resolve(this.send(updates)).catch(() => {}); // best effort: the next count supersedes it
    } catch {
      // same
    }
  }
}
