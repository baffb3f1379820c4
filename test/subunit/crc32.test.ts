import t from 'tap';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { crc32, crc32Table, crc32View, crc32Word } from '../../src/subunit/crc32.js';
import { crc32Combine, crc32Shift } from '../../src/subunit/crc32-combine.js';

// SPEC §2.1: CRC-32 with the zlib polynomial, checked against zlib itself at
// every length and alignment the slice-by-8, 4-byte and byte steps meet.
const zcrc = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

t.test('crc32 equals zlib at every length 0..200 and start offset 0..9', async (t) => {
  const bytes = randomBytes(220);
  let bad = 0;
  for (let start = 0; start <= 9; start++) {
    for (let n = 0; n <= 200; n++) {
      const want = zcrc !== undefined ? zcrc(bytes.subarray(start, start + n)) : undefined;
      const got = crc32(bytes, start, start + n);
      const viaView = crc32View(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), start, start + n);
      if (got !== viaView || (want !== undefined && got !== want)) bad++;
    }
  }
  t.equal(bad, 0);
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the standard check value');
});

t.test('crc32 continues from a previous value', async (t) => {
  const bytes = randomBytes(1000);
  t.equal(crc32(bytes, 300, 1000, crc32(bytes, 0, 300)), crc32(bytes));
});

t.test('long ranges (zlib.crc32 when present) equal the table, folded over short pieces', async (t) => {
  const bytes = randomBytes(70_000);
  for (const [start, end] of [
    [0, 1023],
    [0, 1024],
    [3, 1030],
    [5, 70_000],
    [0, 65_536],
  ] as const) {
    let folded = 0;
    for (let i = start; i < end; i += 500) folded = crc32(bytes, i, Math.min(end, i + 500), folded);
    t.equal(crc32(bytes, start, end), folded, `[${start}, ${end})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  t.equal(crc32(bytes, 7, 70_000), crc32Table(view, 7, 70_000), 'the dispatch agrees with the tables alone');
  if (zcrc !== undefined) t.equal(crc32(bytes, 7, 70_000), zcrc(bytes.subarray(7)) >>> 0, 'and with zlib');
});

t.test('crc32Combine: the CRC of A then B from the CRCs of A and B, at every length 0..300 and at large ones', async (t) => {
  const bytes = randomBytes(4_194_400);
  let bad = 0;
  const lengths = [...Array.from({ length: 301 }, (_, n) => n), 1023, 1024, 65_535, 65_536, 1_000_003, 4_194_303];
  for (const n of lengths) {
    const a = 1 + (n % 37);
    const crcA = crc32(bytes, 0, a);
    const crcB = crc32(bytes, a, a + n);
    if (crc32Combine(crcA, crcB, n) !== crc32(bytes, 0, a + n)) bad++;
  }
  t.equal(bad, 0, `${lengths.length} lengths`);
  t.equal(crc32Combine(0, crc32(bytes, 0, 10), 10), crc32(bytes, 0, 10), 'combining with the empty CRC');
  // The same length twice: its shift table, built on first use, gives what it gave.
  t.equal(crc32Shift(0x12345678, 57), crc32Shift(0x12345678, 57));
});

t.test('crc32Word continues a CRC over four bytes given as their little-endian word', async (t) => {
  const bytes = randomBytes(64);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i + 4 <= 60; i += 4) {
    t.equal(crc32Word(crc32(bytes, 0, i), view.getInt32(i, true)) >>> 0, crc32(bytes, 0, i + 4));
  }
});
