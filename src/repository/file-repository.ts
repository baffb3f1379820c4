import { createReadStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { assertInteger } from '../core/assert.js';
import { noSuchRun, RepositoryError, RepositoryErrorCode } from './errors.js';
import { FileSink } from './file-sink.js';
import { RunRecorder } from './run-recorder.js';
import { RecordingRunWriter, summarize } from './run-writer.js';
import { isDamagedIndexError, SqliteIndex } from './sqlite-index.js';
import { listStreamIds, readChunks, streamPath } from './stream-files.js';
import type { BeginRunOptions, FailingTest, HistoryStats, Repository, RunSummary, RunWriter, TestResult } from './types.js';

/** The layout version in `format` (SPEC §13.1, §13.8). */
export const LAYOUT_VERSION = 1;
const FORMAT_TEXT = `subrun-history ${LAYOUT_VERSION}\n`;
const FORMAT_LINE = /^subrun-history (\d+)\s*$/;
const INDEX_FILE = 'index.sqlite';
/** Reason in the closing packet of a test left in progress by a writer that died (SPEC §13.6). */
export const IN_PROGRESS_AT_CRASH = 'the test was still in progress when its runner died (run recovered on next open)';

export interface OpenOptions {
  /**
   * Create the repository when it does not exist.
   * @default false
   */
  create?: boolean;
  /** @default systemClock */
  clock?: Clock;
}

/** What opening found and repaired (SPEC §13.6, §13.7): worth telling the user. */
export interface OpenReport {
  /** Runs whose writer had died, now recovered. */
  recovered: number[];
  /** Where a damaged index was moved before being rebuilt from the streams. */
  rebuiltFrom: string | undefined;
}

/** The `.subrun/` store: numbered subunit v2 streams plus an SQLite index (SPEC §13). */
export class FileRepository implements Repository {
  readonly location: string;
  readonly openReport: OpenReport;
  readonly #runsDir: string;
  readonly #index: SqliteIndex;
  readonly #clock: Clock;
  readonly #host = hostname();
  #closed = false;

  private constructor(dir: string, index: SqliteIndex, clock: Clock, rebuiltFrom: string | undefined) {
    this.location = dir;
    this.#runsDir = path.join(dir, 'runs');
    this.#index = index;
    this.#clock = clock;
    this.openReport = { recovered: [], rebuiltFrom };
    this.openReport.recovered = this.#reconcile();
  }

  static open(dir: string, options: OpenOptions = {}): FileRepository {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('dir', 'a directory path', dir);
    const clock = options.clock ?? systemClock;
    const formatFile = path.join(dir, 'format');
    try {
      if (!existsSync(formatFile)) {
        if (options.create !== true) {
          throw new RepositoryError(RepositoryErrorCode.NOT_FOUND, `no subrun history at ${dir} (run \`subrun run\` or \`subrun load\` first)`, {
            details: { dir },
          });
        }
        mkdirSync(path.join(dir, 'runs'), { recursive: true });
        writeFileSync(formatFile, FORMAT_TEXT);
      }
      checkFormat(formatFile);
      mkdirSync(path.join(dir, 'runs'), { recursive: true });
    } catch (error) {
      if (error instanceof RepositoryError) throw error;
      throw ioError(`cannot open the history at ${dir}`, error);
    }
    const indexFile = path.join(dir, INDEX_FILE);
    let index: SqliteIndex;
    let rebuiltFrom: string | undefined;
    try {
      index = new SqliteIndex(indexFile);
    } catch (error) {
      if (!isDamagedIndexError(error)) throw error;
      // SPEC §13.7: the streams are the truth; keep the damaged file for inspection.
      rebuiltFrom = `${indexFile}.corrupt-${clock.now()}`;
      renameSync(indexFile, rebuiltFrom);
      for (const suffix of ['-wal', '-shm']) {
        if (existsSync(indexFile + suffix)) renameSync(indexFile + suffix, rebuiltFrom + suffix);
      }
      index = new SqliteIndex(indexFile);
    }
    return new FileRepository(dir, index, clock, rebuiltFrom);
  }

  beginRun(options: BeginRunOptions = {}): RunWriter {
    this.#check();
    const partial = options.partial ?? false;
    if (typeof partial !== 'boolean') throw new InvalidArgumentError('options.partial', 'a boolean', partial);
    const source = options.source ?? null;
    if (source !== null && typeof source !== 'string') throw new InvalidArgumentError('options.source', 'a string', source);
    // SPEC §13.2: claim the id with an exclusive create, then index it.
    let id = Math.max(this.#index.maxRunId() ?? -1, ...listStreamIds(this.#runsDir)) + 1;
    let fd: number;
    for (;;) {
      try {
        fd = openSync(streamPath(this.#runsDir, id), 'wx');
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`cannot create a stream in ${this.#runsDir}`, error);
        id++;
      }
    }
    const startedAt = this.#clock.now();
    this.#index.insertRun({ id, partial, source, pid: process.pid, host: this.#host, startedAt });
    const file = streamPath(this.#runsDir, id);
    const sink = new FileSink(fd, file);
    const index = this.#index;
    return new RecordingRunWriter(
      { id, partial, source, startedAt },
      {
        sink,
        seal: () => sink.seal(),
        complete: (summary, results, failingAsPartial) => index.finishRun(summary, results, failingAsPartial),
      },
      this.#clock,
    );
  }

  latestRun(): RunSummary | undefined {
    this.#check();
    return this.#index.latestRun();
  }

  run(id: number): RunSummary {
    this.#check();
    assertInteger('id', id, 0);
    const run = this.#index.run(id);
    if (run === undefined) throw noSuchRun(id);
    return run;
  }

  history(n = 10): RunSummary[] {
    this.#check();
    assertInteger('n', n, 0);
    return this.#index.history(n);
  }

  results(id: number): TestResult[] {
    this.run(id);
    return this.#index.results(id);
  }

  failing(): FailingTest[] {
    this.#check();
    return this.#index.failing();
  }

  times(ids?: Iterable<string>): Map<string, number> {
    this.#check();
    return this.#index.times(ids);
  }

  slowest(n = 10): TestResult[] {
    this.#check();
    assertInteger('n', n, 0);
    const latest = this.#index.latestRun();
    return latest === undefined ? [] : this.#index.slowest(latest.id, n);
  }

  stats(): HistoryStats {
    this.#check();
    return this.#index.stats();
  }

  openStream(id: number): AsyncIterable<Uint8Array> {
    this.run(id);
    const file = streamPath(this.#runsDir, id);
    if (!existsSync(file)) throw ioError(`the stream of run ${id} is missing`, Object.assign(new Error(file), { code: 'ENOENT' }));
    return createReadStream(file);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#index.close();
  }

  /** SPEC §13.6: recover runs whose writer died, and index streams the index lacks. */
  #reconcile(): number[] {
    const recovered: number[] = [];
    const known = new Set(this.#index.runIds());
    for (const run of this.#index.runningRuns()) {
      if (run.host === this.#host && run.pid !== null && !isAlive(run.pid)) {
        this.#recover(run.id, true);
        recovered.push(run.id);
      }
    }
    for (const id of listStreamIds(this.#runsDir)) {
      if (known.has(id)) continue;
      this.#recover(id, false);
      recovered.push(id);
    }
    return recovered;
  }

  /** Re-reads a stream, cuts a torn final write, fails tests left in progress and indexes the run. */
  #recover(id: number, indexed: boolean): void {
    const file = streamPath(this.#runsDir, id);
    if (!existsSync(file)) writeFileSync(file, new Uint8Array(0));
    const size = statSync(file).size;
    const mtime = statSync(file).mtimeMs;
    let sink: FileSink | undefined;
    const recorder = new RunRecorder({ append: (bytes) => sink!.append(bytes) }, () => this.#clock.now());
    const validEnd = recorder.replay(readChunks(file));
    if (validEnd < size) truncateSync(file, validEnd);
    sink = new FileSink(openSync(file, 'a'), file);
    recorder.close(IN_PROGRESS_AT_CRASH);
    sink.seal();
    const first = recorder.firstTimestampMs();
    const startedAt = Math.round(first ?? mtime);
    if (!indexed) this.#index.insertRun({ id, partial: true, source: null, pid: null, host: null, startedAt });
    const prior = indexed ? this.#index.run(id) : undefined;
    const init = { id, partial: prior?.partial ?? true, source: prior?.source ?? null, startedAt: prior?.startedAt ?? startedAt };
    const duration = recorder.durationMs();
    const endedAt = first !== null && duration !== null ? Math.round(first + duration) : Math.round(mtime);
    this.#index.finishRun(summarize(init, 'recovered', endedAt, recorder), recorder.results(), true);
  }

  #check(): void {
    if (this.#closed) throw new RepositoryError(RepositoryErrorCode.CLOSED, `the repository at ${this.location} is closed`);
  }
}

function checkFormat(formatFile: string): void {
  const text = readFileSync(formatFile, 'utf8');
  const m = FORMAT_LINE.exec(text);
  const version = m === null ? NaN : Number(m[1]);
  if (version !== LAYOUT_VERSION) {
    throw new RepositoryError(
      RepositoryErrorCode.VERSION,
      `${formatFile} says ${JSON.stringify(text.trim().slice(0, 60))}; this subrun reads layout version ${LAYOUT_VERSION}`,
      { details: { file: formatFile } },
    );
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ioError(message: string, cause: unknown): RepositoryError {
  return new RepositoryError(RepositoryErrorCode.IO, `${message}: ${String((cause as Error)?.message ?? cause)}`, { cause });
}
