// @ts-check
/**
 * This file owns moving one signed file's bytes to S3: a single PUT, or the parts of a
 * multipart upload (multipart.js) with their "sign-parts" requests, each PUT with its
 * retries (put.js), and the file's byte counts on the way. The engine decides when a
 * file goes; this moves it and returns what "complete-files" needs.
 */
import { partBounds, uploadParts } from "./multipart.js";
import { hashPart } from "./hash-pool.js";
import { Stopped, putWithRetry } from "./put.js";
import { checkSingle, halted } from "./ledger.js";
import { StallGroup } from "./stall.js";

/**
 * @typedef {import("./ledger.js").EngineFile} EngineFile
 * @typedef {import("./kernel.js").CompletePayload} CompletePayload
 */

/**
 * Every single PUT of the page, in flight and recently stored: small files judge each
 * other's stalls (stall.js), as a file's parts do, since the same network carries them.
 * A lone small file has no sibling and waits for the absolute stall timeout.
 */
export const SINGLE_PUTS = new StallGroup();

/**
 * What a transfer needs from the engine (read when the file starts).
 * @typedef {object} TransferEnv
 * @property {import("./kernel.js").Api} api
 * @property {import("./transport.js").Transport} transport  the engine's limited transport
 * @property {number} concurrency      parts in flight per file
 * @property {number} signBatchSize    parts per "sign-parts" request
 * @property {number} stallTimeoutMs
 * @property {import("./put.js").RetryOptions} retry
 * @property {number} maxResigns
 * @property {() => number} random
 * @property {(ms: number) => Promise<void>} sleep
 * @property {(partCount: number) => void} planned      the file's part count is known
 * @property {(sent: number, changed: boolean) => void} moved
 *           the meter moved (`sent`: bytes newly on the wire; `changed`: a part was stored)
 */

/**
 * Upload a file the kernel signed (`file.plan`). Rejects with Stopped when the file is
 * stopped or paused meanwhile, with UploadFailure / KernelError / a bug otherwise. What
 * S3 stored stays in `file.stored`: run again after a pause, only the rest is sent.
 * @param {EngineFile} file
 * @param {TransferEnv} env
 * @returns {Promise<CompletePayload>}
 */
export async function transfer(file, env) {
  const plan = file.plan;
  file.controller ??= new AbortController();
  file.meter.start();
  const payload = plan?.mode === "multipart"
    ? await uploadMultipart(file, plan, env)
    : await uploadSingle(file, env);
  if (halted(file)) throw new Stopped();
  return payload;
}

/**
 * Start hashing the part "add-files" named (`file.firstPart`) now, while the file's
 * "sign-files" is out: then part 1 is signed as soon as its plan arrives, instead of
 * being read and hashed only after it (~110 ms for a 17 MiB part, on a home link most of
 * the first byte's delay). Nothing to do without a hint.
 * @param {EngineFile} file
 */
export function hashEarly(file) {
  const range = file.firstPart;
  if (!range || file.early) return;
  const end = Math.min(range.offset + range.length, file.blob.size);
  const sum = hashPart(file.blob.slice(range.offset, end));
  sum.catch(() => {}); // a failure is seen where the sum is used (or never, if it is not)
  file.early = { start: range.offset, end, sum };
}

/**
 * The CRC32C of bytes [start, end) of a file: the early hash when it is of these bytes
 * (taken once: a part signed again is hashed again), else hashed now.
 * @param {EngineFile} file @param {number} start @param {number} end
 */
function partSum(file, start, end) {
  const early = file.early;
  if (early && early.start === start && early.end === end) {
    file.early = null;
    return early.sum;
  }
  return hashPart(file.blob.slice(start, end));
}

/** @param {EngineFile} file @param {TransferEnv} env */
async function uploadSingle(file, env) {
  const signed = checkSingle(file.plan);
  const resign = async () => checkSingle(await call(file, () => env.api.sign(file.id, file.checksum)));
  env.planned(1);
  const size = file.blob.size;
  const stored = file.stored.get(0);
  if (stored !== undefined) return { etag: stored }; // stored just before a pause
  const job = { partNumber: null, length: size, body: () => file.blob, signed, resign };
  const etag = await putWithRetry(job, putContext(file, 0, env));
  file.stored.set(0, etag);
  partDone(file, 0, size, env);
  return { etag };
}

/**
 * @param {EngineFile} file
 * @param {{part_size: number, part_count: number, checksum?: string}} plan
 * @param {TransferEnv} env
 */
async function uploadMultipart(file, { part_size: partSize, part_count: partCount, checksum }, env) {
  env.planned(partCount);
  /** @param {number[]} numbers */
  const signParts = async (numbers) => {
    // Each part's CRC32C is signed with it: S3 refuses the part if a byte changed on the way.
    // The batch's parts are hashed side by side (in the page's workers: hash-pool.js).
    const sums = checksum
      ? await Promise.all(numbers.map((n) => partSum(file, ...partBounds(file.blob.size, partSize, n))))
      : undefined;
    return call(file, () => env.api.signParts(file.id, numbers, sums));
  };
  const parts = await uploadParts({
    // A round of parts is signed at once, so on a link capped per connection they all start
    // together (parts hashed one by one and started one by one finished no sooner there,
    // and stretched the transfer; docs/LEARNED.md).
    blob: file.blob, partSize, partCount, concurrency: env.concurrency, batchSize: env.signBatchSize,
    signParts,
    putPart: (job) => putWithRetry(job, putContext(file, job.partNumber, env)),
    partDone: (n, length) => partDone(file, n, length, env),
    shouldStop: () => halted(file), stored: file.stored,
  });
  return { parts };
}

/**
 * Call the kernel for a file; a file stopped meanwhile ends its work here.
 * @template T
 * @param {EngineFile} file
 * @param {() => Promise<T>} request
 * @returns {Promise<T>}
 */
async function call(file, request) {
  if (halted(file)) throw new Stopped();
  const result = await request();
  if (halted(file)) throw new Stopped();
  return result;
}

/**
 * How a PUT of this file reports its bytes (see put.js putWithRetry), judges its stalls
 * by its siblings (stall.js: the file's other parts; for a single PUT, the other files')
 * and shows that it waits for the network (network.js).
 * @param {EngineFile} file
 * @param {number} key part number, 0 for a single PUT
 * @param {TransferEnv} env
 * @returns {import("./put.js").PutContext}
 */
function putContext(file, key, env) {
  return {
    transport: env.transport, signal: /** @type {AbortController} */ (file.controller).signal, stallTimeoutMs: env.stallTimeoutMs,
    retry: env.retry, maxResigns: env.maxResigns, random: env.random, sleep: env.sleep,
    isStopped: () => halted(file), stallGroup: key === 0 ? SINGLE_PUTS : file.stalls,
    onLoaded: (bytes) => {
      if (file.stopped) return;
      // A try that failed drops to 0: the bytes it had sent go again. (resent and
      // waitingForNetwork are in no total: set in place, drawn at the emit that follows.)
      file.state.resent += Math.max(0, (file.meter.inflight.get(key) ?? 0) - bytes);
      env.moved(file.meter.setPart(key, bytes), false);
    },
    onWaiting: (waiting) => {
      file.networkWaits += waiting ? 1 : -1;
      file.state.waitingForNetwork = file.networkWaits > 0;
      if (!file.stopped) env.moved(0, true);
    },
  };
}

/** @param {EngineFile} file @param {number} key @param {number} length @param {TransferEnv} env */
function partDone(file, key, length, env) {
  file.meter.finishPart(key, length);
  file.state.partsDone++;
  env.moved(0, true);
}
