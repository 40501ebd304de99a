// Fakes for the upload engine's tests: a kernel api, transports and a clock.
// The fake kernel answers exactly as _protocol.py says the real one does.
// (Not a test file itself; `node --test test/` loads it and finds no tests.)
import { TransportError } from "../src/transport.js";
import { UploadEngine } from "../src/engine.js";
import { KernelError } from "../src/protocol.js";
import { NetworkWatch } from "../src/network.js";

/** Let pending promise callbacks and one macrotask turn run. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Wait until `predicate()` holds (fails the test after many turns). */
export async function waitFor(predicate, what = "condition") {
  for (let i = 0; i < 500; i++) {
    if (predicate()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const blobOf = (size) => new Blob([new Uint8Array(size)]);

/** S3's XML error document. */
export const s3Error = (code, message) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
  "<RequestId>X</RequestId></Error>";

/** The part number of a fake part URL, null for a single PUT URL. */
export function partOf(url) {
  const match = /\/part\/(\d+)/.exec(url);
  return match ? Number(match[1]) : null;
}

/** One entry of a "sign-parts" result. */
export const signedPart = (n, url, length = 10) => ({ part_number: n, length, method: "PUT", url, headers: {} });

/** An upload record, as the kernel sends it (`patch` over a queued record of `size` bytes). */
export const fakeRecord = (id, patch = {}, size = 0) => ({
  id, name: `${id}.bin`, size, content_type: "application/octet-stream", bucket: "bucket", key: `up/${id}.bin`,
  s3_uri: `s3://bucket/up/${id}.bin`, status: "queued", loaded: 0, etag: "", error: "", error_code: "",
  multipart: false, ...patch,
});

/** The file size behind each plan made by multipartPlan (the real kernel knows it from "add-files"). */
const planSizes = new WeakMap();

/**
 * A kernel that signs everything. `plans[id]` overrides the "sign" answer;
 * `overrides` replaces whole methods. Every call is recorded in `calls`.
 *
 * "sign-files" and "complete-files" answer each file as the kernel's own "sign" and
 * "complete" of that file would (`api.sign`, `api.complete`, so tests that replace
 * those replace the file's part of a batch too): a KernelError becomes that file's
 * ok: false entry, any other error fails the whole request. `calls.signFiles` and
 * `calls.completeFiles` record the batches; `calls.sign` and `calls.complete` every file.
 */
export function fakeApi({ plans = {}, overrides = {}, transport = null } = {}) {
  const calls = {
    sign: [], signFiles: [], signParts: [], complete: [], completeFiles: [], fail: [], cancel: [], progress: [],
    pause: [], resume: [],
  };
  const versions = new Map(); // how often each part was signed
  const partLength = (id, n) => {
    const { part_size: partSize } = plans[id];
    return Math.min(partSize, planSizes.get(plans[id]) - (n - 1) * partSize);
  };
  /** Each id through `one` (started in order, answered together), as the kernel answers a batch. */
  const eachOf = async (ids, one) => {
    const settled = await Promise.allSettled(ids.map((id) => one(id)));
    const results = settled.map((outcome, i) => {
      if (outcome.status === "fulfilled") return { upload_id: ids[i], ok: true, ...outcome.value };
      const err = outcome.reason;
      if (!(err instanceof KernelError)) throw err;
      return { upload_id: ids[i], ok: false, error: { code: err.code, message: err.message, hint: err.hint } };
    });
    return { results };
  };
  const api = {
    calls,
    async signFiles(ids) {
      calls.signFiles.push([...ids]);
      return eachOf(ids, async (id) => ({ result: await api.sign(id) }));
    },
    async completeFiles(items) {
      calls.completeFiles.push(items.map((item) => item.upload_id));
      const byId = new Map(items.map(({ upload_id: id, ...payload }) => [id, payload]));
      return eachOf([...byId.keys()], async (id) => {
        const { record } = await api.complete(id, byId.get(id));
        return { status: record?.status === "unverified" ? "unverified" : "done" };
      });
    },
    async sign(id) {
      calls.sign.push(id);
      await tick();
      return plans[id] ?? {
        mode: "single", method: "PUT", url: `https://s3.test/${id}?sig=${calls.sign.length}`,
        headers: { "Content-Type": "application/octet-stream", "If-None-Match": "*" },
      };
    },
    async signParts(id, partNumbers) {
      // How many PUTs were sent when these parts were signed (to check laziness).
      calls.signParts.push({ id, partNumbers: [...partNumbers], sentBefore: transport?.puts.length ?? 0 });
      await tick();
      return {
        parts: partNumbers.map((n) => {
          const version = (versions.get(`${id}/${n}`) ?? 0) + 1;
          versions.set(`${id}/${n}`, version);
          return signedPart(n, `https://s3.test/${id}/part/${n}?v=${version}`, partLength(id, n));
        }),
      };
    },
    async complete(id, payload) {
      calls.complete.push({ id, payload });
      await tick();
      return { record: fakeRecord(id, { status: "done" }) };
    },
    async fail(id, error) {
      calls.fail.push({ id, error });
      await tick();
      const words = `kernel words for ${error.reason}`;
      return { record: fakeRecord(id, { status: "error", error: words, error_code: "s3-rejected" }) };
    },
    async cancel(id) {
      calls.cancel.push(id);
      return { record: fakeRecord(id, { status: "cancelled" }) };
    },
    async pause(id) {
      calls.pause.push(id);
      return { record: fakeRecord(id, { status: "paused" }) };
    },
    async resume(id) {
      calls.resume.push(id);
      return { record: fakeRecord(id, { status: "uploading" }) };
    },
    progress(updates) {
      calls.progress.push(updates);
    },
  };
  return Object.assign(api, overrides);
}

/**
 * Settle like the XHR transport: `work`'s outcome, or TransportError("aborted")
 * as soon as `signal` aborts (its listener removed afterwards, as xhrTransport does).
 */
function abortable(work, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new TransportError("aborted"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal?.removeEventListener("abort", onAbort));
  });
}

/**
 * A transport that answers every PUT with `respond(request, index)` (default:
 * 200 with an ETag) after a few event-loop turns, reporting progress on the way.
 * It records every request and how many were in flight at once.
 */
export class FakeTransport {
  constructor(respond = null, { turns = 3, ignoreAbort = false } = {}) {
    this.respond = respond ?? (() => undefined);
    this.turns = turns;
    this.ignoreAbort = ignoreAbort;
    this.puts = [];
    this.inFlight = 0;
    this.maxInFlight = 0;
  }

  async put(request) {
    const index = this.puts.length;
    this.puts.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const work = this._answer(request, index);
      return await (this.ignoreAbort ? work : abortable(work, request.signal));
    } finally {
      this.inFlight--;
    }
  }

  async _answer(request, index) {
    const size = request.body.size;
    for (let i = 1; i <= this.turns; i++) {
      await tick();
      request.onProgress?.(Math.floor((size * i) / this.turns));
    }
    const answer = await this.respond(request, index);
    if (answer instanceof Error) throw answer;
    return answer ?? { status: 200, etag: `"etag-${request.url}"`, body: "" };
  }

  /** How many PUTs each part number got. */
  putsPerPart() {
    const counts = {};
    for (const { url } of this.puts) counts[partOf(url)] = (counts[partOf(url)] ?? 0) + 1;
    return counts;
  }
}

