/**
 * A Suite over files written against `subrun/test` (or unmodified node:test files).
 * Files are loaded once per worker; the worker is replaced when code it loaded
 * changed, after N batches, above a heap or RSS threshold, and whenever a test
 * kills it (busy loop, process.exit, fatal crash) — in which case the batch goes on
 * in the new worker after charging the test that was running.
 */
import path from 'node:path';
import type { ResourceLimits } from 'node:worker_threads';
import { assertInteger, assertPositiveDuration } from '../../core/assert.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { InvalidArgumentError, SubrunError } from '../../core/errors.js';
import type { TestResult } from '../../testing/engine.js';
import type { ListOutcome, ResultSink, RunOutcome, RunRequest, Suite } from '../suite.js';
import { emitAttachment, emitExists, emitInProgress, emitResult } from './events.js';
import { HeapTrimmer, oldGenerationBytes } from './heap-trimmer.js';
import { Progress } from './progress.js';
import { select } from './selection.js';
import { WorkerHandle, type ReadyInfo } from './worker-handle.js';
import type { StrayOutput } from './worker-protocol.js';

export interface TestApiSuiteOptions {
  /** Test ids are file paths relative to this directory. */
  root: string;
  /** Test files (absolute, or relative to root), loaded in this order. */
  files: string[];
  /** Timeout for tests and hooks that set none. @default Infinity */
  defaultTimeoutMs?: number;
  /** Replace the worker after this many batches. @default Infinity */
  recycleAfterBatches?: number;
  /** Replace the worker when its heap (after a batch) exceeds this. @default Infinity */
  maxHeapBytes?: number;
  /** Replace the worker when the process RSS exceeds this. @default Infinity */
  maxRssBytes?: number;
  /** Map `node:test` to subrun's API inside the worker. @default true */
  nodeTestCompat?: boolean;
  /** Register tsx (esbuild) in the worker. @default true when any file is .ts/.mts/.cts/.tsx */
  typescript?: boolean;
  /** How long a worker may take to load the files. @default 30000 */
  startTimeoutMs?: number;
  /** How far past its deadline a test that does not yield may run before its worker is terminated. @default 200 */
  watchdogGraceMs?: number;
  /** @default 25 */
  watchdogIntervalMs?: number;
  /**
   * V8 limits for the worker (see worker_threads ResourceLimits). A young generation
   * left unset gets DEFAULT_WORKER_YOUNG_GENERATION_MB rather than V8's 48 MiB.
   */
  resourceLimits?: ResourceLimits;
  /** For event timestamps and the worker start timeout (test deadlines are the worker's wall clock). */
  clock?: Clock;
  /** Where output no test owns goes (printed at load time, or after a test finished). @default emitted as test-less attachments */
  onStray?: (stray: StrayOutput) => void;
}

export interface SuiteStats {
  /** Workers started so far. */
  workerStarts: number;
  /** Why the last worker was replaced. */
  lastRecycleReason: string | undefined;
  /** The worker's V8 heap after its last batch, in bytes. */
  workerHeapUsed: number;
}

const TS_FILE = /\.(?:[cm]?ts|tsx)$/;

/**
 * The worker's young generation (two 4 MiB semi-spaces). At V8's default of 48 MiB a
 * long-lived worker's young generation alone grows to 32 MiB of RSS; at 12 it stays at
 * 8 MiB, and full runs of a 10,000-test suite were no slower (BENCHMARKS.md, "Test
 * server end to end").
 */
export const DEFAULT_WORKER_YOUNG_GENERATION_MB = 12;

export class TestApiSuite implements Suite {
  readonly #root: string;
  readonly #files: string[];
  readonly #clock: Clock;
  readonly #opts: Required<Pick<TestApiSuiteOptions, 'defaultTimeoutMs' | 'recycleAfterBatches' | 'maxHeapBytes' | 'maxRssBytes' | 'nodeTestCompat' | 'typescript' | 'startTimeoutMs' | 'watchdogGraceMs' | 'watchdogIntervalMs'>>;
  readonly #onStray: ((stray: StrayOutput) => void) | undefined;
  readonly #resourceLimits: ResourceLimits;
  #handle: WorkerHandle | undefined;
  #info: ReadyInfo | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #running = false;
  #closed = false;
  #destroyed = false;
  #sink: ResultSink | undefined;
  // This thread relays every result (structured clones in, subunit packets out): its garbage grows with the run.
  readonly #trimmer = new HeapTrimmer({ growth: 1, slackBytes: 4 * 2 ** 20, measure: oldGenerationBytes });
  readonly stats: SuiteStats = { workerStarts: 0, lastRecycleReason: undefined, workerHeapUsed: 0 };

