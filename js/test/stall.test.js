import { test } from "node:test";
import assert from "node:assert/strict";
import { ALONE_FACTOR, OVERTAKEN_FACTOR, STALL_FLOOR_MS, StallGroup, median } from "../src/stall.js";
import { STALL_CHECK_MS, TransportError, makeXhrTransport } from "../src/transport.js";

const MB = 1_000_000;

/**
 * Parts of `length` bytes on a link where each takes `durationMs`: Chromium buffers the
 * body in its first `bufferMs` (progress events every second until then), then nothing
 * moves until S3 answers. Returns a driver that runs the group to time `t`.
 */
function link(group, { durationMs, bufferMs = 1300, length = 5 * MB }) {
  const running = new Map(); // member -> {start, stuck}
  return {
    start(t, { stuck = false } = {}) {
      const member = group.join(t, length);
      running.set(member, { start: t, stuck });
      return member;
    },
    /** Advance to `t` one ms at a time; returns the members found stalled, with when. */
    runTo(from, to, { check = 1000 } = {}) {
      const cut = [];
      for (let t = from; t <= to; t++) {
        for (const [member, { start, stuck }] of running) {
          const age = t - start;
          if (age > 0 && age <= bufferMs && age % 1000 === 0) group.moved(member, t);
          if (!stuck && age === durationMs) {
            group.moved(member, t);
            group.leave(member, t, true);
            running.delete(member);
          }
        }
        if (t % check === 0) {
          for (const member of running.keys()) {
            if (group.stalled(member, t)) {
              cut.push([member, t]);
              group.leave(member, t, false);
              running.delete(member);
            }
          }
        }
      }
      return cut;
    },
    running,
  };
}

test("median of the middle (the lower one of an even count)", () => {
  assert.equal(median([5]), 5);
  assert.equal(median([9, 1, 5]), 5);
  assert.equal(median([4, 1, 3, 2]), 2);
});

test("a stuck part is cut once a part that started after it was stored, at 2 x its duration", () => {
  const group = new StallGroup();
  const net = link(group, { durationMs: 5400 });
  const parts = [net.start(0), net.start(100), net.start(200, { stuck: true }), net.start(300)];
  const cut = net.runTo(1, 60_000);
  assert.equal(cut.length, 1);
  const [member, at] = cut[0];
  assert.equal(member, parts[2]);
  assert.ok(at >= 200 + OVERTAKEN_FACTOR * 5400 && at <= 200 + OVERTAKEN_FACTOR * 5400 + 1000, `cut at ${at} ms`);
  assert.ok(at < 20_000, "long before the 60 s timeout");
});

test("everybody slow alike (even 40 s of silence after buffering) is no stall", () => {
  const group = new StallGroup();
  const net = link(group, { durationMs: 45_000 });
  // Parts start one after another as slots free, like the engine's pool.
  for (let i = 0; i < 4; i++) net.start(i * 50);
  let cuts = [];
  for (let round = 0; round < 5; round++) {
    const from = round * 45_000 + 1;
    cuts = cuts.concat(net.runTo(from, from + 44_999));
    for (let i = 0; i < 4; i++) net.start(from + 44_999 + i * 50 + 1);
  }
  assert.deepEqual(cuts, []);
});

test("a link that slows down for everybody cuts nobody: nobody overtakes anybody", () => {
  const group = new StallGroup();
  const fast = link(group, { durationMs: 2000 });
  for (let i = 0; i < 4; i++) fast.start(i * 10);
  assert.deepEqual(fast.runTo(1, 3000), []);
  const slow = link(group, { durationMs: 60_000 }); // 30 x slower from now on
  for (let i = 0; i < 4; i++) slow.start(3000 + i * 10);
  assert.deepEqual(slow.runTo(3001, 70_000), []);
});

