import t from 'tap';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURE, PYTHON, run, subrun, tempDir, testrRepo, text, withTools } from './fixtures/interop.js';

// Interop with the real python-subunit tools and testrepository (Debian packages,
// installed by scripts/setup.sh). Under CI=true a missing tool fails the test.
withTools(t, () => {
  t.test('a stream from python -m subunit.run loads, and last --subunit reads the same in every python tool and in testr', async (t) => {
    const dir = tempDir(t);
    copyFileSync(FIXTURE, path.join(dir, 'sample_tests.py'));
    const produced = run(PYTHON, ['-m', 'subunit.run', 'sample_tests'], dir);
    t.equal(produced.status, 0, produced.stderr.toString());
    const original = produced.stdout;
    t.ok(original.includes(Buffer.from('printed to stdout\n')), 'the producer interleaves stray stdout bytes');

    const load = subrun(['load'], dir, original);
    t.equal(load.status, 1, `load exits 1 when the run had failures: ${load.stderr.toString()}`);
    t.match(text(load), /Ran 8 tests in \d+\.\d{3}s\nFAILED \(id=0, failures=3, skips=1, xfails=1, uxsuccesses=1\)\n$/);
    t.match(text(load), /FAIL: sample_tests\.WithDetails\.test_detail_fail\n-+\nlog: \{\{\{context before failing\}\}\}\n\nTraceback/);

    const ours = subrun(['last', '--subunit'], dir);
    t.equal(ours.status, 0);
    const stream = ours.stdout;
    t.notOk(stream.includes(Buffer.from('testrepository-rpc')));

    // python-subunit's tools see the same thing in our history as in the producer's stream.
    for (const tool of ['/usr/bin/subunit-stats', '/usr/bin/subunit-ls']) {
      const a = run(tool, [], dir, original);
      const b = run(tool, [], dir, stream);
      t.equal(text(b), text(a), `${path.basename(tool)} output is the same`);
      t.equal(b.status, a.status, `${path.basename(tool)} exit status is the same`);
    }
    t.match(text(run('/usr/bin/subunit-stats', [], dir, stream)), /Total tests:\s+8\nPassed tests:\s+4\nFailed tests:\s+3\nSkipped tests:\s+1/);
    const py = run('/usr/bin/subunit2pyunit', [], dir, stream);
    const pyText = py.stdout.toString() + py.stderr.toString();
    t.match(pyText, /Ran 8 tests in/);
    t.match(pyText, /FAILED \(failures=3, skipped=1, expected failures=1, unexpected successes=1\)/);

    // testr load accepts our stream with correct durations: compare with testr fed the producer's stream.
    const theirs = path.join(dir, 'testr-original');
    const mine = path.join(dir, 'testr-ours');
    testrRepo(theirs);
    testrRepo(mine);
    copyFileSync(FIXTURE, path.join(theirs, 'sample_tests.py'));
    copyFileSync(FIXTURE, path.join(mine, 'sample_tests.py'));
    t.equal(run('/usr/bin/testr', ['load'], theirs, original).status, 1);
    t.equal(run('/usr/bin/testr', ['load'], mine, stream).status, 1, 'testr load: the run had failures');
    const totals = (d: string) => text(run('/usr/bin/testr', ['last'], d)).split('\n').slice(-3).join('\n');
    t.equal(totals(mine), totals(theirs));
    t.match(totals(mine), /Ran 8 tests in \d+\.\d+s\nFAILED \(id=0, failures=3, skips=1\)/);
    const slowest = (d: string) => new Set(text(run('/usr/bin/testr', ['slowest', '--all'], d)).trim().split('\n'));
    const testrTimes = slowest(mine);
    t.same(testrTimes, slowest(theirs), 'testr records the same durations from our stream');
    t.equal(text(run('/usr/bin/testr', ['failing', '--list'], mine)), text(run('/usr/bin/testr', ['failing', '--list'], theirs)));

    // And our own slowest agrees with testr's to the millisecond.
    const oursSlowest = new Set(text(subrun(['slowest', '--all'], dir)).trim().split('\n'));
    t.same(oursSlowest, testrTimes, 'subrun slowest --all prints what testr slowest --all does');

    // Our failing set is testr's plus the unexpected success (SPEC §13.5 counts uxsuccess as failing).
    const ourFailing = text(subrun(['failing', '--list'], dir)).trim().split('\n');
    const testrFailing = text(run('/usr/bin/testr', ['failing', '--list'], mine)).trim().split('\n');
    t.same(ourFailing.filter((id) => !id.endsWith('test_uxsuccess')), testrFailing);
  });
});
