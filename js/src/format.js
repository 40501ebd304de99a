// @ts-check
/** This file owns the numbers a person reads: sizes, speeds, durations. Pure; tested in node. */

// SI symbols, as the kernel writes them in error messages (kB, not KB).
const UNITS = ["B", "kB", "MB", "GB", "TB"];

/**
 * Decimal units, as file managers show them: 1.5 MB, 3.0 GB.
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * @param {number} bytesPerSecond
 * @returns {string}
 */
export function formatSpeed(bytesPerSecond) {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return "";
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * "45 s", "3 min 05 s", "2 h 10 min"; "" when unknown.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * Whole percent, never 100 before the end.
 * @param {number} loaded
 * @param {number} total
 * @returns {number}
 */
export function percent(loaded, total) {
  if (!total) return loaded >= total ? 100 : 0;
  const p = Math.floor((100 * loaded) / total);
  return Math.max(0, Math.min(loaded >= total ? 100 : 99, p));
}

// C0 and C1 controls, DEL, and the bidirectional controls that reorder what follows them
// (a name "txt.exe\u202Efdp" would read as "...pdf.exe").
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * A file name as a row shows it: every control or bidi character made visible as
 * `⟨U+XXXX⟩`, so a name can neither hide characters nor reorder how it reads.
 * @param {string} name
 * @returns {string}
 */
export function visibleName(name) {
  return String(name).replace(INVISIBLE, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
}
