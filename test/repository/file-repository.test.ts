import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FileRepository } from '../../src/repository/file-repository.js';
import { encodePacket } from '../../src/subunit/encoder.js';
import { collect, concat, decodeAll, sequential } from './fixtures/streams.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function tempRepoDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-file-repo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, '.subrun');
}

async function record(repo: FileRepository, specs: Parameters<typeof sequential>[0], partial = false) {
  const w = repo.beginRun({ partial });
  w.write(concat(sequential(specs)));
  return w.finish();
}

t.test('the layout on disk is SPEC §13.1 and survives reopening', async (t) => {
  const dir = tempRepoDir(t);
  const repo = FileRepository.open(dir, { create: true });
  await record(repo, [
    ['a', 'success', 10],
    ['b', 'fail', 20],
  ]);
  await record(repo, [['b', 'fail', 30]], true);
  repo.close();
  t.equal(readFileSync(path.join(dir, 'format'), 'utf8'), 'subrun-history 1\n');
  t.ok(existsSync(path.join(dir, 'runs', '0.subunit')));
  t.ok(existsSync(path.join(dir, 'runs', '1.subunit')));
  const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
  t.equal(db.pragma('user_version', { simple: true }), 1);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
  const again = FileRepository.open(dir);
  t.teardown(() => again.close());
  t.same(again.openReport, { recovered: [], rebuiltFrom: undefined });
  t.same(again.history().map((r) => [r.id, r.state, r.partial, r.tests]), [
    [1, 'complete', true, 1],
    [0, 'complete', false, 2],
  ]);
  t.same(again.failing(), [{ testId: 'b', runId: 1, status: 'fail' }]);
  t.same(again.times(['a', 'b']), new Map([['a', 10], ['b', 25]]));
});

t.test('open without create on a missing repository is ERR_REPO_NOT_FOUND and creates nothing', async (t) => {
  const dir = tempRepoDir(t);
  t.throws(() => FileRepository.open(dir), { code: 'ERR_REPO_NOT_FOUND' });
  t.notOk(existsSync(dir));
});

t.test('a newer layout or schema version is refused and left untouched', async (t) => {
  const dir = tempRepoDir(t);
  FileRepository.open(dir, { create: true }).close();
  writeFileSync(path.join(dir, 'format'), 'subrun-history 2\n');
  t.throws(() => FileRepository.open(dir), { code: 'ERR_REPO_VERSION' });
  writeFileSync(path.join(dir, 'format'), 'not a format\n');
  t.throws(() => FileRepository.open(dir), { code: 'ERR_REPO_VERSION' });
  writeFileSync(path.join(dir, 'format'), 'subrun-history 1\n');
  const db = new Database(path.join(dir, 'index.sqlite'));
  db.pragma('user_version = 99');
  db.close();
  t.throws(() => FileRepository.open(dir), { code: 'ERR_REPO_VERSION', message: /schema version 99/ });
  const check = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
  t.equal(check.pragma('user_version', { simple: true }), 99, 'the newer index is not migrated down');
  check.close();
});

t.test('a writer SIGKILLed mid-run loses nothing, and its run is recovered on next open', async (t) => {
  const dir = tempRepoDir(t);
  const child = spawn(process.execPath, [path.join(here, 'fixtures', 'crash-writer.js'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out);
    });
    child.on('exit', (code) => reject(new Error(`writer exited ${code}: ${stderr}`)));
  });
  t.match(ready, /^ready 0 /);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  // Before recovery: the stream already holds everything the writer was given.
  const raw = readFileSync(path.join(dir, 'runs', '0.subunit'));
  const before = decodeAll(raw);
  t.same(before.events.filter((e) => e.status === 'inprogress').map((e) => e.testId), ['crash.passes', 'crash.fails', 'crash.hangs']);
  t.ok(before.events.some((e) => e.fileName === 'stdout' && Buffer.from(e.fileBytes!).toString() === 'last words on stdout\n'));

  // A torn final write (half a packet) is cut off by recovery.
  const half = encodePacket({ testId: 'torn', status: 'success' });
  appendFileSync(path.join(dir, 'runs', '0.subunit'), half.subarray(0, 9));

  const repo = FileRepository.open(dir);
  t.teardown(() => repo.close());
  t.same(repo.openReport.recovered, [0]);
  const run = repo.run(0);
  t.match(run, { state: 'recovered', source: 'crash-writer', tests: 3, counts: { success: 1, fail: 2 }, durationMs: 50 });
  t.same(repo.failing().map((f) => f.testId), ['crash.fails', 'crash.hangs']);
  const after = await collect(repo.openStream(0));
  t.ok(after.subarray(0, raw.length).equals(raw), 'the recorded bytes are kept as they were');
  const d = decodeAll(after);
  t.equal(d.stray.length, 0, 'the torn write is gone: the stream is all packets');
  const closing = d.events.at(-1)!;
  t.match(closing, { testId: 'crash.hangs', status: 'fail', fileName: 'subrun-error' });
  t.match(Buffer.from(closing.fileBytes!).toString(), /runner died/);
  t.equal(run.bytes, after.length);

  // Recovery happens once.
  repo.close();
  const third = FileRepository.open(dir);
  t.teardown(() => third.close());
  t.same(third.openReport.recovered, []);
  t.ok((await collect(third.openStream(0))).equals(after));
});

