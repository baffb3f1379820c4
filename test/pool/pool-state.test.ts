import t from 'tap';
import fc from 'fast-check';
import { ManualClock } from '../../src/core/clock.js';
import { isSubrunError } from '../../src/core/errors.js';
import { PoolState } from '../../src/pool/pool-state.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import type { Need, PoolEvent, PoolSnapshot } from '../../src/pool/types.js';

function setup(opts: { hooks?: string[] } = {}) {
  const clock = new ManualClock();
  const events: PoolEvent[] = [];
  const pool = new PoolState({ clock, emit: (e) => events.push(e), hasReleaseHook: (type) => (opts.hooks ?? []).includes(type) });
  return { clock, events, pool };
}

const need = (type: string, count = 1, attrs: Record<string, string> = {}): Need => ({ type, count, attrs });
const grants = (events: PoolEvent[]) => events.filter((e): e is Extract<PoolEvent, { kind: 'granted' }> => e.kind === 'granted');

function open(pool: PoolState, id: string, graceMs = 0) {
  pool.openSession(id, { client: id, tokenHash: `h-${id}`, graceMs, remote: '127.0.0.1' });
}

t.test('grants all-or-nothing with increasing fences, queues FIFO with positions', async (t) => {
  const { pool, events } = setup();
  pool.addResource({ type: 'port', value: '7000' }, 'admin');
  pool.addResource({ type: 'port', value: '7001' }, 'admin');
  open(pool, 'a');
  open(pool, 'b');
  open(pool, 'c');
  const a = pool.request('a', 'r1', [need('port', 2)]);
  t.equal(a.status, 'granted');
  if (a.status !== 'granted') return;
  t.same(a.lease.resources.map((r) => r.value).sort(), ['7000', '7001']);
  t.equal(a.lease.fence, 1);
  t.same(pool.request('b', 'r1', [need('port', 1)]), { status: 'queued', position: 1, replay: false });
  t.same(pool.request('c', 'r1', [need('port', 1)]), { status: 'queued', position: 2, replay: false });
  t.same(pool.request('b', 'r1', [need('port', 1)]), { status: 'queued', position: 1, replay: true }, 'a resent request replays');
  pool.release('a', a.lease.id);
  const g = grants(events);
  t.same(g.map((e) => [e.session, e.lease.fence]), [['a', 1], ['b', 2], ['c', 3]], 'FIFO order, fences increase');
  t.same(pool.queue(), []);
  t.same(checkEventLog(events), []);
});

t.test('an impossible request is refused at once; a partial fit holds nothing', async (t) => {
  const { pool } = setup();
  pool.addResource({ type: 'port', value: '1' }, 'admin');
  pool.addResource({ type: 'compute', value: 'h1', attrs: { os: 'ubuntu' } }, 'admin');
  open(pool, 'a');
  t.throws(() => pool.request('a', 'x', [need('gpu')]), { code: 'ERR_POOL_IMPOSSIBLE' });
  t.throws(() => pool.request('a', 'x', [need('port', 2)]), { code: 'ERR_POOL_IMPOSSIBLE' });
  t.throws(() => pool.request('a', 'x', [need('compute', 1, { os: 'debian' })]), { code: 'ERR_POOL_IMPOSSIBLE' });
  open(pool, 'b');
  const held = pool.request('b', 'y', [need('compute')]);
  t.equal(held.status, 'granted');
  const r = pool.request('a', 'z', [need('port'), need('compute', 1, { os: 'ubuntu' })]);
  t.equal(r.status, 'queued', 'the port is free but the compute is not: nothing is taken');
  t.equal(pool.resource('port:1').state, 'free');
});

t.test('a large request is not starved by a stream of small ones', async (t) => {
  const { pool, events } = setup();
  for (let i = 0; i < 3; i++) pool.addResource({ type: 'port', value: String(i) }, 'admin');
  open(pool, 'small1');
  open(pool, 'big');
  open(pool, 'small2');
  const s1 = pool.request('small1', 'a', [need('port')]);
  t.equal(s1.status, 'granted');
  t.equal(pool.request('big', 'b', [need('port', 3)]).status, 'queued');
  // Two ports are free, but they are claimed by the earlier big request.
  t.same(pool.request('small2', 'c', [need('port')]), { status: 'queued', position: 2, replay: false });
  if (s1.status === 'granted') pool.release('small1', s1.lease.id);
  t.same(grants(events).map((e) => e.session), ['small1', 'big'], 'the big request is served first');
});

