import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SubrunError } from '../core/errors.js';
import type { PoolEvent, PoolSnapshot } from './types.js';

/**
 * The pool's SQLite store (SPEC §12.8): WAL mode, a versioned schema, every statement
 * prepared once (undici's sqlite-cache-store habit). Current state lives in tables that
 * each event updates in the same transaction that appends the event to the log, so a
 * crash between the two is impossible and a restart resumes exactly where the log ends.
 */

export const POOL_SCHEMA_VERSION = 1;

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
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL,
  actor TEXT NOT NULL, resource TEXT, data TEXT NOT NULL);
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
  /** Highest fence applied / written to meta.fence. */
  #fence = 0;
  #savedFence = 0;

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
      addResource: db.prepare('INSERT OR REPLACE INTO resources (id, type, value, attrs, enabled, quarantined, resetting, fence, note) VALUES (?, ?, ?, ?, 1, 0, 0, 0, NULL)'),
      removeResource: db.prepare('DELETE FROM resources WHERE id = ?'),
      setEnabled: db.prepare('UPDATE resources SET enabled = ?, quarantined = CASE WHEN ? THEN 0 ELSE quarantined END, note = ? WHERE id = ?'),
      setResetting: db.prepare('UPDATE resources SET resetting = 1 WHERE id = ?'),
      resetDone: db.prepare('UPDATE resources SET resetting = 0, quarantined = ?, note = CASE WHEN ? THEN note ELSE ? END WHERE id = ?'),
      setResourceFence: db.prepare('UPDATE resources SET fence = ? WHERE id = ?'),
      addSession: db.prepare('INSERT OR REPLACE INTO sessions (id, client, token_hash, grace_ms, opened_at) VALUES (?, ?, ?, ?, ?)'),
      removeSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      addLease: db.prepare('INSERT INTO leases (id, session, request_id, fence, resources, granted_at) VALUES (?, ?, ?, ?, ?, ?)'),
      removeLease: db.prepare('DELETE FROM leases WHERE id = ?'),
      allResources: db.prepare('SELECT * FROM resources ORDER BY rowid'),
      allSessions: db.prepare('SELECT * FROM sessions'),
      allLeases: db.prepare('SELECT * FROM leases'),
      allEvents: db.prepare('SELECT data FROM events ORDER BY seq'),
    };
    const saved = this.#stmts.getFence.get() as { value: string } | undefined;
    this.#fence = this.#savedFence = saved === undefined ? 0 : Number(saved.value);
    this.#append = db.transaction((event: PoolEvent, actor: string) => {
      this.#apply(event, actor);
      this.#saveFence();
    });
    this.#appendMany = db.transaction((batch: Array<[PoolEvent, string]>) => {
      for (const [event, actor] of batch) this.#apply(event, actor);
      this.#saveFence();
    });
  }

  #migrate(): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    const version = row === undefined ? 0 : Number(row.value);
    if (version > POOL_SCHEMA_VERSION) {
      throw new SubrunError('ERR_POOL_STORE', `the pool database ${this.path} has schema version ${version}, newer than this subrun (${POOL_SCHEMA_VERSION})`);
    }
    if (version < POOL_SCHEMA_VERSION) {
      this.#db.exec(SCHEMA);
      this.#db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(String(POOL_SCHEMA_VERSION));
    }
  }

  /** Append `event` to the log and apply it to the state tables, atomically. */
  append(event: PoolEvent, actor = 'pool'): void {
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
    const batch = this.#staged;
    this.#staged = [];
    try {
      this.#appendMany(batch);
    } catch (error) {
      // Rolled back: the counter row may not hold what #savedFence says; rewrite it next time.
      this.#savedFence = -1;
      throw error;
    }
  }

  /** The fencing counter, in the same transaction as the grants that raised it (SPEC §12.7). */
  #saveFence(): void {
    if (this.#fence === this.#savedFence) return;
    this.#stmts.setFence.run(String(this.#fence));
    this.#savedFence = this.#fence;
  }

  #apply(e: PoolEvent, actor: string): void {
    if (e.kind === 'queued') return;
    const s = this.#stmts;
    let resource: string | null = null;
    switch (e.kind) {
      case 'session-opened':
        s.addSession.run(e.session, e.client, e.tokenHash, e.graceMs, e.at);
        break;
      case 'session-closed':
        s.removeSession.run(e.session);
        break;
      case 'granted':
        s.addLease.run(e.lease.id, e.session, e.requestId, e.lease.fence, JSON.stringify(e.lease.resources.map((r) => r.id)), e.lease.grantedAt);
        for (const r of e.lease.resources) s.setResourceFence.run(e.lease.fence, r.id);
        // The counter row is written once per transaction (#saveFence), not once per grant.
        if (e.lease.fence > this.#fence) this.#fence = e.lease.fence;
        resource = e.lease.resources[0]?.id ?? null;
        break;
      case 'released':
        s.removeLease.run(e.lease);
        resource = e.resources[0] ?? null;
        break;
      case 'resource-added':
        s.addResource.run(e.resource.id, e.resource.type, e.resource.value, JSON.stringify(e.resource.attrs));
        resource = e.resource.id;
        break;
      case 'resource-removed':
        s.removeResource.run(e.resource);
        resource = e.resource;
        break;
      case 'resource-disabled':
        s.setEnabled.run(0, 0, e.note, e.resource);
        resource = e.resource;
        break;
      case 'resource-enabled':
        s.setEnabled.run(1, 1, null, e.resource);
        resource = e.resource;
        break;
      case 'reset-started':
        s.setResetting.run(e.resource);
        resource = e.resource;
        break;
      case 'reset-finished':
        s.resetDone.run(e.ok ? 0 : 1, e.ok ? 1 : 0, e.detail, e.resource);
        resource = e.resource;
        break;
      default:
        break;
    }
    // The session token's hash is a secret: it stays in the sessions table, not the log.
    const logged = e.kind === 'session-opened' ? { ...e, tokenHash: '' } : e;
    s.event.run(e.at, e.kind, actor, resource, JSON.stringify(logged));
  }

  /** The state to resume from after a restart (SPEC §12.6). */
  load(): PoolSnapshot {
    const s = this.#stmts;
    const fenceRow = s.getFence.get() as { value: string } | undefined;
    type R = { id: string; type: string; value: string; attrs: string; enabled: number; quarantined: number; resetting: number; fence: number; note: string | null };
    type S = { id: string; client: string; token_hash: string; grace_ms: number };
    type L = { id: string; session: string; request_id: string; fence: number; resources: string; granted_at: number };
    const resources = s.allResources.all() as R[];
    return {
      // Never below a fence some resource was granted under, whatever the counter row says.
      fence: Math.max(fenceRow === undefined ? 0 : Number(fenceRow.value), ...resources.map((r) => r.fence)),
      resources: resources.map((r) => ({
        id: r.id, type: r.type, value: r.value, attrs: JSON.parse(r.attrs) as Record<string, string>,
        enabled: r.enabled === 1, quarantined: r.quarantined === 1, resetting: r.resetting === 1, fence: r.fence, note: r.note,
      })),
      sessions: (s.allSessions.all() as S[]).map((r) => ({ id: r.id, client: r.client, tokenHash: r.token_hash, graceMs: r.grace_ms })),
      leases: (s.allLeases.all() as L[]).map((r) => ({ id: r.id, session: r.session, requestId: r.request_id, fence: r.fence, resources: JSON.parse(r.resources) as string[], grantedAt: r.granted_at })),
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
    return rows.map((r) => ({ seq: r.seq, at: r.at, kind: r.kind, actor: r.actor, event: JSON.parse(r.data) as PoolEvent }));
  }

  /** Every event, oldest first (for replaying the log against the invariants). */
  *events(): Generator<PoolEvent> {
    for (const row of this.#stmts.allEvents.iterate() as Iterable<{ data: string }>) yield JSON.parse(row.data) as PoolEvent;
  }

  close(): void {
    if (this.#closed) return;
    this.commit();
    this.#closed = true;
    this.#db.close();
  }
}
