// @ts-check
/**
 * This file owns the DOM: file and folder pickers, drop zone, one row per file, batch total.
 * Rows show the kernel's record (authoritative for status, key and error) merged with
 * the engine's live progress (bytes, speed, time left) between kernel updates.
 */
import { formatBytes, formatDuration, formatSpeed, percent } from "./format.js";
import { FINAL_STATUSES } from "./protocol.js";
import { collectDropped, fromFileList } from "./folders.js";

const PROGRESS_REDRAW_MS = 250;
/** @type {Record<string, string>} */
const STATUS_TEXT = {
  queued: "queued",
  signing: "signing…",
  uploading: "uploading",
  completing: "finishing…",
  done: "done",
  unverified: "sent, not verified",
  error: "error",
  cancelled: "cancelled",
};

/**
 * @param {string} tag
 * @param {string} className
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @typedef {import("./protocol.js").UploadRecord} UploadRecord
 * @typedef {import("./engine.js").FileState} FileState
 * @typedef {import("./folders.js").PickedFile} PickedFile
 * @typedef {{ onFiles: (files: PickedFile[], problems: string[]) => void, onCancel: (id: string) => void,
 *   engineState: (id: string) => FileState | undefined,
 *   totals: () => import("./engine.js").Totals }} ViewHooks
 */

/**
 * @param {HTMLElement} el
 * @param {import("./widget.js").Model} model
 * @param {ViewHooks} hooks
 */
