import Database from 'better-sqlite3';
import { RepositoryError, RepositoryErrorCode } from './errors.js';
import { AVERAGE_WINDOW, isTimed, planFailing } from './failing-plan.js';
import type { FailingTest, FinalStatus, HistoryStats, RunState, RunSummary, TestResult } from './types.js';

/** Schema migrations (SPEC §13.5): MIGRATIONS[i] takes user_version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     id INTEGER PRIMARY KEY,
     state TEXT NOT NULL,
     partial INTEGER NOT NULL,
     source TEXT,
     pid INTEGER,
     host TEXT,
     started_ms INTEGER NOT NULL,
     ended_ms INTEGER,
     tests INTEGER NOT NULL DEFAULT 0,
     success INTEGER NOT NULL DEFAULT 0,
     fail INTEGER NOT NULL DEFAULT 0,
     skip INTEGER NOT NULL DEFAULT 0,
     xfail INTEGER NOT NULL DEFAULT 0,
     uxsuccess INTEGER NOT NULL DEFAULT 0,
     duration_ms REAL,
     bytes INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE results (
     run_id INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     test_id TEXT NOT NULL,
     status TEXT NOT NULL,
     duration_ms REAL,
     PRIMARY KEY (run_id, seq)
   ) WITHOUT ROWID;
   CREATE TABLE times (
     test_id TEXT PRIMARY KEY,
     last_ms REAL NOT NULL,
     avg_ms REAL NOT NULL,
     samples INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE failing (
     test_id TEXT PRIMARY KEY,
     run_id INTEGER NOT NULL,
     status TEXT NOT NULL
   ) WITHOUT ROWID;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface RunRow {
  id: number;
  state: RunState;
  partial: number;
  source: string | null;
  pid: number | null;
  host: string | null;
  started_ms: number;
  ended_ms: number | null;
  tests: number;
  success: number;
  fail: number;
  skip: number;
  xfail: number;
  uxsuccess: number;
  duration_ms: number | null;
  bytes: number;
}

export interface RunningRun {
  id: number;
  pid: number | null;
  host: string | null;
}

/** SQLite result codes that mean the index file is damaged and must be rebuilt (SPEC §13.7). */
const DAMAGED = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN', 'SQLITE_IOERR_SHORT_READ']);

export function isDamagedIndexError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (DAMAGED.has(code) || code.startsWith('SQLITE_CORRUPT'));
}

/** The SQLite index of a file repository (SPEC §13.5). Statements are prepared once. */
export class SqliteIndex {
  readonly #db: Database.Database;
  readonly #s;

