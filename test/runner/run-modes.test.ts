import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runSubrun } from '../helpers/cli.js';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import { makeJsProject } from './fixtures/js/suite.js';
import { lastResults, statsOfLast } from './fixtures/js/check.js';

// subrun run in server mode and legacy mode over the same JavaScript suite, with real
// `subrun serve` processes, a real repository and python-subunit's subunit-stats.
const TRICKY = `it's "quoted" $HOME and \`back\` ticks`;
const project = makeJsProject({
  'a.test.js': `
test('adds', () => { assert.equal(1 + 1, 2); });
test('fails on purpose', () => { assert.equal(1 + 1, 3); });
test('skipped', { skip: 'not today' }, () => {});
test(${JSON.stringify(TRICKY)}, () => {});
`,
  'b.test.js': `
describe('group', () => {
  test('one', () => {});
  test('two', () => { console.log('printed by two'); });
});
test('also fails', () => { throw new Error('boom'); });
`,
});
t.teardown(() => project.remove());
const EXPECTED = new Map([
  ['a.test.js > adds', 'success'],
  ['a.test.js > fails on purpose', 'fail'],
  ['a.test.js > skipped', 'skip'],
  [`a.test.js > ${TRICKY}`, 'success'],
  ['b.test.js > group > one', 'success'],
  ['b.test.js > group > two', 'success'],
  ['b.test.js > also fails', 'fail'],
]);

t.test('server mode: every test on two warm servers, recorded, readable by subunit-stats', async (t) => {
  const config = project.serverConfig();
  const r = await runSubrun(['run', '--config', config, '--repo', '.server'], { cwd: project.dir });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /FAIL: a\.test\.js > fails on purpose/);
  t.match(r.stdout, /Ran 7 tests in [\d.]+s\nFAILED \(id=\d+, failures=2, skips=1\)\n$/);
  t.notMatch(r.stdout, /\x1b\[/, 'no escape codes off a terminal');
  t.same(lastResults(project.dir, '.server'), EXPECTED);
  const stats = await statsOfLast(project.dir, '.server');
  t.equal(stats.total, 7, stats.stdout);
  t.equal(stats.failed, 2, stats.stdout);
});

t.test('legacy mode (one process per partition) gives the same results', async (t) => {
  const config = project.legacyConfig();
  const r = await runSubrun(['run', '--parallel', '2', '--config', config, '--repo', '.legacy'], { cwd: project.dir });
  t.equal(r.code, 1, r.stderr);
  t.same(lastResults(project.dir, '.legacy'), EXPECTED);
  const stats = await statsOfLast(project.dir, '.legacy');
  t.equal(stats.total, 7, stats.stdout);
});

t.test('--failing re-runs only the failing tests and keeps the others recorded', async (t) => {
  const config = project.serverConfig();
  await runSubrun(['run', '--config', config, '--repo', '.failing'], { cwd: project.dir });
  const r = await runSubrun(['run', '--failing', '--config', config, '--repo', '.failing'], { cwd: project.dir });
  t.equal(r.code, 1);
  t.same(
    lastResults(project.dir, '.failing'),
    new Map([
      ['a.test.js > fails on purpose', 'fail'],
      ['b.test.js > also fails', 'fail'],
    ]),
  );
  const failing = await runSubrun(['failing', '--list', '--repo', '.failing'], { cwd: project.dir });
  t.equal(failing.stdout, 'a.test.js > fails on purpose\nb.test.js > also fails\n');
});

t.test('--failing with nothing failing says so; a filter that matches nothing is exit 1', async (t) => {
  const config = project.serverConfig();
  const pass = await runSubrun(['run', '--config', config, '--repo', '.nothing', 'group'], { cwd: project.dir });
  t.equal(pass.code, 0, pass.stderr);
  const again = await runSubrun(['run', '--failing', '--config', config, '--repo', '.nothing'], { cwd: project.dir });
  t.equal(again.code, 0);
  t.match(again.stderr, /no test is failing/);
  const none = await runSubrun(['run', '--config', config, '--repo', '.nothing', 'no-such-test'], { cwd: project.dir });
  t.equal(none.code, 1);
  t.match(none.stderr, /no test to run/);
});

