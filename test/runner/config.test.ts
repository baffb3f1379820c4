import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSubrunError } from '../../src/core/errors.js';
import { loadConfig, makeGroupKey, parseJsonConfig, parseTestrConf } from '../../src/runner/config/index.js';

const F = '/p/.testr.conf';
const J = '/p/subrun.config.json';

function configError(t: Test, fn: () => unknown, key: string | undefined, pattern: RegExp, line?: number): void {
  try {
    fn();
    t.fail('expected ERR_CONFIG');
  } catch (error) {
    t.ok(isSubrunError(error, 'ERR_CONFIG'), `ERR_CONFIG: ${(error as Error).message}`);
    const e = error as { message: string; details?: Record<string, unknown> };
    t.match(e.message, pattern);
    t.ok(e.message.includes(e.details!.file as string), 'the message names the file');
    if (key !== undefined) t.equal(e.details!.key, key, 'details name the key');
    if (line !== undefined) t.equal(e.details!.line, line, 'details name the line');
  }
}

t.test('.testr.conf: the testtools upstream file', async (t) => {
  const c = parseTestrConf(
    '[DEFAULT]\ntest_command=${PYTHON:-python} -m subunit.run $LISTOPT $IDOPTION testtools.tests.test_suite\ntest_id_option=--load-list $IDFILE\ntest_list_option=--list\n',
    F,
  );
  t.equal(c.mode, 'legacy');
  t.equal(c.format, 'testr');
  t.equal(c.testCommand, '${PYTHON:-python} -m subunit.run $LISTOPT $IDOPTION testtools.tests.test_suite');
  t.equal(c.testIdOption, '--load-list $IDFILE');
  t.equal(c.testListOption, '--list');
  t.same(c.concurrency, { kind: 'auto' });
  t.same(c.servers, []);
  t.same(c.filterTags, []);
});

t.test('.testr.conf: ConfigParser syntax (delimiters, comments, continuation, case, interpolation)', async (t) => {
  const c = parseTestrConf(
    [
      '# comment',
      '; another',
      '[DEFAULT]',
      'TEST_COMMAND : run %(test_list_option)s  $IDLIST',
      '  --more',
      '',
      '  --after-blank',
      'test_list_option = 100%% done',
      '  continued',
      'filter_tags = zope:layer   other',
      'group_regex=([^\\.]+\\.)+',
      'test_run_concurrency=echo 3',
      'instance_provision=echo a b',
      'instance_execute=ssh $INSTANCE_ID $COMMAND',
      'instance_dispose=echo $INSTANCE_IDS',
      'test_server_command=node serve.js',
    ].join('\n'),
    F,
  );
  t.equal(c.testCommand, 'run 100% done\ncontinued  $IDLIST\n--more\n\n--after-blank');
  t.same(c.filterTags, ['zope:layer', 'other']);
  t.same(c.concurrency, { kind: 'command', command: 'echo 3' });
  t.same(c.instances, { provision: 'echo a b', execute: 'ssh $INSTANCE_ID $COMMAND', dispose: 'echo $INSTANCE_IDS' });
  t.equal(c.mode, 'server');
  t.equal(c.testServerCommand, 'node serve.js');
});

t.test('.testr.conf errors name the file, key and line', async (t) => {
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=x\ntest_comand=y\n', F), 'test_comand', /unknown key/, 3);
  configError(t, () => parseTestrConf('test_command=x\n', F), undefined, /before any \[section\]/, 1);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=x\ntest_command=y\n', F), 'test_command', /twice/, 3);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command\n', F), 'test_command', /key = value/, 2);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=x\n[other]\na=b\n', F), '[other]', /only the \[DEFAULT\]/, 3);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=50% $IDLIST\n', F), 'test_command', /'%' must be followed/, 2);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=%(nope)s\n', F), 'test_command', /not set/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=%(test_command)s\n', F), 'test_command', /nested too deeply/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_id_option=--load-list $IDFILE\n', F), 'test_command', /is required/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=run $IDOPTION\n', F), 'test_id_option', /uses \$IDOPTION/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=run $LISTOPT\n', F), 'test_list_option', /uses \$LISTOPT/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=x\ngroup_regex=([a-z\n', F), 'group_regex', /regular expression/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=x\ninstance_execute=ssh $COMMAND\n', F), 'instance_execute', /without instance_provision/);
  configError(t, () => parseTestrConf('[DEFAULT]\ntest_command=\n', F), 'test_command', /is empty/);
  configError(t, () => parseTestrConf('', F), undefined, /no \[DEFAULT\]/);
});

