// @ts-check
/**
 * This file owns the pause that every request to one S3 host takes once S3 asked one of
 * them to slow down (503 SlowDown; 429 from S3-compatible servers). put.js already makes
 * the request S3 answered wait (throttleDelay); without this, its siblings (the file's
 * other parts, the other files) would go on at full rate and meet the same 503, each
 * then backing off on its own: the load S3 asked to shed stays. Here one answer holds
 * every request to that host for a throttle delay that grows while S3 keeps answering
 * so, and ends a random moment apart for each request, so they don't return in lockstep.
 * A transport wrapper, like network.js rideOutages; clock, sleep and random are injected.
 */
import { isThrottle, parseS3Error, throttleDelay } from "./put.js";
import { TransportError, hostOf } from "./transport.js";

/**
 * @typedef {import("./transport.js").Transport} Transport
 * @typedef {object} ThrottleEnv
 * @property {import("./put.js").RetryOptions} retry  throttleBaseDelayMs, throttleMaxDelayMs
 * @property {() => number} now
 * @property {(ms: number) => Promise<void>} sleep
 * @property {() => number} random
 */

/** Per host name: until when its requests wait, how long that hold is, and the streak. */
export class ThrottleGate {
  /** @param {ThrottleEnv} env */
  constructor(env) {
    this.env = env;
    /** @type {Map<string, {until: number, span: number, streak: number, cause: string}>} */
    this.hosts = new Map();
  }

  /**
   * S3 asked a request to `host` (at `url`) to slow down: hold every other request to it
   * for a throttle delay, longer with each such answer in a row. The request S3 answered
   * is not held: its next try already waits its own backoff (put.js), not twice.
   * @param {string} host
   * @param {string} url
   */
  hold(host, url) {
    const { env } = this;
    const entry = this.hosts.get(host) ?? { until: 0, span: 0, streak: 0, cause: "" };
    const span = throttleDelay(entry.streak, env.retry, env.random);
    const until = env.now() + span;
    if (until > entry.until) Object.assign(entry, { until, span, cause: url });
    entry.streak++;
    this.hosts.set(host, entry);
  }

  /**
   * A request to `host` was answered (not asked to slow down): the streak ends.
   * @param {string} host
   */
  clear(host) {
    const entry = this.hosts.get(host);
    if (entry) entry.streak = 0;
  }

  /**
   * When a request to `host` may go: null at once (not held), else a promise that
   * resolves after the hold (and any hold added meanwhile), plus a random part of a
   * quarter of it.
   * @param {string} host
   * @param {string} [url]  the request's URL: the one that caused the hold passes
   * @returns {Promise<void> | null}
   */
  pass(host, url) {
    const entry = this.hosts.get(host);
    const { now, sleep, random } = this.env;
    if (!entry || entry.until <= now() || url === entry.cause) return null;
    const jitter = (entry.span / 4) * random();
    return (async () => {
      // Sleep to the end of the hold; again only if a new answer moved it meanwhile.
      for (let seen = -Infinity; entry.until > seen && entry.until > now(); ) {
        seen = entry.until;
        await sleep(entry.until - now());
      }
      await sleep(jitter);
    })();
  }
}

/**
 * `transport`, with one ThrottleGate for all its requests.
 * @param {Transport} transport
 * @param {ThrottleEnv} env
 * @returns {Transport & {gate: ThrottleGate}}
 */
export function holdOnThrottle(transport, env) {
  const gate = new ThrottleGate(env);
  return {
    gate,
    put(request) {
      const host = hostOf(request.url);
      const send = async () => {
        if (request.signal?.aborted) throw new TransportError("aborted");
        const response = await transport.put(request);
        if (isThrottle(response.status, parseS3Error(response.body).code)) gate.hold(host, request.url);
        else if (response.status) gate.clear(host);
        return response;
      };
      // Not held: no extra turn of the event loop before the request starts.
      return gate.pass(host, request.url)?.then(send) ?? send();
    },
  };
}
