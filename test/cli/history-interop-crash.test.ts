import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { run, subrun, tempDir, testrRepo, text, withTools } from './fixtures/interop.js';

// A crashed writer's recovered run, read by python-subunit and testr (see history-interop.test.ts).
withTools(t, () => {
  t.test('a run whose writer was SIGKILLed reads in subunit-stats and testr with the lost test failed', async (t) => {
    const dir = tempDir(t);
    const repoDir = path.join(dir, '.subrun');
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'test', 'repository', 'fixtures', 'crash-writer.js'), repoDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        if (c.toString().includes('ready')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`crash writer exited early (${code})`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const last = subrun(['last', '--subunit'], dir);
    t.equal(last.status, 0);
    t.match(last.stderr.toString(), /recovered run 0/);
    const stats = text(run('/usr/bin/subunit-stats', [], dir, last.stdout));
    t.match(stats, /Total tests:\s+3\nPassed tests:\s+1\nFailed tests:\s+2\n/);
    t.match(stats, /last words on stdout/, 'the stray output is kept');
    const repo = path.join(dir, 'testr');
    testrRepo(repo);
    t.equal(run('/usr/bin/testr', ['load'], repo, last.stdout).status, 1);
    t.equal(text(run('/usr/bin/testr', ['failing', '--list'], repo)), 'crash.fails\ncrash.hangs\n');
    const summary = subrun(['last'], dir);
    t.equal(summary.status, 1);
    t.match(text(summary), /FAIL: crash\.hangs\n-+\nsubrun-error: \{\{\{subrun: the test was still in progress when its runner died/);
  });
});
