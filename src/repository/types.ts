import type { SubunitEvent, TestStatus } from '../subunit/event.js';

/** A run's lifecycle state in the index (SPEC §13.5). */
export type RunState = 'running' | 'complete' | 'interrupted' | 'recovered';

/** The five final statuses a test can end a run with. */
export type FinalStatus = Extract<TestStatus, 'success' | 'fail' | 'skip' | 'xfail' | 'uxsuccess'>;

export const FINAL_STATUSES: ReadonlySet<string> = new Set<FinalStatus>(['success', 'fail', 'skip', 'xfail', 'uxsuccess']);

export type StatusCounts = Record<FinalStatus, number>;

export interface RunSummary {
  id: number;
  state: RunState;
  /** Whether the run only updates the tests it reported (SPEC §13.6). */
  partial: boolean;
  /** What produced the run: the test command, or `load <file>`. */
  source: string | null;
  /** Wall-clock milliseconds since the epoch. */
  startedAt: number;
  endedAt: number | null;
  /** Tests with a final status. */
  tests: number;
  counts: StatusCounts;
  /** fail + uxsuccess. */
  failures: number;
  /** From the earliest to the latest timestamp in the stream; null without timestamps. */
  durationMs: number | null;
  /** Bytes in the stream file. */
  bytes: number;
}

export interface TestResult {
  testId: string;
  status: FinalStatus;
  /** From the first `inprogress` to the final status; null when either has no timestamp. */
  durationMs: number | null;
}

export interface FailingTest {
  testId: string;
  /** The run that last failed it. */
  runId: number;
  status: FinalStatus;
}

export interface TestTime {
  testId: string;
  lastMs: number;
  avgMs: number;
  samples: number;
}

export interface BeginRunOptions {
  /**
   * Only update the tests this run reports (testr's `--partial`).
   * @default false
   */
  partial?: boolean;
  /** What produced the run, shown by `subrun history`. */
  source?: string;
}

/**
 * Records one run as its results arrive (SPEC §13.3, §13.4). Every method is
 * synchronous except the ends; bytes handed over are on disk (for the file store)
 * before the caller returns to the event loop. The feeding methods throw
 * ERR_REPO_IO once the stream cannot be written (a full disk), and
 * ERR_REPO_CLOSED after finish() or abort(); finish()/abort() reject with
 * ERR_REPO_IO in the first case, and the run is recovered on the next open.
 */
export interface RunWriter {
  readonly id: number;
  /** Any bytes of a subunit v2 stream, split anywhere: decoded here, RPC packets dropped, stray bytes kept. */
  write(chunk: Uint8Array): void;
  /** A packet the caller already decoded: `raw` is its exact bytes (copied if kept). RPC packets are dropped. */
  packet(event: SubunitEvent, raw: Uint8Array): void;
  /** Bytes that are not subunit (a server's stray output): kept as a `stdout` attachment packet. */
  nonSubunit(bytes: Uint8Array): void;
  /** The run ended normally: tests still in progress are failed, the index is updated. */
  finish(): Promise<RunSummary>;
  /**
   * The run was stopped (Ctrl-C, a fatal runner error): everything received is
   * kept, tests in progress fail with `reason`, and the failing set is updated as
   * for a partial run. State `interrupted`.
   */
  abort(reason?: string): Promise<RunSummary>;
}

export interface HistoryStats {
  runs: number;
  /** Distinct tests with a recorded duration. */
  timedTests: number;
  failing: number;
  /** Total bytes of all streams. */
  bytes: number;
  latestRunId: number | null;
}

/**
 * The history of test runs (SPEC §13). One contract (test/repository/contract.ts)
 * is passed by every implementation: the file store and the memory store.
 */
export interface Repository {
  /** Where it lives (`:memory:` for the memory store). */
  readonly location: string;
  beginRun(options?: BeginRunOptions): RunWriter;
  /** The highest-numbered run that is not still running, or undefined when there is none. */
  latestRun(): RunSummary | undefined;
  /** Throws ERR_REPO_NO_RUN when there is no such run. */
  run(id: number): RunSummary;
  /** The latest `n` runs (any state), newest first. */
  history(n?: number): RunSummary[];
  /** Each test's final result in run `id`, in the order the tests finished. */
  results(id: number): TestResult[];
  /** The failing set, sorted by test id. */
  failing(): FailingTest[];
  /** Recorded running-average durations (ms) for the given ids (all known tests when omitted); unknown ids are absent. */
  times(ids?: Iterable<string>): Map<string, number>;
  /** The `n` slowest tests of the latest run, slowest first (testr's `slowest`). */
  slowest(n?: number): TestResult[];
  stats(): HistoryStats;
  /** The raw v2 bytes of run `id`'s stream. */
  openStream(id: number): AsyncIterable<Uint8Array>;
  close(): void;
}