export function createView(el, model, hooks) {
  const root = h("div", "s3uw");
  const dropzone = h("div", "s3uw-dropzone");
  const input = /** @type {HTMLInputElement} */ (h("input", "s3uw-input"));
  input.type = "file";
  const button = /** @type {HTMLButtonElement} */ (h("button", "s3uw-button", "Choose files"));
  button.type = "button";
  // A folder picker: its files carry webkitRelativePath ("top/sub/file.csv").
  const folderInput = /** @type {HTMLInputElement} */ (h("input", "s3uw-folder-input"));
  folderInput.type = "file";
  folderInput.webkitdirectory = true;
  const folderButton = /** @type {HTMLButtonElement} */ (h("button", "s3uw-folder-button", "Choose folder"));
  folderButton.type = "button";
  const hint = h("span", "s3uw-hint", "or drop files or folders here");
  const target = h("div", "s3uw-target");
  dropzone.append(button, folderButton, hint, input, folderInput);
  const waiting = h("div", "s3uw-waiting", "Waiting for the Python kernel… (is a cell running?)");
  const reading = h("div", "s3uw-reading");
  reading.hidden = true;
  const notice = h("div", "s3uw-notice");
  const total = h("div", "s3uw-total");
  const rows = h("div", "s3uw-rows");
  root.append(dropzone, target, waiting, reading, notice, total, rows);
  el.append(root);

  /** @type {Map<string, ReturnType<typeof createRow>>} */
  const rowById = new Map();
  /** @type {Map<string, string>} the engine status each row last showed */
  const drawnStatus = new Map();
  let frame = 0;
  let timer = 0;

  function syncConfig() {
    input.multiple = !!model.get("multiple");
    input.accept = model.get("accept") || "";
    button.textContent = input.multiple ? "Choose files" : "Choose a file";
    folderButton.hidden = !input.multiple;
    hint.textContent = input.multiple ? "or drop files or folders here" : "or drop a file here";
    const limits = [];
    if (model.get("accept")) limits.push(model.get("accept"));
    if (model.get("max_size") != null) limits.push(`up to ${formatBytes(model.get("max_size"))}`);
    target.textContent = `→ s3://${model.get("bucket")}/${model.get("prefix") || ""}${
      limits.length ? `  (${limits.join(", ")})` : ""
    }`;
  }

  /** @param {{files: PickedFile[], problems: string[]}} picked the files, what was skipped */
  function take({ files, problems }) {
    if (files.length || problems.length) hooks.onFiles(files, problems);
  }

  button.addEventListener("click", () => input.click());
  folderButton.addEventListener("click", () => folderInput.click());
  input.addEventListener("change", () => {
    take(fromFileList(input.files));
    input.value = ""; // the same file can be chosen again
  });
  folderInput.addEventListener("change", () => {
    take(fromFileList(folderInput.files, { folder: true }));
    folderInput.value = "";
  });
  let walks = 0;
  /** @param {number} found files found so far by the walks under way */
  const showReading = (found) => {
    reading.textContent = `Reading the dropped folders… ${found.toLocaleString("en-US")} files so far`;
    reading.hidden = walks === 0;
  };
  const onDragOver = (/** @type {DragEvent} */ event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    dropzone.classList.add("s3uw-dragover");
  };
  dropzone.addEventListener("dragenter", onDragOver);
  dropzone.addEventListener("dragover", onDragOver);
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("s3uw-dragover"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    // JupyterLab would otherwise open the dropped file as a document.
    event.stopPropagation();
    dropzone.classList.remove("s3uw-dragover");
    if (!event.dataTransfer) return;
    // Synchronously, before its first await, this takes the entries out of the
    // DataTransfer, which the browser empties once this handler returns.
    const walk = collectDropped(event.dataTransfer, { onProgress: showReading });
    walks++;
    walk
      .then(take, (err) => take({ files: [], problems: [`Could not read the drop: ${err?.message ?? err}`] }))
      .finally(() => {
        walks--;
        reading.hidden = walks === 0;
      });
  });

  function createRow(/** @type {string} */ id) {
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
    cancel.setAttribute("aria-label", "Cancel this upload");
    cancel.addEventListener("click", () => hooks.onCancel(id));
    const error = h("div", "s3uw-error");
    row.append(name, size, bar, pct, rate, status, cancel, error);
    rows.append(row);
    return { row, name, size, bar, fill, pct, rate, status, cancel, error };
  }

  function draw() {
    frame = 0;
    clearTimeout(timer);
    timer = 0;
    const records = model.get("uploads") || [];
    const seen = new Set();
    for (const record of records) {
      seen.add(record.id);
      let parts = rowById.get(record.id);
      if (!parts) rowById.set(record.id, (parts = createRow(record.id)));
      const live = hooks.engineState(record.id);
      drawnStatus.set(record.id, live?.status ?? "");
      drawRow(parts, record, live);
    }
    for (const [id, parts] of rowById) {
      if (!seen.has(id)) {
        parts.row.remove();
        rowById.delete(id);
        drawnStatus.delete(id);
      }
    }
    drawTotal(records);
  }

  /**
   * @param {ReturnType<typeof createRow>} parts
   * @param {UploadRecord} record
   * @param {FileState | undefined} live
   */
  function drawRow(parts, record, live) {
    // The kernel decides when a file is done or failed; the engine knows the bytes sooner.
    const final = FINAL_STATUSES.includes(record.status);
    const status = final || !live ? record.status : live.status;
    const loaded = final ? record.loaded : Math.max(record.loaded || 0, live?.loaded || 0);
    const error = record.error || (live?.status === "error" ? live.error : "") || "";
    const p = status === "done" ? 100 : percent(loaded, record.size);
    parts.row.dataset.status = status;
    parts.name.textContent = record.name;
    parts.name.title = record.key ? `s3://${record.bucket}/${record.key}` : record.name;
    parts.size.textContent = formatBytes(record.size);
    // A transform, not width: it needs no layout, so a busy upload costs the page little.
    parts.fill.style.transform = `scaleX(${p / 100})`;
    parts.bar.setAttribute("aria-valuenow", String(p));
    parts.pct.textContent = `${p}%`;
    const moving = status === "uploading" && live;
    parts.rate.textContent = moving
      ? [formatSpeed(live.speed), live.eta != null ? `${formatDuration(live.eta)} left` : ""]
          .filter(Boolean)
          .join(" · ")
      : "";
    parts.status.textContent = STATUS_TEXT[status] ?? status;
    parts.cancel.hidden = FINAL_STATUSES.includes(status);
    parts.error.textContent = error;
    parts.error.hidden = !error;
  }

  /** @param {UploadRecord[]} records */
  function drawTotal(records) {
    const active = records.filter((r) => !FINAL_STATUSES.includes(r.status));
    if (records.length < 2 && !active.length) {
      total.textContent = "";
      return;
    }
    const t = hooks.totals();
    const done = records.filter((r) => r.status === "done").length;
    const failed = records.filter((r) => r.status === "error").length;
    const bits = [`${done} of ${records.length} done`];
    if (failed) bits.push(`${failed} failed`);
    if (active.length && t.total) {
      bits.push(`${formatBytes(t.loaded)} of ${formatBytes(t.total)}`);
      if (t.speed) bits.push(formatSpeed(t.speed));
      if (t.eta != null) bits.push(`${formatDuration(t.eta)} left`);
    }
    total.textContent = bits.join(" · ");
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  // Bytes move many times a second; a person reads a few updates a second. Redrawing
  // rows at that pace costs the page CPU that the upload itself needs.
  function scheduleProgress() {
    if (!frame && !timer) timer = setTimeout(schedule, PROGRESS_REDRAW_MS);
  }

  const onUploads = () => schedule();
  const onConfig = () => syncConfig();
  model.on("change:uploads", onUploads);
  for (const name of ["multiple", "accept", "bucket", "prefix", "max_size"]) {
    model.on(`change:${name}`, onConfig);
  }
  syncConfig();
  draw();

  return {
    /** @param {string} id @param {FileState} state the engine's state of that file */
    updateFile(id, state) {
      if (state.status !== drawnStatus.get(id)) schedule();
      else scheduleProgress();
    },
    /** @param {boolean} on */
    setWaiting(on) {
      waiting.hidden = !on;
    },
    /** @param {string} text */
    setNotice(text) {
      notice.textContent = text;
      notice.hidden = !text;
    },
    dispose() {
      if (frame) cancelAnimationFrame(frame);
      clearTimeout(timer);
      model.off("change:uploads", onUploads);
      for (const name of ["multiple", "accept", "bucket", "prefix", "max_size"]) {
        model.off(`change:${name}`, onConfig);
      }
      root.remove();
    },
  };
}