  constructor(options: TestApiSuiteOptions) {
    if (typeof options?.root !== 'string' || options.root === '') throw new InvalidArgumentError('root', 'a directory path', options?.root);
    if (!Array.isArray(options.files) || options.files.some((f) => typeof f !== 'string')) throw new InvalidArgumentError('files', 'an array of file paths', options.files);
    this.#root = path.resolve(options.root);
    this.#files = options.files.map((f) => path.resolve(this.#root, f));
    this.#clock = options.clock ?? systemClock;
    const num = (name: keyof TestApiSuiteOptions, fallback: number): number => {
      const v = options[name] ?? fallback;
      if (v !== Infinity) assertPositiveDuration(name, v);
      return v as number;
    };
    this.#opts = {
      defaultTimeoutMs: num('defaultTimeoutMs', Infinity),
      recycleAfterBatches: options.recycleAfterBatches ?? Infinity,
      maxHeapBytes: num('maxHeapBytes', Infinity),
      maxRssBytes: num('maxRssBytes', Infinity),
      nodeTestCompat: options.nodeTestCompat ?? true,
      typescript: options.typescript ?? this.#files.some((f) => TS_FILE.test(f)),
      startTimeoutMs: num('startTimeoutMs', 30_000),
      watchdogGraceMs: num('watchdogGraceMs', 200),
      watchdogIntervalMs: num('watchdogIntervalMs', 25),
    };
    if (this.#opts.recycleAfterBatches !== Infinity) assertInteger('recycleAfterBatches', this.#opts.recycleAfterBatches, 1);
    this.#onStray = options.onStray;
    this.#resourceLimits = { maxYoungGenerationSizeMb: DEFAULT_WORKER_YOUNG_GENERATION_MB, ...options.resourceLimits };
  }

  async list(sink: ResultSink, filter?: string[]): Promise<ListOutcome> {
    this.#assertOpen();
    // During a run the main thread answers from what the current worker listed: it never waits on a test.
    const info = this.#running && this.#info !== undefined ? this.#info : await this.#exclusive(() => this.#listing(sink));
    const { ids, unknown } = select(info.tests, filter);
    const now = this.#clock.now();
    for (const id of ids) emitExists(sink, id, now);
    return info.duplicates.length === 0 ? { unknown } : { unknown, duplicates: [...info.duplicates] };
  }

