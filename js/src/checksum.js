// @ts-check
/**
 * The CRC32C (Castagnoli) of a body the browser is about to PUT, in S3's form: base64 of
 * the 4 big-endian bytes of the CRC. The kernel signs it as the `x-amz-checksum-crc32c`
 * header (boto3: `ChecksumCRC32C` of put_object / upload_part), the browser sends that
 * header, and S3 refuses the body (400 BadDigest) if it was changed on the way.
 * Pure (no DOM): the CRC comes from hash-wasm's WebAssembly, which esbuild inlines.
 */
import { createCRC32, createMD5 } from "hash-wasm";
import { FORM_POST_MAX_BYTES } from "./protocol.js";

/** S3's name of the algorithm (CreateMultipartUpload's `ChecksumAlgorithm`). */
export const CHECKSUM_ALGORITHM = "CRC32C";

/** The request header that carries the value; it must be sent exactly as signed. */
export const CHECKSUM_HEADER = "x-amz-checksum-crc32c";

/** The reversed Castagnoli polynomial (CRC-32C, iSCSI). */
export const CRC32C_POLYNOMIAL = 0x82f63b78;

/** Bytes read from the Blob at a time: one chunk in memory, one being read. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/** @type {ReturnType<typeof createCRC32> | undefined} */
let sharedHasher;

/**
 * The CRC32C of `blob` (a File, or a part of one from `File.slice`), read `chunkSize`
 * bytes at a time, the next chunk read while the current one is hashed.
 * @param {Blob} blob
 * @param {{chunkSize?: number, signal?: AbortSignal}} [options]
 *   `signal`: stop between chunks (rejects with the signal's reason).
 * @returns {Promise<string>} e.g. "4waSgw==" for the bytes of "123456789"
 */
export async function crc32cOfBlob(blob, { chunkSize = DEFAULT_CHUNK_SIZE, signal } = {}) {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new RangeError(`chunkSize must be a positive integer, not ${chunkSize}`);
  }
  if (blob.size <= chunkSize) {
    // One read, then init/update/digest with no await between them: one shared hasher
    // serves every small body (thousands of small files would otherwise each make one).
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const shared = await (sharedHasher ??= createCRC32(CRC32C_POLYNOMIAL));
    signal?.throwIfAborted();
    shared.init();
    shared.update(bytes);
    return toBase64(shared.digest("binary"));
  }
  const hasher = await createCRC32(CRC32C_POLYNOMIAL);
  hasher.init();
  /** @param {number} start */
  const read = (start) => blob.slice(start, Math.min(start + chunkSize, blob.size)).arrayBuffer();
  let next = blob.size > 0 ? read(0) : null;
  for (let start = 0; next; start += chunkSize) {
    const chunk = await next;
    signal?.throwIfAborted();
    next = start + chunkSize < blob.size ? read(start + chunkSize) : null;
    hasher.update(new Uint8Array(chunk));
  }
  signal?.throwIfAborted();
  return toBase64(hasher.digest("binary"));
}

/** @type {ReturnType<typeof createMD5> | undefined} */
let sharedMd5;

/**
 * What the kernel signs for a file that goes whole (not multipart): its CRC32C and, below
 * FORM_POST_MAX_BYTES, its MD5 (base64, as Content-MD5 carries it), for a form POST's
 * policy. Both from one read.
 * @param {Blob} blob
 * @returns {Promise<{checksum: string, md5?: string}>}
 */
export async function wholeFileSums(blob) {
  if (blob.size >= FORM_POST_MAX_BYTES) return { checksum: await crc32cOfBlob(blob) };
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const [crc, md5] = await Promise.all([sharedHasher ??= createCRC32(CRC32C_POLYNOMIAL), sharedMd5 ??= createMD5()]);
  crc.init();
  crc.update(bytes);
  md5.init();
  md5.update(bytes);
  return { checksum: toBase64(crc.digest("binary")), md5: toBase64(md5.digest("binary")) };
}

/**
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}
