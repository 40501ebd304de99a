import { test } from "node:test";
import assert from "node:assert/strict";
import {
  FINAL_STATUSES, KernelError, KernelTimeoutError, NOTIFICATION_KINDS, PROGRESS, REQUEST_KINDS, Rpc, STATUSES,
  responseKind,
} from "../src/protocol.js";

/** An Rpc whose messages land in `sent`. */
function makeRpc(options = {}) {
  const sent = [];
  const rpc = new Rpc({ send: (msg) => sent.push(msg) }, { idPrefix: "t", ...options });
  return { rpc, sent };
}

test("the vocabulary: final statuses are statuses, kinds are distinct", () => {
  assert.deepEqual(STATUSES, [
    "queued", "signing", "uploading", "paused", "completing", "done", "unverified", "error", "cancelled",
  ]);
  assert.ok(FINAL_STATUSES.every((s) => STATUSES.includes(s)));
  assert.ok(Object.isFrozen(STATUSES) && Object.isFrozen(FINAL_STATUSES) && Object.isFrozen(REQUEST_KINDS));
  assert.equal(new Set([...REQUEST_KINDS, ...NOTIFICATION_KINDS]).size, REQUEST_KINDS.length + NOTIFICATION_KINDS.length);
  assert.equal(responseKind("sign-parts"), "sign-parts-response");
});

test("Rpc pairs each answer with its request by id", async () => {
  const { rpc, sent } = makeRpc();
  const first = rpc.request("sign", { upload_id: "a" });
  const second = rpc.request("sign", { upload_id: "b" });
  assert.deepEqual(sent, [
    { id: "t-1", kind: "sign", args: { upload_id: "a" } },
    { id: "t-2", kind: "sign", args: { upload_id: "b" } },
  ]);
  assert.equal(rpc.handle({ id: "t-2", kind: "sign-response", ok: true, result: { n: 2 } }), true);
  assert.equal(rpc.handle({ id: "t-1", kind: "sign-response", ok: true, result: { n: 1 } }), true);
  assert.deepEqual(await first, { n: 1 });
  assert.deepEqual(await second, { n: 2 });
  assert.equal(rpc.handle({ id: "t-1", kind: "sign-response", ok: true, result: {} }), true, "a late answer is eaten");
  assert.equal(rpc.handle({ kind: "cancel-uploads", upload_ids: null }), false, "a command is not an answer");
});

test("Rpc turns ok: false into a KernelError with the kernel's words", async () => {
  const { rpc } = makeRpc();
  const pending = rpc.request("complete", { upload_id: "a", etag: "e" });
  rpc.handle({ id: "t-1", kind: "complete-response", ok: false, error: { code: "key-exists", message: "m", hint: "h" } });
  await assert.rejects(pending, (err) => err instanceof KernelError && err.code === "key-exists" && err.hint === "h");
});

test("Rpc refuses a kind that is not a request, and an answer of another kind", async () => {
  const { rpc, sent } = makeRpc();
  await assert.rejects(rpc.request("sign-response", {}), /not a request kind/);
  await assert.rejects(rpc.request(PROGRESS, {}), /not a request kind/);
  assert.throws(() => rpc.notify("sign", {}), /not a notification kind/);
  assert.equal(sent.length, 0);
  const pending = rpc.request("sign", { upload_id: "a" });
  rpc.handle({ id: "t-1", kind: "fail-response", ok: true, result: {} });
  await assert.rejects(pending, /answered "sign" with "fail-response"/);
  rpc.notify(PROGRESS, { updates: [] });
  assert.deepEqual(sent.at(-1), { kind: "progress", page: "t", updates: [] });
});

test("Rpc times out, says when it waits long, and rejects what is pending on close", async () => {
  const waiting = [];
  const { rpc } = makeRpc({ timeoutMs: 40, slowMs: 5, onWaiting: (on) => waiting.push(on) });
  await assert.rejects(rpc.request("hello", { origin: "" }), (err) => err instanceof KernelTimeoutError);
  assert.deepEqual(waiting, [true, false]);
  const closed = rpc.request("hello", { origin: "" });
  rpc.close();
  await assert.rejects(closed, /closed/);
  assert.equal(rpc.pending.size, 0);
});
