// @ts-check
/**
 * This file owns judging a request stalled by its siblings: the requests of one file
 * (a StallGroup) go over the same network, so when one that started later has already
 * been stored and this one still moves nothing, this one is stuck (a dead connection, a
 * server that stopped reading) and is cut long before the absolute stall timeout.
 * Everybody moving slowly is not a stall: nobody overtakes anybody. Pure: times are
 * passed in.
 *
 * Why overtaking and not the gaps between progress events: Chromium reports upload
 * progress as the body enters its buffers (the socket's send buffer holds megabytes), so
 * a 5 MiB part at 1 MB/s reads 100% after ~1.3 s and then shows nothing for ~4 s until
 * S3 answers; on a slower link that silence is longer. A healthy request and a stuck one
 * look the same from the page until a sibling finishes.
 */

/** A request idle (no byte moving either way) for less than this is never cut (ms). */
export const STALL_FLOOR_MS = 5000;
/**
 * Overtaken: cut once it has run this many times as long as a sibling that started
 * after it and was stored (one at least as long).
 */
export const OVERTAKEN_FACTOR = 2;
/** Alone (no sibling in flight): cut after this many times the siblings' duration. */
export const ALONE_FACTOR = 4;
/** Finished requests remembered. */
const KEPT = 64;

/**
 * @typedef {{joined: number, last: number, length: number}} StallMember  a request in flight
 * @typedef {{joined: number, duration: number, length: number}} Finished  a request S3 stored
 */

/** The requests of one file: those in flight and the recent ones S3 stored. */
export class StallGroup {
  /** @param {{floorMs?: number, overtakenFactor?: number, aloneFactor?: number}} [options] */
  constructor({ floorMs = STALL_FLOOR_MS, overtakenFactor = OVERTAKEN_FACTOR, aloneFactor = ALONE_FACTOR } = {}) {
    this.floorMs = floorMs;
    this.overtakenFactor = overtakenFactor;
    this.aloneFactor = aloneFactor;
    /** @type {Set<StallMember>} */
    this.members = new Set();
    /** @type {Finished[]} oldest first */
    this.finished = [];
  }

  /**
   * A request of `length` body bytes starts.
   * @param {number} now
   * @param {number} length
   * @returns {StallMember}
   */
  join(now, length) {
    const member = { joined: now, last: now, length };
    this.members.add(member);
    return member;
  }

  /**
   * Bytes of `member` moved (either way) at `now`.
   * @param {StallMember} member
   * @param {number} now
   */
  moved(member, now) {
    member.last = Math.max(member.last, now);
  }

  /**
   * A request ended; `stored`: S3 answered 2xx (its duration is a yardstick).
   * @param {StallMember} member
   * @param {number} now
   * @param {boolean} stored
   */
  leave(member, now, stored) {
    if (!this.members.delete(member) || !stored) return;
    this.finished.push({ joined: member.joined, duration: now - member.joined, length: member.length });
    if (this.finished.length > KEPT) this.finished.shift();
  }

  /**
   * Whether `member` is stalled at `now`: idle for floorMs at least, and running for
   * OVERTAKEN_FACTOR times as long as the siblings that started after it and were
   * stored (the median of them); with none of those and no sibling in flight, for
   * ALONE_FACTOR times as long as the stored ones. Only siblings at least as long count.
   * @param {StallMember} member
   * @param {number} now
   */
  stalled(member, now) {
    if (now - member.last < this.floorMs) return false;
    const yardsticks = this.finished.filter((f) => f.length >= member.length);
    const elapsed = now - member.joined;
    const overtakers = yardsticks.filter((f) => f.joined > member.joined).map((f) => f.duration);
    if (overtakers.length) return elapsed >= this.overtakenFactor * median(overtakers);
    if (this.members.size > 1 || !yardsticks.length) return false;
    return elapsed >= this.aloneFactor * median(yardsticks.map((f) => f.duration));
  }
}

/**
 * @param {number[]} values  not empty
 * @returns {number}
 */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
