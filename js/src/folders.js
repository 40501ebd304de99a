// @ts-check
/**
 * This file owns turning a pick or a drop into files with their paths: dropped folders
 * walked recursively through the entries API, a folder input's webkitRelativePath, and
 * what had to be skipped (empty folders, unreadable entries, the walk's bound) in words.
 * It touches no DOM global: the DataTransfer, FileList and entries come in as arguments,
 * so tests hand it fakes.
 *
 * A directory is never sent as a file. Through the entries API (`webkitGetAsEntry`, in
 * every current browser) a folder is a directory entry and is walked. Where an item has no
 * entry (no API, or a DataTransfer a script built), its File is probed by reading its first
 * byte, `file.slice(0, 1).arrayBuffer()`: that rejects for a directory (and for a file the
 * page may not read), and costs one byte for a real file, even an empty one. Size and type
 * cannot tell: a folder's size is 4096 on Linux, a multiple of 32 on macOS, 0 on Windows,
 * and a folder named "x.jpg" gets the type image/jpeg.
 */

/** Entries (files and folders) a drop may hold; past it the walk stops and says so. */
export const MAX_ENTRIES = 100_000;
/** The walk hands the page back to the browser after this many entries. */
export const YIELD_EVERY = 256;
/** File reads (`entry.file()`, probes) in flight at once. */
const READS_AT_ONCE = 32;
/** Names a problem lists before "and N more". */
const NAMES_LISTED = 5;
const NAME_CHARS = 80;

/**
 * A file the user chose, with its path inside the folder it came in ("photos/2024/a.jpg",
 * the folder's own name first), or "" for a file chosen or dropped on its own.
 * @typedef {{file: File, relativePath: string}} PickedFile
 */

/**
 * What was left out, by kind (paths, sorted).
 * @typedef {object} Skipped
 * @property {string[]} empty       folders with nothing in them
 * @property {string[]} unreadable  entries the browser could not read (folders end in "/")
 * @property {string[]} notFiles    dropped items without an entry whose bytes cannot be
 *                                  read: folders in a browser without the entries API
 * @property {boolean} truncated    the walk stopped at maxEntries
 */

/**
 * @typedef {object} Collected
 * @property {PickedFile[]} files
 * @property {string[]} problems    one sentence per kind of skip, for a person
 * @property {Skipped} skipped
 */

/**
 * The parts of the entries API used here (FileSystemEntry and its two kinds).
 * @typedef {object} EntryLike
 * @property {string} name
 * @property {boolean} isFile
 * @property {boolean} isDirectory
 * @property {(success: (file: File) => void, error?: (err: any) => void) => void} [file]
 * @property {() => ReaderLike} [createReader]
 */
/** @typedef {{readEntries: (success: (entries: EntryLike[]) => void, error?: (err: any) => void) => void}} ReaderLike */
/**
 * @typedef {object} ItemLike a DataTransferItem
 * @property {string} kind
 * @property {() => File | null} getAsFile
 * @property {(() => EntryLike | null)} [webkitGetAsEntry]
 */
/** @typedef {{length: number, [index: number]: ItemLike}} ItemListLike */
/** @typedef {{length: number, [index: number]: File}} FileListLike */
/** @typedef {{items?: ItemListLike | null, files?: FileListLike | null}} DataTransferLike */

/**
 * @typedef {object} WalkOptions
 * @property {number} [maxEntries]   MAX_ENTRIES
 * @property {number} [yieldEvery]   YIELD_EVERY
 * @property {() => Promise<void>} [pause]  how to yield (a zero-delay timer)
 * @property {(filesFound: number) => void} [onProgress]  called at each yield
 */

const collator = new Intl.Collator("en", { numeric: true });

/**
 * Order paths as a file manager does: at each level a folder's files first, then its
 * folders, each by name ("img2" before "img10").
 * @param {string} a
 * @param {string} b
 */
export function comparePaths(a, b) {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; ; i++) {
    const xLast = i >= x.length - 1;
    const yLast = i >= y.length - 1;
    if (xLast !== yLast) return xLast ? -1 : 1;
    const order = collator.compare(x[i] ?? "", y[i] ?? "");
    if (order || xLast) return order;
  }
}

/**
 * The files of a drop, with their paths. Call it from the drop event's handler: it takes
 * the entries and files out of the DataTransfer before its first `await`, because the
 * browser empties the DataTransfer when the handler returns.
 * @param {DataTransferLike} dataTransfer
 * @param {WalkOptions} [options]
 * @returns {Promise<Collected>}
 */