/** A transport whose PUTs the test answers by hand (`pending[i].resolve(...)`). */
export class ManualTransport {
  constructor() {
    this.pending = [];
    this.puts = [];
  }

  put(request) {
    this.puts.push(request);
    let answer;
    const work = new Promise((resolve, reject) => { answer = { request, resolve, reject }; });
    this.pending.push(answer);
    return abortable(work, request.signal);
  }
}

/** Time that moves only when the test says so. */
export class FakeClock {
  constructor() {
    this.t = 0;
    this.timers = [];
    this.now = () => this.t;
    this.sleep = (ms) => new Promise((resolve) => this.timers.push({ at: this.t + ms, resolve }));
  }

  async advance(ms) {
    this.t += ms;
    const due = this.timers.filter((timer) => timer.at <= this.t);
    this.timers = this.timers.filter((timer) => timer.at > this.t);
    due.forEach((timer) => timer.resolve());
    await tick();
  }
}

/** A NetworkWatch whose time and timers are `clock`'s (they move only with clock.advance). */
export function fakeNetwork(clock, options = {}) {
  const setTimer = (fn, ms) => {
    let live = true;
    clock.sleep(ms).then(() => live && fn());
    return () => { live = false; };
  };
  return new NetworkWatch({ now: clock.now, setTimer, ...options });
}

/** Advance `clock` by `stepMs` until `predicate()` holds (fails the test after `maxMs`). */
export async function advanceUntil(clock, predicate, { stepMs = 250, maxMs = 600_000, what = "condition" } = {}) {
  for (let spent = 0; spent <= maxMs; spent += stepMs) {
    for (let i = 0; i < 5; i++) await tick();
    if (predicate()) return;
    await clock.advance(stepMs);
  }
  throw new Error(`timed out (fake clock) waiting for ${what}`);
}

/**
 * An engine with instant sleeps (recorded in `engine.sleeps`), random 0.5,
 * progress sent without throttling (so the only sleeps are backoffs) and every
 * state change recorded in `engine.changes`.
 */
export function makeEngine(options) {
  const changes = [];
  const sleeps = [];
  const engine = new UploadEngine({
    random: () => 0.5,
    progressIntervalMs: 0,
    sleep: async (ms) => { sleeps.push(ms); },
    onChange: (id, state) => changes.push(state),
    ...options,
  });
  return Object.assign(engine, { changes, sleeps });
}

/** A multipart plan (a "sign" result) for `size` bytes in parts of `partSize`. */
export function multipartPlan(size, partSize) {
  const plan = { mode: "multipart", part_size: partSize, part_count: Math.max(1, Math.ceil(size / partSize)) };
  planSizes.set(plan, size);
  return plan;
}

/** One engine, one file, run to the end. */
export async function runOne({ size = 100, plan, respond, engineOptions = {}, apiOverrides = {} } = {}) {
  const transport = new FakeTransport(respond);
  const api = fakeApi({ plans: plan ? { u1: plan } : {}, overrides: apiOverrides, transport });
  const engine = makeEngine({ api, transport, ...engineOptions });
  engine.add("u1", blobOf(size));
  await engine.whenIdle();
  return { api, transport, engine, state: engine.state("u1") };
}
