// @ts-check
/**
 * This file owns the upload engine: the queue of files, each file's state machine
 * (queued, signing, uploading, completing, then done, error or cancelled) and `kernelApi`,
 * the engine's requests to the kernel. No DOM and no XMLHttpRequest: the kernel (`api`),
 * the network (`transport`) and time (`now`, `sleep`, `random`) are injected, so node
 * tests drive it with fakes. Contract: docs/ARCHITECTURE.md.
 */
import {
  CANCEL, COMPLETE, FAIL, FINAL_STATUSES, KernelError, PROGRESS, SIGN, SIGN_PARTS,
} from "./protocol.js";
import { limitRequests } from "./transport.js";
import { uploadParts } from "./multipart.js";
import { ProgressReporter, TransferMeter } from "./progress.js";
import {
  DEFAULT_MAX_RESIGNS, DEFAULT_RETRY, Stopped, describeFailure, failureOf, putWithRetry,
} from "./put.js";

/**
 * @typedef {import("./protocol.js").Status} Status
 * @typedef {import("./protocol.js").UploadRecord} UploadRecord
 * @typedef {import("./put.js").FailureDetail} FailureDetail
 * @typedef {import("./put.js").SignedRequest} SignedRequest
 * @typedef {(SignedRequest & {mode: "single"}) | {mode: "multipart", part_size: number, part_count: number}} SignPlan
 * @typedef {{etag: string} | {parts: {part_number: number, etag: string}[]}} CompletePayload
 */

/**
 * The kernel, as the engine sees it. Each method sends one request of _protocol.py and
 * resolves with its `result` (or rejects with KernelError / KernelTimeoutError).
 * @typedef {object} Api
 * @property {(id: string) => Promise<SignPlan>} sign
 * @property {(id: string, partNumbers: number[]) => Promise<import("./multipart.js").SignedParts>} signParts
 * @property {(id: string, payload: CompletePayload) => Promise<{record: UploadRecord}>} complete
 * @property {(id: string, error: FailureDetail) => Promise<{record: UploadRecord}>} fail
 *            the record's `error` is shown
 * @property {(id: string) => Promise<{record: UploadRecord}>} cancel
 * @property {(updates: {upload_id: string, loaded: number}[]) => void} progress  fire-and-forget
 */

/**
 * The engine's Api over custom messages: each call is one request (or notification).
 * @param {import("./protocol.js").Rpc} rpc
 * @returns {Api}
 */
export function kernelApi(rpc) {
  return {
    sign: (id) => rpc.request(SIGN, { upload_id: id }),
    signParts: (id, partNumbers) => rpc.request(SIGN_PARTS, { upload_id: id, part_numbers: partNumbers }),
    complete: (id, payload) => rpc.request(COMPLETE, { upload_id: id, ...payload }),
    fail: (id, error) => rpc.request(FAIL, { upload_id: id, error }),
    cancel: (id) => rpc.request(CANCEL, { upload_id: id }),
    progress: (updates) => rpc.notify(PROGRESS, { updates }),
  };
}

/**
 * @typedef {object} FileState
 * @property {string} id
 * @property {Status} status
 * @property {number} loaded      bytes stored or in flight; drops when a try is retried
 * @property {number} total
 * @property {number} speed       bytes/s on the wire, smoothed over ~2 s
 * @property {number | null} eta  seconds left, null when unknown
 * @property {string} error       words for a person, "" when none
 * @property {number} partsDone
 * @property {number} partCount   1 for a single PUT, 0 until signed
 */

/**
 * @typedef {object} Totals
 * @property {number} loaded     over every file not cancelled
 * @property {number} total
 * @property {number} speed
 * @property {number | null} eta over queued and running files
 * @property {number} active     files signing, uploading or completing
 * @property {number} queued
 * @property {number} done
 * @property {number} failed
 * @property {number} cancelled
 */

