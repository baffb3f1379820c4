import t from 'tap';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { crc32, crc32View } from '../../src/subunit/crc32.js';

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
