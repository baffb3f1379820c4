import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SubrunError } from '../core/errors.js';
import { decodeEvent, encodeEventData } from './event-row.js';
import { StateMirror, type LeaseRow, type ResourceRow } from './state-mirror.js';
import type { PoolEvent, PoolSnapshot } from './types.js';

/**
 * The pool's SQLite store (SPEC §12.8): WAL mode, a versioned schema, every statement
 * prepared once (undici's sqlite-cache-store habit). The append-only log is the truth:
 * a grant or release costs one row in it. The lease and resource tables are a checkpoint
 * of the log, written every CHECKPOINT_EVENTS events in the same transaction as the
 * events that complete it (and at close); a restart reads the checkpoint and replays the
 * log after it (`meta.checkpoint` is the last seq it covers). Sessions, whose token hash
 * must not enter the log, are written through to their table with the event.
 */

/** 3: grants and releases are compact rows (SPEC §12.8.2), which version 2 cannot read. */
export const POOL_SCHEMA_VERSION = 3;

/** Events between checkpoints: bounds the replay at start to a few milliseconds. */
const CHECKPOINT_EVENTS = 2000;

export interface HistoryRow {
  seq: number;
  at: number;
  kind: string;
  actor: string;
  event: PoolEvent;
}

export interface HistoryQuery {
  limit?: number;
  /** Only events with seq greater than this. */
  after?: number;
  kind?: string;
  resource?: string;
}

/**
 * No AUTOINCREMENT: rows are never deleted (the triggers refuse it), so the plain rowid
 * already grows strictly, and AUTOINCREMENT costs a sqlite_sequence update per insert.
 */
