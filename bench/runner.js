// Issue 5 (b) and (c); (a) is bench/runner-legacy.js, (d) bench/scheduler.js.
// (c) a 10,000-test JavaScript suite in 100 files: `subrun run -j 2` (two warm `subrun serve`
//     servers, history written, summary printed) against `node --test` on node:test versions
//     of the same files; whole command lines, wall time, medians, alternating.
// (b) re-running the failing tests of the Debian-packaged Python suite (testtools' own tests,
//     its upstream .testr.conf): `testr run --failing` against `subrun run --failing` (legacy
//     mode). Both repositories are seeded before every round with the same stream that marks
//     20 real tests failed (`load`), so each round re-runs exactly those 20.
// (b) also times the CLI's start: `--version`, `--help` and `failing --list` on the seeded
//     repository, against `testr failing --list` and a bare `node -e 0` (the floor).
// Run: npm run build && node bench/runner.js   (ROUNDS=3 by default; PART=b or PART=c for one;
// BEFORE_BIN=path/to/an/older/bin/subrun.js adds that build's figures to (b), same run)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePacket } from '../dist/src/subunit/encoder.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'subrun.js');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PART = process.env.PART;
const BEFORE_BIN = process.env.BEFORE_BIN;
const STARTUP_ROUNDS = Number(process.env.STARTUP_ROUNDS ?? 10);
const env = { ...process.env, PYTHON: '/usr/bin/python3' };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (xs) => `median ${(median(xs) / 1000).toFixed(2)} s  [${xs.map((x) => (x / 1000).toFixed(2)).join(' ')}]`;

function timed(cmd, args, cwd) {
  const start = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  return { ms: performance.now() - start, stdout: r.stdout.toString(), stderr: r.stderr.toString(), status: r.status };
}

