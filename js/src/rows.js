// @ts-check
/**
 * This file owns the list of files on the page and the batch line. Up to ROW_LIMIT
 * records, one row per file; above it, rows only for files uploading for longer than
 * IN_PROGRESS_ROW_DELAY_MS (kept while they finish), and for the first FAILED_ROW_LIMIT
 * failed ones; the batch line counts the rest. A row shows the kernel's record (authoritative for status, key and error)
 * merged with the engine's live progress. Each draw touches only the rows marked
 * changed (by the record store or the engine), never every record.
 */
import { formatBytes, formatDuration, formatSpeed, percent, visibleName } from "./format.js";
import { ELSEWHERE_MS, FINAL_STATUSES } from "./protocol.js";

/** Above this many records, rows collapse into the batch line. */
export const ROW_LIMIT = 200;
/** Failed files shown as rows when collapsed; the rest are counted. */
export const FAILED_ROW_LIMIT = 100;
/**
 * When collapsed, a file uploading gets a row once it has been so this long: small
 * files come and go within a few frames, and a row each would only make the page
 * lay out and paint for nothing a person could read.
 */
export const IN_PROGRESS_ROW_DELAY_MS = 1000;

/** @type {Record<string, string>} */
const STATUS_TEXT = {
  queued: "queued",
  signing: "signing…",
  uploading: "uploading",
  paused: "paused",
  completing: "finishing…",
  done: "done",
  unverified: "sent, not verified",
  error: "error",
  cancelled: "cancelled",
};
/** An uploading file whose requests wait for the network to come back (network.js). */
export const WAITING_FOR_NETWORK = "waiting for the network";
/** An upload the kernel kept whose page went away (a reload): the same file resumes it (resume.js). */
export const INTERRUPTED = "interrupted — pick the same file to resume";
/** An upload another page (a second tab or window) is sending: its bytes move in the records. */
export const ELSEWHERE = "uploading in another window";
/** Two heavy bars: U+23F8 (⏸) is missing from common Linux fonts and drew as a box. */
const PAUSE_GLYPH = "\u275a\u275a";
const IN_PROGRESS = new Set(["uploading", "completing"]);
const MOVING = "uploading";
const PROBLEMS = new Set(["error", "unverified"]);

/**
 * @typedef {import("./records.js").ViewRecord} ViewRecord
 * @typedef {import("./records.js").RecordStore} RecordStore
 * @typedef {import("./engine.js").FileState} FileState
 * @typedef {ReturnType<typeof createRow>} Row
 */

/**
 * @param {string} tag
 * @param {string} className
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const NUMBER = new Intl.NumberFormat("en-US"); // toLocaleString makes one per call
/** @param {number} n */
const count = (n) => NUMBER.format(n);

/**
 * What a row shows: the kernel decides when a file is finished; before that the
 * engine knows sooner.
 * @param {ViewRecord} record
 * @param {FileState | undefined} live
 * @returns {string}
 */
export function shownStatus(record, live) {
  return FINAL_STATUSES.includes(record.status) || !live ? record.status : live.status;
}

/**
 * @typedef {object} RowListOptions
 * @property {HTMLElement} rows        rows of files (all of them, or those in progress)
 * @property {HTMLElement} failed      rows of failed files when collapsed
 * @property {HTMLElement} moreFailed  "and N more failed"
 * @property {HTMLElement} total       the batch line
 * @property {RecordStore} store
 * @property {(id: string) => FileState | undefined} engineState
 * @property {() => import("./engine.js").Totals} totals
 * @property {(id: string) => void} onCancel
 * @property {(id: string) => void} onPause    pauses the file, or resumes it when paused
 * @property {HTMLButtonElement} pauseAll      "Pause all" / "Resume all", drawn with the batch line
 * @property {(id: string, record: ViewRecord, status: string, live: FileState | undefined) => void} [onStatus]
 *   every status drawn, row or not (the view's announcements)
 * @property {() => number} [now]      (performance.now)
 * @property {number} [rowDelayMs]     (IN_PROGRESS_ROW_DELAY_MS)
 */