t.test('.testr.conf: hostile input is an ERR_CONFIG, never a crash', async (t) => {
  const samples = ['[', '[DEFAULT', '\u0000\u0001', '[DEFAULT]\n=x', '[DEFAULT]\n%(', 'x'.repeat(100_000), '[DEFAULT]\ntest_command=%(', '\uFEFF[DEFAULT]\ntest_command=ok'];
  for (const s of samples) {
    try {
      const c = parseTestrConf(s, F);
      t.equal(c.testCommand, 'ok', 'only the BOM sample parses');
    } catch (error) {
      t.ok(isSubrunError(error, 'ERR_CONFIG'), `ERR_CONFIG for ${JSON.stringify(s.slice(0, 20))}`);
    }
  }
});

t.test('group_regex: re.match semantics, Python named groups', async (t) => {
  const key = makeGroupKey('(?P<mod>[^.]+\\.[^.]+)\\.');
  t.equal(key('pkg.mod.Test.test_a'), 'pkg.mod.');
  t.equal(key('nodots'), 'nodots', 'no match: its own group');
  t.equal(makeGroupKey('x*')('abc'), 'abc', 'an empty match is no group');
  t.equal(makeGroupKey('b')('abc'), 'abc', 'anchored at the start, like re.match');
  t.equal(makeGroupKey(undefined)('abc'), 'abc');
});

t.test('subrun.config.json: every member', async (t) => {
  const c = parseJsonConfig(
    JSON.stringify({
      $schema: 'x',
      testCommand: 'python -m subunit.run $LISTOPT $IDOPTION pkg',
      testIdOption: '--load-list $IDFILE',
      testListOption: '--list',
      testIdListDefault: 'pkg',
      groupRegex: '[^.]+\\.',
      filterTags: ['a', 'b'],
      concurrency: 4,
      instances: { provision: 'mk $INSTANCE_COUNT', execute: 'in $INSTANCE_ID $COMMAND', dispose: 'rm $INSTANCE_IDS' },
      testServerCommand: 'subrun serve',
      servers: ['local:', { url: 'ssh://me@host:2222/srv/proj', count: 2 }, 'tcp://127.0.0.1:7000', 'unix:/tmp/s.sock', 'ws://[::1]:80/x'],
      resources: { pool: 'ws://127.0.0.1:7300', perBatch: { port: 2 } },
      timeouts: { handshake: '5s', hang: 60000, perTest: '2m', list: '1m' },
    }),
    J,
  );
  t.equal(c.mode, 'server');
  t.same(c.concurrency, { kind: 'fixed', count: 4 });
  t.equal(c.servers.length, 6, 'count expands the entry');
  t.same(c.servers[1], { kind: 'ssh', url: 'ssh://me@host:2222/srv/proj', host: 'host', path: '/srv/proj', user: 'me', port: 2222 });
  t.same(c.servers[3], { kind: 'tcp', url: 'tcp://127.0.0.1:7000', host: '127.0.0.1', port: 7000 });
  t.same(c.servers[4], { kind: 'unix', url: 'unix:/tmp/s.sock', path: '/tmp/s.sock' });
  t.equal(c.servers[5]!.kind, 'ws');
  t.same(c.timeouts, { handshakeMs: 5000, hangMs: 60000, perTestMs: 120000, listMs: 60000 });
  t.same(c.resources, { pool: 'ws://127.0.0.1:7300', perBatch: { port: 2 } });
  t.same(parseJsonConfig('{"testCommand":"x","concurrency":{"command":"nproc"}}', J).concurrency, { kind: 'command', command: 'nproc' });
  t.equal(parseJsonConfig('{"testCommand":"x"}', J).mode, 'legacy');
  t.equal(parseJsonConfig('{"servers":["tcp://127.0.0.1:1"]}', J).mode, 'server', 'already running servers need no command');
});

