// @ts-check
/**
 * This file owns when the engine's kernel requests wait for company (batcher.js `hold`):
 * a "sign-files" while enough signed files already wait for a slot, a "complete-files"
 * while small files still move (more completions follow within moments). Every kernel
 * request costs CPU in the page, the Jupyter server and the kernel (two status messages,
 * a records delta and the answer around it), and a thousand small files made nearly a
 * thousand of them. Pure: the engine's sets are read, nothing is changed.
 */
import { isQuick } from "./in-flight.js";

/** Completions that go together even while small files still move. */
export const COMPLETIONS_PER_REQUEST = 32;

/** The longest a file waits for company, in either kind of request. */
export const MAX_HOLD_MS = 1000;

/**
 * @typedef {import("./ledger.js").EngineFile} EngineFile
 * @typedef {{_ready: Set<EngineFile>, _moving: Set<EngineFile>, _signer: {sentItems: number},
 *            parallelFiles: number, queueAhead: boolean}} Holder
 */

/**
 * The "sign-files" batcher's hold: signing waits while the files signed (waiting for a
 * slot) or being signed would fill every free slot and then every slot once more. They
 * keep the slots busy for longer than a kernel round trip, and the files read meanwhile
 * then go in one request. The first files of a pick go at once: nothing is signed yet.
 * @param {Holder} engine
 */
export function signingHold(engine) {
  const hold = () => {
    const slots = engine.parallelFiles * (engine.queueAhead ? 2 : 1); // files that may move at once
    return engine._ready.size + engine._signer.sentItems >= 2 * slots - engine._moving.size;
  };
  return { hold, maxHoldMs: MAX_HOLD_MS };
}

/**
 * The "complete-files" batcher's hold: completion waits while a small single-request
 * file moves, which ends within moments, and its completion can share the request. A
 * part or a large file may move for minutes, so it keeps nothing waiting.
 * @param {Holder} engine
 */
export function completionHold(engine) {
  const hold = () => {
    for (const file of engine._moving) if (file.plan?.mode !== "multipart" && isQuick(file.blob.size)) return true;
    return false;
  };
  return { hold, holdUpTo: COMPLETIONS_PER_REQUEST, maxHoldMs: MAX_HOLD_MS };
}
