import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseTestrConf } from '../../src/runner/config/index.js';
import { InstancePool, listTests, parseTestList, resolveConcurrency, runPartition, substituteShell } from '../../src/runner/legacy/index.js';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import { encodePacket } from '../../src/subunit/encoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { ROOT } from '../helpers/paths.js';

const FIXTURE = path.join(ROOT, 'test/runner/fixtures/tricky');
const PY = '/usr/bin/python3';
const IDS = [
  "tricky.T.test 'single quoted'",
  'tricky.T.test "double quoted"',
  'tricky.T.test $HOME and $(touch pwned-dollar)',
  'tricky.T.test ;touch pwned-semi; `touch pwned-tick`',
  'tricky.T.test \\backslash\\ and * glob',
  'tricky.T.test unicode \u00e9\u2603',
  'tricky.T.plain',
];
const EXPECTED: Record<string, string> = {
  [IDS[0]!]: 'success',
  [IDS[1]!]: 'success',
  [IDS[2]!]: 'success',
  [IDS[3]!]: 'fail',
  [IDS[4]!]: 'skip',
  [IDS[5]!]: 'success',
  [IDS[6]!]: 'success',
};

/** A scratch project dir holding the fixture's python files; removed at teardown. */
function project(t: { teardown(fn: () => void): void }, conf: string): { dir: string; config: ReturnType<typeof parseTestrConf> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of readdirSync(FIXTURE)) writeFileSync(path.join(dir, f), readFileSync(path.join(FIXTURE, f)));
  writeFileSync(path.join(dir, '.testr.conf'), conf);
  return { dir, config: parseTestrConf(conf, path.join(dir, '.testr.conf')) };
}

function outcomes(events: SubunitEvent[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of events) {
    if (e.testId !== undefined && e.status !== undefined && !['exists', 'inprogress', 'undefined'].includes(e.status)) out[e.testId] = e.status;
  }
  return out;
}

function noPwn(t: { notOk(v: unknown, m: string): void }, dir: string): void {
  for (const f of ['pwned-dollar', 'pwned-semi', 'pwned-tick']) t.notOk(existsSync(path.join(dir, f)), `no shell ran ${f}`);
}

const IDFILE_CONF = `[DEFAULT]\ntest_command=${PY} -m subunit.run $LISTOPT $IDOPTION tricky_tests\ntest_id_option=--load-list $IDFILE\ntest_list_option=--list\n`;
const IDLIST_CONF = `[DEFAULT]\ntest_command=${PY} run_ids.py $LISTOPT $IDLIST\ntest_list_option=--list\n`;

t.test('listTests reads the exists stream, ids with shell metacharacters intact', async (t) => {
  const { dir, config } = project(t, IDFILE_CONF);
  const commands: string[] = [];
  const ids = await listTests(config, { cwd: dir, onCommand: (c) => commands.push(c) });
  t.same(ids, IDS);
  t.equal(commands[0], `${PY} -m subunit.run --list  tricky_tests`, 'the list command as testr builds it');
});

t.test('$IDFILE: a partition runs exactly its ids, tagged for its worker', async (t) => {
  const { dir, config } = project(t, IDFILE_CONF);
  const events: SubunitEvent[] = [];
  const raws: Uint8Array[] = [];
  const subset = [IDS[0]!, IDS[2]!, IDS[3]!];
  const result = await runPartition(config, subset, { cwd: dir, worker: 3, onPacket: (e, raw) => (events.push(e), raws.push(raw.slice())) });
  t.same(outcomes(events), { [IDS[0]!]: 'success', [IDS[2]!]: 'success', [IDS[3]!]: 'fail' });
  t.equal(result.exitCode, 0, 'subunit.run exits 0 even when a test fails, so no process-returncode');
  t.match(result.command, /--load-list \/\S*ids\.list tricky_tests$/);
  t.ok(events.every((e) => e.tags?.includes('worker-3') && e.routeCode?.startsWith('3') && e.timestamp !== undefined), 'every event tagged, routed, timestamped');
  const stdout = events.filter((e) => e.fileName === 'stdout' && e.testId === undefined);
  t.ok(stdout.length > 0, 'printed output became stdout attachments');
  // Raw bytes are the events, re-encoded: decode them back.
  const decoded: SubunitEvent[] = [];
  const d = new StreamDecoder({ packet: (e) => decoded.push(e), nonSubunit: () => t.fail('raw is all packets'), error: () => t.fail('raw decodes') });
  for (const r of raws) d.push(r);
  d.end();
  t.equal(decoded.length, events.length);
  t.same(outcomes(decoded), outcomes(events));
  noPwn(t, dir);
  t.same(readdirSync(tmpdir()).filter((f) => f.startsWith('subrun-ids-') && existsSync(path.join(tmpdir(), f, 'ids.list')) && readFileSync(path.join(tmpdir(), f, 'ids.list'), 'utf8').includes('pwned-dollar')), [], 'the id file is removed');
});

