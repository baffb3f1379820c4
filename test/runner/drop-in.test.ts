import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/runner/config/index.js';
import { runLegacy } from '../../src/runner/run-legacy.js';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { ROOT } from '../helpers/paths.js';

// Issue 5's drop-in proof for legacy mode: a Debian-packaged Python suite we did not
// write (testtools' own tests), with the project's upstream .testr.conf, through the real
// `testr run --parallel` and through runLegacy: the same (id, outcome) pairs.

const PYTHON_ENV = { ...process.env, PYTHON: '/usr/bin/python3' };
const CONCURRENCY = 2;

function requireTool(t: Test, ok: boolean, what: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') t.fail(`${what} is required in CI (scripts/setup.sh installs it)`);
  else t.comment(`SKIP: ${what} is missing; run scripts/setup.sh`);
  return false;
}

function tools(): { testr: boolean; testtools: boolean } {
  const testr = spawnSync('testr', ['--version'], { encoding: 'utf8' }).status !== null && spawnSync('sh', ['-c', 'command -v testr']).status === 0;
  const testtools = spawnSync('/usr/bin/python3', ['-c', 'import testtools.tests, testscenarios, subunit'], { encoding: 'utf8' }).status === 0;
  return { testr, testtools };
}

/** Final (id → status) of a subunit stream, and the worker tags seen. */
function outcomes(stream: Uint8Array | SubunitEvent[]): { statuses: Map<string, string>; workers: Set<string> } {
  const statuses = new Map<string, string>();
  const workers = new Set<string>();
  const take = (e: SubunitEvent): void => {
    for (const tag of e.tags ?? []) if (tag.startsWith('worker-')) workers.add(tag);
    if (e.testId !== undefined && e.status !== undefined && !['exists', 'inprogress', 'undefined'].includes(e.status)) statuses.set(e.testId, e.status);
  };
  if (Array.isArray(stream)) stream.forEach(take);
  else {
    const d = new StreamDecoder({ packet: take, nonSubunit: () => {}, error: () => {} });
    d.push(stream);
    d.end();
  }
  return { statuses, workers };
}

function projectDir(t: { teardown(fn: () => void): void }, fixture: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-dropin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = path.join(ROOT, 'test/runner/fixtures', fixture);
  for (const f of readdirSync(src)) if (f !== 'README.md') copyFileSync(path.join(src, f), path.join(dir, f));
  return dir;
}

function runTestr(dir: string, env: NodeJS.ProcessEnv): Uint8Array {
  execFileSync('testr', ['init'], { cwd: dir, env, stdio: 'ignore' });
  // testr exits 1 when tests fail; the stream is what we compare.
  spawnSync('testr', ['run', '--parallel', '--concurrency', String(CONCURRENCY)], { cwd: dir, env, stdio: 'ignore', timeout: 100_000 });
  return execFileSync('testr', ['last', '--subunit'], { cwd: dir, env, maxBuffer: 256 * 1024 * 1024 });
}

async function runOurs(dir: string, env: NodeJS.ProcessEnv): Promise<{ events: SubunitEvent[]; raw: Buffer; listed: number }> {
  const config = await loadConfig(dir);
  const events: SubunitEvent[] = [];
  const raws: Buffer[] = [];
  const result = await runLegacy(config, {
    cwd: dir,
    env,
    concurrency: CONCURRENCY,
    onPacket: (e, raw) => {
      events.push(e);
      raws.push(Buffer.from(raw));
    },
  });
  return { events, raw: Buffer.concat(raws), listed: result.tests?.length ?? 0 };
}

// testtools' own tests that depend on wall-clock timing and fail now and then on a loaded
// machine under either runner (seen failing under testr here); they must be present on
// both sides, but their outcome is not compared.
const TIMING_SENSITIVE = new Set(['testtools.tests.test_testresult.TestTextTestResult.test_stopTestRun_current_time']);

function compare(t: Test, theirs: Map<string, string>, ours: Map<string, string>): void {
  const pair = ([id, s]: [string, string]): string => (TIMING_SENSITIVE.has(id) ? `(either) ${id}` : `${s} ${id}`);
  const a = [...theirs].map(pair).sort();
  const b = [...ours].map(pair).sort();
  t.equal(b.length, a.length, 'the same number of tests');
  t.same(b, a, 'the same (id, outcome) pairs as testr');
}

t.test('testtools suite: runLegacy reports what testr run --parallel reports', async (t) => {
  const have = tools();
  if (!requireTool(t, have.testr, 'testr (testrepository)') || !requireTool(t, have.testtools, 'python3-testtools with python3-testscenarios')) return;
  const theirs = outcomes(runTestr(projectDir(t, 'testtools'), PYTHON_ENV));
  const ours = await runOurs(projectDir(t, 'testtools'), PYTHON_ENV);
  const mine = outcomes(ours.events);
  t.ok(theirs.statuses.size > 2000, `testr ran the suite (${theirs.statuses.size} tests)`);
  t.equal(ours.listed, mine.statuses.size, 'every listed test reported');
  compare(t, theirs.statuses, mine.statuses);
  t.same([...mine.workers].sort(), [...theirs.workers].sort(), 'the same worker-N tags');
  // The merged stream is plain subunit v2 that python-subunit's tools read.
  const stats = spawnSync('subunit-stats', [], { input: ours.raw, encoding: 'utf8' });
  const count = (label: string): number => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(stats.stdout)?.[1] ?? NaN);
  const failed = [...mine.statuses.values()].filter((s) => s === 'fail').length;
  t.equal(count('Total tests'), mine.statuses.size, 'subunit-stats counts every test in our stream');
  t.equal(count('Failed tests'), failed, 'and the same failures');
  t.equal(count('Skipped tests'), [...mine.statuses.values()].filter((s) => s === 'skip').length, 'and the same skips');
});

t.test('tests with shell metacharacters in their ids: the same outcomes as testr', async (t) => {
  const have = tools();
  if (!requireTool(t, have.testr, 'testr (testrepository)')) return;
  // testr fails outright on an id outside latin-1 ("'latin-1' codec can't encode"), so
  // the comparison leaves that one out; legacy.test.ts runs it through subrun.
  const env = { ...PYTHON_ENV, TRICKY_ASCII: '1' };
  const theirs = outcomes(runTestr(projectDir(t, 'tricky'), env));
  const ours = outcomes((await runOurs(projectDir(t, 'tricky'), env)).events);
  t.equal(theirs.statuses.size, 6);
  compare(t, theirs.statuses, ours.statuses);
  t.ok([...ours.statuses.values()].includes('fail') && [...ours.statuses.values()].includes('skip'), 'failures and skips compared too');
});