export class RowList {
  /** @param {RowListOptions} options */
  constructor(options) {
    this.o = options;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** @type {Set<string>} ids to look at in the next draw */
    this.dirty = new Set();
    /** @type {Map<string, string>} the status each record last showed */
    this.drawn = new Map();
    /** @type {Set<string>} failed files given a row while collapsed */
    this.failedShown = new Set();
    /** @type {Map<string, number>} when collapsed: files in progress without a row yet, since when */
    this.since = new Map();
    /** @type {boolean | null} null until the first draw */
    this.collapsed = null;
    this.everything = true;
    /** @type {Map<string, number>} uploads of another page: the bytes last seen, and when they moved */
    this.loadedSeen = new Map();
    /** @type {Map<string, number>} */
    this.movedAt = new Map();
    /** @type {Set<string>} ids drawn as going on in another page: redrawn until they stop */
    this.elsewhere = new Set();
    this.now = options.now ?? (() => performance.now());
    this.rowDelayMs = options.rowDelayMs ?? IN_PROGRESS_ROW_DELAY_MS;
  }

  /** @param {string} id */
  mark(id) {
    this.dirty.add(id);
  }

  /** Look at every record in the next draw, rows rebuilt in the records' order. */
  rebuild() {
    this.collapsed = null;
  }

  /**
   * Whether an engine change of a file is worth drawing at the next frame: its status
   * changed, and it has (or, up to ROW_LIMIT, gets) a row. Anything else waits for the
   * next unhurried redraw of the batch line.
   * @param {string} id
   * @param {string} status
   */
  urgent(id, status) {
    return this.drawn.get(id) !== status && (!this.collapsed || this.rows.has(id));
  }

  /**
   * Draw what changed. Returns true when a file in progress waits for its row: draw
   * again a little later even if nothing changes.
   * @returns {boolean}
   */
  draw() {
    const { store } = this.o;
    const collapsed = store.size > ROW_LIMIT;
    if (collapsed !== this.collapsed) {
      for (const id of [...this.rows.keys()]) this._remove(id);
      this.failedShown.clear();
      this.drawn.clear();
      this.since.clear();
      this.collapsed = collapsed;
      this.everything = true;
    }
    if (this.everything) {
      this.everything = false;
      this.dirty.clear();
      for (const record of store.values()) this._drawOne(record.id);
    } else {
      const ids = new Set([...this.dirty, ...this.since.keys(), ...this.elsewhere]);
      this.dirty.clear();
      for (const id of ids) this._drawOne(id);
    }
    this._drawSummary();
    return this.since.size > 0 || this.elsewhere.size > 0;
  }

  /** @param {string} id */
  _drawOne(id) {
    const record = this.o.store.get(id);
    if (!record) {
      this._remove(id);
      for (const seen of [this.drawn, this.elsewhere, this.loadedSeen, this.movedAt]) seen.delete(id);
      return;
    }
    const live = this.o.engineState(id);
    const status = shownStatus(record, live);
    const away = !live && record.status === MOVING && this._movedLately(id, record.loaded);
    if (away) this.elsewhere.add(id);
    else this.elsewhere.delete(id);
    this.drawn.set(id, status);
    this.o.onStatus?.(id, record, status, live);
    const container = this._containerFor(id, status);
    let row = this.rows.get(id);
    if (row && row.container !== container) {
      this._remove(id);
      row = undefined;
    }
    if (!container) return;
    if (!row) {
      row = createRow(id, container, this.o);
      this.rows.set(id, row);
    }
    if (this.collapsed && PROBLEMS.has(status)) this.failedShown.add(id);
    drawRow(row, record, live, status, away);
  }

