// @ts-check
/**
 * This file owns the engine's books: what it knows of each file (EngineFile and its
 * FileState), the queue of files waiting (FileQueue) and the running totals over all
 * files (Tally), kept up to date change by change so that `engine.totals()` costs the
 * same for 5 files or 5,000. No DOM, no requests.
 */
import { TransferMeter } from "./progress.js";
import { StallGroup } from "./stall.js";

/**
 * @typedef {import("./protocol.js").Status} Status
 * @typedef {import("./kernel.js").SignPlan} SignPlan
 */

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
 * @property {boolean} waitingForNetwork  a request of it waits for the network (network.js)
 * @property {number} resent      bytes put on the wire by tries that failed (sent again)
 */

/**
 * @typedef {object} Totals
 * @property {number} loaded     over every file not cancelled
 * @property {number} total
 * @property {number} speed      of all files together
 * @property {number | null} eta over queued and running files
 * @property {number} active     files signing, uploading or completing
 * @property {number} queued
 * @property {number} paused
 * @property {number} done
 * @property {number} unverified
 * @property {number} failed
 * @property {number} cancelled
 */

/**
 * One file of the engine.
 * @typedef {object} EngineFile
 * @property {string} id
 * @property {Blob} blob
 * @property {FileState} state
 * @property {AbortController | null} controller  aborts every request of the file at once
 *           (made when its bytes start to move: most files never need it)
 * @property {boolean} stopped             ended (done, error, cancelled): nothing more happens
 * @property {TransferMeter} meter
 * @property {SignPlan | null} plan        the kernel's "sign-files" answer for it
 * @property {boolean} paused              paused by the person or w.pause(): waits, keeps what S3 holds
 * @property {boolean} admitted            taken from the queue once (a resumed file may be queued twice)
 * @property {import("./protocol.js").Status} pausedFrom  the status it had when paused
 * @property {boolean} pauseAborted        a pause aborted its transfer, which has not settled yet
 * @property {string} checksum            the whole file's CRC32C ("" until computed; single PUTs only)
 * @property {string} [md5]               its MD5 (base64), below FORM_POST_MAX_BYTES: a form POST's Content-MD5
 * @property {Map<number, string>} stored  ETag of each part S3 stored (0: the single PUT), kept
 *           across pauses so that a resumed file sends only what is missing
 * @property {StallGroup} stalls           its requests (in flight, and recently stored),
 *           which judge each other's stalls
 * @property {number} networkWaits         its requests waiting for the network
 * @property {{offset: number, length: number} | null} firstPart  "add-files"' first_part: the
 *           bytes of part 1 as the kernel plans them, hashed while "sign-files" is out
 * @property {{start: number, end: number, sum: Promise<string>} | null} early  that hash
 */

/**
 * Whether a file's work must stop now: it ended, or it is paused.
 * @param {EngineFile} file
 */
export function halted(file) {
  return file.stopped || file.paused;
}

/**
 * @param {string} id
 * @param {Blob} blob
 * @param {() => number} now
 * @param {{offset: number, length: number} | null} [firstPart]  "add-files"' first_part
 * @returns {EngineFile}
 */
export function newFile(id, blob, now, firstPart = null) {
  /** @type {FileState} */
  const state = {
    id, status: "queued", loaded: 0, total: blob.size, speed: 0, eta: null, error: "", partsDone: 0, partCount: 0,
    waitingForNetwork: false, resent: 0,
  };
  return {
    id, blob, state, controller: null, stopped: false, meter: new TransferMeter(blob.size, now),
    plan: null, paused: false, pauseAborted: false, admitted: false, pausedFrom: "queued", stored: new Map(), checksum: "",
    stalls: new StallGroup(), networkWaits: 0, firstPart, early: null,
  };
}

/** @type {Record<Status, "queued" | "active" | "paused" | "done" | "unverified" | "failed" | "cancelled">} */
const BUCKET = {
  queued: "queued", signing: "active", uploading: "active", paused: "paused", completing: "active",
  done: "done", unverified: "unverified", error: "failed", cancelled: "cancelled",
};

/** Counts and byte sums over the engine's files, moved by each file's change. */
export class Tally {
  constructor() {
    this.counts = { queued: 0, active: 0, paused: 0, done: 0, unverified: 0, failed: 0, cancelled: 0 };
    this.loaded = 0;
    this.total = 0;
    this.remaining = 0; // bytes left over queued and active files
  }

  /**
   * Count a file's state in (sign 1) or out (sign -1).
   * @param {FileState} state
   * @param {1 | -1} sign
   */
  add(state, sign) {
    const bucket = BUCKET[state.status] ?? "active";
    this.counts[bucket] += sign;
    if (bucket === "cancelled") return;
    this.loaded += sign * state.loaded;
    this.total += sign * state.total;
    if (bucket === "queued" || bucket === "active") this.remaining += sign * (state.total - state.loaded);
  }

  /**
   * @param {{read: () => number, speed: number}} rate the speed of all files together
   * @returns {Totals}
   */
  totals(rate) {
    const { queued, active, paused, done, unverified, failed, cancelled } = this.counts;
    const running = queued + active > 0;
    const speed = running ? rate.read() : 0;
    const eta = running && speed > 0 ? this.remaining / speed : null;
    return {
      loaded: this.loaded, total: this.total, speed, eta, active, queued, paused, done, unverified, failed, cancelled,
    };
  }
}

/**
 * The queued files in order of add: an array and a head index, so taking the first file
 * costs the same at any length (a Set would walk the holes its deletions leave). A file
 * leaves it by being taken, or by being stopped (skipped when the head reaches it).
 */
export class FileQueue {
  constructor() {
    /** @type {EngineFile[]} */
    this.items = [];
    this.head = 0;
  }

  /** @param {EngineFile} file */
  push(file) {
    this.items.push(file);
  }

  /** @returns {EngineFile | undefined} the first file still waiting */
  peek() {
    while (this.head < this.items.length && skipped(this.items[this.head])) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  /** Take the first file (the one peek() returned). */
  shift() {
    const file = this.peek();
    if (file) this.head++;
    return file;
  }

  /** The files still waiting, in order. */
  *[Symbol.iterator]() {
    for (let i = this.head; i < this.items.length; i++) if (!skipped(this.items[i])) yield this.items[i];
  }
}

/**
 * A queue entry to pass over: its file ended, is paused (it waits apart and comes back
 * by push), or was already taken (an earlier entry of a file resumed while queued).
 * @param {EngineFile} file
 */
function skipped(file) {
  return file.stopped || file.paused || file.admitted;
}

/**
 * @param {SignPlan | null} plan
 * @returns {import("./put.js").SignedRequest}
 */
export function checkSingle(plan) {
  if (plan?.mode !== "single" || !plan.url) throw new Error(`Unexpected "sign" answer: mode ${plan?.mode}.`);
  return plan;
}

/**
 * @template T
 * @param {Set<T>} set
 * @returns {T | undefined} its first item
 */
export function first(set) {
  for (const item of set) return item;
  return undefined;
}

/** @param {unknown} value a count from an option: a whole number, at least 1 */
export function atLeastOne(value) {
  const n = Math.floor(Number(value));
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

/**
 * The `field` of each file that has one, by file id (a "sign-files" argument);
 * undefined when none has.
 * @param {EngineFile[]} files
 * @param {"checksum" | "md5"} field
 * @returns {Record<string, string> | undefined}
 */
export function byId(files, field) {
  const having = files.filter((f) => f[field]);
  return having.length ? Object.fromEntries(having.map((f) => [f.id, /** @type {string} */ (f[field])])) : undefined;
}
