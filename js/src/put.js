// @ts-check
/**
 * This file owns one PUT of one body to S3 (a single PUT or one part) until S3 stores it:
 * what each answer, or missing answer, means, when to try again and how long to wait,
 * and the failure detail the kernel hears when a file fails. The request itself goes
 * through an injected transport (transport.js in the browser, fakes in node tests).
 */
import { KernelTimeoutError } from "./protocol.js";
import { TransportError } from "./transport.js";

/**
 * How one PUT is tried again. `attempts` counts every try, the first one included; a try
 * that failed while the network was down is not one (network.js re-sends it).
 * `firstContactAttempts` caps the tries when no request to the origin was ever answered:
 * a CORS refusal or a wrong endpoint looks like a network error, and the kernel explains
 * those once the file fails. Delays: see backoffDelay and throttleDelay.
 * @typedef {object} RetryOptions
 * @property {number} attempts
 * @property {number} baseDelayMs          resets, network errors, stalls, 500s
 * @property {number} maxDelayMs
 * @property {number} throttleBaseDelayMs  503 SlowDown and 429: S3 asks for fewer requests
 * @property {number} throttleMaxDelayMs
 * @property {number} firstContactAttempts
 */

/**
 * 8 tries: with 30% of tries failing (20% resets, 10% 503s), a PUT fails 0.3^8 ≈ 7e-5 of
 * the time: ~0.3% for a 300 MB file of 19 parts and 20 small files (with 4 tries: ~27%).
 * @type {Readonly<RetryOptions>}
 */
export const DEFAULT_RETRY = Object.freeze({
  attempts: 8, baseDelayMs: 500, maxDelayMs: 10000, throttleBaseDelayMs: 4000, throttleMaxDelayMs: 30000,
  firstContactAttempts: 4,
});

/** Re-signs of one part (or single PUT) whose URL expired; they use no attempt. */
export const DEFAULT_MAX_RESIGNS = 3;

/**
 * One of protocol.js FAILURE_REASONS.
 * @typedef {"network" | "http" | "stall" | "etag-unreadable" | "timeout" | "internal"} FailureReason
 */

/**
 * What the engine tells the kernel when a file fails (the `error` of a "fail" request).
 * @typedef {object} FailureDetail
 * @property {FailureReason} reason
 * @property {number} status        the HTTP status, 0 when there was none
 * @property {string} s3_code       <Code> of S3's XML error body, "" when none
 * @property {string} s3_message    <Message> of S3's XML error body, "" when none
 * @property {number | null} part_number  the multipart part, null for a single PUT
 */

/**
 * @typedef {{action: "ok"} |
 *           {action: "retry" | "resign" | "fail", failure: FailureDetail, firstContact?: boolean} |
 *           {action: "aborted"}} Verdict
 */

/** A file failed for a reason the kernel should hear about (via `api.fail`). */
export class UploadFailure extends Error {
  /** @param {Partial<FailureDetail> & {reason: FailureReason}} detail */
  constructor(detail) {
    const full = failureDetail(detail);
    super(describeFailure(full));
    this.name = "UploadFailure";
    /** @type {FailureDetail} */
    this.detail = full;
  }
}

/**
 * A complete FailureDetail from a partial one.
 * @param {Partial<FailureDetail> & {reason: FailureReason}} detail
 * @returns {FailureDetail}
 */
export function failureDetail(detail) {
  return {
    reason: detail.reason,
    status: detail.status ?? 0,
    s3_code: detail.s3_code ?? "",
    s3_message: detail.s3_message ?? "",
    part_number: detail.part_number ?? null,
  };
}

/**
 * The detail the kernel hears for an error that ended a file (other than a KernelError:
 * the kernel refused, so it knows): an UploadFailure's own, "timeout" when the kernel did
 * not answer, else "internal" (a bug: its message goes in s3_message, the only free text).
 * @param {unknown} error
 * @returns {FailureDetail}
 */
export function failureOf(error) {
  if (error instanceof UploadFailure) return error.detail;
  if (error instanceof KernelTimeoutError) return failureDetail({ reason: "timeout", s3_message: error.message });
  return failureDetail({ reason: "internal", s3_message: String(/** @type {any} */ (error)?.message ?? error) });
}

/**
 * Delay before retry number `attempt` (0 for the first retry): exponential backoff
 * with full jitter, so many parts failing together don't retry in lockstep.
 * @param {number} attempt
 * @param {{baseDelayMs: number, maxDelayMs: number}} options
 * @param {() => number} [random] returns a number in [0, 1)
 * @returns {number} milliseconds, in [0, min(maxDelayMs, baseDelayMs * 2**attempt))
 */
export function backoffDelay(attempt, { baseDelayMs, maxDelayMs }, random = Math.random) {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt));
  return ceiling * random();
}

