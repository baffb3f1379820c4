import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { runSubrun } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';
import { makeJsProject } from './fixtures/js/suite.js';
import { lastResults, statsOfLast } from './fixtures/js/check.js';
import { FileRepository } from '../../src/repository/file-repository.js';
import path from 'node:path';

// The machinery failing under a real run: a server SIGKILLed mid-batch, a server that
// stops answering (SIGSTOP), Ctrl-C; each followed by a check that the repository is
// complete (through python-subunit's subunit-stats).

/** Processes whose command line mentions `dir` (servers we started for that project). */
function processesUnder(dir: string): string[] {
  const r = spawnSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(dir) && !l.includes('ps -eo'));
}

t.test('a server killed mid-batch: its test fails with the exit status and stderr tail, the rest run on a fresh server', async (t) => {
  const project = makeJsProject({
    'c.test.js': `
import { writeSync } from 'node:fs';
test('before the crash', () => {});
test('kills its server', () => { writeSync(2, 'last words on stderr\\n'); process.kill(process.pid, 'SIGKILL'); });
test('after the crash 1', () => {});
test('after the crash 2', () => {});
`,
  });
  t.teardown(() => project.remove());
  const config = project.serverConfig({ concurrency: 1 });
  const r = await runSubrun(['run', '--config', config], { cwd: project.dir });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /worker-0: the test server died \((SIGKILL|exit 137)\); c\.test\.js > kills its server is reported failed/);
  t.same(
    lastResults(project.dir),
    new Map([
      ['c.test.js > before the crash', 'success'],
      ['c.test.js > kills its server', 'fail'],
      ['c.test.js > after the crash 1', 'success'],
      ['c.test.js > after the crash 2', 'success'],
    ]),
  );
  t.match(r.stdout, /FAIL: c\.test\.js > kills its server[\s\S]*died while this test was running \((killed by SIGKILL|exit status 137)\)[\s\S]*last words on stderr/);
  const stats = await statsOfLast(project.dir);
  t.equal(stats.total, 4, stats.stdout);
  t.equal(stats.failed, 1, stats.stdout);
});

t.test('a test that kills its server before reporting its start is still found and blamed, once', async (t) => {
  const project = makeJsProject({
    'd.test.js': `
test('kills its server at once', () => { process.kill(process.pid, 'SIGKILL'); });
test('runs on a fresh server', () => {});
`,
  });
  t.teardown(() => project.remove());
  const r = await runSubrun(['run', '--config', project.serverConfig({ concurrency: 1 })], { cwd: project.dir });
  t.equal(r.code, 1, r.stderr);
  t.same(lastResults(project.dir), new Map([['d.test.js > kills its server at once', 'fail'], ['d.test.js > runs on a fresh server', 'success']]));
});

t.test('a server that dies whatever it is asked: exit 3, not an endless respawn', async (t) => {
  const project = makeJsProject({ 'p.test.js': `process.kill(process.pid, 'SIGKILL');\ntest('poisoned', () => {});` });
  t.teardown(() => project.remove());
  const r = await runSubrun(['run', '--config', project.serverConfig({ concurrency: 1 })], { cwd: project.dir });
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /ERR_CONNECTION_CLOSED|ERR_SERVER_START|ERR_RESTART_BUDGET/);
});

t.test('a hung server (no Heartbeat) is killed by pid and treated as a crash', async (t) => {
  const project = makeJsProject({
    'h.test.js': `
test('first', () => {});
// A SIGSTOP sent from the test worker takes effect when the kernel gets round to stopping every thread: until
// then the worker (and the server thread relaying its result) could run on, so the test waits for it.
test('freezes its server', () => { process.kill(process.pid, 'SIGSTOP'); const t0 = Date.now(); while (Date.now() - t0 < 5000) {} });
test('after the freeze', () => {});
`,
  });
  t.teardown(() => project.remove());
  const config = project.serverConfig({ concurrency: 1, timeouts: { hang: '2s' } });
  const r = await runSubrun(['run', '--config', config], { cwd: project.dir });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /the test server hung and was killed/);
  t.same(
    lastResults(project.dir),
    new Map([
      ['h.test.js > first', 'success'],
      ['h.test.js > freezes its server', 'fail'],
      ['h.test.js > after the freeze', 'success'],
    ]),
  );
  t.match(r.stdout, /stopped answering/);
  t.same(processesUnder(project.dir), [], 'no stopped server is left behind');
});

t.test('Ctrl-C stops cleanly, keeps what was received and leaves no server running', async (t) => {
  const project = makeJsProject({
    's.test.js': `
test('quick 1', () => {});
test('quick 2', () => {});
test('slow', async () => { await new Promise((r) => setTimeout(r, 60000)); });
`,
  });
  t.teardown(() => project.remove());
  const config = project.serverConfig({ concurrency: 1 });
  const child = spawn(process.execPath, [BIN, 'run', '--subunit', '--config', config], { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  let out = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      out = Buffer.concat([out, c]);
      if (out.includes('quick 2')) resolve();
    });
  });
  // Let the quick tests' results through, then interrupt while `slow` runs.
  await new Promise((r) => setTimeout(r, 500));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 130, err);
  t.match(err, /interrupted/);
  const repo = FileRepository.open(path.join(project.dir, '.subrun'), { create: false });
  const run = repo.latestRun()!;
  t.equal(run.state, 'interrupted');
  repo.close();
  const results = lastResults(project.dir);
  t.equal(results.get('s.test.js > quick 1'), 'success');
  t.equal(results.get('s.test.js > quick 2'), 'success');
  t.not(results.get('s.test.js > slow'), 'success', 'the interrupted test is not a pass');
  const stats = await statsOfLast(project.dir);
  t.equal(stats.total, 3, stats.stdout);
  t.equal(stats.failed, 1, 'the test cut off by Ctrl-C is a failure, not a gap');
  t.same(processesUnder(project.dir), [], 'no server left running');
});

t.test('--isolated and --analyze-isolation on an order-dependent failure', async (t) => {
  const project = makeJsProject({
    'a.test.js': `
test('harmless 1', () => {});
test('pollutes the global state', () => { globalThis.polluted = true; });
test('harmless 2', () => {});
test('harmless 3', () => {});
`,
    'b.test.js': `
test('needs a clean state', () => { assert.equal(globalThis.polluted, undefined); });
`,
  });
  t.teardown(() => project.remove());
  const config = project.serverConfig({ concurrency: 1 });
  const plain = await runSubrun(['run', '--config', config, '--repo', '.plain'], { cwd: project.dir });
  t.equal(plain.code, 1, 'fails when run after the polluter on one server');
  t.equal(lastResults(project.dir, '.plain').get('b.test.js > needs a clean state'), 'fail');
  const isolated = await runSubrun(['run', '--isolated', '--config', config, '--repo', '.isolated'], { cwd: project.dir });
  t.equal(isolated.code, 0, isolated.stderr);
  t.equal(lastResults(project.dir, '.isolated').size, 5);
  const analyzed = await runSubrun(['run', '--analyze-isolation', '--config', config, '--repo', '.analyze'], { cwd: project.dir });
  t.equal(analyzed.code, 1);
  t.match(analyzed.stderr, /isolation: b\.test\.js > needs a clean state fails when run after a\.test\.js > pollutes the global state/);
});