t.test('clean close releases at once; abnormal close keeps leases for the grace period', async (t) => {
  const { pool, clock, events } = setup();
  pool.addResource({ type: 'port', value: '1' }, 'admin');
  open(pool, 'quick', 0);
  open(pool, 'patient', 5000);
  open(pool, 'waiter');
  t.equal(pool.request('quick', 'a', [need('port')]).status, 'granted');
  t.equal(pool.request('waiter', 'w', [need('port')]).status, 'queued');
  pool.disconnect('quick', 'abnormal');
  t.equal(grants(events).at(-1)?.session, 'waiter', 'grace 0: released at once');
  const lw = grants(events).at(-1)!.lease;
  pool.release('waiter', lw.id);
  t.equal(pool.request('patient', 'p', [need('port')]).status, 'granted');
  pool.disconnect('patient', 'ping-timeout');
  t.equal(pool.resource('port:1').state, 'held');
  clock.advance(4999);
  t.same(pool.resumeSession('patient', 'h-patient', 'x').leases.length, 1, 'resume within grace keeps the lease');
  pool.disconnect('patient', 'abnormal');
  clock.advance(5000);
  t.equal(pool.resource('port:1').state, 'free', 'grace elapsed: released');
  t.throws(() => pool.resumeSession('patient', 'h-patient', 'x'), { code: 'ERR_POOL_SESSION_EXPIRED' });
  t.equal(clock.pendingTimers, 0);
  t.same(checkEventLog(events), []);
});

t.test('resume with the wrong token is refused and changes nothing', async (t) => {
  const { pool } = setup();
  open(pool, 's', 1000);
  pool.disconnect('s', 'abnormal');
  t.throws(() => pool.resumeSession('s', 'wrong', 'x'), { code: 'ERR_POOL_UNAUTHORIZED' });
  t.equal(pool.session('s')?.connected, false);
});

t.test('disable while held goes to maintenance on release; enable brings it back', async (t) => {
  const { pool, events } = setup();
  pool.addResource({ type: 'port', value: '1' }, 'admin');
  open(pool, 'a');
  open(pool, 'b');
  const g = pool.request('a', 'x', [need('port')]);
  t.equal(pool.request('b', 'y', [need('port')]).status, 'queued');
  pool.disable('port:1', 'admin', 'flaky');
  t.equal(pool.resource('port:1').state, 'held');
  if (g.status === 'granted') pool.release('a', g.lease.id);
  t.equal(pool.resource('port:1').state, 'maintenance');
  t.equal(grants(events).length, 1, 'a disabled resource is never granted');
  pool.enable('port:1', 'admin');
  t.equal(grants(events).at(-1)?.session, 'b');
  t.throws(() => pool.removeResource('port:1', 'admin'), { code: 'ERR_POOL_CONFLICT' });
});

t.test('release hooks: resetting until the hook ends; a failing hook quarantines', async (t) => {
  const { pool, events } = setup({ hooks: ['dev'] });
  pool.addResource({ type: 'dev', value: 'd1' }, 'admin');
  open(pool, 'a');
  open(pool, 'b');
  const g = pool.request('a', 'x', [need('dev')]);
  t.equal(pool.request('b', 'y', [need('dev')]).status, 'queued');
  if (g.status === 'granted') pool.release('a', g.lease.id);
  t.equal(pool.resource('dev:d1').state, 'resetting');
  t.equal(grants(events).length, 1);
  pool.resetFinished('dev:d1', false, 'exit 1');
  t.equal(pool.resource('dev:d1').state, 'quarantined');
  t.equal(grants(events).length, 1, 'a quarantined resource is not granted');
  pool.enable('dev:d1', 'admin');
  t.equal(grants(events).at(-1)?.session, 'b');
  t.same(checkEventLog(events), []);
});

