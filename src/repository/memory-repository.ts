import { systemClock, type Clock } from '../core/clock.js';
import { assertInteger } from '../core/assert.js';
import { InvalidArgumentError } from '../core/errors.js';
import { noSuchRun, RepositoryError, RepositoryErrorCode } from './errors.js';
import { AVERAGE_WINDOW, isTimed, planFailing } from './failing-plan.js';
import { RecordingRunWriter } from './run-writer.js';
import type { BeginRunOptions, FailingTest, HistoryStats, Repository, RunSummary, RunWriter, TestResult, TestTime } from './types.js';

interface MemoryRun {
  summary: RunSummary;
  chunks: Uint8Array[];
  results: TestResult[];
}

/**
 * A repository that lives in memory: for tests of code built on a Repository,
 * and the second implementation that keeps the contract honest (testrepository's
 * memory store habit). Same semantics as the file store, minus persistence.
 */
export class MemoryRepository implements Repository {
  readonly location = ':memory:';
  readonly #runs: MemoryRun[] = [];
  readonly #times = new Map<string, TestTime>();
  readonly #failing = new Map<string, FailingTest>();
  readonly #clock: Clock;
  #closed = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  beginRun(options: BeginRunOptions = {}): RunWriter {
    this.#check();
    const partial = options.partial ?? false;
    if (typeof partial !== 'boolean') throw new InvalidArgumentError('options.partial', 'a boolean', partial);
    const source = options.source ?? null;
    if (source !== null && typeof source !== 'string') throw new InvalidArgumentError('options.source', 'a string', source);
    const id = this.#runs.length;
    const startedAt = this.#clock.now();
    const run: MemoryRun = {
      summary: {
        id,
        state: 'running',
        partial,
        source,
        startedAt,
        endedAt: null,
        tests: 0,
        counts: { success: 0, fail: 0, skip: 0, xfail: 0, uxsuccess: 0 },
        failures: 0,
        durationMs: null,
        bytes: 0,
      },
      chunks: [],
      results: [],
    };
    this.#runs.push(run);
    return new RecordingRunWriter(
      { id, partial, source, startedAt },
      {
        sink: { append: (bytes) => run.chunks.push(bytes.slice()) },
        seal: () => {},
        complete: (summary, results, failingAsPartial) => this.#complete(run, summary, results, failingAsPartial),
      },
      this.#clock,
    );
  }

  latestRun(): RunSummary | undefined {
    this.#check();
    for (let i = this.#runs.length - 1; i >= 0; i--) {
      const s = this.#runs[i]!.summary;
      if (s.state !== 'running') return copy(s);
    }
    return undefined;
  }

  run(id: number): RunSummary {
    return copy(this.#get(id).summary);
  }

  history(n = 10): RunSummary[] {
    this.#check();
    assertInteger('n', n, 0);
    return this.#runs
      .slice(Math.max(0, this.#runs.length - n))
      .reverse()
      .map((r) => copy(r.summary));
  }

  results(id: number): TestResult[] {
    return this.#get(id).results.map((r) => ({ ...r }));
  }

  failing(): FailingTest[] {
    this.#check();
    return [...this.#failing.values()].sort((a, b) => (a.testId < b.testId ? -1 : a.testId > b.testId ? 1 : 0)).map((f) => ({ ...f }));
  }

  times(ids?: Iterable<string>): Map<string, number> {
    this.#check();
    const out = new Map<string, number>();
    for (const id of ids ?? this.#times.keys()) {
      const t = this.#times.get(id);
      if (t !== undefined) out.set(id, t.avgMs);
    }
    return out;
  }

  slowest(n = 10): TestResult[] {
    this.#check();
    assertInteger('n', n, 0);
    const latest = this.latestRun();
    if (latest === undefined) return [];
    return this.#runs[latest.id]!.results.filter((r) => r.durationMs !== null)
      .sort((a, b) => b.durationMs! - a.durationMs! || (a.testId < b.testId ? -1 : a.testId > b.testId ? 1 : 0))
      .slice(0, n)
      .map((r) => ({ ...r }));
  }

  stats(): HistoryStats {
    this.#check();
    return {
      runs: this.#runs.length,
      timedTests: this.#times.size,
      failing: this.#failing.size,
      bytes: this.#runs.reduce((sum, r) => sum + r.summary.bytes, 0),
      latestRunId: this.latestRun()?.id ?? null,
    };
  }

  openStream(id: number): AsyncIterable<Uint8Array> {
    const chunks = this.#get(id).chunks;
    return (async function* () {
      yield* chunks;
    })();
  }

  close(): void {
    this.#closed = true;
  }

  #complete(run: MemoryRun, summary: RunSummary, results: readonly TestResult[], failingAsPartial: boolean): void {
    run.summary = copy(summary);
    run.results = results.map((r) => ({ ...r }));
    for (const r of results) {
      if (!isTimed(r)) continue;
      const t = this.#times.get(r.testId);
      if (t === undefined) {
        this.#times.set(r.testId, { testId: r.testId, lastMs: r.durationMs, avgMs: r.durationMs, samples: 1 });
      } else {
        t.samples++;
        t.lastMs = r.durationMs;
        t.avgMs += (r.durationMs - t.avgMs) / Math.min(t.samples, AVERAGE_WINDOW);
      }
    }
    const plan = planFailing(results, failingAsPartial);
    if (plan.clear) this.#failing.clear();
    for (const id of plan.remove) this.#failing.delete(id);
    for (const r of plan.add) this.#failing.set(r.testId, { testId: r.testId, runId: summary.id, status: r.status });
  }

  #get(id: number): MemoryRun {
    this.#check();
    assertInteger('id', id, 0);
    const run = this.#runs[id];
    if (run === undefined) throw noSuchRun(id);
    return run;
  }

  #check(): void {
    if (this.#closed) throw new RepositoryError(RepositoryErrorCode.CLOSED, 'the memory repository is closed');
  }
}

function copy(s: RunSummary): RunSummary {
  return { ...s, counts: { ...s.counts } };
}
