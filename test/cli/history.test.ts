import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodePacket } from '../../src/subunit/encoder.js';
import { timestampFromMillis } from '../../src/subunit/event.js';
import { runSubrun } from '../helpers/cli.js';
import { concat, decodeAll, rpcPacket, sequential, T0 } from '../repository/fixtures/streams.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-cli-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const failingRun = concat([
  ...sequential([
    ['pkg.a', 'success', 250],
    ['pkg.b', 'skip', 1],
  ]),
  encodePacket({ testId: 'pkg.c', status: 'inprogress', timestamp: timestampFromMillis(T0 + 300), tags: ['worker-1'] }),
  encodePacket({
    testId: 'pkg.c',
    timestamp: timestampFromMillis(T0 + 400),
    fileName: 'stdout',
    mimeType: 'text/plain; charset=utf8',
    fileBytes: Buffer.from('captured line 1\ncaptured line 2\n'),
    eof: true,
  }),
  encodePacket({
    testId: 'pkg.c',
    timestamp: timestampFromMillis(T0 + 400),
    fileName: 'traceback',
    mimeType: 'text/x-traceback; charset=utf8',
    fileBytes: Buffer.from('Traceback (most recent call last):\nAssertionError: nope\n'),
    eof: true,
  }),
  encodePacket({ testId: 'pkg.c', status: 'fail', timestamp: timestampFromMillis(T0 + 400), tags: ['worker-1'] }),
]);

t.test('every history command on a missing repository is exit 3 with ERR_REPO_NOT_FOUND', async (t) => {
  const cwd = tempDir(t);
  for (const cmd of [['last'], ['failing'], ['slowest'], ['stats'], ['history']]) {
    const r = await runSubrun(cmd, { cwd });
    t.equal(r.code, 3, cmd.join(' '));
    t.match(r.stderr, /no subrun history at .*\[ERR_REPO_NOT_FOUND\]/);
  }
  t.notOk(existsSync(path.join(cwd, '.subrun')), 'reading commands create nothing');
});

t.test('load then last: failures with their output, then testr\'s totals; exit 1', async (t) => {
  const cwd = tempDir(t);
  const load = await runSubrun(['load'], { cwd, stdin: failingRun });
  t.equal(load.code, 1, load.stderr);
  const last = await runSubrun(['last'], { cwd });
  t.equal(last.code, 1);
  t.equal(last.stdout, load.stdout, 'load shows the same summary as last');
  t.equal(
    last.stdout,
    '='.repeat(70) +
      '\nFAIL: pkg.c\ntags: worker-1\n' +
      '-'.repeat(70) +
      '\nstdout: {{{\ncaptured line 1\ncaptured line 2\n}}}\n\n' +
      'Traceback (most recent call last):\nAssertionError: nope\n' +
      'Ran 3 tests in 0.400s\nFAILED (id=0, failures=1, skips=1)\n',
  );
  t.notMatch(last.stdout + last.stderr, /\x1b/, 'no escape codes off a terminal');
});

t.test('last on a passing run prints PASSED and exits 0; last --subunit exits 0 either way', async (t) => {
  const cwd = tempDir(t);
  t.equal((await runSubrun(['load'], { cwd, stdin: failingRun })).code, 1);
  const sub = await runSubrun(['last', '--subunit'], { cwd });
  t.equal(sub.code, 0, 'testr: with --subunit the exit code says whether the stream was written');
  t.ok(sub.stdoutBytes.equals(failingRun), 'the stream as loaded');
  const pass = concat(sequential([['pkg.a', 'success', 5]]));
  t.equal((await runSubrun(['load'], { cwd, stdin: pass })).code, 0);
  const last = await runSubrun(['last'], { cwd });
  t.equal(last.code, 0);
  t.equal(last.stdout, 'Ran 1 test in 0.005s\nPASSED (id=1)\n');
});

t.test('load keeps stray bytes, drops RPC packets, reads files and `-`, and records the source', async (t) => {
  const cwd = tempDir(t);
  const [a0, a1] = sequential([['x.one', 'success', 10]]);
  writeFileSync(path.join(cwd, 'part1.subunit'), concat([a0!, rpcPacket({ msg: 'list' }), Buffer.from('stray!\n')]));
  const r = await runSubrun(['load', 'part1.subunit', '-'], { cwd, stdin: concat([a1!, rpcPacket({ msg: 'done' })]) });
  t.equal(r.code, 0, r.stderr);
  const sub = await runSubrun(['last', '--subunit'], { cwd });
  const d = decodeAll(sub.stdoutBytes);
  t.same(
    d.events.map((e) => [e.testId, e.status, e.fileName]),
    [
      ['x.one', 'inprogress', undefined],
      [undefined, undefined, 'stdout'],
      ['x.one', 'success', undefined],
    ],
  );
  t.equal(Buffer.from(d.events[1]!.fileBytes!).toString(), 'stray!\n');
  const h = await runSubrun(['history'], { cwd });
  t.match(h.stdout, /^Id\s+State\s+Started \(UTC\)\s+Tests\s+Failures\s+Skips\s+Time \(s\)\s+Source\n/);
  t.match(h.stdout, /\n0\s+complete\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+1\s+0\s+0\s+0\.010\s+load part1\.subunit -\n$/);
});

