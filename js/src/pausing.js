// @ts-check
/**
 * This file owns pausing and resuming files of the engine. A paused file waits apart
 * (the engine's `_held`) with what S3 holds of it (`file.stored`); its requests in flight
 * are aborted. The kernel hears "pause" once the file is held, at a point where no
 * request of the file is out, and "resume" when it comes back, so the kernel's record
 * never refuses a request the page still had out. A file whose bytes are all stored
 * (completing) or that ended cannot pause.
 */

/**
 * The parts of the engine pausing works on (engine.js's UploadEngine).
 * @typedef {object} PausableEngine
 * @property {import("./kernel.js").Api} api
 * @property {Set<EngineFile>} _held
 * @property {Set<EngineFile>} _ready
 * @property {Set<EngineFile>} _moving
 * @property {import("./ledger.js").FileQueue} _queue
 * @property {(file: EngineFile) => void} _leaveAhead
 * @property {(file: EngineFile, patch: Partial<import("./ledger.js").FileState>) => void} _update
 * @property {(request: () => any) => Promise<void>} _track
 * @property {() => void} _pump
 */

/** @typedef {import("./ledger.js").EngineFile} EngineFile */

/**
 * Pause a file: it stops where it is and keeps what S3 stored. False when it cannot.
 * @param {PausableEngine} engine
 * @param {EngineFile} file
 * @returns {boolean}
 */
export function pauseFile(engine, file) {
  const { status } = file.state;
  if (file.stopped || file.paused || status === "completing") return false;
  file.paused = true;
  file.pausedFrom = status;
  engine._update(file, { status: "paused", speed: 0, eta: null });
  if (engine._moving.has(file)) {
    // Its transfer ends with Stopped and the engine holds it then (afterPausedTransfer).
    file.pauseAborted = true;
    file.controller?.abort();
    file.controller = null; // the next transfer gets a fresh one
  } else if (engine._ready.delete(file)) {
    engine._leaveAhead(file);
    hold(engine, file);
  } else if (status === "queued") {
    hold(engine, file); // the queue passes over it (ledger.js skipped)
  }
  // "signing": its "sign-files" answer puts it in _ready, where the pump holds it.
  engine._pump();
  return true;
}

/**
 * A paused file whose transfer has just stopped: it leaves its slot and waits.
 * @param {PausableEngine} engine
 * @param {EngineFile} file
 */
export function holdAfterTransfer(engine, file) {
  engine._moving.delete(file);
  hold(engine, file);
  engine._pump();
}

/**
 * A transfer that a pause aborted has settled: the file is held, or, when it was
 * resumed meanwhile (a quick pause and resume), it starts again as a resume would,
 * sending only what S3 does not hold; the kernel never heard of the pause.
 * @param {PausableEngine} engine
 * @param {EngineFile} file
 */
export function afterPausedTransfer(engine, file) {
  file.pauseAborted = false;
  if (file.paused) return holdAfterTransfer(engine, file);
  engine._moving.delete(file);
  engine._ready.add(file);
  engine._pump();
}

/**
 * Resume a paused file: it goes back to the queue (not yet signed) or to the files
 * waiting for a slot (signed), and sends only what S3 does not hold. False when it
 * was not paused.
 * @param {PausableEngine} engine
 * @param {EngineFile} file
 * @returns {boolean}
 */
export function resumeFile(engine, file) {
  if (file.stopped || !file.paused) return false;
  file.paused = false;
  if (!engine._held.delete(file)) {
    // Paused and resumed before it was held: the kernel never heard of the pause.
    engine._update(file, { status: file.pausedFrom });
    return true;
  }
  // Sent before any request of the file: the kernel handles messages in order.
  engine._track(() => engine.api.resume(file.id));
  engine._update(file, { status: "queued" });
  if (file.plan) engine._ready.add(file);
  else engine._queue.push(file);
  engine._pump();
  return true;
}

/**
 * @param {PausableEngine} engine
 * @param {EngineFile} file
 */
function hold(engine, file) {
  if (engine._held.has(file)) return;
  engine._held.add(file);
  engine._track(() => engine.api.pause(file.id));
}
