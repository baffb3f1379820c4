import t from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PoolState } from '../../src/pool/pool-state.js';
import { PoolStore } from '../../src/pool/store.js';
import { ManualClock } from '../../src/core/clock.js';
import { tempDir } from './fixtures/pool-env.js';

// The store under the state machine: what is durable, what is not (SPEC §12.8).
function drive(store: PoolStore): PoolState {
  const state = new PoolState({ clock: new ManualClock(), emit: (e) => store.stage(e, 'test') });
  state.addResource({ type: 'port', value: '7000' }, 'test');
  state.openSession('a', { client: 'a', tokenHash: 'h', graceMs: 0, remote: '127.0.0.1' });
  state.openSession('b', { client: 'b', tokenHash: 'h', graceMs: 0, remote: '127.0.0.1' });
  return state;
}

t.test('queue positions stay out of the log; grants, releases and the fence are durable', async (t) => {
  const db = path.join(tempDir(t), 'pool.sqlite');
  const store = new PoolStore(db, { fsync: true });
  const state = drive(store);
  const first = state.request('a', 'r1', [{ type: 'port', count: 1, attrs: {} }]);
  t.equal(state.request('b', 'r1', [{ type: 'port', count: 1, attrs: {} }]).status, 'queued');
  t.equal(first.status, 'granted');
  state.release('a', first.status === 'granted' ? first.lease.id : '');
  store.commit();
  const kinds = store.history({ limit: 100 }).map((r) => r.kind);
  t.notOk(kinds.includes('queued'), 'no queued row');
  t.same(kinds.filter((k) => k === 'granted' || k === 'released'), ['granted', 'released', 'granted']);
  t.match(store.history({ kind: 'granted' })[1]!.event, { session: 'b', waitedMs: Number }, 'the wait shows in the grant');
  store.close();
  const reopened = new PoolStore(db);
  t.teardown(() => reopened.close());
  const snap = reopened.load();
  t.equal(snap.fence, 2);
  t.same(snap.leases.map((l) => [l.session, l.fence, l.resources]), [['b', 2, ['port:7000']]]);
});

t.test('a restart never starts the fencing counter below a fence some resource was granted under', async (t) => {
  const db = path.join(tempDir(t), 'pool.sqlite');
  const store = new PoolStore(db);
  const state = drive(store);
  for (let i = 0; i < 3; i++) {
    const r = state.request('a', `r${i}`, [{ type: 'port', count: 1, attrs: {} }]);
    if (r.status === 'granted') state.release('a', r.lease.id);
  }
  store.commit();
  store.close();
  const raw = new Database(db);
  raw.prepare("UPDATE meta SET value = '1' WHERE key = 'fence'").run();
  raw.close();
  const reopened = new PoolStore(db);
  t.teardown(() => reopened.close());
  t.equal(reopened.load().fence, 3, 'the resource row remembers fence 3');
});

t.test('the checkpoint plus the log after it restore exactly the state, with no close (as after a kill)', async (t) => {
  const db = path.join(tempDir(t), 'pool.sqlite');
  const store = new PoolStore(db);
  t.teardown(() => store.close());
  const state = drive(store);
  for (const v of ['7001', '7002', '7003']) state.addResource({ type: 'port', value: v }, 'test');
  const need = [{ type: 'port', count: 1, attrs: {} }];
  for (let i = 0; i < 1500; i++) {
    const r = state.request('a', `c${i}`, need);
    if (r.status === 'granted') state.release('a', r.lease.id);
    if (i % 7 === 0) store.commit();
  }
  t.equal(state.request('b', 'held', need).status, 'granted');
  t.equal(state.request('a', 'held', [{ type: 'port', count: 2, attrs: {} }]).status, 'granted');
  state.disable('port:7003', 'admin', 'flaky');
  store.commit();
  const raw = new Database(db, { readonly: true });
  const checkpoint = Number((raw.prepare("SELECT value FROM meta WHERE key = 'checkpoint'").get() as { value: string }).value);
  const last = (raw.prepare('SELECT MAX(seq) AS seq FROM events').get() as { seq: number }).seq;
  raw.close();
  t.ok(checkpoint > 0 && checkpoint < last, `a checkpoint at seq ${checkpoint} with the log running on to ${last}`);
  const expected = store.load();
  t.equal(expected.leases.length, 2);
  t.equal(expected.fence, 1502);
  const reopened = new PoolStore(db);
  t.teardown(() => reopened.close());
  t.same(reopened.load(), expected, 'the same leases, fences, resources and sessions');
  t.match(reopened.load().resources.find((r) => r.id === 'port:7003'), { enabled: false, note: 'flaky' });
  t.same(reopened.load().resources.map((r) => r.id), ['port:7000', 'port:7001', 'port:7002', 'port:7003'], 'in the order they were added');
});
