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

/** Signed files waiting per slot before more signing waits for company. */
export const SIGNED_PER_SLOT = 2;

/** Completions that go together even while small files still move. */
export const COMPLETIONS_PER_REQUEST = 32;

/** The longest a file waits for company, in either kind of request. */
export const MAX_HOLD_MS = 1000;

/**
 * @typedef {import("./ledger.js").EngineFile} EngineFile
 * @typedef {{_ready: Set<EngineFile>, _moving: Set<EngineFile>, parallelFiles: number, queueAhead: boolean}} Holder
 */

/**
 * The "sign-files" batcher's hold: signing waits while the files already signed fill
 * every slot twice over. They keep the slots busy for longer than a kernel round trip,
 * and the files signed meanwhile then go in one request.
 * @param {Holder} engine
 */
export function signingHold(engine) {
  const hold = () => engine._ready.size >= SIGNED_PER_SLOT * engine.parallelFiles * (engine.queueAhead ? 2 : 1);
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
