// @ts-check
/**
 * This file owns the batching of per-file kernel requests ("sign-files",
 * "complete-files"): items wait in a pending batch, and a batch goes out whenever fewer
 * than `maxInFlight` requests of its kind are out (Nagle-style). A lone item goes at
 * once (after the current task, so items added together travel together); under load
 * the pending batch grows by itself while earlier requests are out. A `hold` may keep a
 * small batch waiting for company while its items are not needed yet (every request
 * costs the page, the Jupyter server and the kernel a few milliseconds of CPU, and
 * thousands of small files make thousands of them); the holder calls `poke()` when the
 * hold may have ended, and a timer caps the wait. Pure: the request is an injected
 * `send`, the deferral an injected `defer`, the cap an injected `setTimer`.
 */

/**
 * @template T
 * @typedef {object} BatcherOptions
 * @property {(items: T[]) => Promise<unknown>} send  one request for these items; the
 *           batcher only waits for it to settle (the caller handles its answer and errors)
 * @property {number} maxBatch      items per request, at most
 * @property {number} [maxInFlight] requests out at once (1)
 * @property {(fn: () => void) => void} [defer] runs `fn` soon (queueMicrotask)
 * @property {() => boolean} [hold]  while true, fewer than `holdUpTo` items wait (never)
 * @property {number} [holdUpTo]     a batch this large goes despite the hold (maxBatch)
 * @property {number} [maxHoldMs]    an item waits for company at most this long (1000)
 * @property {(fn: () => void, ms: number) => () => void} [setTimer]  runs `fn` after `ms`;
 *           returns a cancel (setTimeout, unref'd where it can be: a cap keeps nothing alive)
 */

/** @type {(fn: () => void, ms: number) => () => void} */
function realTimer(fn, ms) {
  const timer = setTimeout(fn, ms);
  /** @type {any} */ (timer).unref?.();
  return () => clearTimeout(timer);
}

/** @template T */
export class Batcher {
  /** @param {BatcherOptions<T>} options */
  // Not `defer = queueMicrotask`: called as this.defer(), a browser throws "Illegal invocation".
  constructor({ send, maxBatch, maxInFlight = 1, defer = (fn) => queueMicrotask(fn), hold = () => false,
    holdUpTo = maxBatch, maxHoldMs = 1000, setTimer = realTimer }) {
    this.send = send;
    this.maxBatch = Math.max(1, Math.floor(maxBatch));
    this.maxInFlight = Math.max(1, Math.floor(maxInFlight));
    this.defer = defer;
    this.hold = hold;
    this.holdUpTo = Math.min(this.maxBatch, Math.max(1, Math.floor(holdUpTo)));
    this.maxHoldMs = maxHoldMs;
    this.setTimer = setTimer;
    /** @type {(() => void) | null} cancels the running cap on a hold */
    this.capTimer = null;
    this.overdue = false; // the cap ran out: the pending items go, hold or not
    /** @type {Map<string, T>} waiting items by key, in order of add */
    this.pending = new Map();
    /** requests sent and not settled yet */
    this.inFlight = 0;
    /** items in those requests */
    this.sentItems = 0;
    this.scheduled = false;
  }

  /**
   * Put an item in the pending batch (replacing one with the same key).
   * @param {string} key
   * @param {T} item
   */
  add(key, item) {
    this.pending.set(key, item);
    this._schedule();
  }

  /**
   * Take an item out of the pending batch. False when it is not pending (not added,
   * or already sent: then the caller ignores its answer).
   * @param {string} key
   * @returns {boolean}
   */
  remove(key) {
    return this.pending.delete(key);
  }

  /** @param {string} key */
  has(key) {
    return this.pending.has(key);
  }

  /** Items waiting to be sent. */
  get size() {
    return this.pending.size;
  }

  /** The hold may have ended (the holder's state changed): send what may go now. */
  poke() {
    this._schedule();
  }

  /** Send pending items now, as far as the in-flight limit and the hold allow. */
  flush() {
    while (this.inFlight < this.maxInFlight && this.pending.size) {
      if (this._held()) return;
      /** @type {T[]} */
      const batch = [];
      for (const [key, item] of this.pending) {
        if (batch.length >= this.maxBatch) break;
        batch.push(item);
        this.pending.delete(key);
      }
      this.inFlight++;
      this.sentItems += batch.length;
      /** @type {Promise<unknown>} */
      let request;
      try {
        request = Promise.resolve(this.send(batch));
      } catch (err) {
        request = Promise.reject(err);
      }
      request
        .catch((err) => console.error("s3-upload-widget: batch handler failed", err))
        .finally(() => {
          this.inFlight--;
          this.sentItems -= batch.length;
          this._schedule();
        });
    }
  }

  /** Whether the pending items wait for company now (starting the cap on their wait). */
  _held() {
    if (!this.overdue && this.pending.size < this.holdUpTo && this.hold()) {
      this.capTimer ??= this.setTimer(() => {
        this.capTimer = null;
        this.overdue = this.pending.size > 0;
        this.flush();
      }, this.maxHoldMs);
      return true;
    }
    this.capTimer?.();
    this.capTimer = null;
    this.overdue = false; // what waited goes now; the next items get a cap of their own
    return false;
  }

  _schedule() {
    if (this.scheduled || !this.pending.size || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    this.defer(() => {
      this.scheduled = false;
      this.flush();
    });
  }
}
