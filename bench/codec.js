// Benchmark of the subunit v2 codec (BENCHMARKS.md "Codec"): encode and decode the
// same 200,000-packet stream (100,000 tests, inprogress + success, timestamps),
// ours and python-subunit's in the same run, and decode against a bare CRC32 pass.
//
// The run is made of rounds. In each round python-subunit (a child process,
// bench/codec_python.py) encodes once, then we encode --runs times; python decodes
// once, then our decoders and the CRC passes run --runs times, interleaved; last,
// encode() per packet. Every ratio is taken within a round (python's run against
// the median of ours in the same round; a decoder against the CRC passes of the
// same round) and the report gives the median and the range of the per-round
// ratios: on a shared machine the speed of both sides drifts over seconds, so
// only figures taken close together compare.
//
// Decoding is timed through both APIs: StreamDecoder (a SubunitEvent object per
// packet, the handler only counts) and PacketViewDecoder (one reused view; its
// handler reads each packet's test id, status and timestamp, as a consumer
// would; a second row only counts).
//
//   npm run build && node bench/codec.js [--tests 100000] [--rounds 7] [--runs 5]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
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
const ROUNDS = arg('rounds', 7);
const RUNS = arg('runs', 5);
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
const first = encoder.encodeBatch(evs);
const stream = Buffer.from(first.buffer, first.byteOffset, first.length);

// python-subunit, started once: it builds its events and reads our stream, then runs one phase per command.
const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-codec-'));
const file = path.join(dir, 'stream.bin');
writeFileSync(file, stream);
const py = spawn('/usr/bin/python3', ['-B', path.join(here, 'codec_python.py'), String(TESTS), file], { stdio: ['pipe', 'pipe', 'inherit'] });
const pyLines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
const python = async (command) => {
  py.stdin.write(`${command}\n`);
  const { value, done } = await pyLines.next();
  if (done) throw new Error(`python-subunit anchor exited during "${command}"`);
  return JSON.parse(value);
};

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
const decodeCases = {
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

/** runs[phase][round] = that round's {wall, cpu} runs. */
const runs = Object.fromEntries([...Object.keys(decodeCases), 'batch', 'encode', 'pyEncode', 'pyDecode'].map((k) => [k, []]));
let sameBytes = true;
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const list of Object.values(runs)) list.push([]);
    const pe = await python('encode');
    sameBytes &&= pe.same_bytes;
    runs.pyEncode[r].push(pe);
    for (let k = 0; k < RUNS; k++) {
      let batch;
      runs.batch[r].push(time(() => (batch = encoder.encodeBatch(evs))));
      if (k === 0 && !Buffer.from(batch.buffer, batch.byteOffset, batch.length).equals(stream)) throw new Error('encodeBatch wrote other bytes');
    }
    runs.pyDecode[r].push(await python('decode'));
    for (let k = 0; k < RUNS; k++) {
      for (const [name, fn] of Object.entries(decodeCases)) {
        decoded = 0;
        runs[name][r].push(time(fn));
        if (name.startsWith('decode') && decoded !== evs.length) throw new Error(`${name}: decoded ${decoded} packets, expected ${evs.length}`);
      }
    }
    // Last in the round: it keeps 200,000 packets per run, and no other figure should be charged for their collection.
    for (let k = 0; k < RUNS; k++) {
      const packets = new Array(evs.length);
      runs.encode[r].push(time(() => {
        for (let i = 0; i < evs.length; i++) packets[i] = encoder.encode(evs[i]);
      }));
      if (k === 0 && !Buffer.concat(packets).equals(stream)) throw new Error('encode() per packet differs from encodeBatch');
    }
  }
} finally {
  py.stdin.end();
  rmSync(dir, { recursive: true, force: true });
}

const n = evs.length;
const mb = stream.length / 1e6;
/** Median over every run of a phase, all rounds together. */
const overall = (key, f) => median(runs[key].flat().map((t) => t[f]));
/** A phase's median within each round. */
const perRound = (key, f) => runs[key].map((round) => median(round.map((t) => t[f])));
/** "median (min-max)" over the rounds of a / b, each ratio taken within one round. */
const ratio = (a, b, f) => {
  const ra = perRound(a, f);
  const rb = perRound(b, f);
  const xs = ra.map((v, i) => v / rb[i]);
  return { med: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
};
const show = ({ med, min, max }) => `${med.toFixed(1)}x (${min.toFixed(1)}-${max.toFixed(1)})`;
const both = (a, b) => `${show(ratio(a, b, 'wall'))} wall, ${show(ratio(a, b, 'cpu'))} CPU`;
const row = (name, key) => {
  const wall = overall(key, 'wall');
  const cpu = overall(key, 'cpu');
  return `${name.padEnd(50)} ${(wall * 1000).toFixed(1).padStart(8)} ms ${(cpu * 1000).toFixed(1).padStart(8)} ms ${(n / wall / 1e6).toFixed(2).padStart(7)} ${(mb / wall).toFixed(1).padStart(8)}`;
};
console.log(`subunit v2 codec: ${n} packets (${TESTS} tests, inprogress + success, timestamps), ${stream.length} bytes; ${ROUNDS} rounds of ${RUNS} runs of ours and 1 of python-subunit`);
console.log(`python-subunit writes the identical bytes: ${sameBytes}`);
console.log(`medians over all runs${''.padEnd(28)} ${'wall'.padStart(11)} ${'CPU'.padStart(11)} ${'Mpkt/s'.padStart(7)} ${'MB/s'.padStart(8)}  (rates from wall time)`);
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
console.log('ratios: median over the rounds of the ratio within each round (lowest-highest round)');
console.log(`encode vs python-subunit (target >= 20x): encodeBatch ${both('pyEncode', 'batch')}; encode() per packet ${both('pyEncode', 'encode')}`);
for (const [name, key] of [['StreamDecoder', 'decodeEvents'], ['PacketViewDecoder reading fields', 'decodeViews'], ['PacketViewDecoder counting', 'decodeViewsCount']]) {
  console.log(`decode vs python-subunit (target >= 20x), ${name}: ${both('pyDecode', key)}`);
}
for (const [name, key] of [['StreamDecoder', 'decodeEvents'], ['PacketViewDecoder reading fields', 'decodeViews'], ['PacketViewDecoder counting', 'decodeViewsCount']]) {
  console.log(`decode / CRC32 pass (target <= 3x), ${name}: ${both(key, 'crcJs')} the JS CRC32 over the whole stream; ${show(ratio(key, 'crcJsPerPacket', 'cpu'))} CPU the same per packet; ${show(ratio(key, 'crcNative', 'cpu'))} CPU zlib.crc32 in one call`);
}
if (sink === 0.5 || viewHandler.sum === 0.5) console.log(sink);
