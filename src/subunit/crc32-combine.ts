/**
 * CRC-32 combination (zlib's crc32_combine): the CRC of A followed by B from
 * the CRCs of A and B and B's length, crc(AB) = shift(crc(A), |B|) ^ crc(B),
 * where shift multiplies by x^(8|B|) modulo the polynomial (a linear map on 32
 * bits). The decoder uses it to check a run of packets with one native CRC
 * pass (SPEC §2.7). Shifts are composed from tables for shifts by 2^k bytes
 * (four lookups per set bit of the length); the shift by each length under 256
 * (most packets) gets its own table once it is used, four lookups in all.
 */

/** The zlib polynomial, reflected. */
const POLY = 0xedb88320;
/** Lengths up to MAX_PACKET_BYTES (< 2^22) need shifts by 2^0 .. 2^21 bytes. */
const POWERS = 22;
/** Per power k, four 256-entry tables (one per byte of the CRC): 1,024 entries at k * 1024. */
const SHIFT = makeShiftTables();
/** Lengths below this get a table of their own on first use (4 KiB each, 1 MiB at most). */
const OWN_TABLE_BELOW = 256;
const byLength: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(OWN_TABLE_BELOW).fill(undefined);

/** a * b modulo the polynomial, in zlib's reflected bit order (x^0 is the top bit); `a` non-zero. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p | 0;
}

function makeShiftTables(): Int32Array {
  const t = new Int32Array(POWERS * 1024);
  // x^(2^n): x2n[n + 3] multiplies by x^(8 * 2^n), a shift by 2^n bytes.
  let x2n = 0x40000000;
  for (let n = 0; n < 3; n++) x2n = multModP(x2n, x2n);
  const basis = new Int32Array(32);
  for (let k = 0; k < POWERS; k++) {
    for (let b = 0; b < 32; b++) basis[b] = multModP(x2n, 1 << b);
    const base = k * 1024;
    for (let q = 0; q < 4; q++) {
      for (let v = 1; v < 256; v++) {
        t[base + q * 256 + v] = t[base + q * 256 + (v & (v - 1))]! ^ basis[q * 8 + (31 - Math.clz32(v & -v))]!;
      }
    }
    x2n = multModP(x2n, x2n);
  }
  return t;
}

/** The 1,024-entry table of the shift by `bytes`, from the power-of-two tables. */
function makeTableFor(bytes: number): Int32Array {
  const t = new Int32Array(1024);
  for (let q = 0; q < 4; q++) {
    for (let b = 0; b < 8; b++) t[q * 256 + (1 << b)] = composedShift(1 << (q * 8 + b), bytes);
    for (let v = 3; v < 256; v++) if (v & (v - 1)) t[q * 256 + v] = t[q * 256 + (v & (v - 1))]! ^ t[q * 256 + (v & -v)]!;
  }
  return t;
}

/** `crc` multiplied by x^(8 * bytes), 0 <= bytes < 2^22: the CRC as if `bytes` more bytes followed it, for crc32Combine. Signed result. */
export function crc32Shift(crc: number, bytes: number): number {
  if (bytes < OWN_TABLE_BELOW) {
    const t = byLength[bytes] ?? (byLength[bytes] = makeTableFor(bytes));
    return t[crc & 0xff]! ^ t[256 + ((crc >>> 8) & 0xff)]! ^ t[512 + ((crc >>> 16) & 0xff)]! ^ t[768 + (crc >>> 24)]!;
  }
  return composedShift(crc, bytes);
}

function composedShift(crc: number, bytes: number): number {
  const t = SHIFT;
  for (let base = 0; bytes !== 0; base += 1024, bytes >>>= 1) {
    if (bytes & 1) {
      crc = t[base + (crc & 0xff)]! ^ t[base + 256 + ((crc >>> 8) & 0xff)]! ^ t[base + 512 + ((crc >>> 16) & 0xff)]! ^ t[base + 768 + (crc >>> 24)]!;
    }
  }
  return crc;
}

/** The CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes (0 .. MAX_PACKET_BYTES). Unsigned. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (crc32Shift(crcA, lengthB) ^ crcB) >>> 0;
}
