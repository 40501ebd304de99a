// @ts-check
/**
 * This file owns the upload engine: the queue of files and how each file moves through
 * queued, signing, uploading, completing, then done (or unverified), error or cancelled.
 * Signatures and completions travel in batches ("sign-files", "complete-files", held by
 * batch-holds.js), files are signed a little ahead of a free PUT slot, and a stored file
 * frees its slot at once. No DOM, no XMLHttpRequest: the kernel (`api`), the network and
 * time are injected, so node tests drive it with fakes. Contract: docs/ARCHITECTURE.md.
 */
import { KernelError, MAX_FILES_PER_BATCH } from "./protocol.js";
import { BROWSER_CONNECTIONS_PER_HOST, limitRequests, mayMove } from "./in-flight.js";
import { rideOutages } from "./network.js";
import { holdOnThrottle } from "./throttle.js";
import { ProgressReporter, RateMeter } from "./progress.js";
import { DEFAULT_MAX_RESIGNS, DEFAULT_RETRY, describeFailure, failureOf } from "./put.js";
import { Batcher } from "./batcher.js";
import { completionHold, signingHold } from "./batch-holds.js";
import { FileQueue, Tally, atLeastOne, byId, first, newFile } from "./ledger.js";
import { answerEach } from "./kernel.js";
import { hashEarly, transfer } from "./transfer.js";
import { afterPausedTransfer, holdAfterTransfer, pauseFile, resumeFile } from "./pausing.js";
import { PendingWork } from "./pending.js";
import { wholeFileSums } from "./checksum.js";

export { kernelApi } from "./kernel.js";

/**
 * @typedef {import("./protocol.js").Status} Status
 * @typedef {import("./kernel.js").Api} Api
 * @typedef {import("./kernel.js").SignPlan} SignPlan
 * @typedef {import("./kernel.js").CompletePayload} CompletePayload
 * @typedef {import("./ledger.js").FileState} FileState
 * @typedef {import("./ledger.js").Totals} Totals
 * @typedef {import("./ledger.js").EngineFile} EngineFile
 * @typedef {{file: EngineFile, payload: CompletePayload}} Finished  a file waiting for "complete-files"
 */

/** Files whose bytes move at once, by default. */
export const DEFAULT_PARALLEL_FILES = 6;

/** Bytes of files signed ahead of a free slot, beyond one file per slot. */
export const DEFAULT_SIGN_AHEAD_BYTES = 32 * 1024 * 1024;

/**
 * @typedef {object} EngineOptions
 * @property {Api} api
 * @property {import("./transport.js").Transport} transport
 * @property {number} [concurrency]        parts in flight per file (6)
 * @property {number} [parallelFiles]      files whose bytes move at once (6)
 * @property {number} [maxRequests]        PUTs in flight over all files to one host name
 *                                         (6: a browser's connections per host)
 * @property {boolean} [queueAhead]         small files' requests may also wait inside the
 *           browser (in-flight.js); only when maxRequests is the browser's own limit
 * @property {number} [batchSize]          files per "sign-files" / "complete-files" (64)
 * @property {number} [batchesInFlight]    requests of each of those kinds out at once (2)
 * @property {number} [signAheadBytes]     see DEFAULT_SIGN_AHEAD_BYTES
 * @property {number} [stallTimeoutMs]     (60000)
 * @property {import("./network.js").NetworkWatch} [network]  hears the browser's online/offline events
 * @property {Partial<import("./put.js").RetryOptions>} [retry]
 * @property {number} [maxResigns]         re-signs of one expired URL (3)
 * @property {number} [signBatchSize]      parts per "sign-parts" request (= concurrency)
 * @property {number} [progressIntervalMs] at most one api.progress per interval (250)
 * @property {string | null} [checksum]    "CRC32C": files below multipartThreshold are signed
 *                                         with their CRC32C (the widget's `checksum`; null: off)
 * @property {number} [multipartThreshold] the widget's `multipart_threshold` (Infinity)
 * @property {(id: string, state: FileState) => void} [onChange]
 * @property {() => number} [now]
 * @property {() => number} [random]
 * @property {(ms: number) => Promise<void>} [sleep]
 */