t.test('$IDLIST: each id arrives as exactly one argument, whatever it holds', async (t) => {
  const { dir, config } = project(t, IDLIST_CONF);
  const log = path.join(dir, 'argv.log');
  const ids = await listTests(config, { cwd: dir });
  t.same(ids, IDS, 'listing through $LISTOPT with an empty $IDLIST');
  const events: SubunitEvent[] = [];
  const result = await runPartition(config, ids, { cwd: dir, env: { ...process.env, ARGV_LOG: log }, onPacket: (e) => events.push(e) });
  t.equal(result.exitCode, 1);
  const rc = events.find((e) => e.testId === 'process-returncode')!;
  t.equal(Buffer.from(rc.fileBytes!).toString(), 'returncode 1', 'a non-zero exit becomes testr\'s process-returncode failure');
  const argvs = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
  t.same(argvs, [IDS], 'the argv the command saw is the ids, one each');
  t.same(outcomes(events), { ...EXPECTED, 'process-returncode': 'fail' });
  noPwn(t, dir);
});

t.test('quoting holds inside "..." and \'...\' in the command', async (t) => {
  const ids = ["it's", 'say "hi"', '$HOME `id` \\n'];
  for (const template of [`printf '%s\\n' "$IDLIST"`, `printf '%s\\n' '$IDLIST'`, `printf '%s\\n' $IDLIST`]) {
    const cmd = substituteShell(template, ['IDLIST'], { IDLIST: { words: ids } });
    const out = execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' });
    const expected = template.includes('"$IDLIST"') || template.includes("'$IDLIST'") ? ids.join(' ') + '\n' : ids.join('\n') + '\n';
    t.equal(out, expected, `${template} → ${cmd}`);
  }
});

t.test('reportReturnCode off, signals, non-subunit output and corrupt packets', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = Buffer.from(encodePacket({ testId: 'a', status: 'success' }));
  const corrupt = Buffer.from(good);
  corrupt[corrupt.length - 1]! ^= 0xff;
  writeFileSync(path.join(dir, 'stream.bin'), Buffer.concat([Buffer.from('hello\n'), good, corrupt]));
  const config = parseTestrConf('[DEFAULT]\ntest_command=cat stream.bin; kill -TERM $$\n', path.join(dir, '.testr.conf'));
  const events: SubunitEvent[] = [];
  const r = await runPartition(config, null, { cwd: dir, onPacket: (e) => events.push(e) });
  t.equal(r.signal, 'SIGTERM');
  t.equal(r.decodeErrors, 1);
  t.same(outcomes(events), { a: 'success', 'process-returncode': 'fail' });
  t.equal(Buffer.from(events.at(-1)!.fileBytes!).toString(), 'returncode -15', 'a signal death reads as Popen reports it');
  const text = Buffer.concat(events.filter((e) => e.fileName === 'stdout').map((e) => Buffer.from(e.fileBytes!)));
  t.equal(text.subarray(0, 6).toString(), 'hello\n');
  t.equal(text.length, 6 + corrupt.length, 'the corrupt packet bytes are passed on as output, nothing lost');
  const quiet: SubunitEvent[] = [];
  await runPartition(config, null, { cwd: dir, reportReturnCode: false, onPacket: (e) => quiet.push(e) });
  t.notOk(quiet.some((e) => e.testId === 'process-returncode'));
});

t.test('abort stops the process group and keeps what arrived', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'one.bin'), encodePacket({ testId: 'first', status: 'success' }));
  const config = parseTestrConf('[DEFAULT]\ntest_command=cat one.bin; sleep 30 & wait\n', path.join(dir, '.testr.conf'));
  const ac = new AbortController();
  const events: SubunitEvent[] = [];
  const started = Date.now();
  const r = await runPartition(config, null, {
    cwd: dir,
    signal: ac.signal,
    onPacket: (e) => {
      events.push(e);
      ac.abort();
    },
  });
  t.ok(r.aborted);
  t.ok(Date.now() - started < 10_000, 'did not wait for sleep');
  t.same(outcomes(events), { first: 'success' }, 'no process-returncode for an abort');
});

t.test('an onPacket exception stops the process and rejects', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'one.bin'), encodePacket({ testId: 'first', status: 'success' }));
  const config = parseTestrConf('[DEFAULT]\ntest_command=cat one.bin; sleep 30\n', path.join(dir, '.testr.conf'));
  await t.rejects(
    runPartition(config, null, {
      cwd: dir,
      onPacket: () => {
        throw new Error('consumer broke');
      },
    }),
    { message: 'consumer broke' },
  );
});