  /**
   * Whether the bytes of an upload this page does not send moved in the last
   * ELSEWHERE_MS: another page sends it (the kernel passes on its progress), rather than
   * a page that went away.
   * @param {string} id
   * @param {number} loaded
   */
  _movedLately(id, loaded) {
    const seen = this.loadedSeen.get(id);
    this.loadedSeen.set(id, loaded);
    if (seen !== undefined && seen !== loaded) this.movedAt.set(id, this.now());
    const at = this.movedAt.get(id);
    return at !== undefined && this.now() - at < ELSEWHERE_MS;
  }

  /**
   * Where a file's row goes, or null when it gets none.
   * @param {string} id
   * @param {string} status
   * @returns {HTMLElement | null}
   */
  _containerFor(id, status) {
    if (!this.collapsed) return this.o.rows;
    if (status !== MOVING) this.since.delete(id);
    // A row once given stays while the file finishes; only moving bytes earn a new one.
    if (IN_PROGRESS.has(status) && this.rows.get(id)?.container === this.o.rows) return this.o.rows;
    if (status === MOVING) {
      const since = this.since.get(id) ?? this.now();
      if (this.now() - since < this.rowDelayMs) {
        this.since.set(id, since);
        return null;
      }
      this.since.delete(id);
      return this.o.rows;
    }
    if (PROBLEMS.has(status) && (this.failedShown.has(id) || this.failedShown.size < FAILED_ROW_LIMIT)) {
      return this.o.failed;
    }
    return null;
  }

  /** @param {string} id */
  _remove(id) {
    this.rows.get(id)?.row.remove();
    this.rows.delete(id);
    this.failedShown.delete(id);
    this.since.delete(id);
  }

  _drawSummary() {
    const { store, total, moreFailed } = this.o;
    const failed = store.count("error");
    const unverified = store.count("unverified");
    const more = this.collapsed ? failed + unverified - this.failedShown.size : 0;
    setText(moreFailed, more > 0
      ? `and ${count(more)} more ${unverified ? "failed or not verified" : "failed"} — see w.uploads`
      : "");
    moreFailed.hidden = more <= 0;

    const done = store.count("done");
    const finished = done + failed + unverified + store.count("cancelled");
    const t = this.o.totals(); // once per draw
    const busy = t.active + t.queued > 0;
    this._drawPauseAll(busy, t.paused);
    if (store.size < 2 && finished === store.size && !busy && !t.paused) {
      setText(total, "");
      return;
    }
    const bits = [`${count(done)} of ${count(store.size)} files done`];
    if (t.paused) bits.push(`${count(t.paused)} paused`);
    if (failed) bits.push(`${count(failed)} failed`);
    if (unverified) bits.push(`${count(unverified)} not verified`);
    const bytes = busy && t.total ? t : { loaded: store.bytes.loaded, total: store.bytes.size };
    if (bytes.total) bits.push(`${formatBytes(bytes.loaded)} of ${formatBytes(bytes.total)}`);
    if (busy && t.speed) bits.push(formatSpeed(t.speed));
    if (busy && t.eta != null) bits.push(`${formatDuration(t.eta)} left`);
    setText(total, bits.join(" · "));
  }

  /**
   * "Pause all" while files move or wait, "Resume all" once only paused ones are left.
   * @param {boolean} busy
   * @param {number} paused
   */
  _drawPauseAll(busy, paused) {
    const button = this.o.pauseAll;
    const text = busy ? "Pause all" : "Resume all";
    if (button.hidden !== !(busy || paused)) button.hidden = !(busy || paused);
    setText(button, text);
    button.dataset.action = busy ? "pause" : "resume";
  }
}

/**
 * Change a text only when it differs: an equal write still costs the page a layout.
 * @param {HTMLElement} node
 * @param {string} text
 */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * @param {string} id
 * @param {HTMLElement} container
 * @param {{onCancel: (id: string) => void, onPause: (id: string) => void}} actions
 */