export class UploadEngine {
  /** @param {EngineOptions} options */
  constructor(options) {
    this.api = options.api;
    this.concurrency = Math.max(1, options.concurrency ?? 6);
    this._parallelFiles = atLeastOne(options.parallelFiles ?? DEFAULT_PARALLEL_FILES);
    this.batchSize = Math.min(MAX_FILES_PER_BATCH, atLeastOne(options.batchSize ?? MAX_FILES_PER_BATCH));
    this.signAheadBytes = options.signAheadBytes ?? DEFAULT_SIGN_AHEAD_BYTES;
    this.stallTimeoutMs = options.stallTimeoutMs ?? 60000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.maxResigns = options.maxResigns ?? DEFAULT_MAX_RESIGNS;
    this.signBatchSize = options.signBatchSize ?? this.concurrency;
    this.checksum = options.checksum ?? null;
    this.multipartThreshold = options.multipartThreshold ?? Infinity;
    this.onChange = options.onChange ?? (() => {});
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    // Every PUT: one limiter, a pause while S3 asks its host to slow down, outages ridden out.
    const held = holdOnThrottle(rideOutages(options.transport, options.network), this);
    this.queueAhead = options.queueAhead ?? false; // read per file: the widget may change it
    const maxRequests = Math.max(1, options.maxRequests ?? BROWSER_CONNECTIONS_PER_HOST);
    this.transport = limitRequests(held, maxRequests, { queueAhead: maxRequests === BROWSER_CONNECTIONS_PER_HOST, now: this.now });
    /** @type {Map<string, EngineFile>} in order of add */
    this._files = new Map();
    /** queued files, in order of add */
    this._queue = new FileQueue();
    /** @type {Set<EngineFile>} signing, or signed and waiting for a slot */
    this._ahead = new Set();
    this._aheadBytes = 0;
    /** @type {Set<EngineFile>} signed, waiting for a slot, in order */
    this._ready = new Set();
    /** @type {Set<EngineFile>} files whose bytes move (each holds one of parallelFiles slots) */
    this._moving = new Set();
    /** @type {Set<EngineFile>} paused files, out of every queue (pausing.js) */
    this._held = new Set();
    this._unfinished = 0;
    this._pending = new PendingWork(() => this._unfinished > 0);
    this._pumping = this._pumpAgain = false;
    this._tally = new Tally();
    this._rate = new RateMeter(this.now); // all files together
    const batches = { maxBatch: this.batchSize, maxInFlight: options.batchesInFlight ?? 2 };
    /** @type {Batcher<EngineFile>} */
    this._signer = new Batcher({ ...batches, ...signingHold(this), send: (files) => this._track(() => this._signFiles(files), true) });
    /** @type {Batcher<Finished>} */
    this._completer = new Batcher({ ...batches, ...completionHold(this), send: (items) => this._track(() => this._completeFiles(items), true) });
    const reports = { intervalMs: options.progressIntervalMs ?? 250, now: this.now, sleep: this.sleep };
    this._reporter = new ProgressReporter({ send: (updates) => this.api.progress(updates), ...reports });
  }

  /** Files whose bytes move at once; a change applies at once. */
  get parallelFiles() {
    return this._parallelFiles;
  }

  set parallelFiles(value) {
    this._parallelFiles = atLeastOne(value);
    this._pump();
  }

  /**
   * Queue a file: `id` and `firstPart` (hashed once admitted: hashEarly) from "add-files".
   * @param {string} id @param {Blob} blob @param {{offset: number, length: number} | null} [firstPart]
   */
  add(id, blob, firstPart = null) {
    const known = this._files.get(id);
    if (known && !known.stopped) throw new Error(`Upload ${id} is already queued.`);
    if (known) this._forget(known); // a re-added id moves to the end
    const file = newFile(id, blob, this.now, firstPart);
    this._files.set(id, file);
    this._queue.push(file);
    this._unfinished++;
    this._tally.add(file.state, 1);
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
    if (!file || file.stopped) return false;
    this._stop(file, "cancelled");
    if (notify) this._track(() => this.api.cancel(id));
    return true;
  }

  /** Cancel every unfinished file, waiting ones first (none starts). @param {{notify?: boolean}} [options] */
  cancelAll(options) {
    for (const file of [...this._queue, ...this._ahead, ...this._files.values()]) this.cancel(file.id, options);
  }

  /** Pause a file (pausing.js); false when it ended, is paused or completing. @param {string} id */
  pause(id) {
    const file = this._files.get(id);
    return !!file && pauseFile(this, file);
  }

  /** Resume a paused file: only what S3 does not hold is sent. @param {string} id */
  resume(id) {
    const file = this._files.get(id);
    return !!file && resumeFile(this, file);
  }

  /** Pause every file that can pause, or resume every paused one; returns how many. @param {boolean} paused */
  setAllPaused(paused) {
    return [...this._files.keys()].filter((id) => (paused ? this.pause(id) : this.resume(id))).length;
  }

