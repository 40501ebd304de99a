import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_ENTRIES, collectDropped, comparePaths, describeSkipped, fromFileList } from "../src/folders.js";
import {
  CHROMIUM_BATCH, DirectoryFile, UNREADABLE, allEntries, entryOf, fakeDataTransfer, folderFileList, itemOf,
  itemOfFile, locked,
} from "./folder-fakes.js";

/** Drop these entries as Chromium would: the DataTransfer is emptied once the handler returns. */
async function drop(entries, options = {}, itemOptions = {}) {
  const data = fakeDataTransfer(entries.map((e) => itemOf(e, itemOptions)));
  const walking = collectDropped(data, { pause: async () => {}, ...options });
  data.protect();
  return walking;
}

const paths = (result) => result.files.map((f) => f.relativePath);

/** 250 files in one folder, three levels deep, and files on every level. */
function bigTree() {
  const deep = {};
  for (let i = 0; i < 250; i++) deep[`img${i}.jpg`] = 3;
  return entryOf("photos", { "top.txt": 5, 2024: { "mid.csv": 7, march: deep }, "z.txt": 1 });
}

test("a 3-level tree with more than 100 entries in one folder: every file, with its path", async () => {
  const tree = bigTree();
  const result = await drop([tree]);
  assert.equal(result.files.length, 2 + 1 + 250);
  assert.deepEqual(result.problems, []);
  assert.deepEqual(paths(result).slice(0, 5), [
    "photos/top.txt", "photos/z.txt", "photos/2024/mid.csv", "photos/2024/march/img0.jpg", "photos/2024/march/img1.jpg",
  ]);
  assert.equal(paths(result).at(-1), "photos/2024/march/img249.jpg", "img249 sorts after img10 (numeric)");
  for (const { file, relativePath } of result.files) {
    assert.equal(relativePath.split("/").at(-1), file.name);
    assert.ok(file instanceof File);
  }
  assert.equal(new Set(paths(result)).size, result.files.length);
  // The folder of 250 was read in calls of at most 100, until an empty answer.
  const march = allEntries(tree).find((e) => e.name === "march");
  assert.equal(march.readers.length, 1);
  assert.equal(march.readers[0].biggestAnswer, CHROMIUM_BATCH);
  assert.equal(march.readers[0].calls, 4, "100 + 100 + 50 + the empty answer");
  // Each file was asked for once.
  assert.ok(allEntries(tree).filter((e) => e.isFile).every((e) => e.fileCalls === 1));
});

test("a mixed drop: loose files get no path, folders theirs, in the order dropped", async () => {
  const result = await drop([
    entryOf("notes.txt", 4),
    entryOf("data", { "b.csv": 2, "a.csv": 2 }),
    entryOf("readme.md", 9),
  ]);
  assert.deepEqual(
    result.files.map((f) => [f.file.name, f.relativePath]),
    [["notes.txt", ""], ["a.csv", "data/a.csv"], ["b.csv", "data/b.csv"], ["readme.md", ""]],
  );
  assert.equal(result.files[0].file.size, 4);
  assert.deepEqual(result.problems, []);
});

test("empty folders are reported by path, not dropped silently", async () => {
  const result = await drop([entryOf("photos", { "a.jpg": 1, empty: {}, x: { y: {} } })]);
  assert.deepEqual(paths(result), ["photos/a.jpg"]);
  assert.deepEqual(result.skipped.empty, ["photos/empty", "photos/x/y"]);
  assert.deepEqual(result.problems, ["Skipped 2 empty folders: photos/empty, photos/x/y."]);

  const alone = await drop([entryOf("nothing", {})]);
  assert.deepEqual(alone.files, []);
  assert.deepEqual(alone.problems, ["Skipped 1 empty folder: nothing."]);
});

test("a file or folder that cannot be read is reported; the rest still comes", async () => {
  const result = await drop([
    entryOf("photos", { "a.jpg": 1, "locked.jpg": UNREADABLE, secret: locked({ "s.txt": 1 }), part: locked({ "p.txt": 1 }, 1) }),
    entryOf("gone.txt", UNREADABLE),
  ]);
  assert.deepEqual(paths(result), ["photos/a.jpg", "photos/part/p.txt"], "what a failing reader gave first is kept");
  assert.deepEqual(result.skipped.unreadable, ["gone.txt", "photos/locked.jpg", "photos/part/", "photos/secret/"]);
  assert.deepEqual(result.skipped.empty, [], "a folder that failed is not called empty");
  assert.deepEqual(result.problems, [
    "Skipped 4 items the browser could not read: gone.txt, photos/locked.jpg, photos/part/, photos/secret/.",
  ]);
});

test("without webkitGetAsEntry: dataTransfer's Files, but never a folder's", async () => {
  const untyped4k = new File([new Uint8Array(4096)], "blob.bin", { type: "" });
  const empty = new File([], "empty.txt");
  const folder = new DirectoryFile("photos");
  // A size of 4096 and no type: what a folder looks like, and what this real file is.
  assert.equal(folder.size % 4096, 0);
  assert.equal(folder.type, "");

  // No DataTransferItem API at all: only `files`.
  const files = { length: 3, 0: untyped4k, 1: folder, 2: empty };
  const viaFiles = await collectDropped({ items: null, files }, { pause: async () => {} });
  assert.deepEqual(viaFiles.files.map((f) => [f.file.name, f.relativePath]), [["blob.bin", ""], ["empty.txt", ""]]);
  assert.deepEqual(viaFiles.skipped.notFiles, ["photos"]);
  assert.match(viaFiles.problems[0], /^Skipped 1 dropped item that is a folder or is unreadable: photos\. .*Choose folder/);

  // Items without the method (an older browser).
  const viaItems = await drop([entryOf("a.txt", 3), entryOf("photos", { "b.txt": 1 })], {}, { entries: false });
  assert.deepEqual(viaItems.files.map((f) => f.file.name), ["a.txt"]);
  assert.deepEqual(viaItems.skipped.notFiles, ["photos"]);
});