t.test('subrun.config.json errors name the file and the member path', async (t) => {
  configError(t, () => parseJsonConfig('{"testCommand":"x","paralel":2}', J), 'paralel', /unknown member/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","timeouts":{"hang":"soon"}}', J), 'timeouts.hang', /duration/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","timeouts":{"hang":-1}}', J), 'timeouts.hang', /positive/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","timeouts":{"idle":1}}', J), 'timeouts.idle', /unknown member/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","concurrency":0}', J), 'concurrency', /positive integer/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","concurrency":"many"}', J), 'concurrency', /"auto"/);
  configError(t, () => parseJsonConfig('{"testCommand":5}', J), 'testCommand', /must be a string/);
  configError(t, () => parseJsonConfig('{"testServerCommand":"s","servers":["ftp://h/x"]}', J), 'servers[0]', /unsupported scheme/);
  configError(t, () => parseJsonConfig('{"testServerCommand":"s","servers":["ssh://host"]}', J), 'servers[0]', /absolute project path/);
  configError(t, () => parseJsonConfig('{"testServerCommand":"s","servers":["tcp://h"]}', J), 'servers[0]', /host and a port/);
  configError(t, () => parseJsonConfig('{"testServerCommand":"s","servers":[{"url":"local:","count":0}]}', J), 'servers[0].count', /positive integer/);
  configError(t, () => parseJsonConfig('{"servers":["local:"]}', J), 'servers', /testServerCommand is required/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","resources":{"pool":"http://x","perBatch":{}}}', J), 'resources.pool', /ws:\/\//);
  configError(t, () => parseJsonConfig('{"testCommand":"x","resources":{"pool":"ws://x","perBatch":{"port":1.5}}}', J), 'resources.perBatch.port', /positive integer/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","filterTags":"a b"}', J), 'filterTags', /array/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","instances":{"execute":"e"}}', J), 'instances.provision', /required/);
  configError(t, () => parseJsonConfig('{"testCommand":"run $IDOPTION"}', J), 'testIdOption', /uses \$IDOPTION/);
  configError(t, () => parseJsonConfig('{}', J), 'testCommand', /is required/);
  configError(t, () => parseJsonConfig('[1]', J), undefined, /one JSON object/);
  configError(t, () => parseJsonConfig('{"testCommand":', J), undefined, /not valid JSON/);
  configError(t, () => parseJsonConfig('{"testCommand":"x","groupRegex":"("}', J), 'groupRegex', /regular expression/);
});

t.test('loadConfig finds one file, refuses two or none', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(loadConfig(dir), { code: 'ERR_CONFIG', message: /subrun init/ });
  writeFileSync(path.join(dir, '.testr.conf'), '[DEFAULT]\ntest_command=echo\n');
  const c = await loadConfig(dir);
  t.equal(c.file, path.join(dir, '.testr.conf'));
  t.equal(c.testCommand, 'echo');
  writeFileSync(path.join(dir, 'subrun.config.json'), '{"testCommand":"echo"}');
  await t.rejects(loadConfig(dir), { code: 'ERR_CONFIG', message: /both present/ });
  rmSync(path.join(dir, '.testr.conf'));
  t.equal((await loadConfig(dir)).format, 'json');
});

t.test('.testr.conf reads as Python ConfigParser reads it (the real one, /usr/bin/python3)', async (t) => {
  const samples = [
    '[DEFAULT]\nTEST_COMMAND : run %(test_list_option)s  $IDLIST\n  --more\n\n  --after-blank\ntest_list_option = 100%% done\n  filter_tags = a b\n',
    '[DEFAULT]\n# c\n; c\ntest_command=a=b:c # not a comment\n\ttabbed\ntest_id_option :--x $IDFILE\n',
    '[DEFAULT]\ntest_command = \n    first\n    second\ngroup_regex=^(.*)\\.\n',
  ];
  const script =
    'import configparser,json,sys\n' +
    'p=configparser.ConfigParser()\n' +
    'p.read_string(sys.stdin.read())\n' +
    'print(json.dumps({k: p.get("DEFAULT", k) for k in p.defaults()}))\n';
  const { execFileSync } = await import('node:child_process');
  for (const sample of samples) {
    const expected = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: sample, encoding: 'utf8' })) as Record<string, string>;
    const c = parseTestrConf(sample, F);
    const ours: Record<string, string | undefined> = {
      test_command: c.testCommand,
      test_id_option: c.testIdOption,
      test_list_option: c.testListOption,
      group_regex: c.groupRegex,
      filter_tags: c.filterTags.length === 0 ? undefined : c.filterTags.join(' '),
    };
    for (const [key, value] of Object.entries(expected)) {
      t.equal(ours[key], key === 'filter_tags' ? value.split(/\s+/).join(' ') : value, `${key} as Python reads it`);
    }
  }
});
