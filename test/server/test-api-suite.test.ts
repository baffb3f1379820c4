import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_WORKER_YOUNG_GENERATION_MB, TestApiSuite, type TestApiSuiteOptions } from '../../src/server/test-api/test-api-suite.js';
import { TEXT_MIME } from '../../src/server/suite.js';
import { ROOT } from '../helpers/paths.js';
import { RecordingSink } from '../helpers/recording-sink.js';

const EXAMPLES = ['basics.test.js', 'hooks.test.js', 'typescript.test.ts', 'node-test-compat.test.js', 'timeouts.test.js', 'crashes.test.js'].map((f) => `examples/${f}`);
const FIXTURES = 'test/server/fixtures';
const API_URL = pathToFileURL(path.join(ROOT, 'dist/src/testing/index.js')).href;

interface Test {
  teardown(fn: () => unknown): void;
}

function suite(t: Test, options: Partial<TestApiSuiteOptions> & { files: string[] }): TestApiSuite {
  const s = new TestApiSuite({ root: ROOT, ...options });
  t.teardown(() => s.close());
  return s;
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-suite-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('list emits exists for every test in declaration order without running a body', async (t) => {
  const marker = path.join(tempDir(t), 'marker');
  process.env.SUBRUN_TEST_MARKER = marker;
  t.teardown(() => void delete process.env.SUBRUN_TEST_MARKER);
  const s = suite(t, { files: [...EXAMPLES, `${FIXTURES}/list-marker.test.js`] });
  const sink = new RecordingSink();
  const outcome = await s.list(sink);
  t.same(outcome, { unknown: [] });
  const ids = sink.events.map((e) => e.testId);
  t.ok(sink.events.every((e) => e.status === 'exists' && e.timestamp !== undefined), 'only timestamped exists events');
  t.equal(ids[0], 'examples/basics.test.js > adds numbers');
  t.ok(ids.includes('examples/hooks.test.js > a database > nested > sees outer and inner beforeEach'));
  t.ok(ids.includes('examples/typescript.test.ts > points > add'), 'TypeScript files list without a build step');
  t.ok(ids.includes('examples/node-test-compat.test.js > node:test describe > uses node:test mock'), 'node:test files list');
  t.equal(new Set(ids).size, ids.length, 'ids are unique');
  t.notOk(existsSync(marker), 'no test body ran');

  const filtered = new RecordingSink();
  const f = await s.list(filtered, ['examples/hooks.test.js > a broken fixture', 'no/such/file.js']);
  t.same(filtered.events.map((e) => e.testId), ['examples/hooks.test.js > a broken fixture > is failed by its before hook', 'examples/hooks.test.js > a broken fixture > is failed by its before hook too']);
  t.same(f.unknown, ['no/such/file.js']);
});

t.test('run reports every example the way the README says', async (t) => {
  const s = suite(t, { files: EXAMPLES });
  const sink = new RecordingSink();
  const outcome = await s.run({ resources: { port: 4100 } }, sink);
  const finals = sink.finals;
  t.equal(outcome.ran, Object.keys(finals).filter((id) => !id.includes('has subtests >')).length);
  t.same(outcome.unknown, []);
  const b = (name: string) => finals[`examples/basics.test.js > ${name}`];
  t.equal(b('adds numbers'), 'success');
  t.equal(b('compares objects (fails on purpose, with a diff)'), 'fail');
  t.equal(b('uses a done callback'), 'success');
  t.equal(b('skipped by option'), 'skip');
  t.equal(b('skips itself at run time'), 'skip');
  t.equal(b('todo that still fails'), 'xfail');
  t.equal(b('todo that already passes'), 'uxsuccess');
  t.equal(b('has subtests > first step'), 'success');
  t.equal(finals['examples/hooks.test.js > a broken fixture > is failed by its before hook'], 'fail');
  t.equal(finals['examples/hooks.test.js > a failing after hook > runs first'], 'success');
  t.equal(finals['examples/hooks.test.js > a failing after hook > is charged with the after hook'], 'fail');
  t.equal(finals['examples/typescript.test.ts > points > add'], 'success');
  t.equal(finals['examples/typescript.test.ts > points > reports a typed failure'], 'fail');
  t.equal(finals['examples/node-test-compat.test.js > node:test describe > uses node:test mock'], 'success');
  t.equal(finals['examples/timeouts.test.js > waits too long'], 'fail');
  t.equal(finals['examples/timeouts.test.js > runs after the timeout'], 'success');
  t.equal(finals['examples/crashes.test.js > throws from a timer (uncaught exception)'], 'fail');
  t.equal(finals['examples/crashes.test.js > rejects a promise nobody awaits (unhandled rejection)'], 'fail');
  t.equal(finals['examples/crashes.test.js > calls process.exit'], 'fail');
  t.equal(finals['examples/crashes.test.js > still runs after the crashes'], 'success', 'the suite keeps working after a crash');

  const rec = sink.byId;
  const diff = rec.get('examples/basics.test.js > compares objects (fails on purpose, with a diff)')!;
  t.same(diff.statuses, ['inprogress', 'fail'], 'inprogress, then the final status');
  t.match(diff.attachments.traceback, /basics\.test\.js:\d+/);
  t.match(diff.attachments.traceback, /expected: \{ name: 'subrun', tags: \[ 'fast', 'cold' \] \}/);
  t.match(diff.attachments.traceback, /actual: +\{ name: 'subrun', tags: \[ 'fast', 'warm' \] \}/);
  const printed = rec.get('examples/basics.test.js > prints to stdout and stderr')!;
  t.equal(printed.attachments.stdout, 'hello from console.log\na raw stdout write\n');
  t.equal(printed.attachments.stderr, 'and a warning on stderr\n');
  t.equal(rec.get('examples/basics.test.js > sees the granted resources')!.attachments.stdout, '{"port":4100}\n');
  t.equal(rec.get('examples/basics.test.js > writes a diagnostic')!.attachments.diagnostic, 'took the slow path\n');
  t.equal(rec.get('examples/basics.test.js > skipped by option')!.attachments.reason, 'needs a GPU');
  t.same(rec.get('examples/basics.test.js > is tagged')!.tags, ['smoke']);
  t.match(rec.get('examples/timeouts.test.js > waits too long')!.attachments.reason, /timed out after 100 ms/);
  t.match(rec.get('examples/crashes.test.js > throws from a timer (uncaught exception)')!.attachments.traceback, /thrown from a timer/);
  t.match(rec.get('examples/crashes.test.js > rejects a promise nobody awaits (unhandled rejection)')!.attachments.traceback, /nobody caught me/);
  t.match(rec.get('examples/crashes.test.js > calls process.exit')!.attachments.reason, /exited with code 7/);
  t.match(rec.get('examples/typescript.test.ts > points > reports a typed failure')!.attachments.traceback, /typescript\.test\.ts:19:/, 'source-mapped TypeScript line');
  const attachments = sink.events.filter((e) => e.fileName !== undefined);
  t.ok(attachments.every((e) => e.mimeType === TEXT_MIME && e.eof === true && e.testId !== undefined && e.timestamp !== undefined), 'attachments are complete text/plain files of a test');
  t.equal(sink.stray, '', 'nothing printed outside a test');
});

t.test('run executes only the requested ids and reports unknown ones', async (t) => {
  const s = suite(t, { files: EXAMPLES });
  const sink = new RecordingSink();
  const outcome = await s.run({ tests: ['examples/basics.test.js > adds numbers', 'examples/hooks.test.js > a database', 'examples/nope.test.js > missing'] }, sink);
  t.same(Object.keys(sink.finals), [
    'examples/basics.test.js > adds numbers',
    'examples/hooks.test.js > a database > starts with one row after beforeEach',
    'examples/hooks.test.js > a database > nested > sees outer and inner beforeEach',
  ]);
  t.same(outcome, { unknown: ['examples/nope.test.js > missing'], ran: 3 });
  t.ok(Object.values(sink.finals).every((s) => s === 'success'), 'a subset still runs the hooks it needs');
});

t.test('a busy loop is stopped by replacing the worker while the main thread stays responsive', async (t) => {
  const s = suite(t, { files: ['examples/hazards/busy-loop.test.js'], watchdogGraceMs: 100 });
  await s.list(new RecordingSink());
  // The window measured is the busy loop itself: from the run's start until the stuck test is reported.
  let last = performance.now();
  let worstGap = 0;
  let busy = true;
  const timer = setInterval(() => {
    const now = performance.now();
    if (busy) worstGap = Math.max(worstGap, now - last);
    last = now;
  }, 10);
  t.teardown(() => clearInterval(timer));
  const sink = new RecordingSink();
  const emit = sink.emit.bind(sink);
  sink.emit = (e) => {
    if (e.status === 'fail') busy = false;
    emit(e);
  };
  const listedDuringRun = new RecordingSink();
  const running = s.run({}, sink);
  await new Promise((r) => setTimeout(r, 150));
  const listStart = performance.now();
  await s.list(listedDuringRun);
  const listMs = performance.now() - listStart;
  await running;
  clearInterval(timer);
  t.same(sink.finals, { 'examples/hazards/busy-loop.test.js > spins forever': 'fail', 'examples/hazards/busy-loop.test.js > runs in a fresh worker afterwards': 'success' });
  t.match(sink.byId.get('examples/hazards/busy-loop.test.js > spins forever')!.attachments.reason, /timed out after 300 ms and did not yield/);
  t.ok(worstGap < 100, `a main-thread timer kept firing during the busy loop (worst gap ${worstGap.toFixed(1)} ms)`);
  t.equal(listedDuringRun.events.length, 2, 'List answered during the busy loop');
  t.ok(listMs < 100, `List answered in ${listMs.toFixed(1)} ms`);
  t.equal(s.stats.workerStarts, 2);
});

t.test('changed code is seen by the next run: the worker is recycled', async (t) => {
  const dir = tempDir(t);
  const helper = path.join(dir, 'value.js');
  const file = path.join(dir, 'fresh.test.js');
  writeFileSync(helper, 'export const value = 1;\n');
  writeFileSync(file, `import { test } from ${JSON.stringify(API_URL)};\nimport { value } from './value.js';\nimport assert from 'node:assert';\ntest('value is one', () => assert.equal(value, 1));\n`);
  const s = suite(t, { root: dir, files: ['fresh.test.js'] });
  const first = new RecordingSink();
  await s.run({}, first);
  t.same(first.finals, { 'fresh.test.js > value is one': 'success' }, { diag: Object.fromEntries(first.byId) });
  const again = new RecordingSink();
  await s.run({}, again);
  t.equal(s.stats.workerStarts, 1, 'an unchanged suite keeps its warm worker');

  writeFileSync(helper, 'export const value = 2;\n');
  const future = new Date(Date.now() + 5_000);
  utimesSync(helper, future, future);
  const second = new RecordingSink();
  await s.run({}, second);
  t.same(second.finals, { 'fresh.test.js > value is one': 'fail' }, 'an imported module that changed is reloaded', { diag: Object.fromEntries(second.byId) });
  t.equal(s.stats.workerStarts, 2);
  t.match(s.stats.lastRecycleReason, /value\.js changed/);

  writeFileSync(file, `import { test } from ${JSON.stringify(API_URL)};\ntest('renamed', () => {});\n`);
  utimesSync(file, future, new Date(Date.now() + 10_000));
  const listed = new RecordingSink();
  await s.list(listed);
  t.same(listed.events.map((e) => e.testId), ['fresh.test.js > renamed'], 'a changed test file is listed afresh', { diag: Object.fromEntries(listed.byId) });
});

t.test('recycling after N batches and above a heap threshold', async (t) => {
  const threadOf = (sink: RecordingSink) => sink.byId.get(`${FIXTURES}/worker-identity.test.js > prints its thread`)!.attachments.stdout;
  const s = suite(t, { files: [`${FIXTURES}/worker-identity.test.js`], recycleAfterBatches: 2 });
  const runs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const sink = new RecordingSink();
    await s.run({ tests: [`${FIXTURES}/worker-identity.test.js > prints its thread`] }, sink);
    runs.push(threadOf(sink)!);
  }
  t.equal(runs[0], runs[1], 'the first two batches share a worker');
  t.not(runs[2], runs[1], 'the third batch gets a new worker');
  t.match(s.stats.lastRecycleReason, /ran 2 batches/);

  const h = suite(t, { files: [`${FIXTURES}/worker-identity.test.js`], maxHeapBytes: 1024 * 1024 });
  await h.run({}, new RecordingSink());
  await h.run({}, new RecordingSink());
  t.equal(h.stats.workerStarts, 2);
  t.match(h.stats.lastRecycleReason, /heap reached/);
});