  /** A copy of a file's state. @param {string} id @returns {FileState | undefined} */
  state(id) {
    const file = this._files.get(id);
    return file && { ...file.state };
  }

  /** @returns {Totals} kept up to date file by file: no walk over the files */
  totals() {
    return this._tally.totals(this._rate);
  }

  /** Forget finished files (so totals() describes the next batch only). */
  clearFinished() {
    for (const file of [...this._files.values()]) if (file.stopped) this._forget(file);
  }

  /** Forget one finished file (its record was removed); false when unfinished. @param {string} id */
  forget(id) {
    const file = this._files.get(id);
    if (!file?.stopped) return false;
    this._forget(file);
    return true;
  }

  /** Resolves once no file is queued or running and no kernel request is out. */
  whenIdle() {
    return this._pending.whenIdle();
  }

  // --- Scheduling -----------------------------------------------------------------
  //
  // queued --admit--> signing (pending batch, then a "sign-files" out) --answer--> ready
  // --free slot--> uploading --bytes stored--> completing (pending batch, then a
  // "complete-files" out) --answer--> done / unverified / error.
  // Admission keeps the files signed ahead of a slot few: at most parallelFiles +
  // batchSize, and beyond one per slot at most signAheadBytes of them, so URLs stay
  // fresh and a cancel wastes few signatures.

  _pump() {
    if (this._pumping) {
      this._pumpAgain = true; // called from inside a pump (a file failed at once)
      return;
    }
    this._pumping = true;
    try {
      do {
        this._pumpAgain = false;
        for (let file = first(this._ready); file && this._mayMove(file); file = first(this._ready)) {
          this._ready.delete(file);
          this._leaveAhead(file);
          if (file.paused) {
            holdAfterTransfer(this, file); // paused while its "sign-files" was out
            continue;
          }
          this._moving.add(file);
          this._upload(file).catch((err) => console.error("s3-upload-widget: engine bug", err));
        }
        for (let file = this._queue.peek(); file && this._mayAdmit(file); file = this._queue.peek()) {
          this._queue.shift();
          file.admitted = true;
          this._ahead.add(file);
          this._aheadBytes += file.state.total;
          this._update(file, { status: "signing" });
          this._toSign(file);
        }
      } while (this._pumpAgain);
    } finally {
      this._pumping = false;
    }
    this._signer.poke(); // fewer files ready or moving: a held batch may go now
    this._completer.poke();
  }

  /** @param {EngineFile} file */
  _mayMove(file) {
    const kind = (/** @type {EngineFile} */ f) => ({ size: f.blob.size, single: f.plan?.mode !== "multipart" });
    return mayMove(kind(file), [...this._moving].map(kind), { parallelFiles: this._parallelFiles, queueAhead: this.queueAhead });
  }

  /** @param {EngineFile} file */
  _mayAdmit(file) {
    const ahead = this._ahead.size;
    if (ahead >= this._parallelFiles + this.batchSize) return false;
    return ahead < this._parallelFiles || this._aheadBytes + file.state.total <= this.signAheadBytes;
  }

  /** @param {EngineFile} file */
  _leaveAhead(file) {
    if (this._ahead.delete(file)) this._aheadBytes -= file.state.total;
  }

  /**
   * Into the next "sign-files" batch; a file that goes as a single PUT gets its CRC32C
   * first (the kernel signs it, and S3 refuses bytes that do not match it).
   * @param {EngineFile} file
   */
  _toSign(file) {
    if (!this.checksum || file.checksum || file.blob.size >= this.multipartThreshold) {
      hashEarly(file); // a multipart file's part 1, while "sign-files" is out
      this._signer.add(file.id, file);
      return;
    }
    this._track(() => wholeFileSums(file.blob).then(
      (sums) => { if (!file.stopped) this._signer.add(file.id, Object.assign(file, sums)); },
      (err) => { if (!file.stopped) this._fail(file, err); }, // e.g. the file was deleted meanwhile
    ), true);
  }

  /**
   * One "sign-files" request: signed files wait for a slot.
   * @param {EngineFile[]} files
   */
  async _signFiles(files) {
    const ids = files.map((f) => f.id);
    await answerEach("sign-files", files, () => this.api.signFiles(ids, byId(files, "checksum"), byId(files, "md5")), {
      fail: (file, err) => this._fail(file, err),
      ok: (file, entry) => {
        file.plan = entry.result;
        this._ready.add(file);
      },
    });
    this._pump();
  }

