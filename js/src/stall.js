// @ts-check
/**
 * This file owns judging a request stalled by its siblings: the requests of one file in
 * flight together (a StallGroup) see the same network, so when they move and one does
 * not, that one is stuck (a dead connection, a server that stopped reading) and is cut
 * long before the absolute stall timeout. Everybody moving slowly is not a stall: the
 * limit grows with the gaps between the siblings' progress events, and a request is
 * judged only while its siblings moved recently. Pure: times are passed in.
 */

/** A request idle for less than this is never cut by its siblings (ms). */
export const STALL_FLOOR_MS = 5000;
/** Cut at this many times the siblings' usual gap between progress events. */
export const STALL_FACTOR = 4;
/** Gaps between progress events kept (of all members, newest last). */
const GAPS_KEPT = 64;

/**
 * One request of the group: when it joined and when it last moved.
 * @typedef {{joined: number, last: number}} StallMember
 */

/**
 * The requests of one file in flight, their progress and their durations.
 *
 * The rule: a member idle (no byte moving either way) for at least
 * `limit = max(floorMs, factor × p90 of the recent gaps between progress events)` is
 * stalled when another member moved after it and within `limit / 2` of now (its siblings
 * are moving, so the network is fine). With no sibling moving, it is stalled only once
 * idle for `factor × the median duration of the group's finished requests` too (the
 * file's last part stuck on a dead connection), never before one finished: a network
 * that stopped for everybody is the NetworkWatch's business (network.js), not a stall.
 */
export class StallGroup {
  /** @param {{floorMs?: number, factor?: number}} [options] */
  constructor({ floorMs = STALL_FLOOR_MS, factor = STALL_FACTOR } = {}) {
    this.floorMs = floorMs;
    this.factor = factor;
    /** @type {Set<StallMember>} */
    this.members = new Set();
    /** @type {number[]} */
    this.gaps = [];
    /** @type {number[]} durations of requests that got an answer (ms) */
    this.durations = [];
    this.pastMove = -Infinity; // last progress of a member that left
  }

  /**
   * A request starts.
   * @param {number} now
   * @returns {StallMember}
   */
  join(now) {
    const member = { joined: now, last: now };
    this.members.add(member);
    return member;
  }

  /**
   * Bytes of `member` moved (either way) at `now`.
   * @param {StallMember} member
   * @param {number} now
   */
  moved(member, now) {
    const gap = now - member.last;
    if (gap > 0) {
      this.gaps.push(gap);
      if (this.gaps.length > GAPS_KEPT) this.gaps.shift();
    }
    member.last = Math.max(member.last, now);
  }

  /**
   * A request ended; `answered`: it got an HTTP answer (its duration counts).
   * @param {StallMember} member
   * @param {number} now
   * @param {boolean} answered
   */
  leave(member, now, answered) {
    if (!this.members.delete(member)) return;
    this.pastMove = Math.max(this.pastMove, member.last);
    if (answered) {
      this.durations.push(now - member.joined);
      if (this.durations.length > GAPS_KEPT) this.durations.shift();
    }
  }

  /** The idle time that stalls a member whose siblings move (ms). */
  limitMs() {
    return Math.max(this.floorMs, this.factor * quantile(this.gaps, 0.9));
  }

  /**
   * Whether `member` is stalled at `now`.
   * @param {StallMember} member
   * @param {number} now
   */
  stalled(member, now) {
    const idle = now - member.last;
    if (idle < this.floorMs) return false;
    const limit = this.limitMs();
    if (idle < limit) return false;
    if (this._othersMoving(member, now, limit / 2)) return true;
    return this.durations.length > 0 && idle >= this.factor * quantile(this.durations, 0.5);
  }

  /**
   * @param {StallMember} member
   * @param {number} now
   * @param {number} recentMs
   */
  _othersMoving(member, now, recentMs) {
    const moved = (/** @type {number} */ t) => t > member.last && now - t < recentMs;
    if (moved(this.pastMove)) return true;
    for (const other of this.members) if (other !== member && moved(other.last)) return true;
    return false;
  }
}

/**
 * @param {number[]} values
 * @param {number} q in [0, 1]
 * @returns {number} 0 when there are none
 */
export function quantile(values, q) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
