// @ts-check
/**
 * This file owns the engine's view of the kernel: the `Api` it calls (one method per
 * request of _protocol.py, with the shapes of their answers) and `kernelApi`, that Api
 * over custom messages (protocol.js Rpc). Node tests give the engine a fake Api instead.
 */
import {
  ADOPT, CANCEL, COMPLETE, COMPLETE_FILES, FAIL, KernelError, PAUSE, PROGRESS, RESUME, SIGN, SIGN_FILES, SIGN_PARTS,
} from "./protocol.js";

/**
 * @typedef {import("./protocol.js").UploadRecord} UploadRecord
 * @typedef {import("./put.js").FailureDetail} FailureDetail
 * @typedef {import("./put.js").SignedRequest} SignedRequest
 * @typedef {{code?: string, message?: string, hint?: string}} KernelErrorBody
 */

/**
 * What the kernel signed for one file ("sign", or one entry of "sign-files").
 * `checksum` of a multipart plan: "CRC32C" when every part must be signed with its checksum.
 * @typedef {(SignedRequest & {mode: "single"}) |
 *           {mode: "multipart", part_size: number, part_count: number, checksum?: string}} SignPlan
 */

/** @typedef {{etag: string} | {parts: {part_number: number, etag: string}[]}} CompletePayload */

/**
 * One entry of a "sign-files" answer, in the order of the ids asked. ok: false means
 * the kernel has already ended that upload (status error).
 * @typedef {{upload_id: string, ok: true, result: SignPlan} |
 *           {upload_id: string, ok: false, error: KernelErrorBody}} SignFileResult
 */

/**
 * One entry of a "complete-files" answer. ok: false means the kernel has already ended
 * that upload; "unverified" is final too (its words arrive with the record).
 * @typedef {{upload_id: string, ok: true, status: "done" | "unverified"} |
 *           {upload_id: string, ok: false, error: KernelErrorBody}} CompleteFileResult
 */

/** @typedef {{upload_id: string} & CompletePayload} CompleteItem  one upload of "complete-files" */

/**
 * The kernel, as the engine sees it. Each method sends one request of _protocol.py and
 * resolves with its `result` (or rejects with KernelError / KernelTimeoutError).
 * @typedef {object} Api
 * @property {(ids: string[], checksums?: Record<string, string>, md5s?: Record<string, string>) => Promise<{results: SignFileResult[]}>} signFiles
 *            1..MAX_FILES_PER_BATCH distinct ids; `checksums`: the CRC32C of each file that goes as a single PUT;
 *            `md5s`: the MD5 of each below FORM_POST_MAX_BYTES (the kernel may sign it as a form POST)
 * @property {(items: CompleteItem[]) => Promise<{results: CompleteFileResult[]}>} completeFiles
 *            1..MAX_FILES_PER_BATCH distinct uploads
 * @property {(id: string, checksum?: string) => Promise<SignPlan>} sign   signs a single PUT again (its URL expired)
 * @property {(id: string, partNumbers: number[], checksums?: string[]) => Promise<import("./multipart.js").SignedParts>} signParts
 *            `checksums`: each part's CRC32C, in the order of `partNumbers`
 * @property {(id: string, payload: CompletePayload) => Promise<{record: UploadRecord}>} [complete]
 *            one file (the engine completes through completeFiles)
 * @property {(id: string, error: FailureDetail) => Promise<{record: UploadRecord}>} fail
 *            the record's `error` is shown
 * @property {(id: string) => Promise<{record: UploadRecord}>} cancel
 * @property {(id: string) => Promise<{record: UploadRecord}>} pause   the page paused it
 * @property {(id: string) => Promise<{record: UploadRecord}>} resume  the page resumes it
 * @property {(id: string, checksum: string) => Promise<import("./resume.js").AdoptAnswer>} [adopt]
 *           take over an interrupted upload (resume.js)
 * @property {(updates: {upload_id: string, loaded: number}[]) => void} progress  fire-and-forget
 */

/**
 * The engine's Api over custom messages: each call is one request (or notification).
 * `onPools` hears the connection pools per host name that the "sign-files" and
 * "sign-parts" answers name (`pools`: 2 when the S3 answers this page's credentialed
 * requests; in-flight.js).
 * @param {import("./protocol.js").Rpc} rpc
 * @param {{onPools?: (pools: number) => void}} [hooks]
 * @returns {Api}
 */
export function kernelApi(rpc, { onPools = () => {} } = {}) {
  /** @template T @param {Promise<T>} answer @returns {Promise<T>} */
  const heard = (answer) => answer.then((result) => {
    const pools = /** @type {any} */ (result)?.pools;
    if (Number.isInteger(pools)) onPools(pools);
    return result;
  });
  return {
    signFiles: (ids, checksums, md5s) =>
      heard(rpc.request(SIGN_FILES, { upload_ids: ids, ...(checksums && { checksums }), ...(md5s && { md5s }) })),
    completeFiles: (items) => rpc.request(COMPLETE_FILES, { uploads: items }),
    sign: (id, checksum) => rpc.request(SIGN, { upload_id: id, ...(checksum && { checksum }) }),
    signParts: (id, partNumbers, checksums) =>
      heard(rpc.request(SIGN_PARTS, { upload_id: id, part_numbers: partNumbers, ...(checksums && { checksums }) })),
    complete: (id, payload) => rpc.request(COMPLETE, { upload_id: id, ...payload }),
    fail: (id, error) => rpc.request(FAIL, { upload_id: id, error }),
    cancel: (id) => rpc.request(CANCEL, { upload_id: id }),
    pause: (id) => rpc.request(PAUSE, { upload_id: id }),
    resume: (id) => rpc.request(RESUME, { upload_id: id }),
    adopt: (id, checksum) => rpc.request(ADOPT, { upload_id: id, checksum }),
    progress: (updates) => rpc.notify(PROGRESS, { updates }),
  };
}

/**
 * The entries of a batch answer by upload id.
 * @template {{upload_id: string}} R
 * @param {{results?: R[]} | undefined} answer
 * @param {string} kind  for the error message
 * @returns {Map<string, R>}
 */
export function resultsById(answer, kind) {
  const results = answer?.results;
  if (!Array.isArray(results)) throw new Error(`The kernel's "${kind}" answer has no results.`);
  return new Map(results.filter((r) => r && typeof r.upload_id === "string").map((r) => [r.upload_id, r]));
}

/**
 * Send a batch request and end each file by its entry of the answer. A file stopped
 * meanwhile ignores its entry; an entry with ok: false means the kernel has already
 * ended that file; a request that fails as a whole fails each of its files as its own
 * request would have.
 * @template {{upload_id: string, ok: boolean, error?: any}} R
 * @template {{id: string, stopped: boolean}} F
 * @param {string} kind
 * @param {F[]} files
 * @param {() => Promise<{results: R[]}>} request
 * @param {{ok: (file: F, entry: Extract<R, {ok: true}>) => void, fail: (file: F, err: unknown) => void}} handlers
 */
export async function answerEach(kind, files, request, { ok, fail }) {
  let results;
  try {
    results = resultsById(await request(), kind);
  } catch (err) {
    for (const file of files) if (!file.stopped) fail(file, err);
    return;
  }
  for (const file of files) {
    if (file.stopped) continue;
    const entry = results.get(file.id);
    if (!entry) fail(file, new Error(`The kernel's "${kind}" answer has nothing for ${file.id}.`));
    else if (!entry.ok) fail(file, new KernelError(entry.error ?? {}));
    else ok(file, /** @type {Extract<R, {ok: true}>} */ (entry));
  }
}