t.test('removing resources refuses waiters that can no longer be served', async (t) => {
  const { pool, events } = setup();
  pool.addResource({ type: 'port', value: '1' }, 'admin');
  pool.addResource({ type: 'port', value: '2' }, 'admin');
  open(pool, 'a');
  open(pool, 'b');
  const g = pool.request('a', 'x', [need('port')]);
  t.equal(pool.request('b', 'y', [need('port', 2)]).status, 'queued');
  const free = g.status === 'granted' && g.lease.resources[0]!.id === 'port:1' ? 'port:2' : 'port:1';
  pool.removeResource(free, 'admin');
  const refused = events.find((e) => e.kind === 'refused');
  t.match(refused, { kind: 'refused', session: 'b', code: 'ERR_POOL_IMPOSSIBLE' });
  t.same(pool.queue(), []);
});

t.test('a snapshot restores leases, the fence counter and a restart grace', async (t) => {
  const { pool } = setup();
  pool.addResource({ type: 'port', value: '1' }, 'admin');
  pool.addResource({ type: 'port', value: '2' }, 'admin');
  open(pool, 'a', 0);
  const g = pool.request('a', 'x', [need('port')]);
  t.equal(g.status, 'granted');
  const snapshot: PoolSnapshot = {
    fence: pool.fence,
    resources: pool.resources().map((r) => ({ id: r.id, type: r.type, value: r.value, attrs: r.attrs, enabled: r.enabled, quarantined: r.quarantined, resetting: r.resetting, fence: r.fence, note: r.note })),
    sessions: [{ id: 'a', client: 'a', tokenHash: 'h-a', graceMs: 0 }],
    leases: pool.leases().map((l) => ({ id: l.id, session: l.session, requestId: l.requestId, fence: l.fence, resources: l.resources.map((r) => r.id), grantedAt: l.grantedAt })),
  };
  const clock = new ManualClock();
  const events: PoolEvent[] = [];
  const again = new PoolState({ clock, emit: (e) => events.push(e), snapshot, restartGraceMs: 3000 });
  t.equal(again.leases().length, 1);
  open(again, 'b');
  const g2 = again.request('b', 'y', [need('port', 2)]);
  t.equal(g2.status, 'queued', 'the restored lease is still held');
  clock.advance(2000);
  again.resumeSession('a', 'h-a', 'x');
  clock.advance(5000);
  t.equal(again.leases().length, 1, 'resumed in time: kept');
  again.disconnect('a', 'clean');
  const last = grants(events).at(-1)!;
  t.equal(last.lease.fence, 2, 'fence continues after the restart');
});

t.test('caller errors: unknown session, lease, resource', async (t) => {
  const { pool } = setup();
  t.throws(() => pool.request('nope', 'x', [need('port')]), { code: 'ERR_POOL_SESSION_EXPIRED' });
  open(pool, 'a');
  t.throws(() => pool.release('a', 'L99'), { code: 'ERR_POOL_NOT_FOUND' });
  t.throws(() => pool.cancel('a', 'r'), { code: 'ERR_POOL_NOT_FOUND' });
  t.throws(() => pool.disable('port:9', 'admin'), { code: 'ERR_POOL_NOT_FOUND' });
  pool.addResource({ type: 'port', value: '9' }, 'admin');
  t.throws(() => pool.addResource({ type: 'port', value: '9' }, 'admin'), { code: 'ERR_POOL_CONFLICT' });
  t.throws(() => pool.openSession('a', { client: 'a', tokenHash: '', graceMs: 0, remote: '' }), { code: 'ERR_POOL_CONFLICT' });
});

t.test('verify tells a stale holder about the newer fence', async (t) => {
  const { pool } = setup();
  pool.addResource({ type: 'port', value: '1' }, 'admin');
  open(pool, 'a');
  open(pool, 'b');
  const g = pool.request('a', 'x', [need('port')]);
  if (g.status !== 'granted') throw new Error('expected a grant');
  t.same(pool.verify(g.lease.id, g.lease.fence, ['port:1']), { valid: true, currentFence: 1 });
  pool.request('b', 'y', [need('port')]);
  pool.disconnect('a', 'ping-timeout');
  t.same(pool.verify(g.lease.id, g.lease.fence, ['port:1']), { valid: false, currentFence: 2 });
});

