import { test } from "node:test";
import assert from "node:assert/strict";
import { STALL_FACTOR, STALL_FLOOR_MS, StallGroup, quantile } from "../src/stall.js";
import { STALL_CHECK_MS, TransportError, makeXhrTransport } from "../src/transport.js";

/**
 * Drive a group on a virtual clock: `movers` progress every `everyMs` from `from` to `to`
 * (their events staggered by 1 ms), and return the first time `member` is stalled, or
 * null. Checks every second, as the transport does.
 */
function run(group, member, movers, { from = 0, to, everyMs, check = 1000 }) {
  for (let t = from; t <= to; t++) {
    movers.forEach((m, i) => {
      if ((t - i) % everyMs === 0 && t - i > from) group.moved(m, t);
    });
    if (t % check === 0 && group.stalled(member, t)) return t;
  }
  return null;
}

test("quantile picks from the sorted values; 0 when empty", () => {
  assert.equal(quantile([], 0.9), 0);
  assert.equal(quantile([5], 0.9), 5);
  assert.equal(quantile([9, 1, 5, 3, 7, 2, 8, 4, 6, 10], 0.9), 10);
  assert.equal(quantile([9, 1, 5, 3, 7, 2, 8, 4, 6, 10], 0.5), 6);
});

test("a request idle while its siblings move is stalled at the floor (5 s) on a fast link", () => {
  const group = new StallGroup();
  const stuck = group.join(0);
  const siblings = [group.join(0), group.join(0), group.join(0)];
  const cut = run(group, stuck, siblings, { to: 60_000, everyMs: 50 });
  assert.equal(cut, STALL_FLOOR_MS);
  assert.equal(group.limitMs(), STALL_FLOOR_MS, "4 x 50 ms gaps is below the floor");
});

test("everybody moving slowly alike is no stall; the limit grows with the siblings' gaps", () => {
  const group = new StallGroup();
  const members = [group.join(0), group.join(0), group.join(0)];
  // A slow link: each request moves only every 6 s (a big socket buffer drained slowly).
  for (let t = 1; t <= 120_000; t++) {
    members.forEach((m, i) => {
      if ((t - i * 2000) % 6000 === 0) group.moved(m, t);
    });
    if (t % 1000 === 0) for (const m of members) assert.equal(group.stalled(m, t), false, `t=${t}`);
  }
  assert.equal(group.limitMs(), STALL_FACTOR * 6000);
  // One of them then stops: cut once idle for 4 x 6 s, not at the floor.
  const [stuck, ...others] = members;
  const cut = run(group, stuck, others, { from: 120_000, to: 200_000, everyMs: 6000 });
  assert.ok(cut !== null, "the stuck one is cut");
  const idle = cut - stuck.last;
  assert.ok(idle >= 24_000 && idle < 26_000, `idle ${idle} ms`);
});

test("when nobody moves, nobody is cut by the others (the network stopped: not a stall)", () => {
  const group = new StallGroup();
  const members = [group.join(0), group.join(0), group.join(0)];
  for (let t = 1; t <= 3000; t++) members.forEach((m, i) => t % 50 === i && group.moved(m, t));
  // Everybody stops at ~3 s; one of them a little later than the others.
  group.moved(members[2], 3100);
  for (let t = 3100; t <= 120_000; t += 1000) {
    for (const m of members) assert.equal(group.stalled(m, t), false, `t=${t}`);
  }
});

test("a sibling that finished recently counts as moving; one that finished long ago does not", () => {
  const group = new StallGroup();
  const stuck = group.join(0);
  const other = group.join(0);
  for (let t = 50; t <= 4000; t += 50) group.moved(other, t);
  group.leave(other, 4000, false); // cut, say: no duration
  assert.equal(group.stalled(stuck, 5000), true, "moved 1 s ago");
  assert.equal(group.stalled(stuck, 9000), false, "moved 5 s ago: more than limit / 2");
});

test("the file's last request, alone and idle, is cut after 4 x the median duration of the finished ones", () => {
  const group = new StallGroup();
  for (let i = 0; i < 3; i++) {
    const part = group.join(i * 2000);
    for (let t = i * 2000 + 50; t <= i * 2000 + 2000; t += 50) group.moved(part, t);
    group.leave(part, i * 2000 + 2000, true); // answered after 2 s
  }
  const last = group.join(6000);
  group.moved(last, 6100);
  assert.equal(group.stalled(last, 6100 + 7999), false);
  assert.equal(group.stalled(last, 6100 + 8000), true, "4 x 2 s");
  // With nothing finished, a lone request is never judged by siblings.
  const fresh = new StallGroup();
  const lone = fresh.join(0);
  assert.equal(fresh.stalled(lone, 10 ** 7), false);
});

