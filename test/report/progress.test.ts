import t from 'tap';
import { ManualClock } from '../../src/core/clock.js';
import { formatDuration, ProgressLine } from '../../src/report/progress.js';

function sink() {
  const writes: string[] = [];
  return { writes, write: (s: string) => writes.push(s) };
}

t.test('counts done, failures and elapsed; the ETA comes from recorded times over the concurrency', async (t) => {
  const clock = new ManualClock();
  const out = sink();
  const expectedMs = new Map([
    ['a', 10_000],
    ['b', 20_000],
    ['c', 30_000],
    ['d', 40_000],
  ]);
  const p = new ProgressLine(out, { total: 4, expectedMs, concurrency: 2, clock });
  t.equal(p.text(), '0/4 tests, 0s, ETA 50s');
  clock.advance(12_000);
  p.testFinished('a', 'success');
  t.equal(p.text(), '1/4 tests, 12s, ETA 45s');
  p.testFinished('b', 'fail');
  p.testFinished('b', 'fail');
  t.equal(p.text(), '2/4 tests, 1 failed, 12s, ETA 35s', 'a test reported twice counts once');
  p.testFinished('c', 'uxsuccess');
  p.testFinished('d', 'success');
  t.equal(p.text(), '4/4 tests, 2 failed, 12s', 'no ETA once done');
});

t.test('tests with no recorded time are estimated from the observed pace; nothing to say before the first', async (t) => {
  const clock = new ManualClock();
  const p = new ProgressLine(sink(), { total: 3, clock });
  t.equal(p.etaMs(), null);
  t.equal(p.text(), '0/3 tests, 0s');
  clock.advance(4000);
  p.testFinished('x', 'success');
  t.equal(p.etaMs(), 8000);
});

t.test('redraws in place at most every minIntervalMs, and clear() erases once', async (t) => {
  const clock = new ManualClock();
  const out = sink();
  const p = new ProgressLine(out, { total: 10, clock, minIntervalMs: 100 });
  p.testFinished('1', 'success');
  p.testFinished('2', 'success');
  t.equal(out.writes.length, 1, 'the second update within the interval is not drawn');
  t.equal(out.writes[0], '\r1/10 tests, 0s, ETA 0s\x1b[K');
  clock.advance(100);
  p.testFinished('3', 'success');
  t.equal(out.writes.length, 2);
  p.clear();
  p.clear();
  t.same(out.writes.slice(2), ['\r\x1b[K']);
});

t.test('the line fits the terminal; bad options are refused', async (t) => {
  const clock = new ManualClock();
  const p = new ProgressLine(sink(), { total: 123456789, columns: 20, clock });
  t.equal(p.text().length, 19);
  t.throws(() => new ProgressLine(sink(), { total: -1, clock }), { code: 'ERR_INVALID_ARGUMENT', message: /total/ });
  t.throws(() => new ProgressLine(sink(), { total: 1, concurrency: 0, clock }), { message: /concurrency/ });
  t.equal(formatDuration(59_400), '59s');
  t.equal(formatDuration(61_000), '1m01s');
  t.equal(formatDuration(3_700_000), '1h01m');
});