t.test('--load-list with quotes, spaces and $ in ids; --subunit writes only the stream; --junit', async (t) => {
  const config = project.serverConfig();
  const list = path.join(project.dir, 'ids.txt');
  writeFileSync(list, `a.test.js > ${TRICKY}\nb.test.js > group > two\n`);
  const junit = path.join(project.dir, 'out.xml');
  const r = await runSubrun(['run', '--subunit', '--junit', junit, '--load-list', list, '--config', config, '--repo', '.list'], { cwd: project.dir });
  t.equal(r.code, 0, r.stderr);
  const events: Array<{ id?: string; status?: string; tags?: string[] }> = [];
  let stray = 0;
  const d = new StreamDecoder({ packet: (e) => events.push({ id: e.testId, status: e.status, tags: e.tags }), nonSubunit: () => stray++, error: () => stray++ });
  d.push(r.stdoutBytes);
  d.end();
  t.equal(stray, 0, 'stdout is nothing but subunit');
  t.notOk(events.some((e) => e.id === 'testrepository-rpc'), 'no RPC packets');
  t.same(new Set(events.filter((e) => e.status === 'success').map((e) => e.id)), new Set([`a.test.js > ${TRICKY}`, 'b.test.js > group > two']));
  t.ok(events.filter((e) => e.id !== undefined).every((e) => e.tags?.some((tag) => /^worker-\d$/.test(tag))), 'tagged worker-N');
  const xml = readFileSync(junit, 'utf8');
  t.match(xml, /tests="2" failures="0"/);
  t.match(xml, /it&apos;s|it's &quot;quoted&quot; \$HOME/);
  const legacy = await runSubrun(['run', '--load-list', list, '--config', project.legacyConfig(), '--repo', '.list-legacy'], { cwd: project.dir });
  t.equal(legacy.code, 0, legacy.stderr);
  t.same(lastResults(project.dir, '.list-legacy'), new Map([[`a.test.js > ${TRICKY}`, 'success'], ['b.test.js > group > two', 'success']]));
});

t.test('subrun list honours filters, in both modes', async (t) => {
  const server = await runSubrun(['list', '--config', project.serverConfig(), 'group'], { cwd: project.dir });
  t.equal(server.stdout, 'b.test.js > group > one\nb.test.js > group > two\n');
  const legacy = await runSubrun(['list', '--config', project.legacyConfig(), 'group'], { cwd: project.dir });
  t.equal(legacy.stdout, server.stdout);
  const none = await runSubrun(['list', '--config', project.serverConfig(), 'zzz'], { cwd: project.dir });
  t.equal(none.code, 1);
});

t.test('usage errors are exit 2', async (t) => {
  const r = await runSubrun(['run', '--parallel', '0', '--config', project.serverConfig()], { cwd: project.dir });
  t.equal(r.code, 2);
  const bad = await runSubrun(['run', '--config', project.serverConfig(), '('], { cwd: project.dir });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /not a valid regular expression/);
});

t.test('on a terminal: a live progress line, erased before the summary', async (t) => {
  const r = await runSubrun(['run', '--config', project.serverConfig(), '--repo', '.tty', 'group'], { cwd: project.dir, isTTY: true });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\r\d+\/2 tests, \d+s(, ETA \d+s)?\x1b\[K/);
  t.match(r.stdout, /\r\x1b\[KRan 2 tests in [\d.]+s\nPASSED \(id=\d+\)\n$/);
});

t.test('--until-failure repeats until a run fails; legacy --isolated runs a process per test', async (t) => {
  const flaky = makeJsProject({
    'f.test.js': `
import { readFileSync, writeFileSync } from 'node:fs';
test('fails on the third run', () => {
  let n = 0;
  try { n = Number(readFileSync('count', 'utf8')); } catch {}
  writeFileSync('count', String(n + 1));
  assert.ok(n < 2, 'third time unlucky');
});
`,
  });
  t.teardown(() => flaky.remove());
  const r = await runSubrun(['run', '--until-failure', '--config', flaky.serverConfig({ concurrency: 1 })], { cwd: flaky.dir });
  t.equal(r.code, 1, r.stderr);
  t.equal(readFileSync(path.join(flaky.dir, 'count'), 'utf8'), '3');
  const history = await runSubrun(['history'], { cwd: flaky.dir });
  t.equal(history.stdout.trim().split('\n').length, 2 + 3, 'three runs recorded');
  const isolated = await runSubrun(['run', '--isolated', '--config', project.legacyConfig(), '--repo', '.legacy-isolated', 'group'], { cwd: project.dir });
  t.equal(isolated.code, 0, isolated.stderr);
  t.same(lastResults(project.dir, '.legacy-isolated'), new Map([['b.test.js > group > one', 'success'], ['b.test.js > group > two', 'success']]));
});
