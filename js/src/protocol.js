// @ts-check
/**
 * This file owns the wire: every message kind and word shared with the kernel, and Rpc,
 * the request/response pairing over custom messages (with its timeouts).
 * Mirror of s3_upload_widget/_protocol.py: a kind added there must be added here.
 * See that file for the shape of each message.
 */

/** Requests: browser -> kernel, each answered with "<kind>-response". */
export const HELLO = "hello";
export const ADD_FILES = "add-files";
export const SIGN = "sign";
export const SIGN_PARTS = "sign-parts";
export const COMPLETE = "complete";
export const FAIL = "fail";
export const CANCEL = "cancel";
export const SIGN_FILES = "sign-files";
export const COMPLETE_FILES = "complete-files";
export const PAUSE = "pause";
export const RESUME = "resume";
export const ADOPT = "adopt";

export const REQUEST_KINDS = Object.freeze([
  HELLO, ADD_FILES, SIGN, SIGN_PARTS, COMPLETE, FAIL, CANCEL, SIGN_FILES, COMPLETE_FILES, PAUSE, RESUME, ADOPT,
]);

/** Files in one "sign-files" or "complete-files" request, at most. */
export const MAX_FILES_PER_BATCH = 64;

/**
 * Files below this size may go as form POSTs (no CORS preflight; _form_post.py): the page
 * sends their MD5 with "sign-files" too, for the policy's Content-MD5.
 */
export const FORM_POST_MAX_BYTES = 1024 * 1024;

/**
 * How long after another page last moved an upload's bytes it still counts as going on
 * there: a row says "uploading in another window", and the kernel lets no page take it
 * over (_owners.py).
 */
export const ELSEWHERE_MS = 10000;

/** Notifications: browser -> kernel, never answered. */
export const PROGRESS = "progress";

export const NOTIFICATION_KINDS = Object.freeze([PROGRESS]);

/** Commands: kernel -> browser. */
export const CANCEL_UPLOADS = "cancel-uploads";
export const RECORDS = "records";
export const PAUSE_UPLOADS = "pause-uploads";
export const RESUME_UPLOADS = "resume-uploads";

export const COMMAND_KINDS = Object.freeze([CANCEL_UPLOADS, RECORDS, PAUSE_UPLOADS, RESUME_UPLOADS]);

/** The fields of a record that "records" patches and the "hello" answer carry. */
export const VIEW_FIELDS = Object.freeze([
  "id", "name", "relative_path", "size", "bucket", "key", "status", "loaded", "error",
]);

export const RESPONSE_SUFFIX = "-response";

/** Why an upload failed in the browser (the `reason` of a "fail" request). */
export const FAILURE_REASONS = Object.freeze([
  "network",
  "http",
  "stall",
  "etag-unreadable",
  "timeout",
  "internal",
]);

/**
 * The status of an upload, in the order a file goes through them.
 * "unverified": S3 accepted the PUT, but the kernel's role may not read it back; not done.
 * "paused": the page stopped the file's requests; what S3 holds is kept until it resumes.
 * @typedef {"queued" | "signing" | "uploading" | "paused" | "completing" | "done" | "unverified" | "error" | "cancelled"} Status
 */
export const STATUSES = Object.freeze([
  "queued",
  "signing",
  "uploading",
  "paused",
  "completing",
  "done",
  "unverified",
  "error",
  "cancelled",
]);

/**
 * An upload record as the kernel sends it (add-files, complete, fail, cancel, the `uploads` trait).
 * @typedef {object} UploadRecord
 * @property {string} id
 * @property {string} name
 * @property {number} size
 * @property {string} content_type
 * @property {string} bucket
 * @property {string} key
 * @property {string} s3_uri
 * @property {Status} status
 * @property {number} loaded
 * @property {string} etag
 * @property {string} error      words for a person, "" when none
 * @property {string} error_code
 * @property {boolean} multipart
 * @property {{part_number: number, offset: number, length: number}} [resume]  add-files only: the
 *           file resumes this interrupted upload once the page proves it with "adopt"
 * @property {boolean} [elsewhere]  add-files only: another window of the notebook still sends
 *           this upload (its bytes moved in the last ELSEWHERE_MS); nothing to do now
 * @property {{part_number: number, offset: number, length: number}} [first_part]  add-files only:
 *           a new multipart upload's part 1 as planned now, for the page to hash while it is signed
 */

/** Statuses an upload never leaves. */
export const FINAL_STATUSES = Object.freeze(["done", "unverified", "error", "cancelled"]);

/**
 * @param {string} kind
 * @returns {string}
 */
