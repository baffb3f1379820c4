import t from 'tap';
import path from 'node:path';
import { runSubrun } from '../helpers/cli.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { clauseIds } from './scenarios.js';

// issue 4: the conformance kit passes against `subrun serve` itself, over plain stdio and
// over the protocol fd.
t.setTimeout(300_000);

interface Report {
  passed: boolean;
  counts: { pass: number; fail: number; skip: number };
  scenarios: Array<{ name: string; version?: number; clauses: Array<{ clause: string; status: string; spec: string }> }>;
}

const serve = [process.execPath, BIN, 'serve', '--root', path.join(ROOT, 'examples'), 'basics.test.js'];

for (const fd of [false, true]) {
  t.test(`subrun serve passes the conformance kit${fd ? ' over the protocol fd' : ''}`, async (t) => {
    const r = await runSubrun(['check', '--json', '--jobs', '2', '--time-scale', '3', ...(fd ? ['--protocol-fd'] : []), '--', ...serve]);
    const report = JSON.parse(r.stdout) as Report;
    t.same(clauseIds(report, 'fail'), [], 'no clause fails');
    t.equal(r.code, 0);
    t.ok(report.counts.pass > 80, `${report.counts.pass} clauses passed`);
    t.ok(report.scenarios.every((s) => s.version === undefined || s.version === 2 || s.name.startsWith('version-v1')), 'version 2 wherever the kit offers it');
  });
}

t.test('the command bridge wrapping `python3 -m subunit.run` passes the conformance kit', async (t) => {
  const suite = path.join(ROOT, 'test', 'server', 'fixtures', 'python-suite');
  const r = await runSubrun(
    ['check', '--json', '--jobs', '2', '--time-scale', '3', '--', process.execPath, BIN, 'serve', '--root', suite, '--command', '/usr/bin/python3 -m subunit.run $LISTOPT $IDOPTION test_sample'],
    { cwd: suite },
  );
  const report = JSON.parse(r.stdout) as Report;
  t.same(clauseIds(report, 'fail'), [], 'no clause fails');
  t.equal(r.code, 0);
  t.ok(report.counts.pass > 80, `${report.counts.pass} clauses passed`);
});
