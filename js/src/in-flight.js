// @ts-check
/**
 * This file owns how many requests and files are in flight at once: at most `maxRequests`
 * requests to each host name, and, for quick requests, a few more handed to the browser
 * to wait in its own queue ("queue ahead"). Pure: the transport and the clock are
 * injected.
 *
 * Why queue ahead. A browser opens at most 6 HTTP/1.1 connections per host name and S3
 * speaks HTTP/1.1. When one request ends, the next one starts only once the page's
 * script has run: in JupyterLab the main thread is busy painting, and that gap was
 * 40-100 ms per request on the far link (LEARNED, "queue ahead"). For a small file's
 * single request (a round trip and a few hundred KiB) that gap is a third of the cycle.
 * A request the page has already handed to the browser starts in the browser's network
 * stack the moment a connection frees, without the page.
 *
 * Why only quick ones, and only while they are fast. A request waiting inside the
 * browser shows no progress, so its stall timer runs while it waits (transport.js).
 * It waits behind at most one request of its host, so only requests that end quickly
 * (small bodies, recently answered in well under the stall timeout) queue ahead, and
 * never behind a large request (a multipart part) of the same host.
 *
 * Why two pools. Browsers keep requests with credentials and without on connections of
 * their own, each up to 6 per host name (Chromium: 12 requests of one page to one name
 * on 12 connections when half carry credentials; LEARNED, "two connection pools"). A
 * presigned URL needs no cookie and S3 ignores one, so when the kernel says the S3
 * answers this page's credentialed requests (`setPools(2)`: its CORS rule names the
 * origin, so S3 echoes it with Access-Control-Allow-Credentials), half of each host's
 * requests go with credentials. A host whose credentialed requests fail before one was
 * ever answered (the browser hides a CORS refusal as a network error) falls back to one
 * pool: the failed request is retried like any other.
 */

import { TransportError, hostOf } from "./transport.js";

/** A whole file's one request (not a part) with at most this many bytes is quick. */
export const QUICK_REQUEST_MAX_BYTES = 1024 * 1024;

/** Quick requests queue ahead only while they recently took at most this long (ms). */
export const QUICK_REQUEST_MAX_MS = 5000;

/** The browser's own limit of connections per host name (HTTP/1.1, every major browser). */
export const BROWSER_CONNECTIONS_PER_HOST = 6;

/**
 * @param {number} bytes a request's body size
 */
export function isQuick(bytes) {
  return bytes <= QUICK_REQUEST_MAX_BYTES;
}

/**
 * Whether one more file may start moving, with `moving` files moving now. Beyond
 * `parallelFiles`, a quick file (one request, see isQuick) may queue ahead, up to
 * `parallelFiles` more, when every moving file is quick too.
 * @param {{size: number, single: boolean}} file  `single`: it goes in one request
 * @param {{size: number, single: boolean}[]} moving
 * @param {{parallelFiles: number, queueAhead: boolean}} limits
 */
export function mayMove(file, moving, { parallelFiles, queueAhead }) {
  if (moving.length < parallelFiles) return true;
  const quick = (/** @type {{size: number, single: boolean}} */ f) => f.single && isQuick(f.size);
  return queueAhead && moving.length < 2 * parallelFiles && quick(file) && moving.every(quick);
}

/**
 * @typedef {import("./transport.js").Transport} Transport
 * @typedef {{start: () => void, cancel: () => void, quick: boolean}} Waiting
 * @typedef {{active: number, slow: number, quickMs: number | null, queue: Waiting[],
 *            credentialed: number, credentialsAnswered: boolean, credentialsRefused: boolean}} Host
 *   `slow`: active requests that are not quick; `quickMs`: recent quick requests' time;
 *   `credentialed`: active requests sent with credentials (the second pool)
 */

