// Issue 5 (a): a Debian-packaged Python suite (testtools' own tests, with testtools'
// upstream .testr.conf) under `testr run --parallel` (the anchor) and under subrun's
// legacy orchestration (runLegacy), same machine, same run, alternating, medians.
// subrun writes its merged stream to disk as it arrives and partitions by the previous
// run's durations, as testr does with its repository.
// The batches policy (work stealing, one process per batch) is timed too.
// Run: npm run build && node bench/runner-legacy.js   (ROUNDS=5 CONCURRENCY=2 by default)
import { spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/src/runner/config/index.js';
import { runLegacy } from '../dist/src/runner/run-legacy.js';
import { timestampToMillis } from '../dist/src/subunit/event.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 2);
const env = { ...process.env, PYTHON: '/usr/bin/python3' };

function project() {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-legacy-'));
  copyFileSync(path.join(ROOT, 'test/runner/fixtures/testtools/.testr.conf'), path.join(dir, '.testr.conf'));
  return dir;
}

const testrDir = project();
const oursDir = project();
spawnSync('testr', ['init'], { cwd: testrDir, env, stdio: 'ignore' });

function timeTestr() {
  const start = performance.now();
  const r = spawnSync('testr', ['run', '--parallel', '--concurrency', String(CONCURRENCY)], { cwd: testrDir, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = performance.now() - start;
  const summary = /Ran (\d+) tests/.exec(r.stdout.toString())?.[1];
  return { ms, tests: Number(summary) };
}

let durations = new Map();
let run = 0;
async function timeOurs(policy = 'partitions') {
  const config = await loadConfig(oursDir);
  const out = createWriteStream(path.join(oursDir, `run-${run++}.subunit`));
  const started = new Map();
  const next = new Map();
  const finished = new Set();
  const start = performance.now();
  await runLegacy(config, {
    cwd: oursDir,
    env,
    concurrency: CONCURRENCY,
    policy,
    durations,
    onPacket: (e, raw) => {
      out.write(raw);
      if (e.testId === undefined || e.timestamp === undefined) return;
      if (e.status === 'inprogress') started.set(e.testId, timestampToMillis(e.timestamp));
      else if (e.status !== 'exists' && e.status !== 'undefined') {
        finished.add(e.testId);
        const s = started.get(e.testId);
        if (s !== undefined) next.set(e.testId, (timestampToMillis(e.timestamp) - s) / 1000);
      }
    },
  });
  await new Promise((resolve) => out.end(resolve));
  const ms = performance.now() - start;
  durations = next;
  return { ms, tests: finished.size };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

try {
  // Warm-up: page cache, .pyc files, and a first run to record durations for both.
  timeTestr();
  await timeOurs();
  const theirs = [];
  const ours = [];
  const batches = [];
  let counts;
  for (let i = 0; i < ROUNDS; i++) {
    const a = timeTestr();
    const b = await timeOurs();
    const c = await timeOurs('batches');
    theirs.push(a.ms);
    ours.push(b.ms);
    batches.push(c.ms);
    counts = `${a.tests} tests (testr) / ${b.tests} tests (subrun)`;
  }
  const mt = median(theirs);
  const mo = median(ours);
  console.log(`testtools.tests.test_suite, --parallel ${CONCURRENCY}, ${ROUNDS} rounds, ${counts}`);
  console.log(`testr run --parallel   median ${(mt / 1000).toFixed(2)} s  [${theirs.map((x) => (x / 1000).toFixed(2)).join(' ')}]`);
  console.log(`subrun legacy runLegacy median ${(mo / 1000).toFixed(2)} s  [${ours.map((x) => (x / 1000).toFixed(2)).join(' ')}]`);
  const mb = median(batches);
  console.log(`subrun legacy, batches median ${(mb / 1000).toFixed(2)} s  [${batches.map((x) => (x / 1000).toFixed(2)).join(' ')}]  (work-stealing queue, one process per batch)`);
  console.log(`ratio testr / subrun: ${(mt / mo).toFixed(2)}x (partitions), ${(mt / mb).toFixed(2)}x (batches) (above 1: subrun is faster)`);
} finally {
  rmSync(testrDir, { recursive: true, force: true });
  rmSync(oursDir, { recursive: true, force: true });
}