t.test('the worker gets a small young generation unless the caller sets one', async (t) => {
  const id = `${FIXTURES}/young-generation.test.js > reports its young generation`;
  const report = async (s: TestApiSuite) => {
    const sink = new RecordingSink();
    await s.run({}, sink);
    t.same(sink.finals, { [id]: 'success' });
    return JSON.parse(sink.byId.get(id)!.attachments.stdout!) as { limitMb: number; newSpaceBytes: number };
  };
  const small = await report(suite(t, { files: [`${FIXTURES}/young-generation.test.js`] }));
  t.equal(small.limitMb, DEFAULT_WORKER_YOUNG_GENERATION_MB);
  t.ok(small.newSpaceBytes <= 8 * 2 ** 20, `new space stays within two 4 MiB semi-spaces (${small.newSpaceBytes})`);
  const big = await report(suite(t, { files: [`${FIXTURES}/young-generation.test.js`], resourceLimits: { maxYoungGenerationSizeMb: 48, stackSizeMb: 4 } }));
  t.equal(big.limitMb, 48, 'a caller\'s own limit wins');
  t.ok(big.newSpaceBytes > 8 * 2 ** 20, `and V8 uses the room (${big.newSpaceBytes})`);
});

t.test('files that fail to load, duplicates, and a worker that never finishes loading', async (t) => {
  const s = suite(t, { files: [`${FIXTURES}/broken.test.js`, `${FIXTURES}/duplicates.test.js`] });
  const listed = new RecordingSink();
  const l = await s.list(listed);
  t.same(listed.events.map((e) => e.testId), [`${FIXTURES}/broken.test.js`, `${FIXTURES}/duplicates.test.js > same name`, `${FIXTURES}/duplicates.test.js > same name #2`]);
  t.same(l.duplicates, [`${FIXTURES}/duplicates.test.js > same name`], 'duplicates are reported');
  const sink = new RecordingSink();
  await s.run({}, sink);
  t.same(sink.finals, { [`${FIXTURES}/broken.test.js`]: 'fail', [`${FIXTURES}/duplicates.test.js > same name`]: 'success', [`${FIXTURES}/duplicates.test.js > same name #2`]: 'fail' });
  t.match(sink.byId.get(`${FIXTURES}/broken.test.js`)!.attachments.traceback, /this file fails to load/);

  const hang = suite(t, { files: [`${FIXTURES}/hang-on-load.test.js`], startTimeoutMs: 300 });
  await t.rejects(hang.list(new RecordingSink()), { code: 'ERR_WORKER_START_TIMEOUT' });
});

