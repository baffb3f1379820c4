/**
 * CRC-32 with the zlib polynomial (SPEC §2.1). Slice-by-8 tables in JavaScript,
 * reading 32-bit little-endian words through a DataView: in V8 that is ~30 %
 * faster than assembling each word from four byte loads, and for subunit's
 * typical 40-100 byte packets the table beats node:zlib's native crc32, whose
 * per-call cost dominates at that size. From ~1 KiB on (attachments) zlib's is
 * faster (~2.5x at 4 KiB, ~3x at 64 KiB), so longer ranges go to it when this
 * Node has it (>= 20.15 / 22.2), and to the table otherwise (BENCHMARKS.md "Codec").
 */

import zlib from 'node:zlib';

/** Ranges at least this long go to zlib.crc32 when present: measured crossover ~600-1,000 bytes. */
const NATIVE_FROM = 1024;
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * node:zlib's crc32 (Node >= 20.15 / 22.2), looked up once at load; undefined
 * on an older Node, where every caller uses the JavaScript tables.
 */
export const zlibCrc32: ((data: Uint8Array, value?: number) => number) | undefined = nativeCrc32;

const TABLE = makeTables();

function makeTables(): Int32Array {
  const t = new Int32Array(2048);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** The slice-by-8 tables (8 x 256 entries, table k at k * 256), for the WebAssembly area to copy. Do not modify. */
export function crc32Tables(): Int32Array {
  return TABLE;
}

/** CRC-32 of `bytes[start, end)`, continuing from `crc` (0 to start). Returns an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  return crc32View(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), start, end, crc);
}

/**
 * crc32 over a DataView of the bytes, for callers that checksum many small
 * ranges of one buffer and keep its view (the decoder, the encoder's slab).
 */
export function crc32View(view: DataView, start: number, end: number, crc = 0): number {
  if (end - start >= NATIVE_FROM && nativeCrc32 !== undefined) {
    return nativeCrc32(new Uint8Array(view.buffer, view.byteOffset + start, end - start), crc) >>> 0;
  }
  return crc32Table(view, start, end, crc);
}

/**
 * The CRC continued from `crc` over four more bytes, given as the 32-bit
 * little-endian word they form (`view.getInt32(at, true)`). Signed result.
 */
export function crc32Word(crc: number, word: number): number {
  const t = TABLE;
  const c = ~crc ^ word;
  return ~(t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[c >>> 24]!);
}

/** crc32View by the JavaScript tables alone, at any length (the benchmark's anchor, and the fallback). */
export function crc32Table(view: DataView, start: number, end: number, crc = 0): number {
  const t = TABLE;
  let c = ~crc;
  let i = start;
  const end8 = end - ((end - start) & 7);
  while (i < end8) {
    c ^= view.getInt32(i, true);
    const d = view.getInt32(i + 4, true);
    c =
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + (d & 0xff)]! ^
      t[512 + ((d >>> 8) & 0xff)]! ^
      t[256 + ((d >>> 16) & 0xff)]! ^
      t[d >>> 24]!;
    i += 8;
  }
  // A 4-byte step for the tail (the last four of the same tables): packets are rarely a multiple of 8.
  if (end - i >= 4) {
    c ^= view.getInt32(i, true);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[c >>> 24]!;
    i += 4;
  }
  while (i < end) c = t[(c ^ view.getUint8(i++)) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
