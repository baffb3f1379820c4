// Benchmark of the subunit v2 codec (BENCHMARKS.md "Codec"): encode and decode the
// same 200,000-packet stream (100,000 tests, inprogress + success, timestamps),
// ours and python-subunit's in the same run, and decode against a bare CRC32 pass.
//
//   npm run build && node bench/codec.js [--tests 100000] [--runs 7] [--python-runs 3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { PacketEncoder } from '../dist/src/subunit/encoder.js';
import { StreamDecoder } from '../dist/src/subunit/decoder.js';
import { crc32, crc32View } from '../dist/src/subunit/crc32.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const TESTS = arg('tests', 100_000);
const RUNS = arg('runs', 7);
const PY_RUNS = arg('python-runs', 3);
const CHUNK = 65536;

function events(tests) {
  const out = [];
  for (let i = 0; i < tests; i++) {
    const testId = `pkg.module_${String(i % 100).padStart(3, '0')}.TestCase.test_method_${String(i).padStart(5, '0')}`;
    const us0 = (i * 37) % 1_000_000;
    const us1 = (i * 37 + 500) % 1_000_000;
    const s1 = 1_700_000_000 + i;
    out.push({ testId, status: 'inprogress', timestamp: { seconds: 1_700_000_000 + i, nanos: us0 * 1000 } });
    out.push({ testId, status: 'success', timestamp: { seconds: s1, nanos: us1 * 1000 } });
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const time = (fn) => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

const evs = events(TESTS);
const encoder = new PacketEncoder();
let stream;
const encodeTimes = [];
for (let r = 0; r < RUNS; r++) {
  const packets = new Array(evs.length);
  encodeTimes.push(time(() => {
    for (let i = 0; i < evs.length; i++) packets[i] = encoder.encode(evs[i]);
  }));
  stream = Buffer.concat(packets);
}

const batchTimes = [];
for (let r = 0; r < RUNS; r++) {
  let batch;
  batchTimes.push(time(() => {
    batch = encoder.encodeBatch(evs);
  }));
  if (!Buffer.from(batch.buffer, batch.byteOffset, batch.length).equals(stream)) throw new Error('encodeBatch differs from encode');
}

let decoded = 0;
const handler = { packet: () => void decoded++, nonSubunit: () => { throw new Error('non-subunit bytes'); }, error: (e) => { throw e; } };
const decodeTimes = [];
for (let r = 0; r < RUNS; r++) {
  decoded = 0;
  decodeTimes.push(time(() => {
    const d = new StreamDecoder(handler);
    for (let i = 0; i < stream.length; i += CHUNK) d.push(stream.subarray(i, i + CHUNK));
    d.end();
  }));
  if (decoded !== evs.length) throw new Error(`decoded ${decoded} packets, expected ${evs.length}`);
}

const crcJs = [];
const crcNative = [];
const crcNativePerPacket = [];
const crcJsPerPacket = [];
const offsets = [];
for (let i = 0, n = 0; n < evs.length; n++) {
  const len = stream[i + 3] >> 6 === 0 ? stream[i + 3] : ((stream[i + 3] & 0x3f) << 8) | stream[i + 4];
  offsets.push(i, len);
  i += len;
}
let sink = 0;
for (let r = 0; r < RUNS; r++) {
  crcJs.push(time(() => (sink ^= crc32(stream))));
  crcNative.push(time(() => (sink ^= zlib.crc32(stream))));
  crcJsPerPacket.push(time(() => {
    const view = new DataView(stream.buffer, stream.byteOffset, stream.length);
    for (let k = 0; k < offsets.length; k += 2) sink ^= crc32View(view, offsets[k], offsets[k] + offsets[k + 1] - 4);
  }));
  crcNativePerPacket.push(time(() => {
    for (let k = 0; k < offsets.length; k += 2) sink ^= zlib.crc32(stream.subarray(offsets[k], offsets[k] + offsets[k + 1] - 4));
  }));
}

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-codec-'));
let py;
try {
  const file = path.join(dir, 'stream.bin');
  writeFileSync(file, stream);
  const r = spawnSync('/usr/bin/python3', ['-B', path.join(here, 'codec_python.py'), String(TESTS), String(PY_RUNS), file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python-subunit anchor failed: ${r.stderr}`);
  py = JSON.parse(r.stdout);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const n = evs.length;
const mb = stream.length / 1e6;
const row = (name, s) => `${name.padEnd(40)} ${(s * 1000).toFixed(1).padStart(9)} ms ${((n / s) / 1e6).toFixed(2).padStart(7)} M packets/s ${(mb / s).toFixed(1).padStart(8)} MB/s`;
const enc = median(encodeTimes);
const dec = median(decodeTimes);
const pyEnc = median(py.encode_s);
const pyDec = median(py.decode_s);
const bareCrc = Math.min(median(crcJs), median(crcNative));
console.log(`subunit v2 codec: ${n} packets (${TESTS} tests, inprogress + success, timestamps), ${stream.length} bytes; medians of ${RUNS} runs (python: ${PY_RUNS})`);
console.log(`python-subunit writes the identical bytes: ${py.same_bytes}`);
console.log(row('encode, subrun PacketEncoder', enc));
console.log(row('encode, subrun encodeBatch (one buffer)', median(batchTimes)));
console.log(row('encode, python-subunit', pyEnc));
console.log(row('decode, subrun StreamDecoder', dec));
console.log(row('decode, python-subunit', pyDec));
console.log(row('CRC32 whole stream, JS slice-by-8 (ours)', median(crcJs)));
console.log(row('CRC32 per packet, JS slice-by-8 (ours)', median(crcJsPerPacket)));
console.log(row('CRC32 whole stream, zlib.crc32', median(crcNative)));
console.log(row('CRC32 per packet, zlib.crc32', median(crcNativePerPacket)));
console.log(`encode: ${(pyEnc / enc).toFixed(1)}x python-subunit with encode() per packet, ${(pyEnc / median(batchTimes)).toFixed(1)}x with encodeBatch (target >= 20x)`);
console.log(`decode: ${(pyDec / dec).toFixed(1)}x python-subunit (target >= 20x)`);
console.log(`decode / bare CRC32 pass: ${(dec / median(crcJs)).toFixed(2)}x the JS CRC32 the decoder uses over the whole stream (target <= 3x), ${(dec / median(crcJsPerPacket)).toFixed(2)}x the same CRC32 per packet, ${(dec / bareCrc).toFixed(2)}x the fastest`);
if (sink === 0.5) console.log(sink);
