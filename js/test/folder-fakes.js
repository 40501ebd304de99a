// Fakes of the browser's entries API and DataTransfer, as Chromium behaves:
// - a directory reader answers at most 100 entries a call, then [] for ever after;
// - every answer comes later (a task), never inside the call;
// - a reader refuses a second readEntries while one is pending (InvalidStateError);
// - a DataTransfer is emptied once the drop handler returns (`protect()` here);
// - a folder's File (dataTransfer.files without the entries API) has a size like 4096,
//   type "", and reading its bytes fails with NotFoundError.

export const CHROMIUM_BATCH = 100;

/** Answer a callback on a later task, as the browser does. */
const later = (fn) => setTimeout(fn, 0);

/** A file entry; `unreadable` makes file() fail (a file deleted or locked since the drop). */
export class FakeFileEntry {
  constructor(name, fullPath, { size = 1, type = "", unreadable = false } = {}) {
    this.name = name;
    this.fullPath = fullPath;
    this.isFile = true;
    this.isDirectory = false;
    this.unreadable = unreadable;
    this.fileCalls = 0;
    this._file = new File([new Uint8Array(size)], name, { type });
  }

  file(success, error) {
    this.fileCalls++;
    later(() => {
      if (this.unreadable) error?.(new DOMException("A requested file or directory could not be found.", "NotFoundError"));
      else success(this._file);
    });
  }
}

/** A directory entry. `failAfter`: readEntries errors on that call (0: the first). */
export class FakeDirectoryEntry {
  constructor(name, fullPath, children = [], { failAfter = null } = {}) {
    this.name = name;
    this.fullPath = fullPath;
    this.isFile = false;
    this.isDirectory = true;
    this.children = children;
    this.failAfter = failAfter;
    this.readers = [];
  }

  createReader() {
    const reader = new FakeDirectoryReader(this);
    this.readers.push(reader);
    return reader;
  }
}

export class FakeDirectoryReader {
  constructor(dir) {
    this.dir = dir;
    this.offset = 0;
    this.calls = 0;
    this.pending = false;
    this.biggestAnswer = 0;
  }

  readEntries(success, error) {
    const call = this.calls++;
    if (this.pending) {
      later(() => error?.(new DOMException("A readEntries call is already pending.", "InvalidStateError")));
      return;
    }
    this.pending = true;
    later(() => {
      this.pending = false;
      if (this.dir.failAfter != null && call >= this.dir.failAfter) {
        error?.(new DOMException("The folder could not be read.", "NotReadableError"));
        return;
      }
      const batch = this.dir.children.slice(this.offset, this.offset + CHROMIUM_BATCH);
      this.offset += batch.length;
      this.biggestAnswer = Math.max(this.biggestAnswer, batch.length);
      success(batch);
    });
  }
}

/** Reading any byte of this File fails: a folder dragged in where there is no entries API. */
export class DirectoryFile extends File {
  constructor(name, size = 4096) {
    super([new Uint8Array(size)], name, { type: "" });
  }

  slice() {
    return {
      arrayBuffer: () => Promise.reject(new DOMException("A requested file or directory could not be found.", "NotFoundError")),
    };
  }
}

export const UNREADABLE = Symbol("unreadable file");

/** Marks a folder whose reader fails: `locked({...}, 0)`. */
export function locked(children, failAfter = 0) {
  return { [LOCKED]: failAfter, children };
}
const LOCKED = Symbol("locked folder");

/**
 * An entry from a plain description: a number is a file of that size, UNREADABLE a file
 * whose file() fails, an object a folder, locked(...) a folder whose reading fails.
 */
export function entryOf(name, spec, parent = "") {
  const fullPath = `${parent}/${name}`;
  if (typeof spec === "number") return new FakeFileEntry(name, fullPath, { size: spec });
  if (spec === UNREADABLE) return new FakeFileEntry(name, fullPath, { unreadable: true });
  if (spec && LOCKED in spec) {
    const dir = entryOf(name, spec.children, parent);
    dir.failAfter = spec[LOCKED];
    return dir;
  }
  const children = Object.entries(spec).map(([child, s]) => entryOf(child, s, fullPath));
  return new FakeDirectoryEntry(name, fullPath, children);
}

/** One DataTransferItem for an entry (a file entry, or a folder with its stand-in File). */
export function itemOf(entry, { entries = true } = {}) {
  const file = entry.isFile ? entry._file : new DirectoryFile(entry.name);
  const item = { kind: "file", type: file.type, getAsFile: () => (item.protected ? null : file) };
  if (entries) item.webkitGetAsEntry = () => (item.protected ? null : entry);
  return item;
}

/** A DataTransferItem with no entry (what Chromium gives for a File a script added). */
export function itemOfFile(file) {
  return { kind: "file", type: file.type, getAsFile: () => file, webkitGetAsEntry: () => null };
}

/** A DataTransfer of items; `protect()` empties it, as the end of the drop event does. */
export function fakeDataTransfer(items, { files = null } = {}) {
  const list = { length: items.length };
  items.forEach((item, i) => (list[i] = item));
  const data = {
    items: list,
    files,
    protect() {
      items.forEach((item, i) => {
        item.protected = true;
        delete list[i];
      });
      list.length = 0;
    },
  };
  return data;
}

/** A FileList of Files carrying webkitRelativePath (what a webkitdirectory input gives). */
export function folderFileList(paths) {
  const files = paths.map((path) => {
    const file = new File([path], path.split("/").pop());
    Object.defineProperty(file, "webkitRelativePath", { value: path });
    return file;
  });
  const list = { length: files.length };
  files.forEach((f, i) => (list[i] = f));
  return list;
}

/** Every entry under a directory, itself included. */
export function allEntries(entry) {
  return [entry, ...(entry.isDirectory ? entry.children.flatMap(allEntries) : [])];
}
