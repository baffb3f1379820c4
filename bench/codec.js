// Benchmark of the subunit v2 codec (BENCHMARKS.md "Codec"): encode and decode the
// same 200,000-packet stream (100,000 tests, inprogress + success, timestamps),
// ours and python-subunit's in the same run, and decode against a bare CRC32 pass.
//
// Decoding is timed through both APIs: StreamDecoder (a SubunitEvent object per
// packet, the handler only counts) and PacketViewDecoder (one reused view; its
// handler reads each packet's test id, status and timestamp, as a consumer
// would; a second row only counts). Decode and CRC runs are interleaved, so each
// ratio to the CRC pass compares runs under the same machine load.
//
//   npm run build && node bench/codec.js [--tests 100000] [--runs 11] [--python-runs 3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { PacketEncoder } from '../dist/src/subunit/encoder.js';
import { StreamDecoder } from '../dist/src/subunit/decoder.js';
import { PacketViewDecoder } from '../dist/src/subunit/view-decoder.js';
import { crc32Table } from '../dist/src/subunit/crc32.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const TESTS = arg('tests', 100_000);
const RUNS = arg('runs', 11);
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
/** Wall time and this process's CPU time (all its threads: GC helpers included), in seconds. */
const time = (fn) => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
};

const evs = events(TESTS);
const encoder = new PacketEncoder();
// Phase order: the garbage-heaviest phase (encode() per packet keeps 200,000
// packets per run) runs last, so no other figure is charged for its collection.
const batchTimes = [];
let stream;
for (let r = 0; r < RUNS; r++) {
  let batch;
  batchTimes.push(time(() => {
    batch = encoder.encodeBatch(evs);
  }));
  stream = Buffer.from(batch.buffer, batch.byteOffset, batch.length);
}

let decoded = 0;
let sink = 0;
const fail = { nonSubunit: () => { throw new Error('non-subunit bytes'); }, error: (e) => { throw e; } };
const handler = { packet: () => void decoded++, ...fail };
// Sums into its own int32 field: a module-level `let` holding a double would allocate per packet.
const viewHandler = {
  sum: 0,
  packet(v) {
    decoded++;
    const id = v.testId;
    if (v.status === 'success') this.sum = (this.sum + id.length + v.seconds + v.nanos) | 0;
  },
  ...fail,
};
const countHandler = { packet: () => void decoded++, ...fail };
const feed = (d) => {
  for (let i = 0; i < stream.length; i += CHUNK) d.push(stream.subarray(i, i + CHUNK));
  d.end();
};

const offsets = [];
for (let i = 0, n = 0; n < evs.length; n++) {
  const len = stream[i + 3] >> 6 === 0 ? stream[i + 3] : ((stream[i + 3] & 0x3f) << 8) | stream[i + 4];
  offsets.push(i, len);
  i += len;
}
const cases = {
  decodeEvents: () => feed(new StreamDecoder(handler)),
  decodeViews: () => feed(new PacketViewDecoder(viewHandler)),
  decodeViewsCount: () => feed(new PacketViewDecoder(countHandler)),
  crcJs: () => (sink ^= crc32Table(new DataView(stream.buffer, stream.byteOffset, stream.length), 0, stream.length)),
  crcJsPerPacket: () => {
    const view = new DataView(stream.buffer, stream.byteOffset, stream.length);
    let acc = 0;
    for (let k = 0; k < offsets.length; k += 2) acc ^= crc32Table(view, offsets[k], offsets[k] + offsets[k + 1] - 4);
    sink ^= acc;
  },
  crcNative: () => (sink ^= zlib.crc32(stream)),
  crcNativePerPacket: () => {
    let acc = 0;
    for (let k = 0; k < offsets.length; k += 2) acc ^= zlib.crc32(stream.subarray(offsets[k], offsets[k] + offsets[k + 1] - 4));
    sink ^= acc;
  },
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < RUNS; r++) {
  for (const [name, fn] of Object.entries(cases)) {
    decoded = 0;
    times[name].push(time(fn));
    if (name.startsWith('decode') && decoded !== evs.length) throw new Error(`${name}: decoded ${decoded} packets, expected ${evs.length}`);
  }
}

