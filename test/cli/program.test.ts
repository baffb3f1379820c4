import t from 'tap';
import { spawnSync } from 'node:child_process';
import { runSubrun } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';

t.test('--help documents the program and the exit codes', async (t) => {
  const r = await runSubrun(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /Usage: subrun/);
  t.match(r.stdout, /Exit codes: 0 success, 1 test failures/);
});

t.test('an unknown command is a usage error (exit 2) with a message on stderr', async (t) => {
  const r = await runSubrun(['no-such-command']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^error: /m);
  t.equal(r.stdout, '');
});

t.test('the bin shim runs the built CLI as a real process', async (t) => {
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});