export async function collectDropped(dataTransfer, options = {}) {
  const roots = takeRoots(dataTransfer);
  const walk = new Walk(options);
  /** @type {File[]} */
  let loose = [];
  for (const root of roots) {
    if (walk.stopped) break;
    if (root.file) {
      if (walk.count(1)) loose.push(root.file);
      continue;
    }
    await walk.probe(loose);
    loose = [];
    await walk.root(/** @type {EntryLike} */ (root.entry));
  }
  await walk.probe(loose);
  return walk.result();
}

/**
 * The files of an `<input type=file>`: with `webkitdirectory`, each carries its path in
 * the chosen folder (`webkitRelativePath`); otherwise the path is "". The browser leaves
 * empty folders out of a folder pick, so only a folder with no file at all is reported.
 * @param {FileListLike | null} fileList
 * @param {{folder?: boolean}} [options] folder: the list comes from the folder input
 * @returns {Collected}
 */
export function fromFileList(fileList, { folder = false } = {}) {
  /** @type {PickedFile[]} */
  const files = [];
  for (let i = 0; i < (fileList?.length ?? 0); i++) {
    const file = /** @type {FileListLike} */ (fileList)[i];
    files.push({ file, relativePath: file.webkitRelativePath || "" });
  }
  if (folder) files.sort((a, b) => comparePaths(a.relativePath, b.relativePath));
  const problems = folder && !files.length ? ["The chosen folder has no files in it."] : [];
  return { files, problems, skipped: { empty: [], unreadable: [], notFiles: [], truncated: false } };
}

/**
 * The drop's top-level items, synchronously: an entry where the browser gives one,
 * otherwise the item's File (to be probed). Strings (dragged text, links) are not files.
 * @param {DataTransferLike} data
 * @returns {{entry?: EntryLike, file?: File}[]}
 */
function takeRoots(data) {
  /** @type {{entry?: EntryLike, file?: File}[]} */
  const roots = [];
  const items = data.items;
  if (items && items.length) {
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (!item || item.kind !== "file") continue;
      const entry = typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null;
      if (entry) roots.push({ entry });
      else {
        const file = item.getAsFile();
        if (file) roots.push({ file });
      }
    }
    return roots;
  }
  const files = data.files;
  for (let i = 0; i < (files?.length ?? 0); i++) {
    const file = /** @type {FileListLike} */ (files)[i];
    if (file) roots.push({ file });
  }
  return roots;
}

/** One walk over a drop: the files found, what was skipped, the entry count. */
class Walk {
  /** @param {WalkOptions} options */
  constructor(options) {
    this.maxEntries = options.maxEntries ?? MAX_ENTRIES;
    this.yieldEvery = options.yieldEvery ?? YIELD_EVERY;
    this.pause = options.pause ?? (() => new Promise((resolve) => setTimeout(resolve, 0)));
    this.onProgress = options.onProgress;
    this.entries = 0;
    this.sinceYield = 0;
    this.stopped = false;
    /** @type {PickedFile[]} */
    this.files = [];
    /** @type {Skipped} */
    this.skipped = { empty: [], unreadable: [], notFiles: [], truncated: false };
  }

  /**
   * Count entries against the bound; false (and the walk stops) past it.
   * @param {number} n
   */
  count(n) {
    if (this.stopped) return false;
    if (this.entries + n > this.maxEntries) {
      this.stopped = true;
      this.skipped.truncated = true;
      return false;
    }
    this.entries += n;
    this.sinceYield += n;
    return true;
  }

  /** Let the page breathe every `yieldEvery` entries. */
  async breathe() {
    if (this.sinceYield < this.yieldEvery) return;
    this.sinceYield = 0;
    this.onProgress?.(this.files.length);
    await this.pause();
  }

  /**
   * One dropped entry: a file on its own, or a folder walked from its name down.
   * @param {EntryLike} entry
   */
  async root(entry) {
    if (!this.count(1)) return;
    if (entry.isDirectory) {
      const start = this.files.length;
      await this.directory(entry, entry.name);
      const mine = this.files.splice(start).sort((a, b) => comparePaths(a.relativePath, b.relativePath));
      this.files.push(...mine);
    } else await this.readFiles([entry], "");
  }