test("a request that moves is never stalled, whatever its siblings do", () => {
  const group = new StallGroup();
  const a = group.join(0);
  const b = group.join(0);
  for (let t = 100; t <= 60_000; t += 100) {
    group.moved(a, t);
    if (t % 4000 === 0) group.moved(b, t); // slower, but moving
    assert.equal(group.stalled(b, t), false, `t=${t}`);
  }
});

// --- In the XHR transport ------------------------------------------------------------------

class FakeXhr {
  static instances = [];
  constructor() {
    FakeXhr.instances.push(this);
    this.upload = {};
    this.status = 0;
    this.aborted = false;
  }
  open() {}
  setRequestHeader() {}
  send() {}
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  getResponseHeader() {
    return '"etag"';
  }
  progress(loaded) {
    this.upload.onprogress?.({ loaded });
  }
  respond(status) {
    this.status = status;
    this.onload?.();
  }
}

function fakeTimers() {
  let t = 0;
  let timers = [];
  return {
    now: () => t,
    setTimeout: (fn, ms) => {
      const timer = { fn, at: t + ms };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (timer) => {
      timers = timers.filter((x) => x !== timer);
    },
    advance(ms) {
      const end = t + ms;
      for (;;) {
        const due = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((x) => x !== due);
        t = due.at;
        due.fn();
      }
      t = end;
    },
  };
}

test("the transport cuts a stalled request by its siblings long before stallTimeoutMs", async () => {
  FakeXhr.instances = [];
  const timers = fakeTimers();
  const transport = makeXhrTransport({ XMLHttpRequest: FakeXhr, ...timers });
  const group = new StallGroup();
  const request = { url: "u", body: new Blob(["x"]), stallTimeoutMs: 60_000, stallGroup: group };
  const stuck = transport.put(request);
  const moving = transport.put(request);
  let outcome = null;
  stuck.then(() => { outcome = "answered"; }, (err) => { outcome = err; });
  const [stuckXhr, movingXhr] = FakeXhr.instances;
  stuckXhr.progress(10);
  for (let ms = 0; ms < 8000; ms += 50) {
    timers.advance(50);
    movingXhr.progress(ms);
    await Promise.resolve();
    if (outcome) break;
  }
  assert.ok(outcome instanceof TransportError && outcome.reason === "stall", String(outcome));
  assert.ok(stuckXhr.aborted);
  const at = timers.now();
  assert.ok(at >= STALL_FLOOR_MS && at <= STALL_FLOOR_MS + STALL_CHECK_MS, `cut at ${at} ms`);
  assert.equal(group.members.size, 1, "the cut request left the group");
  movingXhr.respond(200);
  assert.equal((await moving).status, 200);
  assert.equal(group.members.size, 0);
  assert.equal(group.durations.length, 1, "an answered request's duration counts");
});

test("the transport does not cut requests that all move slowly; the absolute timeout still holds", async () => {
  FakeXhr.instances = [];
  const timers = fakeTimers();
  const transport = makeXhrTransport({ XMLHttpRequest: FakeXhr, ...timers });
  const group = new StallGroup();
  const request = { url: "u", body: new Blob(["x"]), stallTimeoutMs: 60_000, stallGroup: group };
  const puts = [transport.put(request), transport.put(request)];
  let failed = null;
  puts.forEach((p) => p.catch((err) => { failed = err; }));
  const xhrs = [...FakeXhr.instances];
  for (let s = 1; s <= 90; s++) {
    timers.advance(1000);
    if (s % 7 === 0) xhrs.forEach((x) => x.progress(s)); // both every 7 s
    await Promise.resolve();
  }
  assert.equal(failed, null, "slow alike is not stalled");
  // Then nothing moves at all (the last progress was at 84 s): only the absolute
  // timeout (60 s) ends them.
  timers.advance(53_000);
  await Promise.resolve();
  assert.equal(failed, null);
  timers.advance(2000);
  await assert.rejects(puts[0], (err) => err.reason === "stall");
  await assert.rejects(puts[1], (err) => err.reason === "stall");
});