/**
 * @typedef {object} EngineOptions
 * @property {Api} api
 * @property {import("./transport.js").Transport} transport
 * @property {number} [concurrency]        parts in flight per file (4)
 * @property {number} [maxActiveFiles]     files uploading at once (3)
 * @property {number} [maxRequests]        PUTs in flight over all files (6: a browser's
 *                                         connections per host)
 * @property {number} [stallTimeoutMs]     (60000)
 * @property {Partial<import("./put.js").RetryOptions>} [retry]
 * @property {number} [maxResigns]         re-signs of one expired URL (3)
 * @property {number} [signBatchSize]      parts per "sign-parts" request (= concurrency)
 * @property {number} [progressIntervalMs] at most one api.progress per interval (250)
 * @property {(id: string, state: FileState) => void} [onChange]
 * @property {() => number} [now]
 * @property {() => number} [random]
 * @property {(ms: number) => Promise<void>} [sleep]
 */

export class UploadEngine {
  /** @param {EngineOptions} options */
  constructor(options) {
    this.api = options.api;
    // Every PUT of every file goes through one limiter (see limitRequests).
    this.transport = limitRequests(options.transport, Math.max(1, options.maxRequests ?? 6));
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.maxActiveFiles = Math.max(1, options.maxActiveFiles ?? 3);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.maxResigns = options.maxResigns ?? DEFAULT_MAX_RESIGNS;
    this.signBatchSize = options.signBatchSize ?? this.concurrency;
    this.onChange = options.onChange ?? (() => {});
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    /** @type {Map<string, EngineFile>} in order of add */
    this._files = new Map();
    /** @type {EngineFile[]} */
    this._queue = [];
    /** @type {Map<EngineFile, Promise<void>>} settles when the file's slot is free */
    this._running = new Map();
    /** @type {Set<Promise<void>>} fail / cancel requests still out (for whenIdle) */
    this._pending = new Set();
    this._reporter = new ProgressReporter({
      send: (updates) => this.api.progress(updates), intervalMs: options.progressIntervalMs ?? 250,
      now: this.now, sleep: this.sleep,
    });
  }

  /**
   * Queue a file. `id` is the upload id the kernel gave it in "add-files".
   * @param {string} id
   * @param {Blob} blob
   */
  add(id, blob) {
    const known = this._files.get(id);
    if (known && !FINAL_STATUSES.includes(known.state.status)) throw new Error(`Upload ${id} is already queued.`);
    const file = newFile(id, blob, this.now);
    this._files.delete(id); // a re-added id moves to the end
    this._files.set(id, file);
    this._queue.push(file);
    this._emit(file);
    this._pump();
  }

  /**
   * Stop a file: abort its requests, tell the kernel (unless `notify` is false, e.g.
   * when the kernel itself asked). Returns false when there was nothing to cancel.
   * @param {string} id
   * @param {{notify?: boolean}} [options]
   * @returns {boolean}
   */
  cancel(id, { notify = true } = {}) {
    const file = this._files.get(id);
    if (!file || FINAL_STATUSES.includes(file.state.status)) return false;
    this._reporter.forget(id);
    this._stop(file, "cancelled");
    this._emit(file);
    if (notify) this._track(() => this.api.cancel(id));
    return true;
  }

  /** Cancel every file that is not finished; queued ones first, so none starts. */
  cancelAll() {
    for (const file of [...this._queue, ...this._files.values()]) this.cancel(file.id);
  }

  /**
   * @param {string} id
   * @returns {FileState | undefined} a copy
   */
  state(id) {
    const file = this._files.get(id);
    return file && { ...file.state };
  }

  /** @returns {Totals} */
  totals() {
    /** @type {Totals} */
    const t = { loaded: 0, total: 0, speed: 0, eta: null, active: 0, queued: 0, done: 0, failed: 0, cancelled: 0 };
    let remaining = 0;
    for (const { state: s } of this._files.values()) {
      if (s.status === "cancelled") { t.cancelled++; continue; }
      t.loaded += s.loaded;
      t.total += s.total;
      if (s.status === "done") t.done++;
      else if (s.status === "error") t.failed++;
      else {
        if (s.status === "queued") t.queued++;
        else t.active++;
        t.speed += s.speed;
        remaining += s.total - s.loaded;
      }
    }
    if (t.active + t.queued > 0 && t.speed > 0) t.eta = remaining / t.speed;
    return t;
  }

