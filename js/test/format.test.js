import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, formatDuration, formatSpeed, percent, visibleName } from "../src/format.js";

test("formatBytes uses decimal units", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1500), "1.5 kB");
  assert.equal(formatBytes(30_000_000), "30.0 MB");
  assert.equal(formatBytes(2.5e12), "2.5 TB");
  assert.equal(formatBytes(-1), "");
  assert.equal(formatBytes(NaN), "");
});

test("formatSpeed is empty when unknown", () => {
  assert.equal(formatSpeed(0), "");
  assert.equal(formatSpeed(Infinity), "");
  assert.equal(formatSpeed(2_000_000), "2.0 MB/s");
});

test("formatDuration picks the unit", () => {
  assert.equal(formatDuration(null), "");
  assert.equal(formatDuration(-3), "");
  assert.equal(formatDuration(44.6), "45 s");
  assert.equal(formatDuration(185), "3 min 05 s");
  assert.equal(formatDuration(7800), "2 h 10 min");
});

test("percent never says 100 before the end", () => {
  assert.equal(percent(0, 0), 100);
  assert.equal(percent(0, 10), 0);
  assert.equal(percent(999, 1000), 99);
  assert.equal(percent(1000, 1000), 100);
  assert.equal(percent(2000, 1000), 100);
  assert.equal(percent(-5, 1000), 0);
});

test("visibleName shows control and bidi characters instead of obeying them", () => {
  assert.equal(visibleName("report.csv"), "report.csv");
  assert.equal(visibleName("txt.exe\u202Efdp"), "txt.exe⟨U+202E⟩fdp");
  assert.equal(visibleName("a\nb\u0000c\u007f"), "a⟨U+000A⟩b⟨U+0000⟩c⟨U+007F⟩");
  assert.equal(visibleName("\u2066x\u2069 \u200f"), "⟨U+2066⟩x⟨U+2069⟩ ⟨U+200F⟩");
  assert.equal(visibleName("données été 日本.csv"), "données été 日本.csv");
});