/**
 * Delay before retry number `attempt` (0 for the first) after S3 said 503 SlowDown (or
 * 429): S3 answers 503 when the request rate on a prefix is too high and asks clients to
 * slow down, and retrying at once (as after a reset, whose cause is gone with the
 * connection) only adds to the load that caused it. So a larger base, and equal jitter
 * (at least half the ceiling): with the defaults 2-4 s, 4-8 s, 8-16 s, then 15-30 s,
 * always longer than a reset's backoff at the same attempt (0-0.5 s, 0-1 s, 0-2 s...).
 * @param {number} attempt
 * @param {{throttleBaseDelayMs: number, throttleMaxDelayMs: number}} options
 * @param {() => number} [random] returns a number in [0, 1)
 * @returns {number} milliseconds, in [ceiling / 2, ceiling)
 */
export function throttleDelay(attempt, { throttleBaseDelayMs, throttleMaxDelayMs }, random = Math.random) {
  const ceiling = Math.min(throttleMaxDelayMs, throttleBaseDelayMs * 2 ** Math.max(0, attempt));
  return (ceiling * (1 + random())) / 2;
}

/**
 * Whether an answer is S3 asking for fewer requests (503 SlowDown, ServiceUnavailable;
 * 429 from S3-compatible servers).
 * @param {number} status
 * @param {string} code
 */
export function isThrottle(status, code = "") {
  return status === 503 || status === 429 || code === "SlowDown";
}

/**
 * Code and Message of an S3 XML error body. A regex rather than DOMParser: this
 * also runs in node, and S3's error documents are flat.
 * @param {string | null | undefined} body
 * @returns {{code: string, message: string}}
 */
export function parseS3Error(body) {
  if (typeof body !== "string" || !body) return { code: "", message: "" };
  return { code: xmlText(body, "Code"), message: xmlText(body, "Message") };
}

/**
 * @param {string} xml
 * @param {string} tag
 */
function xmlText(xml, tag) {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match ? decodeXmlEntities(match[1].trim()) : "";
}

/** @type {Record<string, string>} */
const ENTITIES = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };

/** @param {string} text */
function decodeXmlEntities(text) {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, name) => ENTITIES[name]);
}

/** S3's 400s for a body that does not match its checksum: damaged on the way, so sent again. */
const DAMAGED_BODY = new Set(["BadDigest", "XAmzContentChecksumMismatch"]);

/**
 * HTTP statuses worth another try: S3's 500/503 (InternalError, SlowDown),
 * 408/429, S3's 400 RequestTimeout (the connection idled mid-body), and a body
 * S3 found damaged (its checksum differs: the file is read again for the retry).
 * @param {number} status
 * @param {string} code
 */
export function isRetryableStatus(status, code = "") {
  return status >= 500 || status === 408 || status === 429 || code === "RequestTimeout" || DAMAGED_BODY.has(code);
}

/**
 * S3's answer to a presigned URL used after its expiry:
 * 403 <Code>AccessDenied</Code><Message>Request has expired</Message>.
 * @param {number} status
 * @param {string} message
 */
export function isExpiredUrl(status, message) {
  return status === 403 && /expired/i.test(message);
}

/**
 * What to do with an HTTP answer to a PUT.
 * @param {{status: number, body?: string}} response
 * @returns {Verdict}
 */
export function classifyResponse({ status, body }) {
  if (status >= 200 && status < 300) return { action: "ok" };
  if (!status) return { action: "retry", failure: failureDetail({ reason: "network" }) };
  const { code, message } = parseS3Error(body);
  const failure = failureDetail({ reason: "http", status, s3_code: code, s3_message: message });
  if (isExpiredUrl(status, message)) return { action: "resign", failure };
  if (isRetryableStatus(status, code)) return { action: "retry", failure };
  return { action: "fail", failure };
}

/**
 * What to do when a PUT got no HTTP answer. Returns null for an error that is
 * not a TransportError: a bug, which the caller reports as "internal".
 * @param {unknown} error
 * @returns {Verdict | null}
 */
export function classifyError(error) {
  if (!(error instanceof TransportError)) return null;
  if (error.reason === "aborted") return { action: "aborted" };
  return { action: "retry", failure: failureDetail({ reason: error.reason }), firstContact: error.firstContact };
}

/**
 * Words for a failure, shown until the kernel answers "fail" with its own message
 * (or instead of it, when the kernel can't answer).
 * @param {FailureDetail} detail
 * @returns {string}
 */
export function describeFailure(detail) {
  const part = detail.part_number ? ` (part ${detail.part_number})` : "";
  const s3 = [detail.s3_code, detail.s3_message].filter(Boolean).join(": ");
  switch (detail.reason) {
    case "network":
      return `The browser could not reach S3${part}: network error or CORS refusal.`;
    case "stall":
      return `The upload stopped making progress${part}.`;
    case "http":
      return `S3 refused the upload${part}: HTTP ${detail.status}${s3 ? ` ${s3}` : ""}.`;
    case "etag-unreadable":
      return `S3 stored the data${part} but the browser cannot read its ETag header; ` +
        "the bucket's CORS rule must expose ETag.";
    case "timeout":
      return "The Python kernel did not answer in time.";
    default:
      return `The upload failed in the browser${part}${detail.s3_message ? `: ${detail.s3_message}` : "."}`;
  }
}