  /** @param {EngineFile} file */
  async _upload(file) {
    try {
      this._rate.start();
      this._update(file, { status: "uploading" });
      const payload = await transfer(file, {
        api: this.api, transport: this.transport, concurrency: this.concurrency, signBatchSize: this.signBatchSize,
        stallTimeoutMs: this.stallTimeoutMs, retry: this.retry, maxResigns: this.maxResigns, random: this.random,
        sleep: this.sleep,
        planned: (partCount) => this._update(file, { partCount }),
        moved: (sent, changed) => {
          this._rate.add(sent);
          this._refresh(file, changed);
        },
      });
      // Stored: the slot goes to the next file while this one completes; a late pause is moot.
      file.pauseAborted = false;
      this._moving.delete(file);
      this._reporter.forget(file.id); // the kernel counts a completed file's bytes itself
      this._update(file, { status: "completing", speed: 0, eta: null });
      this._completer.add(file.id, { file, payload });
      this._pump();
    } catch (err) {
      if ((file.paused || file.pauseAborted) && !file.stopped) afterPausedTransfer(this, file);
      else if (!file.stopped) this._fail(file, err);
    }
  }

  /**
   * One "complete-files" request.
   * @param {Finished[]} items
   */
  async _completeFiles(items) {
    const uploads = items.map(({ file, payload }) => ({ upload_id: file.id, ...payload }));
    const files = items.map((item) => item.file);
    await answerEach("complete-files", files, () => this.api.completeFiles(uploads), {
      fail: (file, err) => this._fail(file, err),
      ok: (file, entry) => {
        const { total, partCount } = file.state;
        this._stop(file, entry.status === "unverified" ? "unverified" : "done", { loaded: total, partsDone: partCount });
      },
    });
  }

  // --- Ending a file -------------------------------------------------------------------

  /**
   * End a file: out of every queue and batch, its requests aborted, its slot freed.
   * @param {EngineFile} file
   * @param {Status} status
   * @param {Partial<FileState>} [patch]
   */
  _stop(file, status, patch = {}) {
    file.stopped = true; // and the queue skips it
    // A done file has nothing left in flight (and an abort costs an exception object).
    if (status !== "done" && status !== "unverified") file.controller?.abort();
    this._signer.remove(file.id);
    this._ready.delete(file);
    this._leaveAhead(file);
    this._moving.delete(file);
    this._held.delete(file);
    this._completer.remove(file.id);
    this._update(file, { ...patch, status, speed: 0, eta: null });
    this._reporter.forget(file.id); // how it ended tells the kernel the rest
    if (--this._unfinished === 0) this._rate.reset();
    this._pump();
    this._pending.check();
  }

  /**
   * Fail a file. A KernelError means the kernel refused and already marked the
   * record: show its words. Anything else is reported with api.fail, whose answer
   * carries the words a person can act on.
   * @param {EngineFile} file
   * @param {unknown} err
   */
  _fail(file, err) {
    if (err instanceof KernelError) {
      this._stop(file, "error", { error: [err.message, err.hint].filter(Boolean).join(" ") });
      return;
    }
    const detail = failureOf(err);
    this._stop(file, "error", { error: describeFailure(detail) }); // until the kernel answers
    this._track(async () => {
      const { record } = await this.api.fail(file.id, detail);
      if (record?.error && this._files.get(file.id) === file) this._update(file, { error: String(record.error) });
    });
  }

  /** @param {EngineFile} file */
  _forget(file) {
    this._tally.add(file.state, -1);
    this._files.delete(file.id);
    this._reporter.forget(file.id);
  }

  /**
   * Run a kernel request (or other work) that whenIdle waits for (see pending.js).
   * @param {() => any} work
   * @param {boolean} [report]
   */
  _track(work, report = false) {
    return this._pending.track(work, report);
  }

  // --- Progress -----------------------------------------------------------------------

  /**
   * Copy the meter into the state; tell the view and (throttled) the kernel.
   * @param {EngineFile} file
   * @param {boolean} changed  emit even if `loaded` did not move
   */
  _refresh(file, changed) {
    const { meter, state } = file;
    const loaded = meter.loaded;
    if (loaded === state.loaded && !changed) return;
    this._update(file, { loaded, speed: meter.speed, eta: meter.eta });
    if (loaded < state.total) this._reporter.update(file.id, loaded);
  }

  /**
   * Change a file's state: the totals follow, the view hears of it.
   * @param {EngineFile} file
   * @param {Partial<FileState>} patch
   */
  _update(file, patch) {
    this._tally.add(file.state, -1);
    Object.assign(file.state, patch);
    this._tally.add(file.state, 1);
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
