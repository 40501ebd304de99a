// @ts-check
/**
 * This file owns the engine's count of work still out (kernel requests, checksums being
 * computed) and `whenIdle`, which resolves once none is left and no file is unfinished.
 * Pure: no DOM, no requests of its own.
 */

export class PendingWork {
  /** @param {() => boolean} busy  whether files are still unfinished */
  constructor(busy) {
    this.busy = busy;
    /** @type {Set<Promise<void>>} */
    this.out = new Set();
    /** @type {(() => void)[]} whenIdle callers */
    this.waiting = [];
  }

  /**
   * Run work that whenIdle waits for; its failure is handled inside it (or changes
   * nothing: the kernel may be gone).
   * @param {() => any} work
   * @param {boolean} [report] log a failure (a bug of ours) instead of ignoring it
   * @returns {Promise<void>}
   */
  track(work, report = false) {
    let promise;
    try {
      promise = Promise.resolve(work());
    } catch (err) {
      promise = Promise.reject(err);
    }
    const done = promise
      .then(() => {}, (err) => { if (report) console.error("s3-upload-widget: engine bug", err); })
      .finally(() => {
        this.out.delete(done);
        this.check();
      });
    this.out.add(done);
    return done;
  }

  /** Resolves once nothing is out and no file is unfinished. */
  async whenIdle() {
    while (this.busy() || this.out.size > 0) {
      await new Promise((resolve) => this.waiting.push(() => resolve(undefined)));
    }
  }

  /** Wake whenIdle callers if all is done (call when a file ends). */
  check() {
    if (this.busy() || this.out.size > 0 || !this.waiting.length) return;
    this.waiting.splice(0).forEach((resolve) => resolve());
  }
}
