// Test execution: 10,000 trivial tests in 100 files, through one warm in-process
// TestApiSuite (worker thread) versus `node --test` on node:test versions of the
// same files, in the same run. Also: re-running one test on the warm worker versus
// a cold `node --test` of that one file. Medians; run: `npm run build && node bench/suite.js`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TestApiSuite } from '../dist/src/server/test-api/test-api-suite.js';

const FILES = Number(process.env.BENCH_FILES ?? 100);
const TESTS = Number(process.env.BENCH_TESTS ?? 100);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const ANCHOR_REPEAT = Number(process.env.BENCH_ANCHOR_REPEAT ?? 3);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const API = pathToFileURL(path.join(ROOT, 'dist/src/testing/index.js')).href;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function generate(dir) {
  const ours = [];
  const theirs = [];
  mkdirSync(path.join(dir, 'ours'));
  mkdirSync(path.join(dir, 'node'));
  for (let f = 0; f < FILES; f++) {
    let body = '';
    for (let i = 0; i < TESTS; i++) body += `test('adds ${i}', () => { assert.equal(${i} + 1, ${i + 1}); });\n`;
    const name = `file${String(f).padStart(3, '0')}.test.js`;
    writeFileSync(path.join(dir, 'ours', name), `import assert from 'node:assert/strict';\nimport { test } from ${JSON.stringify(API)};\n${body}`);
    writeFileSync(path.join(dir, 'node', name), `import assert from 'node:assert/strict';\nimport { test } from 'node:test';\n${body}`);
    ours.push(path.join('ours', name));
    theirs.push(path.join(dir, 'node', name));
  }
  return { ours, theirs };
}

class CountingSink {
  exists = 0;
  success = 0;
  other = 0;
  emit(e) {
    if (e.status === 'exists') this.exists++;
    else if (e.status === 'success') this.success++;
    else if (e.status !== 'inprogress') this.other++;
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-suite-'));
try {
  const { ours, theirs } = generate(dir);
  const total = FILES * TESTS;

  const coldStart = performance.now();
  const suite = new TestApiSuite({ root: dir, files: ours });
  await suite.list(new CountingSink());
  const coldMs = performance.now() - coldStart;

  const fullMs = [];
  for (let i = 0; i < REPEAT + 1; i++) {
    const sink = new CountingSink();
    const t0 = performance.now();
    await suite.list(sink);
    await suite.run({}, sink);
    const ms = performance.now() - t0;
    if (sink.exists !== total || sink.success !== total || sink.other !== 0) throw new Error(`unexpected counts ${JSON.stringify(sink)}`);
    if (i > 0) fullMs.push(ms);
  }
  // Memory: RSS (main thread + worker) after the first full run versus after 50.
  const rssAfterFirst = process.memoryUsage.rss();
  for (let i = 0; i < 50; i++) await suite.run({}, new CountingSink());
  const rssAfter50 = process.memoryUsage.rss();
  const oneId = 'ours/file050.test.js > adds 50';
  const oneMs = [];
  for (let i = 0; i < REPEAT * 10 + 1; i++) {
    const sink = new CountingSink();
    const t0 = performance.now();
    await suite.run({ tests: [oneId] }, sink);
    const ms = performance.now() - t0;
    if (sink.success !== 1) throw new Error('one test did not pass');
    if (i > 0) oneMs.push(ms);
  }
  await suite.close();

  const nodeAll = [];
  for (let i = 0; i < ANCHOR_REPEAT; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['--test', '--test-reporter=dot', ...theirs], { stdio: 'ignore' });
    nodeAll.push(performance.now() - t0);
  }
  const nodeOne = [];
  for (let i = 0; i < ANCHOR_REPEAT * 2; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['--test', '--test-reporter=dot', theirs[50]], { stdio: 'ignore' });
    nodeOne.push(performance.now() - t0);
  }

  const f = (ms) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  console.log(`test execution: ${total} trivial tests in ${FILES} files (medians; ${REPEAT} warm runs, ${ANCHOR_REPEAT} anchor runs)`);
  console.log(`  cold start (worker + load ${FILES} files + list): ${f(coldMs)}`);
  console.log(`  (a) list + run all, warm worker: subrun ${f(median(fullMs))}   node --test ${f(median(nodeAll))}   ratio ${(median(nodeAll) / median(fullMs)).toFixed(1)}x faster`);
  console.log(`  memory: RSS after the first full run ${(rssAfterFirst / 2 ** 20).toFixed(0)} MiB, after ${50} more ${(rssAfter50 / 2 ** 20).toFixed(0)} MiB (${(((rssAfter50 - rssAfterFirst) / rssAfterFirst) * 100).toFixed(1)}%)`);
  console.log(`  (b) re-run one test, warm worker: subrun ${f(median(oneMs))}   node --test one file ${f(median(nodeOne))}   ratio ${(median(nodeOne) / median(oneMs)).toFixed(0)}x faster`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
