import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_RETRY, UploadFailure, backoffDelay, classifyError, classifyResponse, describeFailure, failureDetail,
  failureOf, isThrottle, parseS3Error, putWithRetry, throttleDelay,
} from "../src/put.js";
import { KernelTimeoutError } from "../src/protocol.js";
import { TransportError } from "../src/transport.js";
import { s3Error } from "./engine-fakes.js";

const policy = { baseDelayMs: 500, maxDelayMs: 10000 };

test("backoffDelay doubles its ceiling per attempt up to maxDelayMs", () => {
  const almostOne = () => 0.999999;
  const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 40].map((a) => Math.round(backoffDelay(a, policy, almostOne)));
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000]);
});

test("backoffDelay has full jitter: anywhere in [0, ceiling)", () => {
  assert.equal(backoffDelay(3, policy, () => 0), 0);
  assert.equal(backoffDelay(3, policy, () => 0.5), 2000);
  assert.equal(backoffDelay(30, policy, () => 0.25), 2500);
  for (let attempt = 0; attempt < 12; attempt++) {
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(attempt, policy);
      assert.ok(delay >= 0 && delay < Math.min(10000, 500 * 2 ** attempt), `attempt ${attempt}: ${delay}`);
    }
  }
  const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(4, policy)));
  assert.ok(spread.size > 1, "Math.random by default");
});

test("DEFAULT_RETRY matches the documented defaults", () => {
  assert.deepEqual({ ...DEFAULT_RETRY }, {
    attempts: 8, baseDelayMs: 500, maxDelayMs: 10000, throttleBaseDelayMs: 4000, throttleMaxDelayMs: 30000,
    firstContactAttempts: 4,
  });
});

test("parseS3Error reads Code and Message, decoding entities", () => {
  assert.deepEqual(parseS3Error(s3Error("AccessDenied", "Request has expired")), {
    code: "AccessDenied", message: "Request has expired",
  });
  assert.deepEqual(parseS3Error("<Error><Code>X</Code><Message>a &lt;b&gt; &amp; &quot;c&quot;</Message></Error>"), {
    code: "X", message: 'a <b> & "c"',
  });
  assert.deepEqual(parseS3Error("<Error>\n  <Code>\n   Multi\n  </Code>\n</Error>"), { code: "Multi", message: "" });
  assert.deepEqual(parseS3Error(""), { code: "", message: "" });
  assert.deepEqual(parseS3Error(null), { code: "", message: "" });
  assert.deepEqual(parseS3Error("<html>Bad gateway</html>"), { code: "", message: "" });
});

test("classifyResponse: 2xx ok, transient statuses retried, expired URL re-signed, the rest fail", () => {
  const action = (status, body = "") => classifyResponse({ status, body }).action;
  assert.equal(action(200), "ok");
  assert.equal(action(204), "ok");
  for (const status of [500, 502, 503, 504, 408, 429]) assert.equal(action(status), "retry", `status ${status}`);
  assert.equal(action(0), "retry");
  assert.equal(action(400, s3Error("RequestTimeout", "Your socket connection ...")), "retry");
  assert.equal(action(403, s3Error("AccessDenied", "Request has expired")), "resign");
  assert.equal(action(403, s3Error("AccessDenied", "Access Denied")), "fail");
  assert.equal(action(403, ""), "fail");
  for (const status of [400, 401, 404, 409, 411, 412]) assert.equal(action(status), "fail", `status ${status}`);
});

test("classifyResponse carries the failure detail", () => {
  const verdict = classifyResponse({ status: 412, body: s3Error("PreconditionFailed", "At least one ...") });
  assert.deepEqual(verdict, {
    action: "fail",
    failure: { reason: "http", status: 412, s3_code: "PreconditionFailed", s3_message: "At least one ...", part_number: null },
  });
  assert.equal(classifyResponse({ status: 0 }).failure.reason, "network");
});

test("classifyError: network and stall are retried, abort is not a failure, anything else is a bug", () => {
  assert.deepEqual(classifyError(new TransportError("network")), {
    action: "retry", failure: failureDetail({ reason: "network" }), firstContact: false,
  });
  assert.equal(classifyError(new TransportError("stall")).failure.reason, "stall");
  assert.deepEqual(classifyError(new TransportError("aborted")), { action: "aborted" });
  assert.equal(classifyError(new TypeError("x is undefined")), null);
});

test("UploadFailure and describeFailure name the part and S3's words", () => {
  const failure = new UploadFailure({ reason: "http", status: 400, s3_code: "InvalidPart", part_number: 7 });
  assert.deepEqual(failure.detail, { reason: "http", status: 400, s3_code: "InvalidPart", s3_message: "", part_number: 7 });
  assert.match(failure.message, /part 7/);
  assert.match(failure.message, /HTTP 400 InvalidPart/);
  assert.match(describeFailure(failureDetail({ reason: "etag-unreadable" })), /expose ETag/);
  assert.match(describeFailure(failureDetail({ reason: "network" })), /CORS/);
  for (const reason of ["stall", "timeout", "internal"]) {
    assert.ok(describeFailure(failureDetail({ reason })).length > 10);
  }
});

