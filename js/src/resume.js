// @ts-check
/**
 * This file owns resuming, in a new page, an upload the kernel kept after a page reload
 * or a browser crash. For a picked file that "add-files" answered with `resume` (the
 * kernel holds an interrupted multipart upload of a file with that name, size and
 * lastModified), it hashes the bytes of the part the kernel named and sends "adopt":
 * the same CRC32C hands back the plan and the parts S3 holds, and the engine sends only
 * the others (`adoptFile`); another CRC32C is another file of that name, which the
 * kernel gives a new record and the engine uploads anew.
 */
import { hashPart } from "./hash-pool.js";
import { newFile } from "./ledger.js";
import { partBounds } from "./multipart.js";

/**
 * The part an "add-files" entry names for the page to hash.
 * @typedef {{part_number: number, offset: number, length: number}} ResumePoint
 */

/**
 * The kernel's "adopt" answer (see _protocol.py ADOPT).
 * @typedef {{adopted: true, plan: {mode: "multipart", part_size: number, part_count: number, checksum?: string},
 *            parts: {part_number: number, etag: string}[]}
 *         | {adopted: false, record: import("./protocol.js").UploadRecord}} AdoptAnswer
 */

/**
 * The parts of the engine an adopted file goes into (engine.js's UploadEngine).
 * @typedef {object} AdoptingEngine
 * @property {Map<string, import("./ledger.js").EngineFile>} _files
 * @property {Set<import("./ledger.js").EngineFile>} _ready
 * @property {number} _unfinished
 * @property {import("./ledger.js").Tally} _tally
 * @property {() => number} now
 * @property {(file: import("./ledger.js").EngineFile) => void} _emit
 * @property {() => void} _pump
 * @property {(file: import("./ledger.js").EngineFile) => void} _forget
 * @property {(id: string) => import("./ledger.js").FileState | undefined} state
 * @property {(id: string, blob: Blob) => void} add
 */

/**
 * Put a file whose multipart upload the kernel handed over straight among the signed
 * files: its plan set, the parts S3 holds stored (counted as done), so only the missing
 * parts are signed and sent, and it completes with every ETag.
 * @param {AdoptingEngine} engine
 * @param {string} id
 * @param {Blob} blob
 * @param {{mode: "multipart", part_size: number, part_count: number, checksum?: string}} plan
 * @param {{part_number: number, etag: string}[]} parts
 */
export function adoptFile(engine, id, blob, plan, parts) {
  const known = engine._files.get(id);
  if (known && !known.stopped) return false;
  if (known) engine._forget(known);
  const file = newFile(id, blob, engine.now);
  file.plan = plan;
  file.admitted = true;
  for (const { part_number: n, etag } of parts) {
    const [start, end] = partBounds(blob.size, plan.part_size, n);
    file.stored.set(n, etag);
    file.meter.finishPart(n, end - start);
  }
  Object.assign(file.state, { loaded: file.meter.loaded, partsDone: parts.length, partCount: plan.part_count });
  engine._files.set(id, file);
  engine._unfinished++;
  engine._tally.add(file.state, 1);
  engine._ready.add(file);
  engine._emit(file);
  engine._pump();
  return true;
}

/**
 * Resume an interrupted upload with a picked file, or upload it anew when the kernel
 * finds it is another file. Nothing when this page already uploads that id.
 * @param {AdoptingEngine} engine
 * @param {Pick<import("./kernel.js").Api, "adopt">} api
 * @param {string} id        the interrupted upload's id
 * @param {ResumePoint} resume
 * @param {Blob} blob
 * @returns {Promise<"adopted" | "new" | "skipped">}
 */
export async function resumeUpload(engine, api, id, resume, blob) {
  if (engine.state(id)) return "skipped";
  const checksum = await hashPart(blob.slice(resume.offset, resume.offset + resume.length));
  if (!api.adopt) throw new Error("This kernel api cannot adopt uploads.");
  const answer = await api.adopt(id, checksum);
  if (answer.adopted) {
    return adoptFile(engine, id, blob, answer.plan, answer.parts) ? "adopted" : "skipped";
  }
  if (answer.record?.status !== "queued") return "skipped";
  engine.add(answer.record.id, blob);
  return "new";
}
