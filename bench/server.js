// bench/server (issue 4): 10,000 trivial tests in 100 files.
//  (a) list and run all through one warm `subrun serve` process, driven over stdio by the
//      runner-side ClientConnection — against `node --test` and mocha on the same tests;
//  (b) re-run one test on the warm server — against a cold `node --test` of that one file;
//  (c) the server's RSS after 50 more full runs against its RSS right after the first full
//      run (sampled from /proc/PID/status, the real `subrun serve` process); once as
//      started above (the server in its server thread), once with `--no-server-thread`
//      (the server on the main thread, as before), each going through the same runs.
// All in the same run; medians. Run: `npm run build && node bench/server.js`
// (BENCH_FILES, BENCH_TESTS, BENCH_REPEAT, BENCH_ANCHOR_REPEAT, BENCH_MEMORY_RUNS to scale).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ClientConnection } from '../dist/src/rpc/client.js';
import { spawnTransport } from '../dist/src/transport/index.js';

const FILES = Number(process.env.BENCH_FILES ?? 100);
const TESTS = Number(process.env.BENCH_TESTS ?? 100);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const ANCHOR_REPEAT = Number(process.env.BENCH_ANCHOR_REPEAT ?? 3);
const MEMORY_RUNS = Number(process.env.BENCH_MEMORY_RUNS ?? 50);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'subrun.js');
const API = pathToFileURL(path.join(ROOT, 'dist/src/testing/index.js')).href;
const MOCHA = path.join(ROOT, 'node_modules', '.bin', 'mocha');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

function generate(dir) {
  for (const sub of ['ours', 'node', 'mocha']) mkdirSync(path.join(dir, sub));
  for (let f = 0; f < FILES; f++) {
    let body = '';
    for (let i = 0; i < TESTS; i++) body += `test('adds ${i}', () => { assert.equal(${i} + 1, ${i + 1}); });\n`;
    const name = `file${String(f).padStart(3, '0')}.test.js`;
    writeFileSync(path.join(dir, 'ours', name), `import assert from 'node:assert/strict';\nimport { test } from ${JSON.stringify(API)};\n${body}`);
    writeFileSync(path.join(dir, 'node', name), `import assert from 'node:assert/strict';\nimport { test } from 'node:test';\n${body}`);
    // mocha's BDD interface: `it` in place of `test`.
    writeFileSync(path.join(dir, 'mocha', name.replace('.test.js', '.spec.mjs')), `import assert from 'node:assert/strict';\nconst test = it;\n${body}`);
  }
}