test("alone and idle, the file's last part is cut after 4 x the stored parts' duration", () => {
  const group = new StallGroup();
  const net = link(group, { durationMs: 2000 });
  for (let i = 0; i < 3; i++) net.start(i * 10);
  net.runTo(1, 2100);
  const last = net.start(2100, { stuck: true });
  const cut = net.runTo(2101, 60_000);
  assert.deepEqual(cut.map(([m]) => m), [last]);
  assert.ok(cut[0][1] - 2100 >= ALONE_FACTOR * 2000 && cut[0][1] - 2100 <= ALONE_FACTOR * 2000 + 1000, `${cut[0][1]}`);
  // With nothing stored yet, nobody is judged.
  const fresh = new StallGroup();
  const lone = fresh.join(0, 10);
  assert.equal(fresh.stalled(lone, 10 ** 7), false);
});

test("never before STALL_FLOOR_MS of silence; only parts at least as long are yardsticks", () => {
  const group = new StallGroup();
  const stuck = group.join(0, 5 * MB);
  const tiny = group.join(10, 12_345); // the file's last, short part overtakes in 20 ms
  group.leave(tiny, 30, true);
  assert.equal(group.stalled(stuck, 60_000), false, "a shorter part says nothing");
  const other = group.join(20, 5 * MB);
  group.moved(stuck, 1000);
  group.leave(other, 1020, true); // overtaken after 1 s: 2 x 1 s = 2 s, but the floor is 5 s
  assert.equal(group.stalled(stuck, 2100), false);
  assert.equal(group.stalled(stuck, 1000 + STALL_FLOOR_MS), true);
  group.moved(stuck, 6500); // it moved after all
  assert.equal(group.stalled(stuck, 6500 + STALL_FLOOR_MS - 1), false);
});

test("only stored requests are yardsticks (a 503 may come early)", () => {
  const group = new StallGroup();
  const stuck = group.join(0, 100);
  const refused = group.join(10, 100);
  group.leave(refused, 20, false);
  assert.equal(group.stalled(stuck, 60_000), false);
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

test("the transport cuts a request overtaken by a sibling long before stallTimeoutMs", async () => {
  FakeXhr.instances = [];
  const timers = fakeTimers();
  const transport = makeXhrTransport({ XMLHttpRequest: FakeXhr, ...timers });
  const group = new StallGroup();
  const request = { url: "u", body: new Blob(["x"]), stallTimeoutMs: 60_000, stallGroup: group };
  const stuck = transport.put(request);
  let outcome = null;
  stuck.then(() => { outcome = "answered"; }, (err) => { outcome = err; });
  timers.advance(100);
  const later = transport.put(request);
  const [stuckXhr, laterXhr] = FakeXhr.instances;
  stuckXhr.progress(1);
  laterXhr.progress(1);
  timers.advance(3000);
  laterXhr.respond(200); // stored after 3 s
  assert.equal((await later).status, 200);
  assert.equal(group.finished.length, 1);
  for (let ms = 0; ms < 20_000 && !outcome; ms += 100) {
    timers.advance(100);
    await Promise.resolve();
  }
  assert.ok(outcome instanceof TransportError && outcome.reason === "stall", String(outcome));
  assert.ok(stuckXhr.aborted);
  const at = timers.now();
  assert.ok(at >= 2 * 3000 && at <= 2 * 3000 + STALL_CHECK_MS, `cut at ${at} ms`);
  assert.equal(group.members.size, 0, "the cut request left the group");
  assert.equal(group.finished.length, 1, "a cut request is no yardstick");
});

test("the transport does not cut requests that all move slowly; the absolute timeout still holds", async () => {
  FakeXhr.instances = [];
  const timers = fakeTimers();
  const transport = makeXhrTransport({ XMLHttpRequest: FakeXhr, ...timers });
  const group = new StallGroup();
  const request = { url: "u", body: new Blob(["x"]), stallTimeoutMs: 60_000, stallGroup: group };
  const puts = [transport.put(request), transport.put(request)];
  const stored = transport.put(request); // a sibling stored first: a yardstick of 1 s
  timers.advance(1000);
  FakeXhr.instances[2].respond(200);
  await stored;
  let failed = null;
  puts.forEach((p) => p.catch((err) => { failed = err; }));
  const xhrs = FakeXhr.instances.slice(0, 2);
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