t.test('a stream with no index row (writer died between claiming and indexing) is indexed on open', async (t) => {
  const dir = tempRepoDir(t);
  FileRepository.open(dir, { create: true }).close();
  writeFileSync(path.join(dir, 'runs', '0.subunit'), concat(sequential([['x', 'fail', 5]])));
  const repo = FileRepository.open(dir);
  t.teardown(() => repo.close());
  t.same(repo.openReport.recovered, [0]);
  t.match(repo.run(0), { state: 'recovered', partial: true, tests: 1, failures: 1 });
  t.equal(repo.beginRun().id, 1, 'the next run takes the next id');
});

for (const damage of ['garbage', 'truncated'] as const) {
  t.test(`a ${damage} index is moved aside and rebuilt from the streams`, async (t) => {
    const dir = tempRepoDir(t);
    const repo = FileRepository.open(dir, { create: true });
    await record(repo, [
      ['a', 'fail', 10],
      ['b', 'fail', 20],
      ['c', 'success', 30],
    ]);
    await record(repo, [
      ['a', 'success', 12],
      ['b', 'fail', 22],
    ]);
    repo.close();
    const indexFile = path.join(dir, 'index.sqlite');
    for (const f of [indexFile + '-wal', indexFile + '-shm']) rmSync(f, { force: true });
    if (damage === 'garbage') writeFileSync(indexFile, Buffer.alloc(8192, 0x5a));
    else truncateSync(indexFile, 1000);
    const again = FileRepository.open(dir);
    t.teardown(() => again.close());
    t.match(again.openReport.rebuiltFrom, /index\.sqlite\.corrupt-\d+$/);
    t.ok(existsSync(again.openReport.rebuiltFrom!), 'the damaged index is kept for inspection');
    t.same(again.openReport.recovered, [0, 1]);
    t.same(again.failing().map((f) => [f.testId, f.runId]), [['b', 1]]);
    t.same(again.results(1).map((r) => [r.testId, r.status, r.durationMs]), [
      ['a', 'success', 12],
      ['b', 'fail', 22],
    ]);
    t.same(again.slowest(1).map((r) => r.testId), ['b']);
    t.equal(again.latestRun()!.id, 1);
  });
}

t.test('two writers at once get distinct ids, and both runs are kept', async (t) => {
  const dir = tempRepoDir(t);
  const a = FileRepository.open(dir, { create: true });
  const b = FileRepository.open(dir);
  t.teardown(() => {
    a.close();
    b.close();
  });
  const wa = a.beginRun();
  const wb = b.beginRun();
  t.not(wa.id, wb.id);
  wa.write(concat(sequential([['from.a', 'success', 1]])));
  wb.write(concat(sequential([['from.b', 'fail', 1]])));
  await Promise.all([wa.finish(), wb.finish()]);
  t.same(a.history().map((r) => r.id).sort(), [0, 1]);
  t.same(b.failing().map((f) => f.testId), ['from.b']);
});

t.test('a stream file that cannot be read back is ERR_REPO_IO', async (t) => {
  const dir = tempRepoDir(t);
  const repo = FileRepository.open(dir, { create: true });
  t.teardown(() => repo.close());
  await record(repo, [['a', 'success', 1]]);
  rmSync(path.join(dir, 'runs', '0.subunit'));
  t.throws(() => repo.openStream(0), { code: 'ERR_REPO_IO' });
});

t.test('a repository path that is not a directory is ERR_REPO_IO', async (t) => {
  const dir = tempRepoDir(t);
  mkdirSync(path.dirname(dir), { recursive: true });
  writeFileSync(dir, 'a file, not a directory');
  t.throws(() => FileRepository.open(dir, { create: true }), { code: 'ERR_REPO_IO' });
  t.throws(() => FileRepository.open(path.join(dir, 'sub'), { create: true }), { code: 'ERR_REPO_IO' });
});
