import { test } from "node:test";
import assert from "node:assert/strict";
import { ThrottleGate, holdOnThrottle } from "../src/throttle.js";
import { DEFAULT_RETRY } from "../src/put.js";
import { TransportError } from "../src/transport.js";
import { s3Error } from "./engine-fakes.js";

/** A clock that moves only when a sleep ends; every sleep is recorded. */
function fakeEnv() {
  const env = {
    t: 0, sleeps: [], retry: DEFAULT_RETRY, random: () => 0.5,
    now: () => env.t,
    sleep: async (ms) => {
      env.sleeps.push(ms);
      env.t += ms;
    },
  };
  return env;
}

const slowDown = { status: 503, etag: null, body: s3Error("SlowDown", "Please reduce your request rate.") };
const ok = { status: 200, etag: '"e"', body: "" };

/** A transport answering from `answers` (url -> list of results), recording the urls. */
function fakeInner(answers) {
  const sent = [];
  return {
    sent,
    put: async (request) => {
      sent.push(request.url);
      return answers[request.url]?.shift() ?? ok;
    },
  };
}

test("a SlowDown from one host holds the next requests to it, not those to another host", async () => {
  const env = fakeEnv();
  const inner = fakeInner({ "http://a:1/k1": [slowDown] });
  const transport = holdOnThrottle(inner, env);
  assert.equal((await transport.put({ url: "http://a:1/k1" })).status, 503);
  await transport.put({ url: "http://b:1/k" }); // another host name: not held
  assert.deepEqual(env.sleeps, []);
  await transport.put({ url: "http://a:1/k2" });
  // The hold: throttleDelay(0) with random 0.5 = 3 s, then 1/8 of it (a quarter, times 0.5).
  assert.deepEqual(env.sleeps, [3000, 375]);
  assert.deepEqual(inner.sent, ["http://a:1/k1", "http://b:1/k", "http://a:1/k2"]);
});

test("SlowDowns in a row hold longer; an answer that is not one ends the streak", () => {
  const env = fakeEnv();
  const gate = new ThrottleGate(env);
  gate.hold("a", "http://a:1/k");
  assert.equal(gate.hosts.get("a").span, 3000);
  gate.hold("a", "http://a:1/k");
  assert.equal(gate.hosts.get("a").span, 6000);
  gate.clear("a");
  env.t += 10_000;
  gate.hold("a", "http://a:1/k");
  assert.equal(gate.hosts.get("a").span, 3000);
  assert.equal(gate.pass("elsewhere"), null);
});

test("a request that is not held starts at once, in the same turn", () => {
  const inner = fakeInner({});
  holdOnThrottle(inner, fakeEnv()).put({ url: "http://a:1/k" });
  assert.deepEqual(inner.sent, ["http://a:1/k"]);
});

test("a request cancelled while held is not sent", async () => {
  const env = fakeEnv();
  const inner = fakeInner({ "http://a:1/k1": [slowDown] });
  const transport = holdOnThrottle(inner, env);
  await transport.put({ url: "http://a:1/k1" });
  const controller = new AbortController();
  const held = transport.put({ url: "http://a:1/k2", signal: controller.signal });
  controller.abort();
  await assert.rejects(held, (err) => err instanceof TransportError && err.reason === "aborted");
  assert.deepEqual(inner.sent, ["http://a:1/k1"]);
});

test("a hold made while others wait keeps them waiting to its end", async () => {
  const env = fakeEnv();
  const gate = new ThrottleGate(env);
  gate.hold("a", "http://a:1/k"); // until 3000
  let extended = false;
  env.sleep = async (ms) => {
    env.sleeps.push(ms);
    env.t += ms;
    if (!extended) {
      extended = true;
      gate.hold("a", "http://a:1/k"); // another 503 meanwhile: until t + 6000
    }
  };
  await gate.pass("a");
  assert.deepEqual(env.sleeps, [3000, 6000, 375]);
});

test("the request S3 asked to slow down is not held again: its own backoff (put.js) waits", async () => {
  const env = fakeEnv();
  const inner = fakeInner({ "http://a:1/k1": [slowDown] });
  const transport = holdOnThrottle(inner, env);
  await transport.put({ url: "http://a:1/k1" });
  await transport.put({ url: "http://a:1/k1" }); // its retry (put.js slept before it)
  assert.deepEqual(env.sleeps, []);
  await transport.put({ url: "http://a:1/k2" }); // a sibling waits out the hold
  assert.deepEqual(env.sleeps, [3000, 375]);
});
