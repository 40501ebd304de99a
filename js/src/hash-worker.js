// @ts-check
/**
 * This file is the Web Worker of hash-pool.js: it answers {id, blob} with {id, sum} (the
 * blob's CRC32C in S3's form) or {id, error}. Bundled on its own (npm run build) and
 * inlined in the widget's module as text.
 */
import { crc32cOfBlob } from "./checksum.js";

/** @param {MessageEvent<{id: number, blob: Blob}>} event */
globalThis.onmessage = async ({ data: { id, blob } }) => {
  try {
    globalThis.postMessage({ id, sum: await crc32cOfBlob(blob) });
  } catch (err) {
    globalThis.postMessage({ id, error: String(/** @type {Error} */ (err)?.message ?? err) });
  }
};
