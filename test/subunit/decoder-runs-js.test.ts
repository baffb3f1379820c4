// Hides zlib.crc32 before the codec looks it up: keep this import first.
import './fixtures/without-zlib-crc32.js';
import t from 'tap';
import { crc32, zlibCrc32 } from '../../src/subunit/crc32.js';
import { runChecks } from './fixtures/run-checks.js';

// SPEC §2.7, on a Node without zlib.crc32 (before 20.15): every packet is
// checked by the JavaScript tables, with the same results.

t.test('without zlib.crc32 the codec uses its tables', async (t) => {
  t.equal(zlibCrc32, undefined);
  // zlib.crc32's value for these bytes, from a Node that has it: long ranges fall back to the tables too.
  t.equal(crc32(new Uint8Array(5000).fill(7)), 0x4f7d9b7b);
});

runChecks(t);