export function responseKind(kind) {
  return kind + RESPONSE_SUFFIX;
}

/** An error raised when the kernel answers a request with ok: false. */
export class KernelError extends Error {
  /**
   * @param {{code?: string, message?: string, hint?: string}} error
   */
  constructor(error) {
    super(error.message || "The Python kernel refused the request.");
    this.name = "KernelError";
    this.code = error.code || "error";
    this.hint = error.hint || "";
  }
}

/** Raised when the kernel does not answer within the timeout. */
export class KernelTimeoutError extends Error {
  /** @param {string} kind @param {number} ms */
  constructor(kind, ms) {
    super(`The Python kernel did not answer "${kind}" within ${Math.round(ms / 1000)} s.`);
    this.name = "KernelTimeoutError";
  }
}

/**
 * @typedef {{ send: (msg: any) => void }} MessageSink
 */

/**
 * @typedef {object} PendingRequest
 * @property {string} kind
 * @property {(result: any) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 * @property {ReturnType<typeof setTimeout>} slowTimer
 * @property {boolean} slow
 */

/**
 * Request/response over custom messages: one pending promise per request id.
 * `onWaiting(true)` fires when a request waits longer than `slowMs` (the kernel
 * answers nothing while a cell runs), `onWaiting(false)` when nothing is slow anymore.
 */
export class Rpc {
  /**
   * @param {MessageSink} sink
   * @param {{timeoutMs?: number, slowMs?: number, onWaiting?: (waiting: boolean) => void,
   *          idPrefix?: string}} [options]
   */
  constructor(sink, options = {}) {
    this.sink = sink;
    this.timeoutMs = options.timeoutMs ?? 10 * 60 * 1000;
    this.slowMs = options.slowMs ?? 1500;
    this.onWaiting = options.onWaiting ?? (() => {});
    this.idPrefix = options.idPrefix ?? Math.random().toString(36).slice(2, 8);
    this.counter = 0;
    /** @type {Map<string, PendingRequest>} */
    this.pending = new Map();
    this.slowCount = 0;
  }

  /**
   * Send a request and wait for its answer.
   * @param {string} kind one of REQUEST_KINDS
   * @param {object} args
   * @returns {Promise<any>} the `result` of the answer
   */
  request(kind, args) {
    if (!REQUEST_KINDS.includes(kind)) return Promise.reject(new Error(`"${kind}" is not a request kind.`));
    const id = `${this.idPrefix}-${++this.counter}`;
    return new Promise((resolve, reject) => {
      /** @type {PendingRequest} */
      const entry = {
        kind, resolve, reject, slow: false,
        timer: setTimeout(() => {
          this._settle(id);
          reject(new KernelTimeoutError(kind, this.timeoutMs));
        }, this.timeoutMs),
        slowTimer: setTimeout(() => {
          entry.slow = true;
          if (this.slowCount++ === 0) this.onWaiting(true);
        }, this.slowMs),
      };
      this.pending.set(id, entry);
      this.sink.send({ id, kind, args });
    });
  }

  /**
   * Send a notification (no answer).
   * @param {string} kind one of NOTIFICATION_KINDS
   * @param {object} body
   */
  notify(kind, body) {
    if (!NOTIFICATION_KINDS.includes(kind)) throw new Error(`"${kind}" is not a notification kind.`);
    this.sink.send({ kind, page: this.idPrefix, ...body }); // the kernel tells pages apart by it
  }

  /**
   * Route an incoming message. Returns true when it was the answer to a request.
   * @param {any} msg
   * @returns {boolean}
   */
  handle(msg) {
    if (!msg || typeof msg.kind !== "string" || !msg.kind.endsWith(RESPONSE_SUFFIX)) return false;
    const entry = this._settle(msg.id);
    if (!entry) return true; // the answer to a request that timed out or was closed
    if (msg.kind !== responseKind(entry.kind)) {
      entry.reject(new Error(`The Python kernel answered "${entry.kind}" with "${msg.kind}".`));
    } else if (msg.ok) entry.resolve(msg.result ?? {});
    else entry.reject(new KernelError(msg.error ?? {}));
    return true;
  }

  /** Reject every pending request (the view is going away). */
  close() {
    for (const id of [...this.pending.keys()]) {
      const entry = this._settle(id);
      entry?.reject(new Error("The widget was closed."));
    }
  }

  /** @param {string} id */
  _settle(id) {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    clearTimeout(entry.slowTimer);
    if (entry.slow && --this.slowCount === 0) this.onWaiting(false);
    return entry;
  }
}
