import t from 'tap';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSink } from '../../src/repository/file-sink.js';

t.test('appended bytes reach the file before control returns to the event loop (SPEC §13.4)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-sink-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 's');
  const sink = new FileSink(openSync(file, 'wx'), file);
  sink.append(Buffer.from('abc'));
  sink.append(Buffer.from('def'));
  t.equal(readFileSync(file, 'utf8'), '', 'batched within the turn');
  await Promise.resolve();
  t.equal(readFileSync(file, 'utf8'), 'abcdef', 'written by the end of the microtask queue');
  const big = Buffer.alloc(200_000, 0x61);
  sink.append(big);
  t.equal(readFileSync(file).length, 6 + 200_000, 'a packet larger than the batch is written at once');
  sink.append(Buffer.from('z'));
  sink.seal();
  sink.seal();
  t.equal(readFileSync(file).length, 6 + 200_000 + 1);
});

t.test('a write error (a full disk) is ERR_REPO_IO, and every later use says so', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const sink = new FileSink(openSync('/dev/full', 'w'), '/dev/full');
  sink.append(Buffer.from('x'));
  t.throws(() => sink.flush(), { code: 'ERR_REPO_IO', message: /\/dev\/full/ });
  t.throws(() => sink.append(Buffer.from('y')), { code: 'ERR_REPO_IO' });
  t.throws(() => sink.seal(), { code: 'ERR_REPO_IO' });
  t.throws(() => sink.seal(), { code: 'ERR_REPO_IO' }, 'still an error after the descriptor is closed');
});
