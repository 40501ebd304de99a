// @ts-check
/**
 * This file owns hashing big bodies (multipart parts) off the page's main thread: a few
 * Web Workers, each computing one part's CRC32C at a time. A part's CRC32C is signed with
 * it, so a round of parts waits for its hashes before any byte moves; hashed one after
 * another on the main thread, 6 parts of 50 MiB held the first byte back 2-3 s
 * (docs/LEARNED.md). In workers they hash side by side, one per core, and JupyterLab
 * stays responsive. Where a worker cannot start or fails (a Content-Security-Policy
 * without blob: workers, an old browser), the body is hashed on the main thread instead:
 * slower, never wrong. No DOM: the worker factory is injected, so node tests use fakes.
 */
import { crc32cOfBlob } from "./checksum.js";

/** Workers at most: parts are hashed this many at a time. */
export const MAX_HASH_WORKERS = 4;

/**
 * @typedef {object} HashWorker  what the pool needs of a Worker
 * @property {(message: {id: number, blob: Blob}) => void} postMessage
 * @property {((event: {data: {id: number, sum?: string, error?: string}}) => void) | null} onmessage
 * @property {((event: unknown) => void) | null} onerror
 * @property {() => void} terminate
 */

/**
 * @typedef {{id: number, blob: Blob, resolve: (sum: string) => void, reject: (err: unknown) => void}} Job
 */

export class HashPool {
  /**
   * @param {object} options
   * @param {() => HashWorker} options.makeWorker  throws where workers cannot start
   * @param {number} [options.size]  workers at most (MAX_HASH_WORKERS)
   * @param {(blob: Blob) => Promise<string>} [options.fallback]  the main thread's hash
   */
  constructor({ makeWorker, size = MAX_HASH_WORKERS, fallback = (blob) => crc32cOfBlob(blob) }) {
    this.makeWorker = makeWorker;
    this.size = Math.max(1, Math.min(MAX_HASH_WORKERS, Math.floor(size)));
    this.fallback = fallback;
    /** @type {HashWorker[]} */
    this.idle = [];
    this.started = 0;
    /** @type {Job[]} */
    this.queue = [];
    this.broken = false; // a worker failed: the main thread hashes from now on
    this.nextId = 1;
  }

  /**
   * The CRC32C of `blob` in S3's form, from a worker when one can run.
   * @param {Blob} blob
   * @returns {Promise<string>}
   */
  hash(blob) {
    if (this.broken) return this.fallback(blob);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, blob, resolve, reject });
      this._dispatch();
    }).catch(() => this.fallback(blob)); // the worker failed: hash here instead
  }

  /**
   * Start every worker now, each hashing an empty body, so that the first part waits for
   * neither a worker's start nor its WebAssembly: cold, a 17 MiB part's hash took 110-190
   * ms in Chromium, warm 50-65 (docs/LEARNED.md), and on a home link that is the first
   * byte's delay. Where workers cannot start, the pool breaks as at a first hash.
   */
  warm() {
    const noop = () => {};
    while (!this.broken && this.started < this.size) {
      const worker = this._start();
      if (!worker) return;
      this._run(worker, { id: this.nextId++, blob: new Blob([]), resolve: noop, reject: noop });
    }
  }

  /** Stop the workers; hashes still queued go to the main thread. */
  close() {
    this.broken = true;
    for (const worker of this.idle) worker.terminate();
    this.idle = [];
    for (const job of this.queue.splice(0)) job.reject(new Error("closed"));
  }

  _dispatch() {
    while (this.queue.length && !this.broken) {
      const worker = this.idle.pop() ?? this._start();
      if (!worker) return; // every worker is busy: the next free one takes the next job
      const job = /** @type {Job} */ (this.queue.shift());
      this._run(worker, job);
    }
  }

  /** @returns {HashWorker | null} */
  _start() {
    if (this.started >= this.size) return null;
    try {
      const worker = this.makeWorker();
      this.started++;
      return worker;
    } catch {
      this._break();
      return null;
    }
  }

  /**
   * @param {HashWorker} worker
   * @param {Job} job
   */
  _run(worker, job) {
    worker.onmessage = ({ data }) => {
      if (data?.id !== job.id) return;
      if (typeof data.sum === "string") job.resolve(data.sum);
      else job.reject(new Error(data.error ?? "no checksum"));
      if (this.broken) worker.terminate();
      else this.idle.push(worker);
      this._dispatch();
    };
    worker.onerror = () => {
      worker.terminate();
      job.reject(new Error("the hash worker failed"));
      this._break();
    };
    worker.postMessage({ id: job.id, blob: job.blob });
  }

  _break() {
    this.broken = true;
    for (const job of this.queue.splice(0)) job.reject(new Error("no hash worker"));
  }
}

/**
 * A worker factory for `source` (the bundled hash-worker.js), from a blob: URL so that
 * the widget's single ES module needs no file of its own beside it.
 * @param {string} source
 * @returns {() => HashWorker}
 */
export function blobWorkerFactory(source) {
  /** @type {string | undefined} */
  let url;
  return () => {
    url ??= URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    return /** @type {HashWorker} */ (/** @type {unknown} */ (new Worker(url)));
  };
}

/** @type {HashPool | null} the page's pool, shared by every widget on it */
let pagePool = null;

/**
 * Hash parts in workers from now on (widget.js, once a page runs the widget); the
 * workers start at once (`HashPool.warm`).
 * @param {() => HashWorker} makeWorker
 * @param {number} [cores]  the machine's (navigator.hardwareConcurrency)
 */
export function usePagePool(makeWorker, cores = 2) {
  if (pagePool) return;
  pagePool = new HashPool({ makeWorker, size: Math.max(2, cores) });
  pagePool.warm(); // a widget is on the page: its first part should not wait for them
}

/**
 * The CRC32C of a multipart part: in the page's workers when it has them.
 * @param {Blob} blob
 * @returns {Promise<string>}
 */
export function hashPart(blob) {
  return pagePool ? pagePool.hash(blob) : crc32cOfBlob(blob);
}