t.test('abort, close and bad arguments', async (t) => {
  const s = suite(t, { files: ['examples/timeouts.test.js'] });
  await s.list(new RecordingSink());
  const controller = new AbortController();
  const sink = new RecordingSink();
  const running = s.run({ signal: controller.signal }, sink);
  setTimeout(() => controller.abort(), 50);
  const outcome = await running;
  // The running test finishes (here: by its own timeout); the next one never starts.
  t.same(sink.finals, { 'examples/timeouts.test.js > waits too long': 'fail' });
  t.notMatch(JSON.stringify(sink.byId.get('examples/timeouts.test.js > waits too long')!.attachments), /aborted/);
  t.equal(outcome.ran, 1);
  await s.close();
  await s.close();
  await t.rejects(s.run({}, new RecordingSink()), { code: 'ERR_SUITE_CLOSED' });
  await t.rejects(new TestApiSuite({ root: ROOT, files: [] }).run({ tests: 'x' as never }, new RecordingSink()), { code: 'ERR_INVALID_ARGUMENT', message: /request\.tests/ });
  await t.rejects(async () => s.list(new RecordingSink()), { code: 'ERR_SUITE_CLOSED' });
  t.throws(() => new TestApiSuite({ root: '', files: [] }), { code: 'ERR_INVALID_ARGUMENT', message: /`root`/ });
  t.throws(() => new TestApiSuite({ root: ROOT, files: ['x'], defaultTimeoutMs: -5 }), { code: 'ERR_INVALID_ARGUMENT', message: /`defaultTimeoutMs`/ });
  t.throws(() => new TestApiSuite({ root: ROOT, files: ['x'], recycleAfterBatches: 0 }), { code: 'ERR_INVALID_ARGUMENT', message: /`recycleAfterBatches`/ });
});