/** Thrown when the file a PUT belongs to was stopped (cancelled or failed elsewhere). */
export class Stopped extends Error {
  constructor() {
    super("The upload was stopped.");
    this.name = "Stopped";
  }
}

/**
 * A signed request as the kernel sends it ("sign" for a single PUT, "sign-parts" for a part).
 * `fields`: a form POST's fields (the file goes after them), for a small file (_form_post.py).
 * @typedef {{method: string, url: string, headers: Record<string, string>, fields?: Record<string, string>}} SignedRequest
 */

/**
 * @typedef {object} PutJob  one body to store: a single PUT or one part
 * @property {number | null} partNumber   null for a single PUT
 * @property {number} length
 * @property {() => Blob} body            called for each try (a part is sliced lazily)
 * @property {SignedRequest} signed
 * @property {() => Promise<SignedRequest>} resign  signs the same body again (its URL expired)
 */

/**
 * @typedef {object} PutContext
 * @property {import("./transport.js").Transport} transport
 * @property {AbortSignal} signal
 * @property {number} stallTimeoutMs
 * @property {RetryOptions} retry
 * @property {number} maxResigns
 * @property {() => number} random
 * @property {(ms: number) => Promise<void>} sleep
 * @property {() => boolean} isStopped
 * @property {(loaded: number) => void} onLoaded  bytes of the current try (0 when a try starts or fails)
 * @property {import("./stall.js").StallGroup} [stallGroup]  the file's requests in flight (stall.js)
 * @property {(waiting: boolean) => void} [onWaiting]  the PUT waits for the network (network.js)
 */

/**
 * PUT one body until S3 stores it: transient failures are retried with backoff
 * (`retry.attempts` tries in all; a longer backoff when S3 asks to slow down), an expired
 * URL is signed again (at most `maxResigns` times, using no attempt), anything else
 * fails at once.
 * @param {PutJob} job
 * @param {PutContext} ctx
 * @returns {Promise<string>} the ETag
 * @throws {UploadFailure | Stopped}
 */
export async function putWithRetry(job, ctx) {
  let signed = job.signed;
  let failures = 0;
  let throttles = 0; // of the failures, S3's requests to slow down
  let resigns = 0;
  for (;;) {
    const { verdict, etag, status } = await putOnce(job, signed, ctx);
    if (verdict.action === "ok") {
      // A single PUT is stored once S3 says 200: the kernel reads its ETag with HEAD, so
      // failing here would only leave an object no record points to. Parts need theirs.
      if (etag || job.partNumber == null) return etag || "";
      throw new UploadFailure({ reason: "etag-unreadable", status, part_number: job.partNumber });
    }
    if (verdict.action === "aborted") throw new Error("A request was aborted while its upload was running.");
    ctx.onLoaded(0); // the failed try's bytes no longer count
    const failure = { ...verdict.failure, part_number: job.partNumber };
    if (verdict.action === "resign" && resigns < ctx.maxResigns) {
      resigns++;
      signed = await job.resign();
    } else if (verdict.action === "retry" && ++failures < attemptsFor(verdict, ctx.retry)) {
      const throttle = isThrottle(failure.status, failure.s3_code);
      await ctx.sleep(throttle
        ? throttleDelay(throttles++, ctx.retry, ctx.random)
        : backoffDelay(failures - 1 - throttles, ctx.retry, ctx.random));
    } else {
      throw new UploadFailure(failure);
    }
    if (ctx.isStopped()) throw new Stopped();
  }
}

/**
 * The tries a PUT gets, given how its last one failed.
 * @param {{firstContact?: boolean}} verdict
 * @param {RetryOptions} retry
 */
function attemptsFor(verdict, retry) {
  return verdict.firstContact ? Math.min(retry.attempts, retry.firstContactAttempts) : retry.attempts;
}

/**
 * One PUT, turned into a verdict.
 * @param {PutJob} job
 * @param {SignedRequest} signed
 * @param {PutContext} ctx
 * @returns {Promise<{verdict: Verdict, etag: string | null, status: number}>}
 */
async function putOnce(job, signed, ctx) {
  let live = true; // progress events of a finished try must not move the count
  ctx.onLoaded(0);
  try {
    const response = await ctx.transport.put({
      url: signed.url,
      method: signed.method,
      headers: signed.headers,
      fields: signed.fields,
      body: job.body(),
      wholeFile: job.partNumber === null,
      signal: ctx.signal,
      stallTimeoutMs: ctx.stallTimeoutMs,
      stallGroup: ctx.stallGroup,
      onWaiting: ctx.onWaiting,
      onProgress: (loaded) => live && ctx.onLoaded(Math.min(loaded, job.length)),
    });
    if (ctx.isStopped()) throw new Stopped();
    return { verdict: classifyResponse(response), etag: response.etag, status: response.status };
  } catch (err) {
    if (ctx.isStopped()) throw new Stopped(); // aborted by a cancel or another part's failure
    const verdict = classifyError(err);
    if (!verdict) throw err;
    return { verdict, etag: null, status: 0 };
  } finally {
    live = false;
  }
}