  /**
   * @param {EntryLike} dir
   * @param {string} path its path, the dropped folder's name first
   */
  async directory(dir, path) {
    /** @type {EntryLike[]} */
    const children = [];
    let failed = false;
    try {
      const reader = /** @type {() => ReaderLike} */ (dir.createReader)();
      // Chromium answers at most 100 entries a call: read until an empty answer.
      for (;;) {
        const batch = await readEntries(reader);
        if (!batch.length) break;
        const room = Math.max(0, Math.min(batch.length, this.maxEntries - this.entries));
        this.count(room);
        children.push(...batch.slice(0, room));
        if (room < batch.length) this.count(batch.length - room); // past the bound: stops
        if (this.stopped) break;
        await this.breathe();
      }
    } catch {
      failed = true;
      this.skipped.unreadable.push(`${path}/`);
    }
    if (!children.length && !failed && !this.stopped) this.skipped.empty.push(path);
    const files = children.filter((c) => !c.isDirectory);
    for (let i = 0; i < files.length; i += READS_AT_ONCE) {
      await this.readFiles(files.slice(i, i + READS_AT_ONCE), path);
      await this.breathe();
    }
    for (const child of children) {
      if (this.stopped) break;
      if (child.isDirectory) await this.directory(child, `${path}/${child.name}`);
    }
  }

  /**
   * The Files of some file entries, at once.
   * @param {EntryLike[]} entries
   * @param {string} folder their folder's path, "" for a dropped file
   */
  async readFiles(entries, folder) {
    const read = await Promise.all(entries.map((entry) => fileOf(entry).catch(() => null)));
    this.sinceYield += entries.length; // reading a File costs about what listing it did
    read.forEach((file, i) => {
      const path = folder ? `${folder}/${entries[i].name}` : "";
      if (file) this.files.push({ file, relativePath: path });
      else this.skipped.unreadable.push(path || entries[i].name);
    });
  }

  /**
   * Keep the dropped Files whose first byte can be read: a directory's cannot.
   * @param {File[]} files
   */
  async probe(files) {
    for (let i = 0; i < files.length; i += READS_AT_ONCE) {
      const chunk = files.slice(i, i + READS_AT_ONCE);
      const ok = await Promise.all(chunk.map((f) => readable(f)));
      this.sinceYield += chunk.length;
      chunk.forEach((file, j) => {
        if (ok[j]) this.files.push({ file, relativePath: "" });
        else this.skipped.notFiles.push(file.name);
      });
      await this.breathe();
    }
  }

  /** @returns {Collected} */
  result() {
    const { empty, unreadable, notFiles } = this.skipped;
    for (const list of [empty, unreadable, notFiles]) list.sort(comparePaths);
    return { files: this.files, problems: describeSkipped(this.skipped, this.maxEntries), skipped: this.skipped };
  }
}

/**
 * @param {ReaderLike} reader
 * @returns {Promise<EntryLike[]>}
 */
function readEntries(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

/**
 * @param {EntryLike} entry
 * @returns {Promise<File>}
 */
function fileOf(entry) {
  return new Promise((resolve, reject) => {
    if (!entry.isFile || typeof entry.file !== "function") reject(new Error("not a file entry"));
    else entry.file(resolve, reject);
  });
}

/**
 * Whether the first byte of a File can be read (false for a directory).
 * @param {File} file
 */
async function readable(file) {
  try {
    await file.slice(0, 1).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * Sentences for a person, one per kind of skip; each lists a few paths.
 * @param {Skipped} skipped
 * @param {number} maxEntries
 * @returns {string[]}
 */
export function describeSkipped(skipped, maxEntries = MAX_ENTRIES) {
  const problems = [];
  const { empty, unreadable, notFiles } = skipped;
  if (empty.length) problems.push(`Skipped ${plural(empty.length, "empty folder")}: ${listNames(empty)}.`);
  if (unreadable.length) {
    problems.push(`Skipped ${plural(unreadable.length, "item")} the browser could not read: ${listNames(unreadable)}.`);
  }
  if (notFiles.length) {
    problems.push(
      `Skipped ${plural(notFiles.length, "dropped item")} that ${notFiles.length === 1 ? "is a folder or is" : "are folders or are"} ` +
        `unreadable: ${listNames(notFiles)}. This browser cannot read dropped folders; use "Choose folder".`,
    );
  }
  if (skipped.truncated) {
    problems.push(
      `Stopped reading the drop at ${maxEntries.toLocaleString("en-US")} files and folders: ` +
        "the rest was left out. Upload a folder that large as an archive, or in parts.",
    );
  }
  return problems;
}

/** @param {number} n @param {string} noun */
function plural(n, noun) {
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}

/** @param {string[]} names */
function listNames(names) {
  const shown = names.slice(0, NAMES_LISTED).map((name) => (name.length > NAME_CHARS ? `…${name.slice(-(NAME_CHARS - 1))}` : name));
  const more = names.length - shown.length;
  return shown.join(", ") + (more ? `, and ${more.toLocaleString("en-US")} more` : "");
}