t.test('listing failures are ERR_LIST_FAILED with the stderr tail; no $LISTOPT is ERR_CONFIG', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = parseTestrConf('[DEFAULT]\ntest_command=echo broken >&2; exit 4 $LISTOPT\ntest_list_option=--list\n', path.join(dir, 'c'));
  await t.rejects(listTests(bad, { cwd: dir }), { code: 'ERR_LIST_FAILED', message: /status 4[\s\S]*broken/, details: { exitCode: 4 } });
  const noList = parseTestrConf('[DEFAULT]\ntest_command=echo\n', path.join(dir, 'c'));
  await t.rejects(listTests(noList, { cwd: dir }), { code: 'ERR_CONFIG' });
  const ac = new AbortController();
  ac.abort();
  await t.rejects(listTests(bad, { cwd: dir, signal: ac.signal }), { code: 'ERR_ABORTED' });
});

t.test('parseTestList: v2 exists events, else one id per line', async (t) => {
  const v2 = Buffer.concat([encodePacket({ testId: 'a', status: 'exists' }), Buffer.from('noise'), encodePacket({ testId: 'b', status: 'exists' }), encodePacket({ testId: 'c', status: 'success' })]);
  t.same(parseTestList(v2), ['a', 'b']);
  t.same(parseTestList(Buffer.from('x.y\n\n  z  \r\n')), ['x.y', 'z']);
  t.same(parseTestList(Buffer.alloc(0)), []);
  t.same(parseTestList(v2.subarray(0, v2.length - 3)), ['a', 'b'], 'a truncated last packet is dropped');
});

t.test('test_run_concurrency and instance hooks run as testr runs them', async (t) => {
  const { dir } = project(t, IDFILE_CONF);
  const conf =
    `[DEFAULT]\ntest_command=${PY} -m subunit.run $LISTOPT $IDOPTION tricky_tests\ntest_id_option=--load-list $IDFILE\ntest_list_option=--list\n` +
    `test_run_concurrency=echo 2; echo ignored\n` +
    `instance_provision=echo provision $INSTANCE_COUNT >> hooks.log; echo "inst-a inst-b"\n` +
    `instance_execute=echo "execute $INSTANCE_ID $FILES" >> hooks.log; $COMMAND\n` +
    `instance_dispose=echo dispose $INSTANCE_IDS >> hooks.log\n`;
  const config = parseTestrConf(conf, path.join(dir, '.testr.conf'));
  t.equal(await resolveConcurrency(config, { cwd: dir }), 2);
  const pool = new InstancePool(config.instances!, { cwd: dir });
  const ids = await listTests(config, { cwd: dir, instances: pool, concurrency: 2 });
  t.same(ids, IDS);
  const events: SubunitEvent[] = [];
  await Promise.all([
    runPartition(config, ids.slice(0, 3), { cwd: dir, instances: pool, concurrency: 2, worker: 0, onPacket: (e) => events.push(e) }),
    runPartition(config, ids.slice(3), { cwd: dir, instances: pool, concurrency: 2, worker: 1, onPacket: (e) => events.push(e) }),
  ]);
  t.same(outcomes(events), EXPECTED);
  await pool.dispose();
  await pool.dispose();
  const log = readFileSync(path.join(dir, 'hooks.log'), 'utf8').trim().split('\n');
  t.equal(log[0], 'provision 2', 'provisioned once for the concurrency');
  t.equal(log[1], 'execute inst-a ', 'listing ran in an instance with no $FILES');
  t.same(log.slice(2, 4).map((l) => l.replace(/\/\S+ids\.list/, 'FILE')).sort(), ['execute inst-a FILE', 'execute inst-b FILE']);
  t.equal(log[4], 'dispose inst-a inst-b', 'disposed once, all instances');
  t.equal(log.length, 5);

  const failing = parseTestrConf('[DEFAULT]\ntest_command=x\ntest_run_concurrency=echo many\n', path.join(dir, 'c'));
  await t.rejects(resolveConcurrency(failing, { cwd: dir }), { code: 'ERR_COMMAND_FAILED', message: /not a positive integer/ });
  const exits = parseTestrConf('[DEFAULT]\ntest_command=x\ntest_run_concurrency=exit 3\n', path.join(dir, 'c'));
  await t.rejects(resolveConcurrency(exits, { cwd: dir }), { code: 'ERR_COMMAND_FAILED', message: /status 3/ });
  const noIds = new InstancePool({ provision: 'true' }, { cwd: dir });
  await t.rejects(noIds.obtain(1), { code: 'ERR_COMMAND_FAILED', message: /no new instance id/ });
});
