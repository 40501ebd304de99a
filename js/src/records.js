// @ts-check
/**
 * This file owns the page's copy of the kernel's upload records, as the view draws them
 * (protocol.js VIEW_FIELDS): the "hello" answer's snapshot, then "records" deltas. It
 * keeps the counts by status and the byte sums up to date as records change, so a view
 * never walks every record to draw the batch line. Pure: no DOM.
 */
import { VIEW_FIELDS } from "./protocol.js";

/**
 * A record as the page draws it (the kernel keeps the rest: `w.uploads`).
 * @typedef {object} ViewRecord
 * @property {string} id
 * @property {string} name
 * @property {string} relative_path
 * @property {number} size
 * @property {string} bucket
 * @property {string} key
 * @property {import("./protocol.js").Status} status
 * @property {number} loaded
 * @property {string} error   words for a person, "" when none
 */

/**
 * A "records" command (kernel -> browser): patches hold "id" and the fields that changed,
 * a new id all of VIEW_FIELDS.
 * @typedef {{kind?: string, records?: Partial<ViewRecord>[], removed?: string[]}} RecordsCommand
 */

/**
 * What one snapshot or delta changed: ids added or patched, ids dropped, and whether it
 * was a snapshot (which replaces everything).
 * @typedef {{changed: string[], removed: string[], reset: boolean}} StoreChange
 */

const NUMBER_FIELDS = new Set(["size", "loaded"]);

export class RecordStore {
  constructor() {
    /** @type {Map<string, ViewRecord>} in the kernel's order (the order files were added) */
    this._records = new Map();
    /** @type {Record<string, number>} records by status */
    this.counts = {};
    /** bytes loaded and in all, over the records not cancelled */
    this.bytes = { loaded: 0, size: 0 };
    /** @type {Set<(change: StoreChange) => void>} */
    this._listeners = new Set();
  }

  get size() {
    return this._records.size;
  }

  /** @param {string} id */
  get(id) {
    return this._records.get(id);
  }

  /** Every record, in order. */
  values() {
    return this._records.values();
  }

  /** @param {string} status */
  count(status) {
    return this.counts[status] ?? 0;
  }

  /**
   * Hear every change; returns the function that stops it.
   * @param {(change: StoreChange) => void} listener
   * @returns {() => void}
   */
  subscribe(listener) {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  /**
   * Replace everything with the kernel's snapshot (the "hello" answer). Entries that
   * are not whole records are skipped.
   * @param {unknown} records
   * @returns {StoreChange}
   */
  reset(records) {
    const before = this._records;
    this._records = new Map();
    this.counts = {};
    this.bytes = { loaded: 0, size: 0 };
    const changed = [];
    for (const patch of Array.isArray(records) ? records : []) {
      if (!isWhole(patch) || this._records.has(patch.id)) continue;
      this._put(patch.id, /** @type {ViewRecord} */ ({}), patch);
      changed.push(patch.id);
    }
    const removed = [...before.keys()].filter((id) => !this._records.has(id));
    return this._emit({ changed, removed, reset: true });
  }

  /**
   * Apply a "records" delta: patches first, then removals. A patch for an id this store
   * does not know is taken only when it carries every field (else it is ignored: it
   * may have come before the snapshot, which holds that record whole).
   * @param {RecordsCommand} command
   * @returns {StoreChange}
   */
  apply(command) {
    const changed = [];
    const removed = [];
    for (const patch of Array.isArray(command?.records) ? command.records : []) {
      if (!patch || typeof patch !== "object" || typeof patch.id !== "string") continue;
      const known = this._records.get(patch.id);
      if (!known && !isWhole(patch)) continue;
      this._put(patch.id, known ?? /** @type {ViewRecord} */ ({}), patch);
      changed.push(patch.id);
    }
    for (const id of Array.isArray(command?.removed) ? command.removed : []) {
      const record = this._records.get(id);
      if (!record) continue;
      this._tally(record, -1);
      this._records.delete(id);
      removed.push(id);
    }
    return this._emit({ changed, removed, reset: false });
  }

  /**
   * @param {string} id
   * @param {ViewRecord} record  the stored record (a new empty one for a new id)
   * @param {Partial<ViewRecord>} patch
   */
  _put(id, record, patch) {
    const known = this._records.has(id);
    if (known) this._tally(record, -1);
    const fields = /** @type {Record<string, unknown>} */ (record);
    for (const name of VIEW_FIELDS) {
      if (!(name in patch)) continue;
      const value = /** @type {Record<string, unknown>} */ (patch)[name];
      fields[name] = NUMBER_FIELDS.has(name) ? count(value) : String(value ?? "");
    }
    record.id = id;
    if (!known) this._records.set(id, record);
    this._tally(record, 1);
  }

  /** @param {ViewRecord} record @param {1 | -1} sign */
  _tally(record, sign) {
    this.counts[record.status] = (this.counts[record.status] ?? 0) + sign;
    if (record.status === "cancelled") return;
    const loaded = record.status === "done" ? record.size : Math.min(record.loaded, record.size);
    this.bytes.loaded += sign * loaded;
    this.bytes.size += sign * record.size;
  }

  /** @param {StoreChange} change */
  _emit(change) {
    if (!change.changed.length && !change.removed.length && !change.reset) return change;
    for (const listener of this._listeners) {
      try {
        listener(change);
      } catch (err) {
        console.error("s3-upload-widget: a record listener failed", err);
      }
    }
    return change;
  }
}

/**
 * Whether a patch is a whole record (every field the page draws).
 * @param {any} patch
 * @returns {patch is ViewRecord}
 */
function isWhole(patch) {
  return !!patch && typeof patch === "object" && typeof patch.id === "string" &&
    VIEW_FIELDS.every((name) => name in patch);
}

/** @param {unknown} value a byte count from the wire */
function count(value) {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}
