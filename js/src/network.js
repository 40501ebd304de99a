// @ts-check
/**
 * This file owns whether the network is up as the uploads see it, and the PUTs that wait
 * for it: NetworkWatch (fed by every PUT's outcome and by the browser's online / offline
 * events) and rideOutages, a transport whose requests that fail while the network is
 * down wait, then go again by themselves when it returns: an outage costs no retry
 * attempt, however long it lasts.
 *
 * How it decides. A sign of life is any HTTP answer (a 503 too), or bytes moving in a
 * request past its first LIFE_AFTER_MS (a connection reset on arrival may still take a
 * few bytes first). A request that ends without an answer (network error or stall):
 * - to an origin that never answered this page: handed to put.js at once, marked
 *   `firstContact` (a CORS refusal or a wrong endpoint looks the same: fail soon);
 * - else it waits up to QUIET_MS for a sign of life anywhere. One comes: the network
 *   works and the failure was this request's own, handed to put.js (a failed attempt).
 *   None comes: with two failures or more since the last sign of life the network is
 *   down and the request waits ("waiting for the network" on its row); with only its
 *   own, nothing tells, and it is a failed attempt too (so a lone request that keeps
 *   failing after moving bytes runs out of attempts; an outage costs it one at most);
 * - while down (or navigator.onLine is false), a failure waits at once. One waiting
 *   request goes again every PROBE_MS, and all of them at the first sign of life or
 *   the browser's `online` event.
 * No DOM: time is injected, widget.js feeds the browser's events.
 */
import { TransportError } from "./transport.js";

/** A failure with no sign of life anywhere for this long: the network may be down (ms). */
export const QUIET_MS = 2000;
/** While down, one waiting request is sent again this often (ms). */
export const PROBE_MS = 3000;
/** Upload progress counts as a sign of life only this far into a try (ms). */
export const LIFE_AFTER_MS = 500;

/** @typedef {(fn: () => void, ms: number) => () => void} SetTimer  runs fn after ms; returns a cancel */
/** @typedef {"attempt" | "wait"} Verdict  a failed attempt of the request, or the network's fault */

/** @type {SetTimer} */
const realTimer = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

/** Whether the network is up, from the outcomes of the PUTs and the browser's word. */
export class NetworkWatch {
  /**
   * @param {{now?: () => number, setTimer?: SetTimer, quietMs?: number, probeMs?: number,
   *          lifeAfterMs?: number}} [options]
   */
  constructor(options = {}) {
    this.now = options.now ?? (() => Date.now());
    this.setTimer = options.setTimer ?? realTimer;
    this.quietMs = options.quietMs ?? QUIET_MS;
    this.probeMs = options.probeMs ?? PROBE_MS;
    this.lifeAfterMs = options.lifeAfterMs ?? LIFE_AFTER_MS;
    this.browserOffline = false;
    this.down = false; // judged down, until a sign of life
    this.lastLife = -Infinity;
    this.failures = 0; // requests failed without an answer since the last sign of life
    /** @type {Set<string>} origins that answered a request */
    this.reached = new Set();
    /** @type {Set<() => void>} judges waiting for a sign of life */
    this._judges = new Set();
    /** @type {{go: () => void}[]} requests waiting for the network, oldest first */
    this._waiting = [];
    /** @type {(() => void) | null} cancels the probe timer */
    this._probe = null;
  }

  /** Whether requests that fail now should wait for the network. */
  offline() {
    return this.browserOffline || this.down;
  }

  /** How many requests wait for the network. */
  waiting() {
    return this._waiting.length;
  }

  /**
   * The browser's word (navigator.onLine, the window's online / offline events).
   * Back online, every waiting request goes again at once.
   * @param {boolean} online
   */
  setBrowserOnline(online) {
    this.browserOffline = !online;
    if (online) this._release(this._waiting.length);
  }

  /** A sign the network works: every waiting request goes again. */
  life() {
    this.lastLife = this.now();
    this.failures = 0;
    this.down = false;
    this.browserOffline = false;
    if (this._judges.size) [...this._judges].forEach((onLife) => onLife());
    if (this._waiting.length) this._release(this._waiting.length);
  }

