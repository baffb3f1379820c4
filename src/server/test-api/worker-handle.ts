/**
 * One test worker seen from the main thread: starts it, waits for it to load the
 * suite, hands it batches, and watches each batch. The watchdog reads the shared
 * Progress on a main-thread timer, so a test stuck in a synchronous loop is noticed
 * (and the worker terminated) while the main thread stays free.
 */
import { MessageChannel, Worker, type ResourceLimits } from 'node:worker_threads';
import { withTimeout } from '../../core/abort.js';
import { SubrunError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { TestResult } from '../../testing/engine.js';
import { ModuleStamps } from './freshness.js';
import { Progress } from './progress.js';
import type { FromWorker, LoadError, ModuleStamp, StrayOutput, WorkerInit } from './worker-protocol.js';

export interface ReadyInfo {
  tests: string[];
  duplicates: string[];
  loadErrors: LoadError[];
}

export type BatchEnd =
  | { kind: 'done' }
  /** The worker ended mid-batch: it crashed, exited, or was terminated (reason says which). */
  | { kind: 'ended'; reason: string };

export interface BatchOptions {
  ids: string[];
  resources: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string>>;
  progress: Progress;
  onResults(results: TestResult[]): void;
  /** Called on each watchdog tick with the planned test running now: slow tests get their `inprogress` while they run. */
  onStarted(index: number): void;
  /** How far past a test's deadline the watchdog waits before terminating the worker. */
  graceMs: number;
  watchdogIntervalMs: number;
  signal: AbortSignal | undefined;
}

const WORKER_URL = new URL('./worker-main.js', import.meta.url);

export class WorkerHandle {
  readonly stamps = new ModuleStamps();
  readonly ready: Promise<ReadyInfo>;
  batches = 0;
  heapUsed = 0;
  onStray: ((stray: StrayOutput[]) => void) | undefined;
  readonly #worker: Worker;
  readonly #hooksPort: MessageChannel['port1'];
  #resolveReady!: (info: ReadyInfo) => void;
  #rejectReady!: (error: unknown) => void;
  #onResults: ((results: TestResult[]) => void) | undefined;
  #batchEnd: ((end: BatchEnd) => void) | undefined;
  #endReason: string | undefined;
  #lastError: unknown;
  #exited = false;
  readonly #exit: Promise<void>;

  constructor(init: Omit<WorkerInit, 'hooksPort'>, resourceLimits?: ResourceLimits) {
    const channel = new MessageChannel();
    this.#hooksPort = channel.port1;
    this.#hooksPort.on('message', (stamp: ModuleStamp) => this.stamps.add(stamp));
    this.#hooksPort.unref();
    this.ready = new Promise<ReadyInfo>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    const workerInit: WorkerInit = { ...init, hooksPort: channel.port2 };
    // stdout/stderr: true keeps anything that slips past the in-worker capture off our real output.
    this.#worker = new Worker(WORKER_URL, { workerData: workerInit, transferList: [channel.port2], stdout: true, stderr: true, resourceLimits });
    this.#worker.stdout.on('data', (chunk: Buffer) => this.onStray?.([{ fileName: 'stdout', text: chunk.toString('utf8') }]));
    this.#worker.stderr.on('data', (chunk: Buffer) => this.onStray?.([{ fileName: 'stderr', text: chunk.toString('utf8') }]));
    this.#worker.on('message', (m: FromWorker) => this.#onMessage(m));
    this.#worker.on('error', (error) => {
      this.#lastError = error;
    });
    this.#exit = new Promise<void>((resolve) => {
      this.#worker.on('exit', (code) => {
        this.#exited = true;
        this.#hooksPort.close();
        const reason = this.#endReason ?? (this.#lastError !== undefined ? `the worker crashed: ${describe(this.#lastError)}` : `the worker exited with code ${code} (process.exit() called by test code?)`);
        this.#rejectReady(new SubrunError('ERR_WORKER_START', `test worker ended before loading the suite: ${reason}`));
        this.#batchEnd?.({ kind: 'ended', reason });
        resolve();
      });
    });
  }

  get alive(): boolean {
    return !this.#exited;
  }

  async waitReady(timeoutMs: number, clock: Clock): Promise<ReadyInfo> {
    this.#worker.ref();
    try {
      return await withTimeout(this.ready, { timeoutMs, clock, timeoutCode: 'ERR_WORKER_START_TIMEOUT', what: 'loading the test files in a worker' });
    } finally {
      this.#worker.unref();
    }
  }

  runBatch(options: BatchOptions): Promise<BatchEnd> {
    if (this.#exited) return Promise.resolve({ kind: 'ended', reason: this.#endReason ?? 'the worker had already ended' });
    const { progress } = options;
    this.#worker.ref();
    this.#onResults = options.onResults;
    return new Promise<BatchEnd>((resolve) => {
      const watchdog = setInterval(() => {
        const current = progress.current;
        if (current < 0 || progress.status(current) !== undefined) return;
        options.onStarted(current);
        // Deadlines are the worker's wall clock, so they are compared with the real one, not an injected clock.
        if (!(systemClock.now() > progress.deadlineMs + options.graceMs)) return;
        void this.kill(`timed out after ${progress.timeoutMs} ms and did not yield (a synchronous loop?): the worker was terminated and replaced`);
      }, options.watchdogIntervalMs);
      // SPEC §7.4/§6.1: a cancelled batch lets the running test finish and starts no other;
      // the watchdog still stops a test that overruns its timeout.
      const onAbort = (): void => progress.requestStop();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#batchEnd = (end) => {
        clearInterval(watchdog);
        options.signal?.removeEventListener('abort', onAbort);
        this.#batchEnd = undefined;
        this.#onResults = undefined;
        if (!this.#exited) this.#worker.unref();
        resolve(end);
      };
      this.#worker.postMessage({ type: 'run', ids: options.ids, resources: options.resources, env: options.env, progress: progress.buffer });
    });
  }

  /** Terminate the worker now; `reason` is what the interrupted test is charged with. Idempotent. */
  async kill(reason: string): Promise<void> {
    this.#endReason ??= reason;
    if (!this.#exited) await this.#worker.terminate();
    await this.#exit;
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        if (m.stray.length > 0) this.onStray?.(m.stray);
        this.#resolveReady({ tests: m.tests, duplicates: m.duplicates, loadErrors: m.loadErrors });
        break;
      case 'results':
        this.#onResults?.(m.results);
        break;
      case 'done':
        this.batches++;
        this.heapUsed = m.heapUsed;
        for (const file of m.requiredFiles) this.stamps.addCurrent(file);
        if (m.stray.length > 0) this.onStray?.(m.stray);
        this.#batchEnd?.({ kind: 'done' });
        break;
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
