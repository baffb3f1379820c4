import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseTestrConf } from '../../src/runner/config/index.js';
import { runLegacy } from '../../src/runner/run-legacy.js';
import type { SubunitEvent } from '../../src/subunit/event.js';

// A small real test command: `--list` prints ids one per line (the v1 list form);
// otherwise it logs its arguments to runs.log and reports the ids it was given (all
// when none) as subunit v2 through python-subunit.
const PRODUCER = `
import sys, subunit
args = sys.argv[1:]
ids = ['g1.a', 'g1.b', 'g2.a', 'g2.b', 'g3.a', 'solo']
if args[:1] == ['--list']:
    print('\\n'.join(ids)); sys.exit(0)
with open('runs.log', 'a') as log:
    log.write(' '.join(args) + '\\n')
out = subunit.StreamResultToBytes(sys.stdout.buffer)
for i in (args or ids):
    out.status(test_id=i, test_status='inprogress')
    out.status(test_id=i, test_status='fail' if i == 'solo' else 'success')
`;

function setup(t: { teardown(fn: () => void): void }, extra = ''): { dir: string; config: ReturnType<typeof parseTestrConf> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-runlegacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'producer.py'), PRODUCER);
  const conf = `[DEFAULT]\ntest_command=/usr/bin/python3 producer.py $LISTOPT $IDLIST\ntest_list_option=--list\n${extra}`;
  writeFileSync(path.join(dir, '.testr.conf'), conf);
  return { dir, config: parseTestrConf(conf, path.join(dir, '.testr.conf')) };
}