const encodeTimes = [];
for (let r = 0; r < RUNS; r++) {
  const packets = new Array(evs.length);
  encodeTimes.push(time(() => {
    for (let i = 0; i < evs.length; i++) packets[i] = encoder.encode(evs[i]);
  }));
  if (!Buffer.concat(packets).equals(stream)) throw new Error('encode() per packet differs from encodeBatch');
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
const med = (runs) => ({ wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)) });
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, med(v)]));
m.encode = med(encodeTimes);
m.batch = med(batchTimes);
m.pyEncode = { wall: median(py.encode_s), cpu: median(py.encode_cpu_s) };
m.pyDecode = { wall: median(py.decode_s), cpu: median(py.decode_cpu_s) };
const row = (name, key) => {
  const { wall, cpu } = m[key];
  return `${name.padEnd(50)} ${(wall * 1000).toFixed(1).padStart(8)} ms ${(cpu * 1000).toFixed(1).padStart(8)} ms ${(n / wall / 1e6).toFixed(2).padStart(7)} ${(mb / wall).toFixed(1).padStart(8)}`;
};
/** "wall ratio / CPU ratio" of two rows. */
const x = (a, b) => `${(m[a].wall / m[b].wall).toFixed(1)}x / ${(m[a].cpu / m[b].cpu).toFixed(1)}x`;
console.log(`subunit v2 codec: ${n} packets (${TESTS} tests, inprogress + success, timestamps), ${stream.length} bytes; medians of ${RUNS} runs (python: ${PY_RUNS})`);
console.log(`python-subunit writes the identical bytes: ${py.same_bytes}`);
console.log(`${''.padEnd(50)} ${'wall'.padStart(11)} ${'CPU'.padStart(11)} ${'Mpkt/s'.padStart(7)} ${'MB/s'.padStart(8)}  (rates from wall time)`);
console.log(row('encode, PacketEncoder.encode() per packet', 'encode'));
console.log(row('encode, PacketEncoder.encodeBatch() (one buffer)', 'batch'));
console.log(row('encode, python-subunit', 'pyEncode'));
console.log(row('decode, StreamDecoder (event objects)', 'decodeEvents'));
console.log(row('decode, PacketViewDecoder (reads id/status/time)', 'decodeViews'));
console.log(row('decode, PacketViewDecoder (counts only)', 'decodeViewsCount'));
console.log(row('decode, python-subunit', 'pyDecode'));
console.log(row('CRC32 whole stream, JS slice-by-8 (ours)', 'crcJs'));
console.log(row('CRC32 per packet, JS slice-by-8 (ours)', 'crcJsPerPacket'));
console.log(row('CRC32 whole stream, zlib.crc32', 'crcNative'));
console.log(row('CRC32 per packet, zlib.crc32', 'crcNativePerPacket'));
console.log('ratios below: wall / CPU time');
console.log(`encode vs python-subunit (target >= 20x): encodeBatch ${x('pyEncode', 'batch')}, encode() per packet ${x('pyEncode', 'encode')}`);
console.log(`decode vs python-subunit (target >= 20x): StreamDecoder ${x('pyDecode', 'decodeEvents')}, PacketViewDecoder reading fields ${x('pyDecode', 'decodeViews')}, counting ${x('pyDecode', 'decodeViewsCount')}`);
for (const [name, key] of [['StreamDecoder', 'decodeEvents'], ['PacketViewDecoder reading fields', 'decodeViews'], ['PacketViewDecoder counting', 'decodeViewsCount']]) {
  // Also the median of the per-round wall ratios: each round ran the decoders and the CRC passes back to back.
  const perRound = median(times[key].map((t, i) => t.wall / times.crcJs[i].wall));
  console.log(`decode / CRC32 pass (target <= 3x), ${name}: ${x(key, 'crcJs')} the JS CRC32 over the whole stream (per-round wall median ${perRound.toFixed(1)}x), ${x(key, 'crcJsPerPacket')} the same per packet, ${x(key, 'crcNative')} zlib.crc32 in one call`);
}
if (sink === 0.5 || viewHandler.sum === 0.5) console.log(sink);
