import { test } from "node:test";
import assert from "node:assert/strict";
import { TransportError, makeXhrTransport } from "../src/transport.js";

/** Just enough XMLHttpRequest: the test drives its events. */
class FakeXhr {
  static instances = [];

  constructor() {
    FakeXhr.instances.push(this);
    this.upload = {};
    this.headers = {};
    this.status = 0;
    this.responseText = "";
    this.responseHeaders = {};
    this.aborted = false;
    this.sent = false;
  }

  open(method, url) {
    Object.assign(this, { method, url });
  }

  setRequestHeader(name, value) {
    this.headers[name] = value;
  }

  send(body) {
    this.body = body;
    this.sent = true;
  }

  abort() {
    this.aborted = true;
    this.onabort?.();
  }

  getResponseHeader(name) {
    return this.responseHeaders[name.toLowerCase()] ?? null;
  }

  // --- driven by the tests
  progress(loaded) {
    this.upload.onprogress?.({ loaded });
  }

  respond(status, { etag = null, body = "" } = {}) {
    this.status = status;
    this.responseText = body;
    if (etag) this.responseHeaders.etag = etag;
    this.onload?.();
  }
}

/** Manual timers and clock. */
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
    pending: () => timers.length,
  };
}

/** A signal that counts its listeners. */
function countingSignal() {
  const controller = new AbortController();
  let listeners = 0;
  const signal = controller.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args) => { listeners++; add(...args); };
  signal.removeEventListener = (...args) => { listeners--; remove(...args); };
  return { controller, signal, listeners: () => listeners };
}

function setup() {
  FakeXhr.instances = [];
  const timers = fakeTimers();
  const transport = makeXhrTransport({ XMLHttpRequest: FakeXhr, ...timers });
  return { timers, transport, xhr: () => FakeXhr.instances.at(-1) };
}

const body = new Blob(["hello"]);

test("sends the signed request, skipping headers browsers refuse", async () => {
  const { transport, xhr } = setup();
  const headers = { "Content-Type": "text/plain", "content-length": "5", Host: "s3", "If-None-Match": "*" };
  const put = transport.put({ url: "https://s3.test/k?sig", method: "PUT", headers, body });
  assert.equal(xhr().method, "PUT");
  assert.equal(xhr().url, "https://s3.test/k?sig");
  assert.deepEqual(xhr().headers, { "Content-Type": "text/plain", "If-None-Match": "*" });
  assert.equal(xhr().body, body);
  xhr().respond(200, { etag: '"abc"' });
  assert.deepEqual(await put, { status: 200, etag: '"abc"', body: "" });
});

test("reports upload progress and the error body of a refusal", async () => {
  const { transport, xhr } = setup();
  const seen = [];
  const put = transport.put({ url: "u", body, onProgress: (n) => seen.push(n) });
  xhr().progress(2);
  xhr().progress(5);
  xhr().respond(403, { body: "<Error><Code>AccessDenied</Code></Error>" });
  assert.deepEqual(seen, [2, 5]);
  assert.deepEqual(await put, { status: 403, etag: null, body: "<Error><Code>AccessDenied</Code></Error>" });
  assert.equal(xhr().method, "PUT", "PUT by default");
});

test("a form POST: the fields, then the file last; no header, no upload listener, progress at the end", async () => {
  const { transport, xhr } = setup();
  const seen = [];
  const fields = { "Content-Type": "text/plain", key: "k/a.txt", policy: "eyJ9", "x-amz-signature": "abc" };
  const post = transport.put({ url: "https://s3.test/bucket", method: "POST", headers: {}, fields, body, onProgress: (n) => seen.push(n) });
  assert.equal(xhr().method, "POST");
  assert.deepEqual(xhr().headers, {});
  // A listener on xhr.upload would make the request "non-simple": a preflight per file.
  assert.deepEqual(Object.keys(xhr().upload), []);
  assert.ok(xhr().body instanceof FormData);
  const entries = [...xhr().body.entries()];
  assert.deepEqual(entries.slice(0, -1), Object.entries(fields));
  const [name, file] = entries.at(-1);
  assert.equal(name, "file");
  assert.equal(await file.text(), "hello");
  assert.deepEqual(seen, []);
  xhr().respond(204, { etag: '"5d41"' });
  assert.deepEqual(await post, { status: 204, etag: '"5d41"', body: "" });
  assert.deepEqual(seen, [5]);
});