function timeCommand(cmd, args, options) {
  const t0 = performance.now();
  try {
    execFileSync(cmd, args, { stdio: 'ignore', ...options });
  } catch (error) {
    if (error.status === undefined) throw error;
  }
  return performance.now() - t0;
}

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** Part (c) alone for a server started with `serveArgs`: the same List, full runs and one-test runs as above. */
async function memoryOnly(serveArgs, total, one) {
  const transport = await spawnTransport([process.execPath, BIN, 'serve', ...serveArgs, '--root', path.join(dir, 'ours')], { protocolFd: true });
  try {
    const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 120_000 });
    let first = 0;
    for (let i = 0; i < REPEAT + 1; i++) {
      await client.list();
      const done = await client.run({}).done;
      if (done.ran !== total) throw new Error(`ran ${done.ran}, expected ${total}`);
      if (i === 0) first = rssOf(transport.pid);
    }
    for (let i = 0; i < 200; i++) await client.run({ tests: [one] }).done;
    const warm = rssOf(transport.pid);
    for (let i = 0; i < MEMORY_RUNS; i++) await client.run({}).done;
    const last = rssOf(transport.pid);
    await client.goodbye();
    return { first, warm, last };
  } finally {
    await transport.close();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-bench-server-'));
try {
  generate(dir);
  const total = FILES * TESTS;
  const transport = await spawnTransport([process.execPath, BIN, 'serve', '--root', path.join(dir, 'ours')], { protocolFd: true });
  const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 120_000 });
  let counts = { success: 0, other: 0 };
  const onResult = (e) => {
    if (e.status === 'success') counts.success++;
    else if (e.status !== undefined && e.status !== 'inprogress') counts.other++;
  };

  // Cold: the first List loads every file in a fresh worker.
  let t0 = performance.now();
  const listed = await client.list();
  const coldListMs = performance.now() - t0;
  if (listed.tests.length !== total) throw new Error(`listed ${listed.tests.length}, expected ${total}`);

  const fullMs = [];
  let rssFirst = 0;
  for (let i = 0; i < REPEAT + 1; i++) {
    counts = { success: 0, other: 0 };
    t0 = performance.now();
    await client.list();
    await client.run({ onResult }).done;
    fullMs.push(performance.now() - t0);
    if (i === 0) rssFirst = rssOf(transport.pid);
    if (counts.success !== total || counts.other !== 0) throw new Error(`run ${i}: ${JSON.stringify(counts)}`);
  }
  fullMs.shift(); // the first full run warms the JIT
  const one = listed.tests[Math.floor(total / 2)];
  const oneMs = [];
  for (let i = 0; i < 200; i++) {
    t0 = performance.now();
    await client.run({ tests: [one] }).done;
    oneMs.push(performance.now() - t0);
  }

  const rssWarm = rssOf(transport.pid);
  for (let i = 0; i < MEMORY_RUNS; i++) await client.run({}).done;
  const rssLast = rssOf(transport.pid);
  await client.goodbye();
  await transport.close();
  const mainThread = await memoryOnly(['--no-server-thread'], total, listed.tests[Math.floor(total / 2)]);

  const nodeFull = [];
  const nodeOne = [];
  const mochaFull = [];
  for (let i = 0; i < ANCHOR_REPEAT; i++) {
    nodeFull.push(timeCommand(process.execPath, ['--test', '--test-reporter=dot', path.join(dir, 'node')], { cwd: dir }));
    nodeOne.push(timeCommand(process.execPath, ['--test', '--test-reporter=dot', path.join(dir, 'node', 'file050.test.js')], { cwd: dir }));
    mochaFull.push(timeCommand(MOCHA, ['--reporter', 'dot', path.join(dir, 'mocha', '*.spec.mjs')], { cwd: dir }));
  }

  const full = median(fullMs);
  console.log(`bench/server: ${total} trivial tests in ${FILES} files (node ${process.version})`);
  console.log(`cold first List through subrun serve (worker start + import of every file): ${ms(coldListMs)}`);
  console.log('');
  console.log('(a) list + run all                     median');
  console.log(`    subrun serve (warm, over stdio)     ${ms(full).padStart(10)}`);
  console.log(`    node --test                         ${ms(median(nodeFull)).padStart(10)}   ${(median(nodeFull) / full).toFixed(1)}× slower than subrun`);
  console.log(`    mocha                               ${ms(median(mochaFull)).padStart(10)}   ${(median(mochaFull) / full).toFixed(1)}× slower than subrun`);
  console.log('(b) re-run one test');
  console.log(`    subrun serve (warm), p50 of 200     ${ms(median(oneMs)).padStart(10)}`);
  console.log(`    node --test of that one file (cold) ${ms(median(nodeOne)).padStart(10)}   ${(median(nodeOne) / median(oneMs)).toFixed(0)}× slower than subrun`);
  const mib = (x) => `${(x / 2 ** 20).toFixed(1)} MiB`;
  const growth = (x) => `${x >= rssFirst ? '+' : ''}${(((x - rssFirst) / rssFirst) * 100).toFixed(1)}%`;
  console.log('(c) subrun serve RSS');
  console.log(`    after full run 1                    ${mib(rssFirst).padStart(10)}`);
  console.log(`    after the ${REPEAT + 1} timed runs + 200 one-test runs ${mib(rssWarm)} (${growth(rssWarm)})`);
  console.log(`    after ${MEMORY_RUNS} more full runs             ${mib(rssLast).padStart(10)}   ${growth(rssLast)} over run 1`);
  const growthOf = (x, base) => `${x >= base ? '+' : ''}${(((x - base) / base) * 100).toFixed(1)}%`;
  console.log('(c) the same, `subrun serve --no-server-thread` (the server on the main thread, as before)');
  console.log(`    after full run 1                    ${mib(mainThread.first).padStart(10)}`);
  console.log(`    after the same warm-up runs         ${mib(mainThread.warm).padStart(10)}   ${growthOf(mainThread.warm, mainThread.first)}`);
  console.log(`    after ${MEMORY_RUNS} more full runs             ${mib(mainThread.last).padStart(10)}   ${growthOf(mainThread.last, mainThread.first)} over run 1`);
  console.log('');
  console.log('targets: (a) >= 20× node --test and faster than mocha; (b) <= 5 ms and >= 30× a cold node --test; (c) within 10%');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