function benchJs() {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-run-'));
  try {
    const api = JSON.stringify(path.join(ROOT, 'dist', 'src', 'testing', 'index.js'));
    mkdirSync(path.join(dir, 'ours'));
    mkdirSync(path.join(dir, 'node'));
    for (let f = 0; f < 100; f++) {
      const body = Array.from({ length: 100 }, (_, i) => `test('t${i}', () => { assert.equal(${i} + 1, ${i + 1}); });`).join('\n');
      writeFileSync(path.join(dir, 'ours', `f${f}.test.js`), `import { test } from ${api};\nimport assert from 'node:assert/strict';\n${body}\n`);
      writeFileSync(path.join(dir, 'node', `f${f}.test.mjs`), `import { test } from 'node:test';\nimport assert from 'node:assert/strict';\n${body}\n`);
    }
    writeFileSync(path.join(dir, 'ours', 'subrun.config.json'), JSON.stringify({ testServerCommand: `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve '*.test.js'`, concurrency: 2 }));
    const files = Array.from({ length: 100 }, (_, f) => `f${f}.test.mjs`);
    // Warm-up (page cache) and a first run that records durations for the plan.
    timed(process.execPath, [BIN, 'run', '-j', '2'], path.join(dir, 'ours'));
    timed(process.execPath, ['--test', ...files], path.join(dir, 'node'));
    const ours = [];
    const theirs = [];
    let counts = '';
    for (let i = 0; i < ROUNDS; i++) {
      const a = timed(process.execPath, ['--test', ...files], path.join(dir, 'node'));
      const b = timed(process.execPath, [BIN, 'run', '-j', '2'], path.join(dir, 'ours'));
      if (b.status !== 0) throw new Error(`subrun run failed: ${b.stderr}${b.stdout.slice(-500)}`);
      theirs.push(a.ms);
      ours.push(b.ms);
      counts = `${/# pass (\d+)/.exec(a.stdout)?.[1]} passed (node --test) / ${/Ran (\d+) tests/.exec(b.stdout)?.[1]} (subrun)`;
    }
    console.log(`(c) 10,000 tests in 100 files, ${ROUNDS} rounds, ${counts}`);
    console.log(`node --test (100 files)       ${fmt(theirs)}`);
    console.log(`subrun run -j 2 (2 servers)   ${fmt(ours)}`);
    console.log(`ratio node --test / subrun: ${(median(theirs) / median(ours)).toFixed(2)}x (above 1: subrun is faster)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function benchFailing() {
  const conf = path.join(ROOT, 'test/runner/fixtures/testtools/.testr.conf');
  const testrDir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-failing-testr-'));
  const oursDir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-failing-ours-'));
  try {
    copyFileSync(conf, path.join(testrDir, '.testr.conf'));
    copyFileSync(conf, path.join(oursDir, '.testr.conf'));
    spawnSync('testr', ['init'], { cwd: testrDir, env, stdio: 'ignore' });
    // A full run each, so both know the suite and its durations.
    timed('testr', ['run', '--parallel', '--concurrency', '2'], testrDir);
    timed(process.execPath, [BIN, 'run', '--parallel', '2'], oursDir);
    const list = timed(process.execPath, [BIN, 'list'], oursDir).stdout.split('\n').filter((l) => l !== '');
    const chosen = list.filter((_, i) => i % Math.floor(list.length / 20) === 0).slice(0, 20);
    const now = Date.now();
    const ts = (ms) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
    const seed = Buffer.concat(
      chosen.flatMap((id) => [encodePacket({ testId: id, status: 'inprogress', timestamp: ts(now) }), encodePacket({ testId: id, status: 'fail', timestamp: ts(now + 1) })]).map((b) => Buffer.from(b)),
    );
    const seedFile = path.join(testrDir, 'seed.subunit');
    writeFileSync(seedFile, seed);
    const seedOurs = () => spawnSync(process.execPath, [BIN, 'load', '--partial', seedFile], { cwd: oursDir, env, stdio: 'ignore' });
    const theirs = [];
    const ours = [];
    const before = [];
    let counts = '';
    for (let i = 0; i <= ROUNDS; i++) {
      spawnSync('testr', ['load', '--partial', seedFile], { cwd: testrDir, env, stdio: 'ignore' });
      seedOurs();
      const a = timed('testr', ['run', '--failing'], testrDir);
      const b = timed(process.execPath, [BIN, 'run', '--failing'], oursDir);
      let c;
      if (BEFORE_BIN !== undefined) {
        seedOurs();
        c = timed(process.execPath, [BEFORE_BIN, 'run', '--failing'], oursDir);
      }
      if (i === 0) continue; // warm-up
      theirs.push(a.ms);
      ours.push(b.ms);
      if (c !== undefined) before.push(c.ms);
      counts = `${/Ran (\d+) tests/.exec(a.stdout)?.[1]} tests (testr) / ${/Ran (\d+) tests/.exec(b.stdout)?.[1]} tests (subrun)`;
    }
    console.log(`(b) testtools.tests.test_suite, re-running 20 failing tests, ${ROUNDS} rounds, ${counts}`);
    console.log(`testr run --failing    ${fmt(theirs)}`);
    console.log(`subrun run --failing   ${fmt(ours)}`);
    if (BEFORE_BIN !== undefined) console.log(`subrun run --failing, BEFORE_BIN build   ${fmt(before)}`);
    console.log(`ratio testr / subrun: ${(median(theirs) / median(ours)).toFixed(2)}x (above 1: subrun is faster)`);
    if (BEFORE_BIN !== undefined) console.log(`ratio testr / BEFORE_BIN build: ${(median(theirs) / median(before)).toFixed(2)}x`);

    // The CLI's own start, with the 20 failures loaded again in both repositories.
    spawnSync('testr', ['load', '--partial', seedFile], { cwd: testrDir, env, stdio: 'ignore' });
    seedOurs();
    const rows = [
      ['node -e 0 (the floor)', () => timed(process.execPath, ['-e', '0'], oursDir)],
      ['testr failing --list', () => timed('testr', ['failing', '--list'], testrDir)],
    ];
    for (const args of [['--version'], ['--help'], ['failing', '--list']]) {
      rows.push([`subrun ${args.join(' ')}`, () => timed(process.execPath, [BIN, ...args], oursDir)]);
      if (BEFORE_BIN !== undefined) rows.push([`  BEFORE_BIN build`, () => timed(process.execPath, [BEFORE_BIN, ...args], oursDir)]);
    }
    const times = rows.map(() => []);
    for (let i = 0; i <= STARTUP_ROUNDS; i++) {
      rows.forEach(([, run], j) => {
        const { ms } = run();
        if (i > 0) times[j].push(ms);
      });
    }
    console.log(`(b) start of the CLI, ${STARTUP_ROUNDS} rounds, alternating, medians`);
    rows.forEach(([label], j) => console.log(`${label.padEnd(30)} ${(median(times[j])).toFixed(0).padStart(5)} ms`));
  } finally {
    rmSync(testrDir, { recursive: true, force: true });
    rmSync(oursDir, { recursive: true, force: true });
  }
}

if (PART === undefined || PART === 'b') benchFailing();
if (PART === undefined || PART === 'c') benchJs();
