import t from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decodeEvent, encodeEventData } from '../../src/pool/event-row.js';
import { PoolState } from '../../src/pool/pool-state.js';
import { PoolStore, POOL_SCHEMA_VERSION } from '../../src/pool/store.js';
import { ManualClock } from '../../src/core/clock.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import type { PoolEvent } from '../../src/pool/types.js';
import { tempDir } from './fixtures/pool-env.js';

// SPEC §12.8.2: grants and releases are compact rows; every event reads back exactly.

const lease = (fence: number, resources: Array<{ id: string; type: string; value: string; attrs: Record<string, string> }>) => ({
  id: `L${fence}`, session: 's-1', client: 'bench client', requestId: 'r"7', fence, resources, grantedAt: 1700000000123,
});

t.test('grants and releases round-trip through the compact form; other events stay JSON objects', async (t) => {
  const events: PoolEvent[] = [
    { kind: 'granted', at: 1700000000123, session: 's-1', requestId: 'r"7', lease: lease(42, [{ id: 'port:7000', type: 'port', value: '7000', attrs: {} }]), waitedMs: 1.25 },
    { kind: 'granted', at: 1700000000123, session: 's-1', requestId: 'r"7', lease: lease(43, [{ id: 'compute:h:1', type: 'compute', value: 'h:1', attrs: { os: 'ubuntu', 'a.b': 'x,y' } }, { id: 'port:7001', type: 'port', value: '7001', attrs: {} }]), waitedMs: 0 },
    { kind: 'released', at: 1700000000999, session: 's-1', lease: 'L43', fence: 43, resources: ['compute:h:1', 'port:7001'], reason: 'ping-timeout' },
    { kind: 'session-closed', at: 5, session: 's-1', reason: 'clean' },
    { kind: 'resource-disabled', at: 6, actor: 'admin@127.0.0.1', resource: 'port:7000', note: null },
  ];
  for (const e of events) {
    const data = encodeEventData(e);
    t.same(decodeEvent(e.kind, e.at, data), e, `${e.kind} reads back exactly`);
    t.equal(data.startsWith('['), e.kind === 'granted' || e.kind === 'released', `${e.kind}: compact only for grants and releases`);
  }
  t.ok(encodeEventData(events[0]!).length < JSON.stringify(events[0]).length / 2, 'a grant row is less than half its JSON');
});

t.test('a grant not shaped as the state machine makes it is kept whole', async (t) => {
  const odd: PoolEvent[] = [
    { kind: 'granted', at: 1, session: 's', requestId: 'r', lease: { ...lease(1, []), id: 'X1', session: 's', requestId: 'r', grantedAt: 1 }, waitedMs: 0 },
    { kind: 'granted', at: 1, session: 's', requestId: 'r', lease: { ...lease(1, []), session: 's', requestId: 'r', grantedAt: 2 }, waitedMs: 0 },
    { kind: 'granted', at: 1, session: 's', requestId: 'r', lease: { ...lease(1, [{ id: 'port:1', type: 'port', value: '2', attrs: {} }]), session: 's', requestId: 'r', grantedAt: 1 }, waitedMs: 0 },
  ];
  for (const e of odd) {
    const data = encodeEventData(e);
    t.equal(data[0], '{');
    t.same(decodeEvent(e.kind, e.at, data), e);
  }
  t.throws(() => decodeEvent('session-closed', 1, '["s"]'), SyntaxError, 'a compact row of another kind is corrupt');
  t.throws(() => decodeEvent('granted', 1, '[truncated'), SyntaxError);
});

t.test('a version 2 database (JSON rows) is upgraded in place and its old and new rows replay together', async (t) => {
  const db = path.join(tempDir(t), 'pool.sqlite');
  const store = new PoolStore(db);
  const state = new PoolState({ clock: new ManualClock(), emit: (e) => store.stage(e, 'test') });
  state.addResource({ type: 'port', value: '7000' }, 'test');
  state.openSession('a', { client: 'a', tokenHash: 'h', graceMs: 0, remote: '127.0.0.1' });
  const need = [{ type: 'port', count: 1, attrs: {} }];
  const g = state.request('a', 'r1', need);
  if (g.status !== 'granted') throw new Error('expected a grant');
  state.release('a', g.lease.id);
  store.commit();
  state.dispose();
  store.close();
  // Rewrite it as version 2 wrote it: its table (AUTOINCREMENT) and triggers, every row a JSON object.
  const raw = new Database(db);
  const rows = raw.prepare('SELECT seq, at, kind, actor, resource, data FROM events ORDER BY seq').all() as Array<{ seq: number; at: number; kind: string; actor: string; resource: string | null; data: string }>;
  raw.exec(`DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; DROP TABLE events;
    CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, resource TEXT, data TEXT NOT NULL);`);
  const insert = raw.prepare('INSERT INTO events (seq, at, kind, actor, resource, data) VALUES (?, ?, ?, ?, ?, ?)');
  // A gap in seq, as a rolled-back transaction leaves under AUTOINCREMENT: the copy keeps every seq.
  for (const r of rows) insert.run(r.seq + (r.seq > 2 ? 10 : 0), r.at, r.kind, r.actor, r.resource, JSON.stringify(decodeEvent(r.kind, r.at, r.data)));
  raw.exec(`CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    UPDATE meta SET value = '2' WHERE key = 'schema_version'; UPDATE meta SET value = '0' WHERE key = 'checkpoint';`);
  const seqs = (raw.prepare('SELECT seq FROM events ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
  raw.close();

  const reopened = new PoolStore(db);
  t.teardown(() => reopened.close());
  const again = new PoolState({ clock: new ManualClock(), emit: (e) => reopened.stage(e, 'test'), snapshot: reopened.load() });
  t.teardown(() => again.dispose());
  again.openSession('b', { client: 'b', tokenHash: 'h', graceMs: 0, remote: '127.0.0.1' });
  const g2 = again.request('b', 'r2', need);
  t.equal(g2.status === 'granted' ? g2.lease.fence : 0, 2, 'the fence continues from the JSON rows, replayed at start');
  reopened.commit();
  const check = new Database(db, { readonly: true });
  t.teardown(() => check.close());
  t.equal(Number((check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value), POOL_SCHEMA_VERSION);
  const data = (check.prepare("SELECT data FROM events WHERE kind = 'granted' ORDER BY seq").all() as Array<{ data: string }>).map((r) => r.data[0]);
  t.same(data, ['{', '['], 'the old grant stays JSON, the new one is compact');
  const table = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").get() as { sql: string };
  t.notMatch(table.sql, /AUTOINCREMENT/i, 'the log was copied into the plain table');
  const after = (check.prepare('SELECT seq FROM events ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
  t.same(after.slice(0, seqs.length), seqs, 'every old seq kept');
  t.ok(after.length > seqs.length && after[seqs.length]! > seqs[seqs.length - 1]!, 'new events number on from the last');
  t.same((check.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name), ['events_no_delete', 'events_no_update'], 'still append-only');
  const granted = reopened.history({ kind: 'granted' }).map((r) => r.event);
  t.same(granted.map((e) => (e.kind === 'granted' ? [e.lease.id, e.lease.client, e.lease.resources[0]!.value] : [])), [['L1', 'a', '7000'], ['L2', 'b', '7000']]);
  t.same(reopened.history({ resource: 'port:7000' }).filter((r) => r.kind === 'granted').length, 2, 'history --resource finds compact rows too');
  t.same(checkEventLog(reopened.events()), []);
});