test("failureOf: an UploadFailure's detail, a kernel timeout, anything else is internal", () => {
  const failure = new UploadFailure({ reason: "stall", part_number: 3 });
  assert.equal(failureOf(failure), failure.detail);
  assert.deepEqual(failureOf(new KernelTimeoutError("sign", 60000)), failureDetail({
    reason: "timeout", s3_message: 'The Python kernel did not answer "sign" within 60 s.',
  }));
  assert.deepEqual(failureOf(new TypeError("x is undefined")), failureDetail({ reason: "internal", s3_message: "x is undefined" }));
  assert.equal(failureOf("plain").s3_message, "plain");
});

test("throttleDelay: S3's 503 SlowDown waits 2-4 s, 4-8 s, 8-16 s, then 15-30 s", () => {
  const ranges = [0, 1, 2, 3, 4, 9].map((a) => [throttleDelay(a, DEFAULT_RETRY, () => 0),
    Math.round(throttleDelay(a, DEFAULT_RETRY, () => 0.999999))]);
  assert.deepEqual(ranges, [[2000, 4000], [4000, 8000], [8000, 16000], [15000, 30000], [15000, 30000], [15000, 30000]]);
});

test("a SlowDown always backs off more than a reset at the same attempt, whatever the draws", () => {
  for (let attempt = 0; attempt < 10; attempt++) {
    for (let i = 0; i < 200; i++) {
      const slow = throttleDelay(attempt, DEFAULT_RETRY);
      const reset = backoffDelay(attempt, DEFAULT_RETRY);
      assert.ok(slow > reset, `attempt ${attempt}: SlowDown ${slow} ms, reset ${reset} ms`);
      assert.ok(slow >= 2000, `attempt ${attempt}: ${slow} ms`);
    }
  }
});

test("isThrottle: 503 (SlowDown, ServiceUnavailable), 429 and a SlowDown code; not 500 or 400", () => {
  assert.equal(isThrottle(503, "SlowDown"), true);
  assert.equal(isThrottle(503, "ServiceUnavailable"), true);
  assert.equal(isThrottle(503), true);
  assert.equal(isThrottle(429), true);
  assert.equal(isThrottle(400, "SlowDown"), true);
  assert.equal(isThrottle(500, "InternalError"), false);
  assert.equal(isThrottle(0), false);
});

/** A PutContext around `transport` with instant, recorded sleeps. */
function context(transport, overrides = {}) {
  const sleeps = [];
  const loaded = [];
  const ctx = {
    transport, signal: new AbortController().signal, stallTimeoutMs: 60000, retry: DEFAULT_RETRY, maxResigns: 3,
    random: () => 0.5, sleep: async (ms) => { sleeps.push(ms); }, isStopped: () => false,
    onLoaded: (bytes) => loaded.push(bytes), ...overrides,
  };
  return { ctx, sleeps, loaded };
}

const job = (length = 10) => ({
  partNumber: 2, length, body: () => new Blob([new Uint8Array(length)]),
  signed: { method: "PUT", url: "https://s3.test/k?partNumber=2", headers: {} }, resign: async () => { throw new Error("no"); },
});

test("stalls are failed attempts: a request that always stalls fails after retry.attempts tries", async () => {
  let puts = 0;
  const transport = { put: async (request) => { puts++; request.onProgress?.(4); throw new TransportError("stall"); } };
  const { ctx, sleeps } = context(transport);
  await assert.rejects(putWithRetry(job(), ctx), (err) => err instanceof UploadFailure && err.detail.reason === "stall"
    && err.detail.part_number === 2);
  assert.equal(puts, DEFAULT_RETRY.attempts);
  assert.deepEqual(sleeps, [250, 500, 1000, 2000, 4000, 5000, 5000], "short backoff, capped at 10 s");
});

test("a first-contact network error (no answer from the origin yet) gets firstContactAttempts tries", async () => {
  let puts = 0;
  const transport = {
    put: async () => {
      puts++;
      const err = new TransportError("network");
      err.firstContact = true;
      throw err;
    },
  };
  await assert.rejects(putWithRetry(job(), context(transport).ctx), (err) => err.detail.reason === "network");
  assert.equal(puts, DEFAULT_RETRY.firstContactAttempts);
});

test("mixed failures: each kind grows its own backoff; the attempts are shared", async () => {
  const answers = [
    { status: 503, body: "<Error><Code>SlowDown</Code></Error>" }, new TransportError("network"),
    { status: 503, body: "" }, new TransportError("stall"), { status: 500, body: "" },
    { status: 200, etag: '"e"', body: "" },
  ];
  const transport = {
    put: async () => {
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return { etag: null, ...answer };
    },
  };
  const { ctx, sleeps, loaded } = context(transport);
  assert.equal(await putWithRetry(job(), ctx), '"e"');
  // random 0.5: SlowDown 3/4 of 4 s, 8 s; reset / stall / 500: half of 0.5 s, 1 s, 2 s.
  assert.deepEqual(sleeps, [3000, 250, 6000, 500, 1000]);
  assert.equal(loaded.filter((b) => b === 0).length, 11, "0 at each start and after each failure");
});