function createRow(id, container, { onCancel, onPause }) {
  const row = h("div", "s3uw-row");
  row.dataset.uploadId = id;
  const name = h("span", "s3uw-name");
  const size = h("span", "s3uw-size");
  const bar = h("div", "s3uw-progress");
  const fill = h("div", "s3uw-progress-fill");
  bar.append(fill);
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const pct = h("span", "s3uw-percent");
  const rate = h("span", "s3uw-rate");
  const status = h("span", "s3uw-status");
  const cancel = /** @type {HTMLButtonElement} */ (h("button", "s3uw-cancel", "✕"));
  cancel.type = "button";
  cancel.title = "Cancel this upload";
  cancel.addEventListener("click", () => onCancel(id));
  const pause = /** @type {HTMLButtonElement} */ (h("button", "s3uw-pause"));
  pause.type = "button";
  pause.addEventListener("click", () => onPause(id));
  const error = h("div", "s3uw-error");
  row.append(name, size, bar, pct, rate, status, pause, cancel, error);
  container.append(row);
  return { row, container, name, size, bar, fill, pct, rate, status, pause, cancel, error };
}

/**
 * @param {Row} parts
 * @param {ViewRecord} record
 * @param {FileState | undefined} live
 * @param {string} status  shownStatus(record, live)
 * @param {boolean} [away]  another page sends this upload (RowList._movedLately)
 */
function drawRow(parts, record, live, status, away = false) {
  const final = FINAL_STATUSES.includes(record.status);
  const loaded = final ? record.loaded : Math.max(record.loaded || 0, live?.loaded || 0);
  const error = record.error || (live?.status === "error" ? live.error : "") || "";
  const p = status === "done" ? 100 : percent(loaded, record.size);
  if (parts.row.dataset.status !== status) parts.row.dataset.status = status;
  const shown = visibleName(record.name);
  if (parts.name.textContent !== shown) {
    parts.name.textContent = shown;
    // Every row has these controls: a screen reader tells them apart by the file's name.
    parts.bar.setAttribute("aria-label", `Progress of ${shown}`);
    parts.cancel.setAttribute("aria-label", `Cancel the upload of ${shown}`);
    parts.pause.setAttribute("aria-label", `${parts.pause.title || "Pause this upload"}: ${shown}`);
  }
  const title = record.key ? `s3://${record.bucket}/${record.key}` : visibleName(record.name);
  if (parts.name.title !== title) parts.name.title = title;
  setText(parts.size, formatBytes(record.size));
  // A transform, not width: it needs no layout, so a busy upload costs the page little.
  const scale = `scaleX(${p / 100})`;
  if (parts.fill.style.transform !== scale) {
    parts.fill.style.transform = scale;
    parts.bar.setAttribute("aria-valuenow", String(p));
  }
  setText(parts.pct, `${p}%`);
  const offline = status === "uploading" && !!live?.waitingForNetwork;
  const moving = status === "uploading" && live && !offline;
  setText(parts.rate, moving
    ? [formatSpeed(live.speed), live.eta != null ? `${formatDuration(live.eta)} left` : ""].filter(Boolean).join(" · ")
    : "");
  const interrupted = !live && (status === "uploading" || status === "paused");
  const note = offline ? WAITING_FOR_NETWORK : away ? ELSEWHERE : interrupted ? INTERRUPTED : null;
  setText(parts.status, note ?? STATUS_TEXT[status] ?? status);
  const ended = FINAL_STATUSES.includes(status);
  if (parts.cancel.hidden !== ended) parts.cancel.hidden = ended;
  // Only this page can pause its own transfers, and a file completing has nothing left to send.
  const pausable = !!live && !ended && status !== "completing";
  if (parts.pause.hidden !== !pausable) parts.pause.hidden = !pausable;
  const label = status === "paused" ? "Resume this upload" : "Pause this upload";
  if (parts.pause.title !== label) {
    parts.pause.title = label;
    parts.pause.setAttribute("aria-label", `${label}: ${shown}`);
    parts.pause.textContent = status === "paused" ? "▶" : PAUSE_GLYPH;
  }
  setText(parts.error, error);
  if (parts.error.hidden !== !error) parts.error.hidden = !error;
}
