// @ts-check
/**
 * This file owns the network in the browser: one HTTP PUT (or a small file's form POST)
 * with XMLHttpRequest. How many go at once is in-flight.js.
 *
 * XHR rather than fetch because fetch still has no upload progress in browsers.
 * This is the only module that touches XMLHttpRequest; the engine (engine.js, put.js)
 * sees only `transport.put(...)` and `TransportError`, so it runs in node tests.
 */

/**
 * Why a request ended without an HTTP status:
 * "network" (CORS refusal, unreachable host, connection reset: the browser hides which),
 * "stall" (no progress for stallTimeoutMs, or much longer than its siblings: stall.js),
 * "aborted" (the caller's signal fired).
 * @typedef {"network" | "stall" | "aborted"} TransportFailure
 */

/** A request that got no HTTP answer. */
export class TransportError extends Error {
  /**
   * @param {TransportFailure} reason
   * @param {string} [message]
   */
  constructor(reason, message) {
    super(message || TRANSPORT_MESSAGES[reason] || `The request failed (${reason}).`);
    this.name = "TransportError";
    /** @type {TransportFailure} */
    this.reason = reason;
    /**
     * Set by network.js: no request to this origin has been answered yet, so a failure
     * is as likely a CORS refusal or a wrong endpoint as the network (put.js retries
     * those less).
     */
    this.firstContact = false;
  }
}

const TRANSPORT_MESSAGES = {
  network: "The browser could not reach S3 (network error or CORS refusal).",
  stall: "The upload made no progress and was stopped.",
  aborted: "The request was aborted.",
};

/**
 * @typedef {object} PutRequest
 * @property {string} url
 * @property {string} [method]                  default "PUT"
 * @property {Record<string, string>} [headers] the signed headers, sent as they are
 * @property {Record<string, string>} [fields]  a form POST's fields: `body` goes as its
 *           last field, "file"; no header and no upload listener, so the POST stays a CORS
 *           "simple" request (no preflight) and its progress is known only at the end
 * @property {Blob} body
 * @property {boolean} [wholeFile]              a whole file's one request, not a part
 *           (in-flight.js lets a small one queue ahead)
 * @property {(loaded: number) => void} [onProgress] bytes of `body` sent so far
 * @property {AbortSignal} [signal]
 * @property {number} [stallTimeoutMs]          abort when no progress for this long (0: never)
 * @property {import("./stall.js").StallGroup} [stallGroup]  the file's requests: abort much
 *           sooner when one that started later was stored and this one moves nothing
 * @property {(waiting: boolean) => void} [onWaiting]  network.js: the request waits for the network
 * @property {boolean} [credentials]            sent with credentials: on the browser's other
 *           pool of connections to the host (in-flight.js); the S3 must answer it with
 *           Access-Control-Allow-Credentials, or the browser hides the answer
 */

/**
 * @typedef {object} PutResult
 * @property {number} status       the HTTP status (never 0: that rejects as "network")
 * @property {string | null} etag  the ETag response header; null when CORS does not expose it
 * @property {string} body         the response text for error statuses ("" for 2xx)
 */

/**
 * @typedef {object} Transport
 * @property {(request: PutRequest) => Promise<PutResult>} put
 */

// Browsers refuse to let scripts set these (and log a warning when one tries);
// the signature covers Content-Length through the body's real size anyway.
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "transfer-encoding"]);

/** How often a request in a StallGroup asks whether its siblings left it behind (ms). */
export const STALL_CHECK_MS = 1000;

/**
 * What an XHR PUT needs from its surroundings (fakes in tests).
 * @typedef {{XHR: any, setTimeout: (fn: () => void, ms: number) => unknown,
 *            clearTimeout: (timer: unknown) => void, now: () => number}} XhrEnv
 */

/**
 * Build an XHR transport. The options exist for tests; in the browser the defaults apply.
 * @param {Partial<Omit<XhrEnv, "XHR">> & {XMLHttpRequest?: any}} [options]
 * @returns {Transport}
 */
export function makeXhrTransport(options = {}) {
  /** @type {XhrEnv} */
  const env = {
    XHR: options.XMLHttpRequest,
    setTimeout: options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
    clearTimeout: options.clearTimeout ?? ((t) => globalThis.clearTimeout(/** @type {number} */ (t))),
    now: options.now ?? (() => Date.now()),
  };
  return { put: (request) => xhrPut(request, env) };
}

