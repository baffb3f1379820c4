import t from 'tap';
import { FailureCollector, formatFailure, formatTotals } from '../../src/report/summary.js';

const bytes = (s: string) => Buffer.from(s);

t.test('formatTotals follows testr: Ran N tests in Xs, then PASSED/FAILED with the non-zero counts', async (t) => {
  const counts = { success: 5, fail: 0, skip: 0, xfail: 0, uxsuccess: 0 };
  t.equal(formatTotals({ runId: 3, tests: 5, counts, durationMs: 1234.5 }), 'Ran 5 tests in 1.234s\nPASSED (id=3)\n');
  t.equal(
    formatTotals({ runId: 3, tests: 9, counts: { success: 3, fail: 2, skip: 1, xfail: 2, uxsuccess: 1 }, durationMs: 10 }),
    'Ran 9 tests in 0.010s\nFAILED (id=3, failures=2, skips=1, xfails=2, uxsuccesses=1)\n',
  );
  t.equal(formatTotals({ tests: 1, counts: { ...counts, success: 0, uxsuccess: 1 }, durationMs: null }), 'Ran 1 test\nFAILED (uxsuccesses=1)\n');
  t.equal(formatTotals({ tests: 0, counts: { ...counts, success: 0 }, durationMs: null }), 'Ran 0 tests\nPASSED\n');
});

t.test('formatFailure: tags, one-line and multi-line text attachments, binary ones listed, traceback last', async (t) => {
  const out = formatFailure({
    testId: 'm.T.test_x',
    status: 'fail',
    tags: ['worker-0'],
    attachments: [
      { name: 'traceback', mimeType: 'text/x-traceback; charset=utf8', bytes: bytes('Traceback:\nBoom') },
      { name: 'log', mimeType: 'text/plain', bytes: bytes('one line\n') },
      { name: 'stdout', mimeType: undefined, bytes: bytes('a\nb\n') },
      { name: 'empty', mimeType: 'text/plain', bytes: bytes('') },
      { name: 'shot.png', mimeType: 'image/png', bytes: new Uint8Array([0x89, 0x50]) },
    ],
  });
  t.equal(
    out,
    `${'='.repeat(70)}\nFAIL: m.T.test_x\ntags: worker-0\n${'-'.repeat(70)}\n` +
      'log: {{{one line}}}\n\nstdout: {{{\na\nb\n}}}\n\nBinary content:\n  shot.png (image/png, 2 bytes)\n\nTraceback:\nBoom\n',
  );
});

t.test('FailureCollector keeps failures with their attachments in order, forgets passes and retried attempts', async (t) => {
  const c = new FailureCollector();
  c.event({ testId: 'a', status: 'exists' });
  c.event({ testId: 'a', status: 'inprogress' });
  c.event({ testId: 'a', fileName: 'traceback', fileBytes: bytes('part 1, '), mimeType: 'text/plain' });
  c.event({ testId: 'a', fileName: 'traceback', fileBytes: bytes('part 2'), eof: true });
  c.event({ testId: 'a', status: 'fail', tags: ['w1'] });
  c.event({ testId: 'b', status: 'inprogress' });
  c.event({ testId: 'b', fileName: 'stdout', fileBytes: bytes('noise') });
  c.event({ testId: 'b', status: 'success' });
  c.event({ testId: 'r', status: 'inprogress' });
  c.event({ testId: 'r', fileName: 'traceback', fileBytes: bytes('first attempt') });
  c.event({ testId: 'r', status: 'fail' });
  c.event({ testId: 'r', status: 'inprogress' });
  c.event({ testId: 'r', status: 'success' });
  c.event({ testId: 'u', status: 'uxsuccess' });
  const f = c.failures();
  t.same(
    f.map((x) => [x.testId, x.status, x.tags, x.attachments.map((a) => [a.name, Buffer.from(a.bytes).toString()])]),
    [
      ['a', 'fail', ['w1'], [['traceback', 'part 1, part 2']]],
      ['u', 'uxsuccess', [], []],
    ],
  );
  t.match(formatFailure(f[1]!), /^=+\nUNEXPECTED SUCCESS: u\n/);
  const only = new FailureCollector({ only: new Set(['u']) });
  only.event({ testId: 'a', status: 'fail' });
  only.event({ testId: 'u', status: 'uxsuccess' });
  t.same(only.failures().map((x) => x.testId), ['u']);
});
