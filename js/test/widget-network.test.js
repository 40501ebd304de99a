// The network on the page: a row whose requests wait for the network says so, and the
// widget feeds the browser's online / offline events to its engine (and stops at close).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeElement, open, record } from "./widget-fakes.js";
import { RowList, WAITING_FOR_NETWORK } from "../src/rows.js";
import { RecordStore } from "../src/records.js";

function rowList(live) {
  const store = new RecordStore();
  store.reset([record("a", { status: "uploading", loaded: 40 })]);
  const el = () => new FakeElement("div");
  const list = new RowList({
    rows: el(), failed: el(), moreFailed: el(), total: el(), store,
    engineState: () => live,
    totals: () => ({ loaded: 40, total: 100, speed: 0, eta: null, active: 1, queued: 0, paused: 0, done: 0,
      unverified: 0, failed: 0, cancelled: 0 }),
    onCancel: () => {}, onPause: () => {}, pauseAll: /** @type {any} */ (el()),
  });
  return list;
}

const uploading = (patch = {}) => ({
  id: "a", status: "uploading", loaded: 40, total: 100, speed: 1000, eta: 60, error: "", partsDone: 0, partCount: 4,
  waitingForNetwork: false, resent: 0, ...patch,
});

test("a row whose requests wait for the network says 'waiting for the network', without a speed", () => {
  const live = uploading({ waitingForNetwork: true });
  const list = rowList(live);
  list.draw();
  const row = list.rows.get("a");
  assert.equal(row.status.textContent, WAITING_FOR_NETWORK);
  assert.equal(WAITING_FOR_NETWORK, "waiting for the network");
  assert.equal(row.rate.textContent, "");
  assert.equal(row.row.dataset.status, "uploading", "still uploading: tests and styles see the status");
  live.waitingForNetwork = false;
  list.mark("a");
  list.draw();
  assert.equal(row.status.textContent, "uploading");
  assert.match(row.rate.textContent, /left/);
});

test("the widget listens to the browser's online / offline events while it lives", () => {
  const listeners = new Map();
  globalThis.addEventListener = (type, fn) => listeners.set(type, [...(listeners.get(type) ?? []), fn]);
  globalThis.removeEventListener = (type, fn) => listeners.set(type, (listeners.get(type) ?? []).filter((f) => f !== fn));
  try {
    const { close } = open();
    assert.equal(listeners.get("online")?.length, 1);
    assert.equal(listeners.get("offline")?.length, 1);
    listeners.get("offline")[0]();
    listeners.get("online")[0]();
    close();
    assert.equal(listeners.get("online").length, 0);
    assert.equal(listeners.get("offline").length, 0);
  } finally {
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  }
});