  /** @param {string} origin answered a request (with any status) */
  answered(origin) {
    this.reached.add(origin);
    this.life();
  }

  /** A request failed without an answer. */
  failed() {
    this.failures++;
  }

  /**
   * What a request that failed without an answer at `since` should do (see the top).
   * @param {number} since
   * @param {AbortSignal} [signal]
   * @returns {Promise<Verdict>}
   */
  judge(since, signal) {
    if (this.offline()) return Promise.resolve("wait");
    if (this.lastLife > since) return Promise.resolve("attempt");
    return this._until(signal, (done) => {
      const onLife = () => done("attempt");
      this._judges.add(onLife);
      const cancel = this.setTimer(() => {
        if (this.failures >= 2) this.down = true;
        done(this.offline() ? "wait" : "attempt");
      }, this.quietMs);
      return () => {
        this._judges.delete(onLife);
        cancel();
      };
    });
  }

  /**
   * Resolves when this request may go again: at once when online, else when it is picked
   * as the probe, at a sign of life or at the browser's `online` event.
   * @param {AbortSignal} [signal]
   * @returns {Promise<void>}
   */
  whenOnline(signal) {
    if (!this.offline()) return Promise.resolve();
    return this._until(signal, (done) => {
      const entry = { go: () => done(undefined) };
      this._waiting.push(entry);
      this._armProbe();
      return () => {
        const at = this._waiting.indexOf(entry);
        if (at >= 0) this._waiting.splice(at, 1);
      };
    });
  }

  /**
   * A promise settled by `start`'s `done`, or rejected as aborted by `signal`.
   * @template T
   * @param {AbortSignal | undefined} signal
   * @param {(done: (value: T) => void) => () => void} start  returns its clean-up
   * @returns {Promise<T>}
   */
  _until(signal, start) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new TransportError("aborted"));
      let cleanUp = () => {};
      const finish = () => {
        cleanUp();
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        finish();
        reject(new TransportError("aborted"));
      };
      signal?.addEventListener("abort", onAbort);
      cleanUp = start((value) => {
        finish();
        resolve(value);
      });
    });
  }

  /** @param {number} count the oldest waiting requests that go again */
  _release(count) {
    this._waiting.splice(0, count).forEach((entry) => entry.go());
    if (!this._waiting.length && this._probe) {
      this._probe();
      this._probe = null;
    }
  }

  _armProbe() {
    if (this._probe || !this._waiting.length) return;
    this._probe = this.setTimer(() => {
      this._probe = null;
      this._release(1);
      this._armProbe();
    }, this.probeMs);
  }
}

/**
 * A transport whose requests ride out network outages (see the top): `watch` hears
 * every outcome; a request failed while the network is down waits, tells
 * `request.onWaiting`, and goes again. Anything else it returns or throws as it came.
 * @param {import("./transport.js").Transport} transport
 * @param {NetworkWatch} [watch]  a new one by default
 * @returns {import("./transport.js").Transport}
 */
export function rideOutages(transport, watch = new NetworkWatch()) {
  return {
    async put(request) {
      const origin = originOf(request.url);
      for (;;) {
        const started = watch.now();
        /** @param {number} loaded */
        const onProgress = (loaded) => {
          if (watch.now() - started >= watch.lifeAfterMs) watch.life();
          request.onProgress?.(loaded);
        };
        try {
          const result = await transport.put({ ...request, onProgress });
          if (result.status) watch.answered(origin);
          return result;
        } catch (err) {
          if (!(err instanceof TransportError) || err.reason === "aborted") throw err;
          const failedAt = watch.now();
          watch.failed();
          if (!watch.browserOffline && !watch.reached.has(origin)) {
            err.firstContact = true;
            throw err;
          }
          if ((await watch.judge(failedAt, request.signal)) === "attempt") throw err;
          request.onProgress?.(0); // the bytes of this try go again
          await waitFor(watch, request);
        }
      }
    },
  };
}

/**
 * @param {NetworkWatch} watch
 * @param {import("./transport.js").PutRequest} request
 */
async function waitFor(watch, request) {
  request.onWaiting?.(true);
  try {
    await watch.whenOnline(request.signal);
  } finally {
    request.onWaiting?.(false);
  }
}

/** @param {string} url */
function originOf(url) {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