  /** Forget finished files (so totals() describes the next batch only). */
  clearFinished() {
    for (const [id, file] of this._files) {
      if (FINAL_STATUSES.includes(file.state.status)) {
        this._files.delete(id);
        this._reporter.forget(id);
      }
    }
  }

  /** Resolves once no file is queued or running and the kernel answered fail/cancel. */
  async whenIdle() {
    while (this._running.size || this._pending.size) {
      await Promise.allSettled([...this._running.values(), ...this._pending]);
    }
  }

  // --- Scheduling -----------------------------------------------------------------

  _pump() {
    while (this._running.size < this.maxActiveFiles) {
      const file = this._queue.shift();
      if (!file) return;
      // A stopped file frees its slot at once, even if a request or a backoff
      // sleep of it is still winding down.
      const slot = Promise.race([this._run(file), file.halted])
        .catch((err) => console.error("s3-upload-widget: engine bug", err))
        .finally(() => {
          this._running.delete(file);
          this._pump();
        });
      this._running.set(file, slot);
    }
  }

  /** @param {EngineFile} file */
  async _run(file) {
    try {
      this._set(file, { status: "signing" });
      const plan = await this._call(file, () => this.api.sign(file.id));
      file.meter.start();
      this._set(file, { status: "uploading" });
      const payload = plan.mode === "multipart"
        ? await this._uploadMultipart(file, plan)
        : await this._uploadSingle(file, plan);
      this._set(file, { status: "completing" });
      this._reporter.flush(); // the kernel hears the final byte count before "complete"
      await this._call(file, () => this.api.complete(file.id, payload));
      Object.assign(file.state, { loaded: file.state.total, partsDone: file.state.partCount });
      this._stop(file, "done");
      this._emit(file);
    } catch (err) {
      if (!file.stopped) this._fail(file, err);
    }
  }

  /**
   * Call the kernel for a file; a file stopped meanwhile ends its work here.
   * @template T
   * @param {EngineFile} file
   * @param {() => Promise<T>} request
   * @returns {Promise<T>}
   */
  async _call(file, request) {
    if (file.stopped) throw new Stopped();
    const result = await request();
    if (file.stopped) throw new Stopped();
    return result;
  }

  // --- Single PUT and multipart ------------------------------------------------------

  /** @param {EngineFile} file @param {SignPlan} plan */
  async _uploadSingle(file, plan) {
    const resign = async () => checkSingle(await this._call(file, () => this.api.sign(file.id)));
    this._set(file, { partCount: 1 });
    const size = file.blob.size;
    const job = { partNumber: null, length: size, body: () => file.blob, signed: checkSingle(plan), resign };
    const etag = await putWithRetry(job, this._putContext(file, 0));
    this._partDone(file, 0, size);
    return { etag };
  }

  /** @param {EngineFile} file @param {{part_size: number, part_count: number}} plan */
  async _uploadMultipart(file, { part_size: partSize, part_count: partCount }) {
    this._set(file, { partCount });
    const parts = await uploadParts({
      blob: file.blob, partSize, partCount, concurrency: this.concurrency, batchSize: this.signBatchSize,
      signParts: (numbers) => this._call(file, () => this.api.signParts(file.id, numbers)),
      putPart: (job) => putWithRetry(job, this._putContext(file, job.partNumber)),
      partDone: (n, length) => this._partDone(file, n, length),
      shouldStop: () => file.stopped,
    });
    if (file.stopped) throw new Stopped();
    return { parts };
  }

  // --- Ending a file -------------------------------------------------------------------

  /**
   * @param {EngineFile} file
   * @param {Status} status
   */
  _stop(file, status) {
    file.stopped = true;
    file.controller.abort();
    file.halt();
    const queued = this._queue.indexOf(file);
    if (queued >= 0) this._queue.splice(queued, 1);
    Object.assign(file.state, { status, speed: 0, eta: null });
    if (status !== "cancelled") this._reporter.flush();
  }