/**
 * A transport that runs at most `maxRequests` requests at once to each host name and
 * queues the rest (first come, first served). Beyond that, XHRs would wait inside the
 * browser without progress, and their stall timers would fire although nothing is
 * wrong: queued here, a request starts its stall timer only when it really starts. URLs
 * signed for other names of the same S3 (the widget's `extra_endpoints`) each get their
 * own `maxRequests`. With `queueAhead` (only sound when `maxRequests` is the browser's
 * own limit), quick requests go on to the browser up to `maxRequests` more while every
 * active request of their host is quick and quick requests recently ended fast. With
 * `setPools(2)`, each host has `maxRequests` in each of two pools (see above).
 * @param {Transport} transport
 * @param {number} maxRequests  per host name and pool
 * @param {{queueAhead?: boolean, now?: () => number}} [options]
 * @returns {Transport & {active: () => number, waiting: () => number, setPools: (pools: number) => void}}
 */
export function limitRequests(transport, maxRequests, { queueAhead = false, now = () => Date.now() } = {}) {
  /** @type {Map<string, Host>} kept when idle (a few names): quickMs carries over */
  const hosts = new Map();
  let active = 0;
  let waiting = 0;
  let pools = 1;
  /** @param {Host} host */
  const poolsOf = (host) => (pools > 1 && !host.credentialsRefused ? 2 : 1);
  /** @param {Host} host */
  const mayStart = (host) => {
    const room = maxRequests * poolsOf(host);
    if (host.active < room) return true;
    const head = host.queue[0];
    const fast = host.quickMs !== null && host.quickMs <= QUICK_REQUEST_MAX_MS;
    return queueAhead && head.quick && !host.slow && fast && host.active < 2 * room;
  };
  /** @param {string} name */
  const next = (name) => {
    const host = hosts.get(name);
    if (!host) return;
    while (host.queue.length && mayStart(host)) host.queue.shift()?.start();
  };
  /**
   * @param {string} name
   * @param {boolean} quick
   * @param {AbortSignal | undefined} signal
   * @returns {Promise<{host: Host, credentials: boolean}>}  `credentials`: the second pool
   */
  const acquire = (name, quick, signal) => new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TransportError("aborted"));
    const host = hosts.get(name) ?? {
      active: 0, slow: 0, quickMs: null, queue: [], credentialed: 0, credentialsAnswered: false, credentialsRefused: false,
    };
    hosts.set(name, host);
    /** @type {Waiting} */
    const entry = {
      quick,
      start: () => {
        signal?.removeEventListener("abort", entry.cancel);
        // The emptier pool, plain first: one request alone never needs the second pool.
        const credentials = poolsOf(host) > 1 && host.credentialed < host.active - host.credentialed;
        host.active++;
        if (credentials) host.credentialed++;
        if (!quick) host.slow++;
        active++;
        waiting--;
        resolve({ host, credentials });
      },
      cancel: () => {
        const at = host.queue.indexOf(entry);
        if (at >= 0) {
          host.queue.splice(at, 1);
          waiting--;
        }
        next(name);
        reject(new TransportError("aborted"));
      },
    };
    signal?.addEventListener("abort", entry.cancel, { once: true });
    host.queue.push(entry);
    waiting++;
    next(name);
  });
  return {
    async put(request) {
      const name = hostOf(request.url);
      const quick = !!request.wholeFile && isQuick(request.body.size);
      const { host, credentials } = await acquire(name, quick, request.signal);
      const started = now();
      let answered = false;
      try {
        const result = await transport.put(credentials ? { ...request, credentials } : request);
        answered = true;
        return result;
      } catch (err) {
        if (credentials && !host.credentialsAnswered && err instanceof TransportError && err.reason === "network") {
          host.credentialsRefused = true;
        }
        throw err;
      } finally {
        if (credentials) {
          host.credentialed--;
          if (answered) host.credentialsAnswered = true;
        }
        host.active--;
        if (!quick) host.slow--;
        // Smoothed over a few requests; a failure stops queueing ahead until one is answered.
        const ms = now() - started;
        if (quick) host.quickMs = !answered ? null : host.quickMs === null ? ms : 0.7 * host.quickMs + 0.3 * ms;
        active--;
        next(name);
      }
    },
    active: () => active,
    waiting: () => waiting,
    setPools(count) {
      pools = count >= 2 ? 2 : 1;
      for (const name of hosts.keys()) next(name);
    },
  };
}
