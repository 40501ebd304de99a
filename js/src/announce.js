// @ts-check
/**
 * This file owns what the widget says to screen readers about uploads: a file started,
 * is done, failed or was cancelled (never each percent). The view feeds it every status
 * it draws and puts what `flush` returns into its one aria-live="polite" region (pure, no
 * DOM).
 */
import { visibleName } from "./format.js";

/** Statuses that mean a file's bytes are on their way. */
const STARTED = new Set(["signing", "uploading", "completing"]);
/** @type {Record<string, "done" | "failed" | "cancelled" | undefined>} */
const ENDED = { done: "done", error: "failed", unverified: "failed", cancelled: "cancelled" };
/** Longest error text read out for one failed file. */
export const MAX_ERROR_CHARS = 160;

/**
 * @typedef {"started" | "done" | "failed" | "cancelled"} Event
 * @typedef {{ name: string, error: string }} Item
 */

export class Announcer {
  constructor() {
    /** @type {Map<string, Event>} the last event told of each file */
    this.told = new Map();
    /** @type {Map<Event, Map<string, Item>>} events since the last flush, by id */
    this.pending = new Map();
    this.quiet = false;
  }

  /**
   * The files drawn from now until the next flush are already known (the kernel's
   * snapshot after a reload): their state is noted, not announced.
   */
  hush() {
    this.quiet = true;
  }

  /**
   * A file's status as the view draws it.
   * @param {string} id
   * @param {string} name     the file's name
   * @param {string} status   shownStatus of the row
   * @param {string} [error]  the record's error, for a failed file
   */
  note(id, name, status, error = "") {
    /** @type {Event | null} */
    const event = ENDED[status] ?? (STARTED.has(status) ? "started" : null);
    if (!event || this.told.get(id) === event) return;
    // A file resumed or retried after it failed starts again; one already ended
    // otherwise says nothing more.
    if (event === "started" && this.told.has(id) && this.told.get(id) !== "failed") return;
    this.told.set(id, event);
    if (this.quiet) return;
    for (const items of this.pending.values()) items.delete(id); // finished in the same breath
    if (!this.pending.has(event)) this.pending.set(event, new Map());
    this.pending.get(event)?.set(id, { name: visibleName(name), error: error || "" });
  }

  /** @param {string} id a record the kernel forgot */
  forget(id) {
    this.told.delete(id);
    for (const items of this.pending.values()) items.delete(id);
  }

  /**
   * What to announce for the events since the last call, or "" for nothing.
   * @returns {string}
   */
  flush() {
    this.quiet = false;
    const parts = [];
    for (const event of /** @type {Event[]} */ (["started", "done", "failed", "cancelled"])) {
      const items = [...(this.pending.get(event)?.values() ?? [])];
      if (items.length) parts.push(sentence(event, items));
    }
    this.pending.clear();
    return parts.join(" ");
  }
}

/**
 * @param {Event} event
 * @param {Item[]} items
 */
export function sentence(event, items) {
  const one = items.length === 1 ? items[0] : null;
  const files = `${items.length.toLocaleString("en-US")} files`;
  switch (event) {
    case "started":
      return one ? `Uploading ${one.name}.` : `Uploading ${files}.`;
    case "done":
      return one ? `${one.name} uploaded.` : `${files} uploaded.`;
    case "cancelled":
      return one ? `${one.name} cancelled.` : `${files} cancelled.`;
    default: {
      if (!one) return `${files} failed.`;
      const error = one.error.length > MAX_ERROR_CHARS ? `${one.error.slice(0, MAX_ERROR_CHARS - 1)}…` : one.error;
      return error ? `${one.name} failed: ${error}` : `${one.name} failed.`;
    }
  }
}