  /** Opens (creating) the index and migrates it; throws SQLite's error when the file is damaged. */
  constructor(file: string) {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      migrate(db, file);
      // Touch every table so a damaged file fails here, not in the middle of a run.
      db.prepare('SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM failing) + (SELECT count(*) FROM times)').get();
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    this.#s = {
      insertRun: db.prepare(
        'INSERT INTO runs (id, state, partial, source, pid, host, started_ms) VALUES (@id, @state, @partial, @source, @pid, @host, @started_ms)',
      ),
      finishRun: db.prepare(
        `UPDATE runs SET state=@state, partial=@partial, ended_ms=@ended_ms, tests=@tests, success=@success, fail=@fail,
           skip=@skip, xfail=@xfail, uxsuccess=@uxsuccess, duration_ms=@duration_ms, bytes=@bytes WHERE id=@id`,
      ),
      deleteResults: db.prepare('DELETE FROM results WHERE run_id = ?'),
      insertResult: db.prepare('INSERT INTO results (run_id, seq, test_id, status, duration_ms) VALUES (?, ?, ?, ?, ?)'),
      upsertTime: db.prepare(
        `INSERT INTO times (test_id, last_ms, avg_ms, samples) VALUES (@id, @ms, @ms, 1)
         ON CONFLICT (test_id) DO UPDATE SET last_ms = excluded.last_ms, samples = samples + 1,
           avg_ms = avg_ms + (excluded.last_ms - avg_ms) / MIN(samples + 1, ${AVERAGE_WINDOW})`,
      ),
      clearFailing: db.prepare('DELETE FROM failing'),
      addFailing: db.prepare(
        'INSERT INTO failing (test_id, run_id, status) VALUES (?, ?, ?) ON CONFLICT (test_id) DO UPDATE SET run_id = excluded.run_id, status = excluded.status',
      ),
      removeFailing: db.prepare('DELETE FROM failing WHERE test_id = ?'),
      getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
      latestRun: db.prepare("SELECT * FROM runs WHERE state != 'running' ORDER BY id DESC LIMIT 1"),
      history: db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?'),
      running: db.prepare("SELECT id, pid, host FROM runs WHERE state = 'running' ORDER BY id"),
      runIds: db.prepare('SELECT id FROM runs ORDER BY id').pluck(),
      maxRunId: db.prepare('SELECT max(id) FROM runs').pluck(),
      results: db.prepare('SELECT test_id, status, duration_ms FROM results WHERE run_id = ? ORDER BY seq'),
      slowest: db.prepare(
        'SELECT test_id, status, duration_ms FROM results WHERE run_id = ? AND duration_ms IS NOT NULL ORDER BY duration_ms DESC, test_id LIMIT ?',
      ),
      failing: db.prepare('SELECT test_id, run_id, status FROM failing ORDER BY test_id'),
      time: db.prepare('SELECT avg_ms FROM times WHERE test_id = ?').pluck(),
      allTimes: db.prepare('SELECT test_id, avg_ms FROM times'),
      stats: db.prepare(
        `SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM times) AS timed,
           (SELECT count(*) FROM failing) AS failing, (SELECT coalesce(sum(bytes), 0) FROM runs) AS bytes,
           (SELECT max(id) FROM runs WHERE state != 'running') AS latest`,
      ),
    };
  }

  insertRun(run: { id: number; partial: boolean; source: string | null; pid: number | null; host: string | null; startedAt: number }): void {
    this.#s.insertRun.run({
      id: run.id,
      state: 'running',
      partial: run.partial ? 1 : 0,
      source: run.source,
      pid: run.pid,
      host: run.host,
      started_ms: run.startedAt,
    });
  }

  /** Records a finished run in one transaction (SPEC §13.6): summary, results, times, failing set. */
  finishRun(summary: RunSummary, results: readonly TestResult[], failingAsPartial: boolean): void {
    const s = this.#s;
    this.#db.transaction(() => {
      s.finishRun.run({
        id: summary.id,
        state: summary.state,
        partial: summary.partial ? 1 : 0,
        ended_ms: summary.endedAt,
        tests: summary.tests,
        ...summary.counts,
        duration_ms: summary.durationMs,
        bytes: summary.bytes,
      });
      s.deleteResults.run(summary.id);
      let seq = 0;
      for (const r of results) {
        s.insertResult.run(summary.id, seq++, r.testId, r.status, r.durationMs);
        if (isTimed(r)) s.upsertTime.run({ id: r.testId, ms: r.durationMs });
      }
      const plan = planFailing(results, failingAsPartial);
      if (plan.clear) s.clearFailing.run();
      for (const id of plan.remove) s.removeFailing.run(id);
      for (const r of plan.add) s.addFailing.run(r.testId, summary.id, r.status);
    })();
  }

  run(id: number): RunSummary | undefined {
    const row = this.#s.getRun.get(id) as RunRow | undefined;
    return row === undefined ? undefined : toSummary(row);
  }

  latestRun(): RunSummary | undefined {
    const row = this.#s.latestRun.get() as RunRow | undefined;
    return row === undefined ? undefined : toSummary(row);
  }

  history(n: number): RunSummary[] {
    return (this.#s.history.all(n) as RunRow[]).map(toSummary);
  }

  runningRuns(): RunningRun[] {
    return this.#s.running.all() as RunningRun[];
  }

  runIds(): number[] {
    return this.#s.runIds.all() as number[];
  }

  maxRunId(): number | null {
    return this.#s.maxRunId.get() as number | null;
  }

  results(runId: number): TestResult[] {
    return (this.#s.results.all(runId) as ResultRow[]).map(toResult);
  }

  slowest(runId: number, n: number): TestResult[] {
    return (this.#s.slowest.all(runId, n) as ResultRow[]).map(toResult);
  }

  failing(): FailingTest[] {
    return (this.#s.failing.all() as { test_id: string; run_id: number; status: FinalStatus }[]).map((r) => ({
      testId: r.test_id,
      runId: r.run_id,
      status: r.status,
    }));
  }

  times(ids: Iterable<string> | undefined): Map<string, number> {
    const out = new Map<string, number>();
    if (ids === undefined) {
      for (const r of this.#s.allTimes.all() as { test_id: string; avg_ms: number }[]) out.set(r.test_id, r.avg_ms);
      return out;
    }
    for (const id of ids) {
      const ms = this.#s.time.get(id) as number | undefined;
      if (ms !== undefined) out.set(id, ms);
    }
    return out;
  }

  stats(): HistoryStats {
    const r = this.#s.stats.get() as { runs: number; timed: number; failing: number; bytes: number; latest: number | null };
    return { runs: r.runs, timedTests: r.timed, failing: r.failing, bytes: r.bytes, latestRunId: r.latest };
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

interface ResultRow {
  test_id: string;
  status: FinalStatus;
  duration_ms: number | null;
}

function toResult(r: ResultRow): TestResult {
  return { testId: r.test_id, status: r.status, durationMs: r.duration_ms };
}

function toSummary(r: RunRow): RunSummary {
  return {
    id: r.id,
    state: r.state,
    partial: r.partial !== 0,
    source: r.source,
    startedAt: r.started_ms,
    endedAt: r.ended_ms,
    tests: r.tests,
    counts: { success: r.success, fail: r.fail, skip: r.skip, xfail: r.xfail, uxsuccess: r.uxsuccess },
    failures: r.fail + r.uxsuccess,
    durationMs: r.duration_ms,
    bytes: r.bytes,
  };
}

function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new RepositoryError(
      RepositoryErrorCode.VERSION,
      `${file} has schema version ${version}; this subrun knows up to ${SCHEMA_VERSION}`,
      { details: { file, version, known: SCHEMA_VERSION } },
    );
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
