import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../../src/runner/config/index.js';
import { runSubrun } from '../helpers/cli.js';

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'subrun-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('init writes subrun.config.json by default, which loads back', async (t) => {
  const dir = scratch(t);
  const r = await runSubrun(['init', '--concurrency', '3', '--group-regex', '[^.]+\\.'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'wrote subrun.config.json\n');
  const c = await loadConfig(dir);
  t.equal(c.format, 'json');
  t.equal(c.mode, 'legacy');
  t.same(c.concurrency, { kind: 'fixed', count: 3 });
  t.equal(c.groupRegex, '[^.]+\\.');
  t.match(c.testCommand, /subunit\.run discover .*\$LISTOPT \$IDOPTION/);
});

t.test('init --format testr writes a .testr.conf that real ConfigParser and testr read', async (t) => {
  const dir = scratch(t);
  const cmd = "${PYTHON:-python3} -m subunit.run $LISTOPT $IDOPTION pkg.tests  # 100%";
  const r = await runSubrun(['init', '--format', 'testr', '--command', cmd, '--server-command', 'subrun serve'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  const c = await loadConfig(dir);
  t.equal(c.testCommand, cmd, '% survives as %%');
  t.equal(c.mode, 'server');
  const py = spawnSync('/usr/bin/python3', ['-c', 'import configparser,sys; p=configparser.ConfigParser(); p.read(".testr.conf"); sys.stdout.write(p.get("DEFAULT","test_command"))'], { cwd: dir, encoding: 'utf8' });
  t.equal(py.stdout, cmd, 'Python reads the same command');
});

t.test('init refuses to overwrite either file and rejects bad flags', async (t) => {
  const dir = scratch(t);
  writeFileSync(path.join(dir, '.testr.conf'), 'keep me');
  for (const format of ['json', 'testr']) {
    const r = await runSubrun(['init', '--format', format], { cwd: dir });
    t.equal(r.code, 2);
    t.match(r.stderr, /already exists; subrun init never overwrites/);
  }
  t.equal(readFileSync(path.join(dir, '.testr.conf'), 'utf8'), 'keep me', 'untouched');
  const empty = scratch(t);
  t.equal((await runSubrun(['init', '--format', 'yaml'], { cwd: empty })).code, 2);
  t.equal((await runSubrun(['init', '--concurrency', 'x'], { cwd: empty })).code, 2);
  t.equal((await runSubrun(['init', '--format', 'testr', '--concurrency', '2'], { cwd: empty })).code, 2);
  const bad = await runSubrun(['init', '--command', 'run $IDOPTION', '--id-option', '', '--group-regex', '('], { cwd: empty });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /ERR_CONFIG/);
  t.equal((await runSubrun(['init', '--help'], { cwd: empty })).code, 0);
});