  async run(request: RunRequest, sink: ResultSink): Promise<RunOutcome> {
    this.#assertOpen();
    if (request.tests !== undefined && (!Array.isArray(request.tests) || request.tests.some((t) => typeof t !== 'string'))) {
      throw new InvalidArgumentError('request.tests', 'an array of test ids', request.tests);
    }
    const outcome = this.#exclusive(() => this.#run(request, sink));
    // After the caller has reported the batch (Done goes out in this turn's microtasks), not before.
    void outcome.finally(() => setImmediate(() => this.#trimmer.trim()).unref()).catch(() => undefined);
    return outcome;
  }

  /** Makes sure the worker is fresh; what it prints while loading goes to the List's sink. */
  async #listing(sink: ResultSink): Promise<ReadyInfo> {
    this.#sink = sink;
    try {
      await this.#freshWorker();
      return this.#info!;
    } finally {
      this.#sink = undefined;
    }
  }

  /** Waits for the current run, then stops the worker. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return this.#queue.then(() => undefined, () => undefined);
    this.#closed = true;
    await this.#queue.catch(() => undefined);
    await this.#handle?.kill('the suite was closed');
    this.#handle = undefined;
  }

  /** Stops the worker now, failing the running test with a "destroyed" reason. Idempotent. */
  async destroy(): Promise<void> {
    this.#closed = true;
    this.#destroyed = true;
    await this.#handle?.kill('the suite was destroyed');
    this.#handle = undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new SubrunError('ERR_SUITE_CLOSED', 'the suite is closed');
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #run(request: RunRequest, sink: ResultSink): Promise<RunOutcome> {
    let handle = await this.#freshWorker();
    const { ids, unknown } = select(this.#info!.tests, request.tests);
    const resources = request.resources ?? {};
    const env = request.env ?? {};
    let remaining = ids;
    let ran = 0;
    this.#running = true;
    this.#sink = sink;
    try {
      while (remaining.length > 0 && !isAborted(request.signal)) {
        const progress = new Progress(remaining.length);
        const reported = new Uint8Array(remaining.length);
        const started = new Uint8Array(remaining.length);
        const batchIds = remaining;
        let delivered = 0;
        const end = await handle.runBatch({
          ids: remaining,
          resources,
          env,
          progress,
          onResults: (results: TestResult[]) => {
            for (const r of results) {
              emitResult(sink, r, r.index !== undefined && started[r.index] === 1);
              if (r.index !== undefined) {
                reported[r.index] = 1;
                delivered++;
                ran++;
              }
            }
          },
          onStarted: (index: number) => {
            // Only once every earlier result is out, so a consumer still sees one test at a time.
            if (started[index] === 1 || reported[index] === 1 || index !== delivered) return;
            started[index] = 1;
            emitInProgress(sink, batchIds[index]!, this.#clock.now());
          },
          graceMs: this.#opts.watchdogGraceMs,
          watchdogIntervalMs: this.#opts.watchdogIntervalMs,
          signal: request.signal,
        });
        if (end.kind === 'done') {
          this.stats.workerHeapUsed = handle.heapUsed;
          break;
        }
        const next = this.#chargeCrash(sink, remaining, progress, reported, started, end.reason);
        ran += next.ran;
        remaining = remaining.slice(next.resumeAt);
        if (remaining.length === 0 || isAborted(request.signal) || this.#destroyed) {
          this.#handle = undefined;
          break;
        }
        handle = await this.#replaceWorker(`a test ended the worker: ${end.reason}`);
        const known = new Set(this.#info!.tests);
        // The new worker loaded the files afresh; ids it no longer lists are reported, not dropped.
        for (const id of remaining) if (!known.has(id)) unknown.push(id);
        remaining = remaining.filter((id) => known.has(id));
      }
    } finally {
      this.#running = false;
      this.#sink = undefined;
    }
    return { unknown, ran };
  }

  /**
   * After the worker ended mid-batch: report the tests that finished but whose
   * results were still in the worker's buffer (status from shared memory; their
   * output is lost, and says so), then charge the running test with `reason`.
   */
  #chargeCrash(sink: ResultSink, ids: string[], progress: Progress, reported: Uint8Array, started: Uint8Array, reason: string): { ran: number; resumeAt: number } {
    const current = Math.max(progress.current, 0);
    const now = this.#clock.now();
    let ran = 0;
    for (let i = 0; i <= current && i < ids.length; i++) {
      if (reported[i] === 1) continue;
      const status = progress.status(i);
      if (status === undefined) continue;
      emitResult(sink, { id: ids[i]!, status, startMs: now, endMs: now, reason: 'the worker ended before this result was delivered; its output and details are lost' }, started[i] === 1);
      ran++;
    }
    if (progress.status(current) === undefined && current < ids.length) {
      const id = ids[current]!;
      emitResult(sink, { id, status: 'fail', startMs: now, endMs: now, reason, traceback: `${id}: ${reason}\n` }, started[current] === 1);
      ran++;
    } else {
      emitAttachment(sink, undefined, 'uncaught-error', `between tests: ${reason}\n`, now);
    }
    return { ran, resumeAt: current + 1 };
  }

  async #freshWorker(): Promise<WorkerHandle> {
    const h = this.#handle;
    if (h === undefined || !h.alive) return this.#replaceWorker(h === undefined ? undefined : 'the worker had ended');
    const reason = this.#recycleReason(h);
    return reason === undefined ? h : this.#replaceWorker(reason);
  }

  #recycleReason(h: WorkerHandle): string | undefined {
    if (h.batches >= this.#opts.recycleAfterBatches) return `it ran ${h.batches} batches`;
    if (h.heapUsed > this.#opts.maxHeapBytes) return `its heap reached ${h.heapUsed} bytes`;
    if (this.#opts.maxRssBytes !== Infinity) {
      const rss = process.memoryUsage.rss();
      if (rss > this.#opts.maxRssBytes) return `RSS reached ${rss} bytes`;
    }
    const changed = h.stamps.stale();
    if (changed !== undefined) return `${changed} changed since it was loaded`;
    return undefined;
  }

  async #replaceWorker(reason: string | undefined): Promise<WorkerHandle> {
    await this.#handle?.kill(reason ?? 'replaced');
    this.#handle = undefined;
    if (reason !== undefined) this.stats.lastRecycleReason = reason;
    const handle = new WorkerHandle({
      root: this.#root,
      files: this.#files,
      typescript: this.#opts.typescript,
      nodeTestCompat: this.#opts.nodeTestCompat,
      defaultTimeoutMs: this.#opts.defaultTimeoutMs,
    }, this.#resourceLimits);
    this.stats.workerStarts++;
    handle.onStray = (stray) => this.#stray(stray);
    try {
      this.#info = await handle.waitReady(this.#opts.startTimeoutMs, this.#clock);
    } catch (error) {
      await handle.kill('it did not load the suite in time');
      throw error;
    }
    this.#handle = handle;
    return handle;
  }

  #stray(entries: StrayOutput[]): void {
    for (const s of entries) {
      if (this.#onStray !== undefined) this.#onStray(s);
      else if (this.#sink !== undefined) emitAttachment(this.#sink, s.testId, s.fileName, s.text, this.#clock.now());
    }
  }
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