// Exhaustive-ish: random interleavings of every operation keep the invariants.
t.test('property: any sequence of operations keeps the invariants', async (t) => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('open'), s: fc.integer({ min: 0, max: 4 }), grace: fc.constantFrom(0, 100) }),
    fc.record({ k: fc.constant('request'), s: fc.integer({ min: 0, max: 4 }), r: fc.integer({ min: 0, max: 3 }), type: fc.constantFrom('port', 'host'), count: fc.integer({ min: 1, max: 3 }), os: fc.constantFrom(undefined, 'a', 'b') }),
    fc.record({ k: fc.constant('release'), s: fc.integer({ min: 0, max: 4 }), i: fc.nat() }),
    fc.record({ k: fc.constant('cancel'), s: fc.integer({ min: 0, max: 4 }), r: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ k: fc.constantFrom('clean', 'abnormal', 'ping-timeout'), s: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ k: fc.constantFrom('disable', 'enable', 'remove', 'resetOk', 'resetFail'), res: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ k: fc.constant('add'), res: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ k: fc.constant('advance'), ms: fc.integer({ min: 0, max: 150 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const { pool, clock, events } = setup({ hooks: ['host'] });
      const resName = (i: number) => (i < 3 ? { type: 'port', value: String(i), attrs: { os: i % 2 ? 'a' : 'b' } } : { type: 'host', value: `h${i}`, attrs: { os: 'a' } });
      for (let i = 0; i < 6; i++) pool.addResource(resName(i), 'admin');
      for (const o of ops) {
        try {
          switch (o.k) {
            case 'open': open(pool, `s${o.s}`, o.grace); break;
            case 'request': pool.request(`s${o.s}`, `r${o.r}`, [{ type: o.type, count: o.count, attrs: o.os === undefined ? {} : { os: o.os } }]); break;
            case 'release': { const l = pool.session(`s${o.s}`)?.leases ?? []; if (l.length) pool.release(`s${o.s}`, l[o.i % l.length]!); break; }
            case 'cancel': pool.cancel(`s${o.s}`, `r${o.r}`); break;
            case 'clean': case 'abnormal': case 'ping-timeout': pool.disconnect(`s${o.s}`, o.k); break;
            case 'disable': pool.disable(resName(o.res).type + ':' + resName(o.res).value, 'admin'); break;
            case 'enable': pool.enable(resName(o.res).type + ':' + resName(o.res).value, 'admin'); break;
            case 'remove': pool.removeResource(resName(o.res).type + ':' + resName(o.res).value, 'admin'); break;
            case 'add': pool.addResource(resName(o.res), 'admin'); break;
            case 'resetOk': pool.resetFinished(`host:h${o.res}`, true, 'ok'); break;
            case 'resetFail': pool.resetFinished(`host:h${o.res}`, false, 'bad'); break;
            case 'advance': clock.advance(o.ms); break;
          }
        } catch (error) {
          if (!isSubrunError(error) || !error.code.startsWith('ERR_POOL_')) throw error;
        }
        // Live state: no waiter at the head could be served by free resources it matches.
        const free = pool.resources().filter((r) => r.state === 'free');
        const head = pool.queue()[0];
        if (head !== undefined) {
          const fits = head.needs.every((n) => free.filter((r) => r.type === n.type && Object.entries(n.attrs).every(([k, v]) => r.attrs[k] === v)).length >= n.count);
          if (fits && head.needs.length === 1) throw new Error(`head waiter ${head.requestId} could be served`);
        }
      }
      const v = checkEventLog(events);
      if (v.length) throw new Error(v.join('\n'));
      const held = pool.leases().flatMap((l) => l.resources.map((r) => r.id));
      if (new Set(held).size !== held.length) throw new Error('a resource is in two leases');
    }),
    { numRuns: 400 },
  );
  t.pass('400 random operation sequences kept every invariant');
});