t.test('destroy stops a run now and starts no new worker', async (t) => {
  const s = suite(t, { files: ['examples/timeouts.test.js'] });
  await s.list(new RecordingSink());
  const sink = new RecordingSink();
  const running = s.run({}, sink);
  setTimeout(() => void s.destroy(), 50);
  const outcome = await running;
  t.same(sink.finals, { 'examples/timeouts.test.js > waits too long': 'fail' });
  t.match(sink.byId.get('examples/timeouts.test.js > waits too long')!.attachments.reason, /destroyed/);
  t.equal(outcome.ran, 1);
  t.equal(s.stats.workerStarts, 1);
  await s.destroy();
  await s.close();
});

t.test('output printed while loading reaches the List sink as a test-less attachment', async (t) => {
  const s = suite(t, { files: [`${FIXTURES}/prints-on-load.test.js`] });
  const sink = new RecordingSink();
  await s.list(sink);
  t.equal(sink.stray, 'printed while loading\n');
  t.same(sink.events.filter((e) => e.status === 'exists').map((e) => e.testId), [`${FIXTURES}/prints-on-load.test.js > quiet`]);
});

t.test('a slow test gets its inprogress while it runs, once', async (t) => {
  const s = suite(t, { files: ['examples/timeouts.test.js'] });
  await s.list(new RecordingSink());
  const sink = new RecordingSink();
  const when = new Map<string, number>();
  const emit = sink.emit.bind(sink);
  sink.emit = (e) => {
    if (e.testId === 'examples/timeouts.test.js > waits too long' && e.status !== undefined) when.set(e.status, performance.now());
    emit(e);
  };
  await s.run({}, sink);
  // Sent together with the result, the two would be microseconds apart; streamed, they are a good part of the 100 ms timeout apart.
  t.ok(when.get('fail')! - when.get('inprogress')! > 20, `inprogress came ${(when.get('fail')! - when.get('inprogress')!).toFixed(1)} ms before the result`);
  t.same(sink.byId.get('examples/timeouts.test.js > waits too long')!.statuses, ['inprogress', 'fail']);
  t.same(sink.byId.get('examples/timeouts.test.js > runs after the timeout')!.statuses, ['inprogress', 'success']);
});
