import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CHECKSUM_ALGORITHM, CHECKSUM_HEADER, CRC32C_POLYNOMIAL, DEFAULT_CHUNK_SIZE, crc32cOfBlob, toBase64, wholeFileSums,
} from "../src/checksum.js";
import { FORM_POST_MAX_BYTES } from "../src/protocol.js";

/** A bit-at-a-time CRC32C written here, to check hash-wasm against something else. */
function referenceCrc32c(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** S3's form of a CRC given as a number: base64 of its 4 big-endian bytes. */
function s3Form(crc) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, crc);
  return Buffer.from(bytes).toString("base64");
}

/** The same bytes as the Python that computed the expected values below (LCG, seeded). */
function lcgBytes(n, seed) {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = ((Math.imul(x, 1103515245) + 12345) >>> 0) & 0x7fffffff;
    out[i] = (x >>> 16) & 0xff;
  }
  return out;
}

test("constants name what S3 and the kernel expect", () => {
  assert.equal(CHECKSUM_ALGORITHM, "CRC32C");
  assert.equal(CHECKSUM_HEADER, "x-amz-checksum-crc32c");
  assert.equal(CRC32C_POLYNOMIAL, 0x82f63b78);
  assert.ok(DEFAULT_CHUNK_SIZE >= 4 * 1024 * 1024);
});

test("the reference CRC32C gives the published check values", () => {
  assert.equal(referenceCrc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  // RFC 3720 (iSCSI), B.4
  assert.equal(referenceCrc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(referenceCrc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(referenceCrc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(referenceCrc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test("known vectors, in S3's base64 form", async () => {
  const text = (s) => new Blob([s]);
  assert.equal(await crc32cOfBlob(text("123456789")), "4waSgw=="); // 0xE3069283
  assert.equal(await crc32cOfBlob(new Blob([new Uint8Array(32)])), s3Form(0x8a9136aa));
  assert.equal(await crc32cOfBlob(new Blob([new Uint8Array(32).fill(0xff)])), s3Form(0x62a8ab43));
  assert.equal(await crc32cOfBlob(text("The quick brown fox jumps over the lazy dog")), s3Form(0x22620404));
});

test("matches Python's crc32c package (and ministack's stored values) on seeded data", async () => {
  // tests/ministack/.venv/bin/python: base64(struct.pack(">I", crc32c.crc32c(data)))
  const expected = [
    [3, 1, "xohcgQ=="],
    [1000, 2, "8livnA=="],
    [1048581, 3, "D1cwBQ=="],
    [9 * 1024 * 1024 + 1, 4, "s6j8JQ=="], // more than one default chunk
  ];
  for (const [n, seed, value] of expected) {
    const bytes = lcgBytes(n, seed);
    assert.equal(await crc32cOfBlob(new Blob([bytes])), value, `${n} bytes`);
    if (n <= 1048581) assert.equal(s3Form(referenceCrc32c(bytes)), value, `reference, ${n} bytes`);
  }
});

test("an empty blob has the CRC of nothing", async () => {
  assert.equal(await crc32cOfBlob(new Blob([])), "AAAAAA==");
  assert.equal(await crc32cOfBlob(new Blob([]), { chunkSize: 1 }), "AAAAAA==");
});

test("chunk boundaries do not change the result", async () => {
  const bytes = lcgBytes(100_003, 9);
  const blob = new Blob([bytes]);
  const want = s3Form(referenceCrc32c(bytes));
  for (const chunkSize of [1, 7, 4096, 65536, 99_999, 100_002, 100_003, 100_004, 1 << 24]) {
    if (chunkSize === 1) {
      // every byte its own chunk: on a smaller slice, to keep the test quick
      const small = bytes.subarray(0, 999);
      assert.equal(await crc32cOfBlob(new Blob([small]), { chunkSize }), s3Form(referenceCrc32c(small)));
      continue;
    }
    assert.equal(await crc32cOfBlob(blob, { chunkSize }), want, `chunkSize ${chunkSize}`);
  }
});

test("a slice of a blob is hashed on its own (a part of a file)", async () => {
  const bytes = lcgBytes(50_000, 11);
  const blob = new Blob([bytes]);
  const part = blob.slice(12_345, 40_000);
  assert.equal(await crc32cOfBlob(part, { chunkSize: 8192 }), s3Form(referenceCrc32c(bytes.subarray(12_345, 40_000))));
});

test("one changed bit changes the checksum", async () => {
  const bytes = lcgBytes(10_000, 12);
  const before = await crc32cOfBlob(new Blob([bytes]));
  bytes[5000] ^= 0x10;
  assert.notEqual(await crc32cOfBlob(new Blob([bytes])), before);
});

test("reads the blob chunk by chunk, never all at once", async () => {
  const bytes = lcgBytes(10_000, 13);
  const blob = new Blob([bytes]);
  const slices = [];
  const spy = {
    size: blob.size,
    slice(start, end) {
      slices.push([start, end]);
      return blob.slice(start, end);
    },
  };
  const value = await crc32cOfBlob(/** @type {Blob} */ (/** @type {unknown} */ (spy)), { chunkSize: 4096 });
  assert.equal(value, s3Form(referenceCrc32c(bytes)));
  assert.deepEqual(slices, [[0, 4096], [4096, 8192], [8192, 10_000]]);
});

test("bad chunk sizes are refused", async () => {
  for (const chunkSize of [0, -1, 1.5, NaN, Infinity]) {
    await assert.rejects(crc32cOfBlob(new Blob(["x"]), { chunkSize }), RangeError);
  }
});

test("an aborted signal stops the hashing", async () => {
  const controller = new AbortController();
  controller.abort(new Error("cancelled"));
  await assert.rejects(crc32cOfBlob(new Blob(["abc"]), { signal: controller.signal }), /cancelled/);
  const later = new AbortController();
  const blob = new Blob([lcgBytes(40_000, 14)]);
  const spy = {
    size: blob.size,
    slice(start, end) {
      if (start >= 8192) later.abort(new Error("stopped mid-way"));
      return blob.slice(start, end);
    },
  };
  await assert.rejects(
    crc32cOfBlob(/** @type {Blob} */ (/** @type {unknown} */ (spy)), { chunkSize: 4096, signal: later.signal }),
    /stopped mid-way/,
  );
});

test("toBase64 is standard base64", () => {
  assert.equal(toBase64(new Uint8Array([])), "");
  assert.equal(toBase64(new Uint8Array([0xe3, 0x06, 0x92, 0x83])), "4waSgw==");
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(toBase64(all), Buffer.from(all).toString("base64"));
});

test("wholeFileSums: CRC32C and, below FORM_POST_MAX_BYTES, the MD5 as Content-MD5 carries it", async () => {
  const digits = new Blob(["123456789"]);
  // MD5("123456789") = 25f9e794323b453885f5181f1b624d0b (RFC 1321's algorithm; Python's hashlib agrees)
  assert.deepEqual(await wholeFileSums(digits), { checksum: "4waSgw==", md5: "JfnnlDI7RTiF9RgfG2JNCw==" });
  assert.deepEqual(await wholeFileSums(new Blob([])), { checksum: "AAAAAA==", md5: "1B2M2Y8AsgTpgAmY7PhCfg==" });
  const big = new Blob([new Uint8Array(FORM_POST_MAX_BYTES)]);
  assert.deepEqual(await wholeFileSums(big), { checksum: await crc32cOfBlob(big) });
  // The shared hashers start afresh for each file.
  assert.deepEqual(await wholeFileSums(digits), { checksum: "4waSgw==", md5: "JfnnlDI7RTiF9RgfG2JNCw==" });
});
