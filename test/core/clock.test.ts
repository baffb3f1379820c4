import t from 'tap';
import { ManualClock } from '../../src/core/clock.js';
import { parseDuration, withTimeout } from '../../src/core/abort.js';

t.test('ManualClock fires timers in deadline order and only when advanced', async (t) => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b'), 20);
  clock.setTimeout(() => fired.push('a'), 10);
  const c = clock.setTimeout(() => fired.push('c'), 15);
  c.cancel();
  clock.advance(9);
  t.same(fired, []);
  clock.advance(11);
  t.same(fired, ['a', 'b']);
  t.equal(clock.monotonic(), 20);
  t.equal(clock.pendingTimers, 0);
});

t.test('withTimeout rejects with a coded error on timeout and cleans up', async (t) => {
  const clock = new ManualClock(0);
  const p = withTimeout(new Promise(() => {}), { timeoutMs: 50, clock, what: 'handshake', timeoutCode: 'ERR_HANDSHAKE_TIMEOUT' });
  clock.advance(50);
  await t.rejects(p, { code: 'ERR_HANDSHAKE_TIMEOUT', message: 'handshake timed out after 50 ms' });
  const ok = withTimeout(Promise.resolve(7), { timeoutMs: 50, clock });
  t.equal(await ok, 7);
  t.equal(clock.pendingTimers, 0);
});

t.test('withTimeout honours an AbortSignal', async (t) => {
  const ac = new AbortController();
  const p = withTimeout(new Promise(() => {}), { signal: ac.signal, what: 'run' });
  ac.abort(new Error('user'));
  await t.rejects(p, { code: 'ERR_ABORTED', message: 'run was aborted' });
  await t.rejects(withTimeout(Promise.resolve(1), { signal: ac.signal }), { code: 'ERR_ABORTED' });
});

t.test('parseDuration', async (t) => {
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('1.5m'), 90_000);
  t.equal(parseDuration('2h'), 7_200_000);
  t.equal(parseDuration('250'), 250);
  t.throws(() => parseDuration('soon'), { code: 'ERR_INVALID_DURATION' });
  t.throws(() => parseDuration('-1s'), { code: 'ERR_INVALID_DURATION' });
});
