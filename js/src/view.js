// @ts-check
/**
 * This file owns the DOM of one view: file and folder pickers, drop zone, notices, and
 * when to redraw the rows and the batch line (rows.js draws them). It draws from the
 * controller's record store (the kernel's records) and the engine's live state.
 */
import { formatBytes } from "./format.js";
import { collectDropped, fromFileList } from "./folders.js";
import { RowList, h } from "./rows.js";
import { Announcer } from "./announce.js";

const PROGRESS_REDRAW_MS = 250;

/**
 * @typedef {import("./engine.js").FileState} FileState
 * @typedef {import("./folders.js").PickedFile} PickedFile
 * @typedef {{ onFiles: (files: PickedFile[], problems: string[]) => void, onCancel: (id: string) => void,
 *   onPause: (id: string) => void, onPauseAll: (paused: boolean) => void,
 *   store: import("./records.js").RecordStore,
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
  // JupyterLab binds Enter (and other keys) in a notebook's command mode: without this a
  // focused button of the widget would never see the Enter that should press it (Lumino
  // stops matching key bindings at this attribute).
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const dropzone = h("div", "s3uw-dropzone");
  // A named group: a screen reader says what the buttons inside are for.
  dropzone.setAttribute("role", "group");
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
  const pauseAll = /** @type {HTMLButtonElement} */ (h("button", "s3uw-pause-all", "Pause all"));
  pauseAll.type = "button";
  pauseAll.hidden = true;
  pauseAll.addEventListener("click", () => hooks.onPauseAll(pauseAll.dataset.action !== "resume"));
  const rows = h("div", "s3uw-rows");
  const failed = h("div", "s3uw-failed");
  const moreFailed = h("div", "s3uw-more-failed");
  moreFailed.hidden = true;
  // The one live region: files started, done, failed, cancelled, and the notices (not
  // each percent: a screen reader would read nothing else).
  const live = h("div", "s3uw-live");
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  const announcer = new Announcer();
  root.append(dropzone, target, waiting, reading, notice, pauseAll, total, rows, failed, moreFailed, live);
  el.append(root);

  const list = new RowList({
    rows, failed, moreFailed, total, store: hooks.store, engineState: hooks.engineState, totals: hooks.totals,
    onCancel: hooks.onCancel, onPause: hooks.onPause, pauseAll,
    onStatus: (id, record, status, state) =>
      announcer.note(id, record.name, status, record.error || (state?.status === "error" ? state.error : "") || ""),
  });
  /** @param {string} text said once, politely */
  function announce(text) {
    // The same words again are news again (a second file of the same name): clear first.
    if (live.textContent === text) live.textContent = "";
    if (text) live.textContent = text;
  }
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
    const where = `s3://${model.get("bucket")}/${model.get("prefix") || ""}`;
    target.textContent = `→ ${where}${limits.length ? `  (${limits.join(", ")})` : ""}`;
    dropzone.setAttribute("aria-label", `Upload ${input.multiple ? "files or a folder" : "a file"} to ${where}`);
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

  function draw() {
    frame = 0;
    clearTimeout(timer);
    timer = 0;
    const later = list.draw(); // a file in progress waits for its row
    const text = announcer.flush();
    if (text) announce(text);
    if (later) scheduleProgress();
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  // Bytes move many times a second; a person reads a few updates a second. Redrawing
  // rows at that pace costs the page CPU that the upload itself needs.
  function scheduleProgress() {
    if (!frame && !timer) timer = setTimeout(schedule, PROGRESS_REDRAW_MS);
  }

  const unsubscribe = hooks.store.subscribe(({ changed, removed, reset }) => {
    if (reset) {
      list.rebuild();
      announcer.hush(); // the snapshot tells what already happened: not news
    }
    for (const id of changed) list.mark(id);
    for (const id of removed) {
      list.mark(id);
      announcer.forget(id);
    }
    // Above ROW_LIMIT most changes only move the batch line's counts: a few redraws a
    // second say as much as sixty.
    if (reset || !list.collapsed) schedule();
    else scheduleProgress();
  });
  const onConfig = () => syncConfig();
  for (const name of ["multiple", "accept", "bucket", "prefix", "max_size"]) {
    model.on(`change:${name}`, onConfig);
  }
  syncConfig();
  draw();

  return {
    /** @param {string} id @param {FileState} state the engine's state of that file */
    updateFile(id, state) {
      list.mark(id);
      if (list.urgent(id, state.status)) schedule();
      else scheduleProgress();
    },
    /** @param {boolean} on */
    setWaiting(on) {
      waiting.hidden = !on;
    },
    /** @param {string} text */
    setNotice(text) {
      if (notice.textContent !== text && text) announce(text);
      notice.textContent = text;
      notice.hidden = !text;
    },
    dispose() {
      if (frame) cancelAnimationFrame(frame);
      clearTimeout(timer);
      unsubscribe();
      for (const name of ["multiple", "accept", "bucket", "prefix", "max_size"]) {
        model.off(`change:${name}`, onConfig);
      }
      root.remove();
    },
  };
}
