// The counter wraps zlib.crc32 before the codec looks it up: keep this import first.
import { zlibCrc32Calls } from './fixtures/zlib-crc32-counter.js';
import t from 'tap';
import { zlibCrc32 } from '../../src/subunit/crc32.js';
import { decodeEveryWay, runChecks, runStream } from './fixtures/run-checks.js';

// SPEC §2.7, on a Node with zlib.crc32: runs of packets are checked with one
// native call each, and the decoders report exactly what the per-packet check does.

t.test('this Node has zlib.crc32, and the run check calls it', async (t) => {
  t.ok(zlibCrc32Calls.present, 'node:zlib has crc32 (Node >= 20.15)');
  t.ok(zlibCrc32 !== undefined, 'the codec found it');
  const { bytes } = runStream();
  zlibCrc32Calls.count = 0;
  decodeEveryWay(bytes);
  t.ok(zlibCrc32Calls.count >= 2, `one call per run when a chunk holds one (${zlibCrc32Calls.count} calls)`);
});

runChecks(t);