const EVENTS_COLUMNS = 'seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, resource TEXT, data TEXT NOT NULL';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
  id TEXT PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL, attrs TEXT NOT NULL,
  enabled INTEGER NOT NULL, quarantined INTEGER NOT NULL, resetting INTEGER NOT NULL,
  fence INTEGER NOT NULL, note TEXT);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, client TEXT NOT NULL, token_hash TEXT NOT NULL, grace_ms INTEGER NOT NULL, opened_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
  id TEXT PRIMARY KEY, session TEXT NOT NULL, request_id TEXT NOT NULL, fence INTEGER NOT NULL,
  resources TEXT NOT NULL, granted_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (${EVENTS_COLUMNS});
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
`;

export class PoolStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #append: (event: PoolEvent, actor: string) => void;
  readonly #appendMany: (batch: Array<[PoolEvent, string]>) => void;
  #staged: Array<[PoolEvent, string]> = [];
  readonly #stmts;
  #closed = false;
  readonly #mirror = new StateMirror();
  /** Fence written to meta.fence. */
  #savedFence = 0;
  #broken: Error | null = null;
  #wrote = false;
  /** Lease ids that have a row in the leases table. */
  readonly #leaseRows = new Set<string>();
  #lastSeq = 0;
  #sinceCheckpoint = 0;

  /**
   * @param options.fsync `synchronous=FULL`: every commit is on the disk before it returns,
   *   so even a power cut loses no grant a holder was told of (SPEC §12.8.3). @default false
   */
  constructor(file: string, options: { fsync?: boolean } = {}) {
    this.path = file;
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    try {
      this.#db = new Database(file);
      this.#db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a committed transaction survives a process crash (not a power cut; SPEC §12.8.3).
      this.#db.pragma(options.fsync === true ? 'synchronous = FULL' : 'synchronous = NORMAL');
      this.#db.pragma('busy_timeout = 5000');
    } catch (error) {
      throw new SubrunError('ERR_POOL_STORE', `cannot open the pool database ${file}: ${(error as Error).message}`, { cause: error });
    }
    this.#migrate();
    const db = this.#db;
    this.#stmts = {
      event: db.prepare('INSERT INTO events (at, kind, actor, resource, data) VALUES (?, ?, ?, ?, ?)'),
      setFence: db.prepare("INSERT INTO meta (key, value) VALUES ('fence', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      getFence: db.prepare("SELECT value FROM meta WHERE key = 'fence'"),
      // An upsert keeps the rowid, and with it the order resources were added in.
      putResource: db.prepare(
        'INSERT INTO resources (id, type, value, attrs, enabled, quarantined, resetting, fence, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT(id) DO UPDATE SET type = excluded.type, value = excluded.value, attrs = excluded.attrs, enabled = excluded.enabled, ' +
          'quarantined = excluded.quarantined, resetting = excluded.resetting, fence = excluded.fence, note = excluded.note',
      ),
      removeResource: db.prepare('DELETE FROM resources WHERE id = ?'),
      setCheckpoint: db.prepare("INSERT INTO meta (key, value) VALUES ('checkpoint', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      getCheckpoint: db.prepare("SELECT value FROM meta WHERE key = 'checkpoint'"),
      eventsAfter: db.prepare('SELECT seq, kind, at, data FROM events WHERE seq > ? ORDER BY seq'),
      addSession: db.prepare('INSERT OR REPLACE INTO sessions (id, client, token_hash, grace_ms, opened_at) VALUES (?, ?, ?, ?, ?)'),
      removeSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      addLease: db.prepare('INSERT OR REPLACE INTO leases (id, session, request_id, fence, resources, granted_at) VALUES (?, ?, ?, ?, ?, ?)'),
      removeLease: db.prepare('DELETE FROM leases WHERE id = ?'),
      allResources: db.prepare('SELECT * FROM resources ORDER BY rowid'),
      allSessions: db.prepare('SELECT * FROM sessions'),
      allLeases: db.prepare('SELECT * FROM leases'),
      allEvents: db.prepare('SELECT kind, at, data FROM events ORDER BY seq'),
    };
    const saved = this.#stmts.getFence.get() as { value: string } | undefined;
    this.#savedFence = saved === undefined ? 0 : Number(saved.value);
    this.#restore();
    this.#append = db.transaction((event: PoolEvent, actor: string) => {
      this.#apply(event, actor);
      this.#afterBatch();
    });
    this.#appendMany = db.transaction((batch: Array<[PoolEvent, string]>) => {
      for (const [event, actor] of batch) this.#apply(event, actor);
      this.#afterBatch();
    });
  }

  /** The checkpoint, then every event after it (SPEC §12.8.3). */
  #restore(): void {
    type R = { id: string; type: string; value: string; attrs: string; enabled: number; quarantined: number; resetting: number; fence: number; note: string | null };
    type L = { id: string; session: string; request_id: string; fence: number; resources: string; granted_at: number };
    const s = this.#stmts;
    const m = this.#mirror;
    for (const r of s.allResources.all() as R[]) {
      m.resources.set(r.id, {
        id: r.id, type: r.type, value: r.value, attrs: JSON.parse(r.attrs) as Record<string, string>,
        enabled: r.enabled === 1, quarantined: r.quarantined === 1, resetting: r.resetting === 1, fence: r.fence, note: r.note,
      });
    }
    for (const r of s.allLeases.all() as L[]) {
      this.#leaseRows.add(r.id);
      m.leases.set(r.id, { id: r.id, session: r.session, requestId: r.request_id, fence: r.fence, resources: JSON.parse(r.resources) as string[], grantedAt: r.granted_at });
    }
    const checkpoint = Number((s.getCheckpoint.get() as { value: string } | undefined)?.value ?? 0);
    this.#lastSeq = checkpoint;
    for (const row of s.eventsAfter.iterate(checkpoint) as Iterable<{ seq: number; kind: string; at: number; data: string }>) {
      m.apply(decodeEvent(row.kind, row.at, row.data));
      this.#lastSeq = row.seq;
      this.#sinceCheckpoint++;
    }
  }

  /** End of a transaction: the fencing counter, and a checkpoint when one is due. */
  #afterBatch(): void {
    this.#saveFence();
    if (this.#sinceCheckpoint >= CHECKPOINT_EVENTS) this.#checkpoint();
  }

  /** Write the rows the log changed since the last checkpoint (inside a transaction). */
  #checkpoint(): void {
    const s = this.#stmts;
    const m = this.#mirror;
    for (const id of m.dirtyResources) {
      const r: ResourceRow | undefined = m.resources.get(id);
      if (r === undefined) s.removeResource.run(id);
      else s.putResource.run(r.id, r.type, r.value, JSON.stringify(r.attrs), r.enabled ? 1 : 0, r.quarantined ? 1 : 0, r.resetting ? 1 : 0, r.fence, r.note);
    }
    for (const id of m.dirtyLeases) {
      const l: LeaseRow | undefined = m.leases.get(id);
      if (l !== undefined) {
        s.addLease.run(l.id, l.session, l.requestId, l.fence, JSON.stringify(l.resources), l.grantedAt);
        this.#leaseRows.add(id);
      } else if (this.#leaseRows.delete(id)) {
        // Only a lease the table holds needs a delete; most live and die between checkpoints.
        s.removeLease.run(id);
      }
    }
    s.setCheckpoint.run(String(this.#lastSeq));
    m.dirtyResources.clear();
    m.dirtyLeases.clear();
    this.#sinceCheckpoint = 0;
  }

  #migrate(): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    const version = row === undefined ? 0 : Number(row.value);
    if (version > POOL_SCHEMA_VERSION) {
      throw new SubrunError('ERR_POOL_STORE', `the pool database ${this.path} has schema version ${version}, newer than this subrun (${POOL_SCHEMA_VERSION})`);
    }
    if (version < POOL_SCHEMA_VERSION) {
      this.#db.transaction(() => {
        this.#db.exec(SCHEMA);
        const events = this.#db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() as { sql: string };
        if (/AUTOINCREMENT/i.test(events.sql)) {
          // Versions 1 and 2 numbered events with AUTOINCREMENT: copy the log once into the
          // plain table, keeping every seq (SPEC §12.8.5).
          this.#db.exec(`DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
            ALTER TABLE events RENAME TO events_v2;
            CREATE TABLE events (${EVENTS_COLUMNS});
            INSERT INTO events (seq, at, kind, actor, resource, data) SELECT seq, at, kind, actor, resource, data FROM events_v2 ORDER BY seq;
            DROP TABLE events_v2;`);
          this.#db.exec(SCHEMA);
        }
        // Version 1 wrote the tables with every event: they are a checkpoint of the whole log.
        // Version 2 has its checkpoint already, and its JSON rows read as they are.
        const last = this.#db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events').get() as { seq: number };
        this.#db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('checkpoint', ?)").run(String(last.seq));
        this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(String(POOL_SCHEMA_VERSION));
      })();
    }
  }

  /** Append `event` to the log and apply it to the state tables, atomically. */
  append(event: PoolEvent, actor = 'pool'): void {
    this.#wrote = true;
    this.#append(event, actor);
  }

  /**
   * Queue `event` for the next `commit()`. The server stages every event of one turn of
   * the event loop and commits them in one transaction before sending any reply (group
   * commit: one WAL write instead of one per event).
   */
  stage(event: PoolEvent, actor = 'pool'): void {
    // A queue position is not state: waiting requests are not persisted (SPEC §12.6.4),
    // so it would cost a row per request and protect nothing (SPEC §12.8.2).
    if (event.kind === 'queued') return;
    this.#staged.push([event, actor]);
  }

  get stagedCount(): number {
    return this.#staged.length;
  }

  /** Write every staged event atomically. */
  commit(): void {
    if (this.#staged.length === 0 || this.#closed) return;
    if (this.#broken !== null) throw new SubrunError('ERR_POOL_STORE', `the pool database failed earlier: ${this.#broken.message}`, { cause: this.#broken });
    const batch = this.#staged;
    this.#staged = [];
    this.#wrote = true;
    try {
      this.#appendMany(batch);
    } catch (error) {
      // Rolled back, but the mirror has moved on: the store cannot go on (the server stops).
      this.#broken = error as Error;
      throw error;
    }
  }

  /** The fencing counter, in the same transaction as the grants that raised it (SPEC §12.7). */
  #saveFence(): void {
    const fence = this.#mirror.fence;
    if (fence <= this.#savedFence) return;
    this.#stmts.setFence.run(String(fence));
    this.#savedFence = fence;
  }

  #apply(e: PoolEvent, actor: string): void {
    if (e.kind === 'queued') return;
    const s = this.#stmts;
    if (e.kind === 'session-opened') s.addSession.run(e.session, e.client, e.tokenHash, e.graceMs, e.at);
    else if (e.kind === 'session-closed') s.removeSession.run(e.session);
    this.#mirror.apply(e);
    // The session token's hash is a secret: it stays in the sessions table, not the log.
    const logged = e.kind === 'session-opened' ? { ...e, tokenHash: '' } : e;
    this.#lastSeq = Number(s.event.run(e.at, e.kind, actor, resourceOf(e), encodeEventData(logged)).lastInsertRowid);
    this.#sinceCheckpoint++;
  }

  /** The state to resume from after a restart (SPEC §12.6): the checkpoint plus the log after it. */
  load(): PoolSnapshot {
    const s = this.#stmts;
    const m = this.#mirror;
    type S = { id: string; client: string; token_hash: string; grace_ms: number };
    const resources = [...m.resources.values()].map((r) => ({ ...r, attrs: { ...r.attrs } }));
    let fence = Math.max(this.#savedFence, m.fence);
    // Never below a fence some resource was granted under, whatever the counter row says.
    for (const r of resources) if (r.fence > fence) fence = r.fence;
    return {
      fence,
      resources,
      sessions: (s.allSessions.all() as S[]).map((r) => ({ id: r.id, client: r.client, tokenHash: r.token_hash, graceMs: r.grace_ms })),
      leases: [...m.leases.values()].map((l) => ({ ...l, resources: [...l.resources] })),
    };
  }

  history(query: HistoryQuery = {}): HistoryRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.after !== undefined) { where.push('seq > ?'); args.push(query.after); }
    if (query.kind !== undefined) { where.push('kind = ?'); args.push(query.kind); }
    if (query.resource !== undefined) { where.push('(resource = ? OR data LIKE ?)'); args.push(query.resource, `%${JSON.stringify(query.resource)}%`); }
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 10_000);
    const sql = `SELECT seq, at, kind, actor, data FROM (SELECT * FROM events${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ?) ORDER BY seq`;
    const rows = this.#db.prepare(sql).all(...args, limit) as Array<{ seq: number; at: number; kind: string; actor: string; data: string }>;
    return rows.map((r) => ({ seq: r.seq, at: r.at, kind: r.kind, actor: r.actor, event: decodeEvent(r.kind, r.at, r.data) }));
  }

  /** Every event, oldest first (for replaying the log against the invariants). */
  *events(): Generator<PoolEvent> {
    for (const row of this.#stmts.allEvents.iterate() as Iterable<{ kind: string; at: number; data: string }>) yield decodeEvent(row.kind, row.at, row.data);
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.commit();
      // A store that only read (history, --check) leaves the checkpoint to the server that wrote.
      if (this.#broken === null && this.#wrote && this.#sinceCheckpoint > 0) this.#db.transaction(() => this.#checkpoint())();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }
}

/** The resource an event is about, for `history --resource` (the first, for a lease). */
function resourceOf(e: PoolEvent): string | null {
  switch (e.kind) {
    case 'granted':
      return e.lease.resources[0]?.id ?? null;
    case 'released':
      return e.resources[0] ?? null;
    case 'resource-added':
      return e.resource.id;
    case 'resource-removed':
    case 'resource-disabled':
    case 'resource-enabled':
    case 'reset-started':
    case 'reset-finished':
      return e.resource;
    default:
      return null;
  }
}
