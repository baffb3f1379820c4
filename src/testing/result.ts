/** What the runner reports for one test: plain data, cheap to post between threads. */
export type FinalStatus = 'success' | 'fail' | 'skip' | 'xfail' | 'uxsuccess';

export interface TestResult {
  id: string;
  /** Position in the batch's plan; absent for subtests created at run time by `t.test`. */
  index?: number;
  status: FinalStatus;
  /** Wall-clock milliseconds. */
  startMs: number;
  endMs: number;
  stdout?: string;
  stderr?: string;
  /** Stack and assertion details of the failure. */
  traceback?: string;
  /** Why the test was skipped, is todo, or timed out. */
  reason?: string;
  /** Lines passed to `t.diagnostic()`. */
  diagnostics?: string[];
  tags?: string[];
}

/** A test while it runs: the runner fills it, output capture appends to it. */
export interface RunningTest {
  readonly id: string;
  readonly index: number | undefined;
  readonly startMs: number;
  /** Wall-clock deadline in milliseconds, or Infinity. */
  readonly deadlineMs: number;
  stdout: string[] | undefined;
  stderr: string[] | undefined;
}
