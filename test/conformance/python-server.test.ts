import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { runSubrun } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { clauseIds } from './scenarios.js';

// Proof that a correct version-1-only server written by someone else passes the kit (SPEC §11):
// test/fixtures/conformance_v1_server.py uses only python-subunit and json.
// Python and subunit start slowly on a loaded machine.
t.setTimeout(300_000);

const PYTHON = '/usr/bin/python3';
const PY_SERVER = path.join(ROOT, 'test', 'fixtures', 'conformance_v1_server.py');

interface Report {
  passed: boolean;
  scenarios: Array<{ name: string; version?: number; clauses: Array<{ clause: string; status: string }> }>;
}

t.test('an independent version-1-only server in Python (python-subunit + json) passes', async (t) => {
  // Interop must not skip silently in CI (brief): a missing python-subunit fails there.
  const probe = spawnSync(PYTHON, ['-c', 'import subunit.v2'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    if (process.env.CI === 'true') t.fail(`python-subunit is required: ${PYTHON} cannot import subunit.v2 (${probe.stderr})`);
    else t.plan(0, `${PYTHON} cannot import subunit.v2; run scripts/setup.sh`);
    return;
  }
  const unit = spawnSync(PYTHON, ['-m', 'unittest', '-v', 'conformance_v1_server_test'], { cwd: path.join(ROOT, 'test', 'fixtures'), encoding: 'utf8', timeout: 90_000 });
  t.equal(unit.status, 0, `the Python server's own unittest tests pass:\n${unit.stderr}`);
  t.match(unit.stderr, /Ran 6 tests/);
  const r = await runSubrun(['check', '--json', '--jobs', '4', '--time-scale', '3', '--', PYTHON, PY_SERVER, '--banner']);
  const report = JSON.parse(r.stdout) as Report;
  t.equal(r.code, 0, r.stderr);
  t.same(clauseIds(report, 'fail'), []);
  t.ok(report.scenarios.filter((s) => s.name !== 'no-common-version').every((s) => s.version === 1), 'every scenario ran at version 1');
  t.ok(clauseIds(report, 'pass').includes('unknown-test/v1-fail-reported'));
  t.ok(clauseIds(report, 'skip').includes('unknown-test/v2-error'));
});