test("a refused form POST reports no bytes and gives S3's words", async () => {
  const { transport, xhr } = setup();
  const seen = [];
  const post = transport.put({ url: "https://s3.test/bucket", method: "POST", fields: { key: "k" }, body, onProgress: (n) => seen.push(n) });
  const refusal = "<Error><Code>AccessDenied</Code><Message>Invalid according to Policy</Message></Error>";
  xhr().respond(403, { body: refusal });
  assert.deepEqual(await post, { status: 403, etag: null, body: refusal });
  assert.deepEqual(seen, []);
});

test("status 0 and onerror are network errors", async () => {
  const { transport, xhr } = setup();
  const first = transport.put({ url: "u", body });
  xhr().respond(0);
  await assert.rejects(first, (err) => err instanceof TransportError && err.reason === "network");
  const second = transport.put({ url: "u", body });
  xhr().onerror();
  await assert.rejects(second, (err) => err instanceof TransportError && err.reason === "network");
});

test("the signal aborts the request; an aborted signal sends nothing", async () => {
  const { transport, xhr } = setup();
  const { controller, signal, listeners } = countingSignal();
  const put = transport.put({ url: "u", body, signal });
  assert.equal(listeners(), 1);
  controller.abort();
  await assert.rejects(put, (err) => err instanceof TransportError && err.reason === "aborted");
  assert.equal(xhr().aborted, true);
  assert.equal(listeners(), 0, "listener removed");

  const count = FakeXhr.instances.length;
  await assert.rejects(transport.put({ url: "u", body, signal }), (err) => err.reason === "aborted");
  assert.equal(FakeXhr.instances.length, count);
});

test("a finished request removes its abort listener and timer", async () => {
  const { transport, xhr, timers } = setup();
  const { signal, listeners } = countingSignal();
  const put = transport.put({ url: "u", body, signal, stallTimeoutMs: 1000 });
  xhr().respond(200, { etag: '"e"' });
  await put;
  assert.equal(listeners(), 0);
  assert.equal(timers.pending(), 0);
});

test("no progress for stallTimeoutMs aborts with a stall", async () => {
  const { transport, xhr, timers } = setup();
  const put = transport.put({ url: "u", body, stallTimeoutMs: 1000 });
  timers.advance(600);
  xhr().progress(1);
  timers.advance(600); // 600 ms since the last progress: still fine
  xhr().progress(2);
  timers.advance(999);
  assert.equal(xhr().aborted, false);
  timers.advance(1);
  await assert.rejects(put, (err) => err instanceof TransportError && err.reason === "stall");
  assert.equal(xhr().aborted, true);
  assert.equal(timers.pending(), 0);
});

test("a server that answers early and never finishes is caught by the stall timer", async () => {
  const { transport, xhr, timers } = setup();
  const put = transport.put({ url: "u", body, stallTimeoutMs: 500 });
  xhr().progress(3); // S3 sends 403 while the body is still going; the XHR never loads
  timers.advance(500);
  await assert.rejects(put, (err) => err.reason === "stall");
});

test("stallTimeoutMs 0 never stalls", async () => {
  const { transport, xhr, timers } = setup();
  const put = transport.put({ url: "u", body, stallTimeoutMs: 0 });
  timers.advance(10 ** 9);
  xhr().respond(200, { etag: '"e"' });
  assert.equal((await put).status, 200);
});
