// The widget in node, for the wiring tests: a tiny fake DOM, a fake anywidget model
// that answers requests and sends kernel commands, and helpers to open a widget and wait.
// widget.css is loaded as nothing, and the hash worker's bundle (a .txt) as "": node has
// no Worker, so parts hash on the main thread. (Not a test file itself; `node --test test/`
// loads it and finds no tests.)
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
      if (specifier.endsWith(".txt")) return { url: "data:text/javascript,export default ''", shortCircuit: true };
      return next(specifier, context);
    }
    export async function load(url, context, next) {
      if (url.endsWith(".css")) return { format: "module", source: "", shortCircuit: true };
      return next(url, context);
    }`),
);
export const { default: widget } = await import("../src/widget.js");

export class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.className = "";
    this.textContent = "";
    this.hidden = false;
    this.children = [];
    this.parent = null;
    this.dataset = {};
    this.style = {};
    this.attributes = {};
    this.listeners = {};
    this.clicks = 0;
    const classes = new Set();
    this.classList = { add: (c) => classes.add(c), remove: (c) => classes.delete(c), contains: (c) => classes.has(c) };
  }
  append(...nodes) {
    for (const node of nodes) {
      node.parent = this;
      this.children.push(node);
    }
  }
  remove() {
    if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this);
  }
  setAttribute(name, value) {
    this.attributes[name] = value;
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  dispatch(type, event = {}) {
    for (const fn of this.listeners[type] ?? []) fn(event);
  }
  click() {
    this.clicks++;
  }
  find(className) {
    return this.findAll(className)[0] ?? null;
  }
  findAll(className, found = []) {
    if (this.className.split(" ").includes(className)) found.push(this);
    for (const child of this.children) child.findAll(className, found);
    return found;
  }
}

globalThis.document = { createElement: (tag) => new FakeElement(tag) };
globalThis.requestAnimationFrame = (fn) => setTimeout(fn, 0);
globalThis.cancelAnimationFrame = (id) => clearTimeout(id);

export function fakeModel(traits = {}) {
  const values = {
    _widget_id: `w${Math.random()}`, multiple: true, accept: "", bucket: "b", prefix: "in/", max_size: null,
    concurrency: 2, uploads: [], ...traits,
  };
  const handlers = {};
  return {
    sent: [],
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      for (const fn of handlers[`change:${name}`] ?? []) fn();
    },
    send(msg) {
      this.sent.push(msg);
    },
    on: (event, fn) => (handlers[event] ??= []).push(fn),
    off: (event, fn) => (handlers[event] = (handlers[event] ?? []).filter((f) => f !== fn)),
    answer(msg, result, ok = true) {
      const reply = ok ? { id: msg.id, kind: `${msg.kind}-response`, ok, result } : { id: msg.id, kind: `${msg.kind}-response`, ok, error: result };
      this.command(reply);
    },
    /** A message from the kernel (an answer or a command such as "records"). */
    command(msg) {
      for (const fn of handlers["msg:custom"] ?? []) fn(msg);
    },
  };
}

/** A widget with one view; `close()` ends it (and its timers). */
export function open(traits) {
  const model = fakeModel(traits);
  const el = new FakeElement("div");
  const end = widget.initialize({ model });
  const unrender = widget.render({ model, el });
  return { model, el, close: () => (unrender(), end()) };
}

export const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
export async function until(check, what, turns = 200) {
  for (let i = 0; i < turns; i++) {
    const value = check();
    if (value) return value;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}
export const addFiles = (model) => model.sent.filter((m) => m.kind === "add-files");
/** A whole view record, as "hello" and a new id's "records" patch carry it. */
export const record = (id, patch = {}) => ({
  id, name: `${id}.csv`, relative_path: "", size: 100, bucket: "b", key: `in/${id}.csv`, status: "queued",
  loaded: 0, error: "", ...patch,
});
export const hello = (model) => model.sent.find((m) => m.kind === "hello");
export const rowsOf = (el) => Object.fromEntries(el.findAll("s3uw-row").map((r) => [r.dataset.uploadId, r.dataset.status]));
/** Many records: `counts` is {status: how many}. */
export function many(counts) {
  const records = [];
  for (const [status, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) records.push(record(`${status}${i}`, { status, loaded: status === "done" ? 100 : 0 }));
  }
  return records;
}