  /**
   * Fail a file. A KernelError means the kernel refused and already marked the
   * record: show its words. Anything else is reported with api.fail, whose answer
   * carries the words a person can act on.
   * @param {EngineFile} file
   * @param {unknown} err
   */
  _fail(file, err) {
    this._stop(file, "error");
    if (err instanceof KernelError) {
      file.state.error = [err.message, err.hint].filter(Boolean).join(" ");
      this._emit(file);
      return;
    }
    const detail = failureOf(err);
    file.state.error = describeFailure(detail); // until the kernel answers
    this._emit(file);
    this._track(async () => {
      const { record } = await this.api.fail(file.id, detail);
      if (record.error) {
        file.state.error = String(record.error);
        this._emit(file);
      }
    });
  }

  /**
   * Run a kernel request whose failure changes nothing (the kernel may be gone).
   * @param {() => any} request
   */
  _track(request) {
    let promise;
    try {
      promise = Promise.resolve(request()).catch(() => {});
    } catch {
      return; // the api threw synchronously: nothing to wait for
    }
    const done = promise.finally(() => this._pending.delete(done));
    this._pending.add(done);
  }

  // --- Progress -----------------------------------------------------------------------

  /**
   * How a PUT of this file reports its bytes (see put.js putWithRetry).
   * @param {EngineFile} file
   * @param {number} key part number, 0 for a single PUT
   * @returns {import("./put.js").PutContext}
   */
  _putContext(file, key) {
    return {
      transport: this.transport, signal: file.controller.signal, stallTimeoutMs: this.stallTimeoutMs,
      retry: this.retry, maxResigns: this.maxResigns, random: this.random, sleep: this.sleep,
      isStopped: () => file.stopped,
      onLoaded: (bytes) => {
        if (file.stopped) return;
        file.meter.setPart(key, bytes);
        this._refresh(file, false);
      },
    };
  }

  /** @param {EngineFile} file @param {number} key @param {number} length */
  _partDone(file, key, length) {
    file.meter.finishPart(key, length);
    file.state.partsDone++;
    this._refresh(file, true);
  }

  /**
   * Copy the meter into the state; tell the view and (throttled) the kernel.
   * @param {EngineFile} file
   * @param {boolean} changed  emit even if `loaded` did not move
   */
  _refresh(file, changed) {
    const { meter, state } = file;
    const loaded = meter.loaded;
    if (loaded === state.loaded && !changed) return;
    Object.assign(state, { loaded, speed: meter.speed, eta: meter.eta });
    this._emit(file);
    this._reporter.update(file.id, loaded);
  }

  /** @param {EngineFile} file @param {Partial<FileState>} patch */
  _set(file, patch) {
    Object.assign(file.state, patch);
    this._emit(file);
  }

  /** @param {EngineFile} file */
  _emit(file) {
    try {
      this.onChange(file.id, { ...file.state });
    } catch (err) {
      console.error("s3-upload-widget: onChange failed", err); // a view bug must not stop uploads
    }
  }
}

/** @typedef {ReturnType<typeof newFile>} EngineFile  one file of the engine */

/**
 * @param {string} id
 * @param {Blob} blob
 * @param {() => number} now
 */
function newFile(id, blob, now) {
  /** @type {() => void} */
  let halt = () => {};
  /** @type {Promise<void>} */
  const halted = new Promise((resolve) => { halt = resolve; });
  /** @type {FileState} */
  const state = {
    id, status: "queued", loaded: 0, total: blob.size, speed: 0, eta: null, error: "", partsDone: 0, partCount: 0,
  };
  return {
    id, blob, state, halted, halt,
    controller: new AbortController(), // aborts every request of the file at once
    stopped: false,
    meter: new TransferMeter(blob.size, now),
  };
}

/**
 * @param {SignPlan} plan
 * @returns {SignedRequest}
 */
function checkSingle(plan) {
  if (plan.mode !== "single" || !plan.url) throw new Error(`Unexpected "sign" answer: mode ${plan.mode}.`);
  return plan;
}
