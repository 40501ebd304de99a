// @ts-check
/**
 * This file owns the byte counts of uploads: RateMeter (bytes per second, of one file or
 * of the batch), TransferMeter (one file's loaded bytes, speed and time left) and
 * ProgressReporter (the throttled "progress" counts for the kernel).
 */

const SPEED_WINDOW_MS = 2000; // time constant of the speed average
const SPEED_MIN_SAMPLE_MS = 200; // shorter samples are mostly timer noise

/**
 * Bytes per second put on the wire, averaged with an exponential weight over ~2 s:
 * steady enough to read, quick to follow a change. One file's speed (TransferMeter),
 * and the whole batch's: small files end before any one of them can be measured.
 */
export class RateMeter {
  /** @param {() => number} now */
  constructor(now) {
    this.now = now;
    this.sent = 0;
    this.speed = 0;
    this.measured = false;
    /** @type {{t: number, sent: number} | null} */
    this.sample = null;
  }

  /** Start measuring from now (the first byte is about to go), unless already measuring. */
  start() {
    if (!this.sample) this.sample = { t: this.now(), sent: this.sent };
  }

  /** @param {number} bytes more bytes sent */
  add(bytes) {
    if (bytes > 0) this.sent += bytes;
    this.read();
  }

  /** The speed now: a quiet meter slows down as time passes. */
  read() {
    const t = this.now();
    if (!this.sample) this.sample = { t, sent: this.sent };
    const dt = t - this.sample.t;
    if (dt < SPEED_MIN_SAMPLE_MS) return this.speed;
    const rate = ((this.sent - this.sample.sent) * 1000) / dt;
    this.speed = this.measured ? this.speed + (1 - Math.exp(-dt / SPEED_WINDOW_MS)) * (rate - this.speed) : rate;
    this.measured = true;
    this.sample = { t, sent: this.sent };
    return this.speed;
  }

  /** Forget the past (nothing is moving: the next batch is measured afresh). */
  reset() {
    this.speed = 0;
    this.measured = false;
    this.sample = null;
  }
}

/**
 * The byte counts of one file: stored parts plus each part's current try (key 0
 * for a single PUT). `loaded` drops when a try fails, since its bytes go again;
 * `speed` (RateMeter) counts every byte put on the wire, retries included.
 */
export class TransferMeter {
  /**
   * @param {number} total
   * @param {() => number} now
   */
  constructor(total, now) {
    this.total = total;
    /** @type {Map<number, number>} part -> bytes of its current try */
    this.inflight = new Map();
    this.stored = 0;
    this.rate = new RateMeter(now);
  }

  /** Bytes stored or in flight, never above total. */
  get loaded() {
    let loaded = this.stored;
    for (const bytes of this.inflight.values()) loaded += bytes;
    return Math.min(loaded, this.total);
  }

  /** Bytes put on the wire, retries included. */
  get sent() {
    return this.rate.sent;
  }

  get speed() {
    return this.rate.speed;
  }

  /** Seconds left at the current speed, null when unknown. */
  get eta() {
    return this.speed > 0 ? (this.total - this.loaded) / this.speed : null;
  }

  /** Start measuring speed from now (the first byte is about to go). */
  start() {
    this.rate.sample = null;
    this.rate.start();
  }

  /**
   * @param {number} key part number, 0 for a single PUT
   * @param {number} bytes sent by its current try
   * @returns {number} the bytes newly put on the wire
   */
  setPart(key, bytes) {
    const before = this.inflight.get(key) ?? 0;
    this.inflight.set(key, bytes);
    const added = Math.max(0, bytes - before);
    this.rate.add(added);
    return added;
  }

  /** @param {number} key @param {number} length */
  finishPart(key, length) {
    this.inflight.delete(key);
    this.stored += length;
  }
}

/**
 * Coalesces byte counts for the kernel: at most one `send(updates)` per
 * `intervalMs` for all files together (at once when the last send is old enough,
 * else one trailing send), carrying only the counts that changed since sent.
 */
export class ProgressReporter {
  /**
   * @param {{send: (updates: {upload_id: string, loaded: number}[]) => any,
   *          intervalMs: number, now: () => number, sleep: (ms: number) => Promise<void>}} options
   */
  constructor({ send, intervalMs, now, sleep }) {
    this.send = send;
    this.intervalMs = intervalMs;
    this.now = now;
    this.sleep = sleep;
    /** @type {Map<string, number>} counts not sent yet */
    this.latest = new Map();
    /** @type {Map<string, number>} counts the kernel has */
    this.reported = new Map();
    this.lastSent = -Infinity;
    this.scheduled = false;
  }

  /** @param {string} id @param {number} loaded */
  update(id, loaded) {
    this.latest.set(id, loaded);
    if (this.scheduled) return;
    const wait = this.lastSent + this.intervalMs - this.now();
    if (wait <= 0) return this.flush();
    this.scheduled = true;
    Promise.resolve(this.sleep(wait)).then(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Never send this file's count again: it ended, or its completion tells the kernel. @param {string} id */
  forget(id) {
    this.latest.delete(id);
    this.reported.delete(id);
  }

  /** Send the pending counts now (also used when a file finishes). */
  flush() {
    this.lastSent = this.now();
    const updates = [];
    for (const [id, loaded] of this.latest) {
      if (this.reported.get(id) !== loaded) updates.push({ upload_id: id, loaded });
      this.reported.set(id, loaded);
    }
    this.latest.clear();
    if (!updates.length) return;
    try {
      Promise.resolve(this.send(updates)).catch(() => {}); // best effort: the next count supersedes it
    } catch {
      // same
    }
  }
}