t.test('load of a stream cut off mid-test: the test in progress fails, the partial packet is kept as output', async (t) => {
  const cwd = tempDir(t);
  const packets = sequential([
    ['t.ok', 'success', 10],
    ['t.cut', 'success', 10],
  ]);
  const cut = concat(packets.slice(0, 3));
  const torn = Buffer.from(packets[3]!).subarray(0, 7);
  const r = await runSubrun(['load'], { cwd, stdin: concat([cut, torn]) });
  t.equal(r.code, 1);
  t.match(r.stdout, /FAIL: t\.cut\n-+\nsubrun-error: \{\{\{subrun: the test was still in progress when its run finished/);
  t.match(r.stdout, /Ran 2 tests in 0\.010s\nFAILED \(id=0, failures=1\)\n$/);
  const d = decodeAll((await runSubrun(['last', '--subunit'], { cwd })).stdoutBytes);
  t.ok(Buffer.from(d.events.find((e) => e.fileName === 'stdout')!.fileBytes!).equals(torn), 'the torn bytes are kept');
});

t.test('failing: --list and the default view exit 1 while tests fail; a later pass clears them; --partial', async (t) => {
  const cwd = tempDir(t);
  await runSubrun(['load'], { cwd, stdin: failingRun });
  const list = await runSubrun(['failing', '--list'], { cwd });
  t.equal(list.code, 1);
  t.equal(list.stdout, 'pkg.c\n');
  const full = await runSubrun(['failing'], { cwd });
  t.equal(full.code, 1);
  t.match(full.stdout, /^=+\nFAIL: pkg\.c\n[\s\S]*AssertionError: nope\nRan 1 test\nFAILED \(id=0, failures=1\)\n$/);
  const sub = await runSubrun(['failing', '--subunit'], { cwd });
  t.equal(sub.code, 0);
  t.same([...new Set(decodeAll(sub.stdoutBytes).events.map((e) => e.testId))], ['pkg.c']);
  // A partial run with another test leaves pkg.c failing; one where it passes clears it.
  await runSubrun(['load', '--partial'], { cwd, stdin: concat(sequential([['pkg.d', 'success', 1]])) });
  t.equal((await runSubrun(['failing', '--list'], { cwd })).stdout, 'pkg.c\n');
  await runSubrun(['load', '--partial'], { cwd, stdin: concat(sequential([['pkg.c', 'success', 1]])) });
  const none = await runSubrun(['failing', '--list'], { cwd });
  t.equal(none.code, 0);
  t.equal(none.stdout, '');
  t.equal((await runSubrun(['failing'], { cwd })).code, 0);
});

t.test('slowest prints testr\'s table from the latest run; -n and --all; bad counts are usage errors', async (t) => {
  const cwd = tempDir(t);
  await runSubrun(['load'], {
    cwd,
    stdin: concat(
      sequential([
        ['s.fast', 'success', 3],
        ['s.slowest', 'success', 12_345],
        ['s.mid', 'fail', 40],
      ]),
    ),
  });
  const top = await runSubrun(['slowest', '-n', '2'], { cwd });
  t.equal(top.code, 0);
  t.equal(
    top.stdout,
    // testr's layout: times padded to the widest, left in their column.
    'Test id    Runtime (s)\n---------  -----------\ns.slowest  12.345\ns.mid       0.040\n',
  );
  const all = await runSubrun(['slowest', '--all'], { cwd });
  t.equal(all.stdout.trim().split('\n').length, 5);
  for (const bad of ['0', 'x', '-1', '2.5']) {
    const r = await runSubrun(['slowest', '-n', bad], { cwd });
    t.equal(r.code, 2, `-n ${bad}`);
  }
});

t.test('stats', async (t) => {
  const cwd = tempDir(t);
  await runSubrun(['load'], { cwd, stdin: failingRun });
  await runSubrun(['load', '--partial'], { cwd, stdin: failingRun });
  const r = await runSubrun(['stats', '--repo', '.subrun'], { cwd });
  t.equal(r.code, 0);
  t.equal(r.stdout, `runs=2\nlatest=1\nfailing=1\ntimed_tests=2\nstream_bytes=${2 * failingRun.length}\n`);
});

t.test('--repo points anywhere; load of a missing file is exit 2 and creates nothing', async (t) => {
  const cwd = tempDir(t);
  const r = await runSubrun(['load', 'nope.subunit', '--repo', 'elsewhere'], { cwd });
  t.equal(r.code, 2);
  t.match(r.stderr, /cannot load "nope\.subunit"/);
  t.notOk(existsSync(path.join(cwd, 'elsewhere')));
  const ok = await runSubrun(['load', '--repo', 'elsewhere'], { cwd, stdin: concat(sequential([['a', 'success', 1]])) });
  t.equal(ok.code, 0);
  t.ok(existsSync(path.join(cwd, 'elsewhere', 'runs', '0.subunit')));
  t.equal((await runSubrun(['last'], { cwd })).code, 3, 'the default .subrun is untouched');
});

t.test('last on an empty repository is exit 3', async (t) => {
  const cwd = tempDir(t);
  await runSubrun(['load', '--repo', 'r'], { cwd, stdin: Buffer.alloc(0) });
  // load of an empty stream records an empty run (0 tests); last shows it.
  const r = await runSubrun(['last', '--repo', 'r'], { cwd });
  t.equal(r.code, 0);
  t.equal(r.stdout, 'Ran 0 tests\nPASSED (id=0)\n');
  const empty = path.join(cwd, 'r2');
  const { FileRepository } = await import('../../src/repository/file-repository.js');
  FileRepository.open(empty, { create: true }).close();
  const none = await runSubrun(['last', '--repo', empty], { cwd });
  t.equal(none.code, 3);
  t.match(none.stderr, /ERR_REPO_NO_RUN/);
});