test("an item with no entry (a File a script put in the DataTransfer) is probed and kept", async () => {
  const file = new File(["hello"], "hello.txt", { type: "text/plain" });
  const data = fakeDataTransfer([itemOfFile(file), itemOfFile(new DirectoryFile("dir", 0))]);
  const result = await collectDropped(data);
  assert.deepEqual(result.files, [{ file, relativePath: "" }]);
  assert.deepEqual(result.skipped.notFiles, ["dir"]);
});

test("strings dragged in with the files are not files", async () => {
  const data = fakeDataTransfer([
    { kind: "string", type: "text/uri-list", getAsFile: () => null, webkitGetAsEntry: () => null },
    itemOf(entryOf("a.txt", 1)),
  ]);
  const result = await collectDropped(data);
  assert.deepEqual(paths(result), [""]);
  assert.deepEqual(result.problems, []);
});

test("the folder input: webkitRelativePath is each file's path, sorted like a file manager", () => {
  const result = fromFileList(folderFileList(["top/sub/b.csv", "top/z.csv", "top/sub/a.csv", "top/a10.csv", "top/a9.csv"]), {
    folder: true,
  });
  assert.deepEqual(paths(result), ["top/a9.csv", "top/a10.csv", "top/z.csv", "top/sub/a.csv", "top/sub/b.csv"]);
  assert.deepEqual(result.files.map((f) => f.file.name), ["a9.csv", "a10.csv", "z.csv", "a.csv", "b.csv"]);
  assert.deepEqual(result.problems, []);

  assert.deepEqual(fromFileList(folderFileList([]), { folder: true }).problems, ["The chosen folder has no files in it."]);
  // The files input: no path, the order chosen, nothing to report for none.
  const plain = fromFileList({ length: 2, 0: new File(["b"], "b.txt"), 1: new File(["a"], "a.txt") });
  assert.deepEqual(plain.files.map((f) => [f.file.name, f.relativePath]), [["b.txt", ""], ["a.txt", ""]]);
  assert.deepEqual(fromFileList(null), { files: [], problems: [], skipped: { empty: [], unreadable: [], notFiles: [], truncated: false } });
});

test("the walk stops at its bound, says so, and yields to the page on the way", async () => {
  let pauses = 0;
  const progress = [];
  const tree = bigTree(); // 257 entries: the folder, 2 files, 2024, mid.csv, march, 250 files
  const result = await drop([tree], {
    maxEntries: 120,
    yieldEvery: 50,
    pause: async () => void pauses++,
    onProgress: (n) => progress.push(n),
  });
  assert.equal(result.skipped.truncated, true);
  assert.ok(result.files.length > 0 && result.files.length <= 120, `${result.files.length} files`);
  assert.ok(result.files.every((f) => f.relativePath.startsWith("photos/")));
  assert.deepEqual(result.skipped.empty, [], "a folder cut short is not called empty");
  assert.deepEqual(result.problems, [
    "Stopped reading the drop at 120 files and folders: the rest was left out. Upload a folder that large as an archive, or in parts.",
  ]);
  assert.ok(pauses >= 2, `${pauses} pauses`);
  assert.equal(progress.length, pauses);

  const whole = await drop([bigTree()]);
  assert.equal(whole.skipped.truncated, false);
  assert.equal(MAX_ENTRIES, 100_000);
});

test("the bound holds across dropped items", async () => {
  const files = Array.from({ length: 10 }, (_, i) => entryOf(`f${i}.txt`, 1));
  const result = await drop([entryOf("dir", { "a.txt": 1, "b.txt": 1 }), ...files], { maxEntries: 6 });
  assert.deepEqual(paths(result), ["dir/a.txt", "dir/b.txt", "", "", ""]);
  assert.equal(result.skipped.truncated, true);
});

test("the walk takes the entries before its first await: the emptied DataTransfer does not matter", async () => {
  const data = fakeDataTransfer([itemOf(entryOf("dir", { "a.txt": 1 })), itemOf(entryOf("b.txt", 1))]);
  const walking = collectDropped(data);
  data.protect();
  assert.equal(data.items.length, 0);
  assert.deepEqual(paths(await walking), ["dir/a.txt", ""]);
});

test("problems list a few names, then how many more, and shorten long paths", () => {
  const empty = Array.from({ length: 8 }, (_, i) => `photos/e${i}`);
  const [line] = describeSkipped({ empty, unreadable: [], notFiles: [], truncated: false });
  assert.equal(line, "Skipped 8 empty folders: photos/e0, photos/e1, photos/e2, photos/e3, photos/e4, and 3 more.");
  const long = `${"deep/".repeat(40)}file.txt`;
  const [one] = describeSkipped({ empty: [], unreadable: [long], notFiles: [], truncated: false });
  assert.ok(one.length < 140 && one.includes("…") && one.endsWith("file.txt."), one);
});

test("comparePaths: a folder's files before its folders, names in numeric order", () => {
  const sorted = ["a/b/c.txt", "a/z.txt", "a/b.txt", "a/file10", "a/file9", "b.txt"].sort(comparePaths);
  assert.deepEqual(sorted, ["b.txt", "a/b.txt", "a/file9", "a/file10", "a/z.txt", "a/b/c.txt"]);
  assert.equal(comparePaths("x/y", "x/y"), 0);
});