/**
 * @param {PutRequest} request
 * @param {XhrEnv} env
 * @returns {Promise<PutResult>}
 */
function xhrPut(request, env) {
  const { url, method = "PUT", headers = {}, fields, body, onProgress, signal, stallTimeoutMs = 0, stallGroup, credentials } = request;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TransportError("aborted"));
    const Xhr = env.XHR ?? globalThis.XMLHttpRequest;
    const xhr = new Xhr();
    let settled = false;
    let lastProgressAt = env.now();
    const member = stallGroup?.join(lastProgressAt, body.size);
    /** @type {unknown} */
    let stallTimer = null;

    /**
     * @param {() => void} action
     * @param {boolean} [stored] S3 answered 2xx
     */
    const settle = (action, stored = false) => {
      if (settled) return;
      settled = true;
      if (stallTimer !== null) env.clearTimeout(stallTimer);
      if (member) stallGroup?.leave(member, env.now(), stored);
      signal?.removeEventListener("abort", onAbort);
      action();
    };
    const onAbort = () => settle(() => {
      xhr.abort();
      reject(new TransportError("aborted"));
    });
    // One timer that re-arms itself for the remaining time, instead of a
    // clearTimeout/setTimeout pair on every progress event; in a StallGroup it also
    // looks at the siblings every STALL_CHECK_MS.
    /** @param {number} ms */
    const armStallTimer = (ms) => {
      stallTimer = env.setTimeout(() => {
        const now = env.now();
        const idle = now - lastProgressAt;
        const absolute = stallTimeoutMs > 0 && idle >= stallTimeoutMs;
        if (!absolute && !(member && stallGroup?.stalled(member, now))) {
          const left = stallTimeoutMs > 0 ? stallTimeoutMs - idle : Infinity;
          return armStallTimer(member ? Math.min(left, STALL_CHECK_MS) : left);
        }
        // Also covers S3 answering 403 early while the body is still being sent:
        // Chromium may then never finish the XHR, but progress stops.
        settle(() => {
          xhr.abort();
          reject(new TransportError("stall"));
        });
      }, ms);
    };
    const touch = () => {
      lastProgressAt = env.now();
      if (member) stallGroup?.moved(member, lastProgressAt);
    };

    xhr.open(method, url);
    if (credentials) xhr.withCredentials = true;
    for (const [name, value] of Object.entries(headers)) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    if (!fields) {
      xhr.upload.onprogress = (/** @type {ProgressEvent} */ e) => {
        touch();
        if (onProgress && !settled) onProgress(e.loaded);
      };
    }
    xhr.onprogress = touch; // the response arriving counts as progress too
    xhr.onreadystatechange = touch;
    xhr.onload = () => settle(() => {
      // Status 0 after load: the browser blocked the answer (CORS) or the connection broke.
      if (!xhr.status) return reject(new TransportError("network"));
      const ok = xhr.status >= 200 && xhr.status < 300;
      if (ok && fields && onProgress) onProgress(body.size);
      resolve({
        status: xhr.status,
        etag: xhr.getResponseHeader("ETag"),
        body: ok ? "" : String(xhr.responseText ?? ""),
      });
    }, xhr.status >= 200 && xhr.status < 300);
    xhr.onerror = () => settle(() => reject(new TransportError("network")));
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => settle(() => reject(new TransportError(signal?.aborted ? "aborted" : "network")));
    signal?.addEventListener("abort", onAbort);
    const limit = stallTimeoutMs > 0 ? stallTimeoutMs : Infinity;
    if (limit < Infinity || member) armStallTimer(member ? Math.min(limit, STALL_CHECK_MS) : limit);
    xhr.send(fields ? formOf(fields, body) : body);
  });
}

/**
 * A form POST's body: the policy's fields, then the file (S3 ignores any field after
 * it). The part's filename is a constant: the key comes from the signed "key" field.
 * @param {Record<string, string>} fields
 * @param {Blob} body
 */
function formOf(fields, body) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", body, "file");
  return form;
}

/** The transport the widget uses in the browser. */
export const xhrTransport = makeXhrTransport();

/**
 * The host (name and port) of `url`; "" when it is not a URL.
 * @param {string} url
 */
export function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}
