// History ingest: `subrun load FILE` vs `testr load < FILE` on the same stream, in
// the same run, each into a fresh repository. End to end (process start included),
// as a user meets it. Prints medians and the ratio.
//   node bench/history.js [tests=5000] [rounds=5]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PacketEncoder } from '../dist/src/subunit/encoder.js';
import { timestampFromMillis } from '../dist/src/subunit/event.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'subrun.js');
const tests = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 5);

function makeStream(n) {
  const enc = new PacketEncoder();
  const parts = [];
  let at = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const id = `pkg.module${i % 50}.TestCase${i % 7}.test_${i}`;
    const tags = [`worker-${i % 4}`];
    parts.push(enc.encode({ testId: id, status: 'inprogress', timestamp: timestampFromMillis(at), tags }));
    at += 1 + (i % 13);
    const failed = i % 20 === 0;
    if (failed) {
      parts.push(
        enc.encode({
          testId: id,
          timestamp: timestampFromMillis(at),
          fileName: 'traceback',
          mimeType: 'text/x-traceback; charset="utf8"; language="python"',
          fileBytes: Buffer.from(`Traceback (most recent call last):\n  File "x.py", line ${i}\nAssertionError: ${i}\n`),
          eof: true,
        }),
      );
    }
    parts.push(enc.encode({ testId: id, status: failed ? 'fail' : i % 31 === 0 ? 'skip' : 'success', timestamp: timestampFromMillis(at), tags }));
  }
  return Buffer.concat(parts);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(cmd, args, opts) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { ...opts, maxBuffer: 256 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw r.error;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const work = mkdtempSync(path.join(tmpdir(), 'subrun-bench-history-'));
try {
  const stream = makeStream(tests);
  const file = path.join(work, 'stream.subunit');
  writeFileSync(file, stream);
  const ours = [];
  const theirs = [];
  for (let round = 0; round < rounds; round++) {
    const a = path.join(work, `subrun-${round}`);
    mkdirSync(a);
    ours.push(timed(process.execPath, [BIN, 'load', file, '--repo', path.join(a, '.subrun')], { cwd: a }));
    const b = path.join(work, `testr-${round}`);
    mkdirSync(b);
    writeFileSync(path.join(b, '.testr.conf'), '[DEFAULT]\ntest_command=true\n');
    spawnSync('/usr/bin/testr', ['init'], { cwd: b });
    theirs.push(timed('/usr/bin/testr', ['load'], { cwd: b, input: stream }));
  }
  const m = median(ours);
  const n = median(theirs);
  console.log(`history ingest: ${tests} tests, ${(stream.length / 1e6).toFixed(2)} MB, ${rounds} rounds (medians)`);
  console.log(`  subrun load: ${m.toFixed(0)} ms  (${Math.round(tests / (m / 1000))} tests/s)`);
  console.log(`  testr load:  ${n.toFixed(0)} ms  (${Math.round(tests / (n / 1000))} tests/s)`);
  console.log(`  ratio testr/subrun: ${(n / m).toFixed(2)}x`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