const runs = (dir: string): string[][] =>
  readFileSync(path.join(dir, 'runs.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (l === '' ? [] : l.split(' ')));

function finals(events: Array<{ e: SubunitEvent; w: number }>): Map<string, { status: string; worker: number }> {
  const m = new Map<string, { status: string; worker: number }>();
  for (const { e, w } of events) if (e.testId !== undefined && (e.status === 'success' || e.status === 'fail')) m.set(e.testId, { status: e.status, worker: w });
  return m;
}

t.test('parallel: lists (v1 newline list), partitions by recorded time keeping groups, runs all at once', async (t) => {
  const { dir, config } = setup(t, 'group_regex=g\\d\\.\n');
  const events: Array<{ e: SubunitEvent; w: number }> = [];
  const commands: string[] = [];
  const r = await runLegacy(config, {
    cwd: dir,
    concurrency: 3,
    durations: new Map([['g1.a', 5], ['g1.b', 5], ['g2.a', 4], ['g2.b', 4], ['g3.a', 1], ['solo', 1]]),
    onPacket: (e, _raw, w) => events.push({ e, w }),
    onCommand: (c) => commands.push(c),
  });
  t.same(r.tests, ['g1.a', 'g1.b', 'g2.a', 'g2.b', 'g3.a', 'solo']);
  t.equal(r.partitions.length, 3);
  t.same(runs(dir).map((ids) => ids.sort()).sort(), [['g1.a', 'g1.b'], ['g2.a', 'g2.b'], ['g3.a', 'solo']].sort(), 'LPT, groups together');
  const f = finals(events);
  t.equal(f.size, 6);
  t.equal(f.get('g1.a')!.worker, f.get('g1.b')!.worker, 'a group shares a worker');
  t.equal(f.get('solo')!.status, 'fail');
  t.ok(events.every(({ e, w }) => e.tags?.includes(`worker-${w}`)));
  t.match(commands[0], /--list/);
});

t.test('serial without filters runs the command once with no ids; with test_id_list_default, those', async (t) => {
  const { dir, config } = setup(t);
  const events: Array<{ e: SubunitEvent; w: number }> = [];
  const r = await runLegacy(config, { cwd: dir, concurrency: 1, onPacket: (e, _r, w) => events.push({ e, w }) });
  t.equal(r.tests, null, 'no listing');
  t.same(runs(dir), [[]], 'one run, no ids');
  t.equal(finals(events).size, 6);
  const withDefault = setup(t, 'test_id_list_default=g1.a solo\n');
  await runLegacy(withDefault.config, { cwd: withDefault.dir, concurrency: 1, onPacket: () => {} });
  t.same(runs(withDefault.dir), [['g1.a', 'solo']]);
});

t.test('filters (re.search, any) and explicit ids; nothing left runs nothing', async (t) => {
  const { dir, config } = setup(t);
  const r = await runLegacy(config, { cwd: dir, concurrency: 1, filters: ['^g2', 'lo$'], onPacket: () => {} });
  t.same(r.tests, ['g2.a', 'g2.b', 'solo']);
  t.same(runs(dir), [['g2.a', 'g2.b', 'solo']]);
  const ids = await runLegacy(config, { cwd: dir, concurrency: 4, ids: ['g3.a'], onPacket: () => {} });
  t.equal(ids.partitions.length, 1, 'empty partitions start no process');
  const none = await runLegacy(config, { cwd: dir, concurrency: 2, filters: ['nomatch'], onPacket: () => {} });
  t.same(none.partitions, [], 'no test, no process');
  await t.rejects(runLegacy(config, { cwd: dir, filters: ['('], onPacket: () => {} }), { code: 'ERR_USAGE' });
  await t.rejects(runLegacy(config, { cwd: dir, concurrency: 0, onPacket: () => {} }), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('instances are disposed even when the run fails', async (t) => {
  const { dir, config } = setup(t, 'instance_provision=echo i1 i2\ninstance_execute=$COMMAND\ninstance_dispose=echo $INSTANCE_IDS > disposed\n');
  await t.rejects(
    runLegacy(config, {
      cwd: dir,
      concurrency: 2,
      onPacket: () => {
        throw new Error('sink failed');
      },
    }),
    { message: 'sink failed' },
  );
  t.ok(existsSync(path.join(dir, 'disposed')));
  t.equal(readFileSync(path.join(dir, 'disposed'), 'utf8'), 'i1 i2\n');
});

t.test('abort stops every partition and reports it', async (t) => {
  const { dir, config } = setup(t);
  const slow = { ...config, testCommand: `sleep 30; ${config.testCommand!}` };
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(), 500);
  const r = await runLegacy(slow, { cwd: dir, concurrency: 2, ids: ['g1.a', 'g2.a'], signal: ac.signal, onPacket: () => {} });
  t.ok(r.aborted);
  t.ok(r.partitions.every((p) => p.result.aborted));
  t.ok(Date.now() - started < 10_000);
});

t.test('batches policy: a work-stealing queue of processes, every test once, tagged by slot', async (t) => {
  const { dir, config } = setup(t, 'group_regex=g\\d\\.\n');
  const events: Array<{ e: SubunitEvent; w: number }> = [];
  const r = await runLegacy(config, {
    cwd: dir,
    concurrency: 2,
    policy: 'batches',
    batchQueue: { initialShare: 0.3 },
    onPacket: (e, _raw, w) => events.push({ e, w }),
  });
  const logged = runs(dir);
  t.ok(logged.length > 2, `more batches (${logged.length}) than slots`);
  t.same(logged.flat().sort(), ['g1.a', 'g1.b', 'g2.a', 'g2.b', 'g3.a', 'solo'], 'each test in exactly one batch');
  for (const ids of logged) {
    const groups = new Set(ids.map((id) => id.split('.')[0]));
    for (const g of ['g1', 'g2']) if (groups.has(g)) t.equal(ids.filter((id) => id.startsWith(g)).length, 2, `${g} stays together`);
  }
  t.equal(r.partitions.length, logged.length);
  t.ok(r.partitions.every((p) => p.worker === 0 || p.worker === 1));
  t.equal(finals(events).size, 6);
  t.ok(events.every(({ e, w }) => e.tags?.includes(`worker-${w}`)));
  const failing = setup(t, 'instance_provision=echo i1 i2\ninstance_dispose=echo $INSTANCE_IDS > disposed\n');
  await t.rejects(
    runLegacy(failing.config, {
      cwd: failing.dir,
      concurrency: 2,
      policy: 'batches',
      onPacket: () => {
        throw new Error('sink failed');
      },
    }),
    { message: 'sink failed' },
  );
  t.ok(existsSync(path.join(failing.dir, 'disposed')), 'instances disposed after the failure');
});
