import { SubrunError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { RPC_TEST_ID, timestampFromMillis, type SubunitEvent } from '../../subunit/event.js';
import type { ResourceNeed } from '../../rpc/messages.js';
import type { TestServerProcess } from './test-server-process.js';

const FINAL: ReadonlySet<string> = new Set(['success', 'fail', 'skip', 'xfail', 'uxsuccess']);

export interface BatchRunOptions {
  /** Each result packet of the batch, as the server sent it (route code of the Run stripped). */
  onEvent: (event: SubunitEvent) => void;
  signal?: AbortSignal;
  /** Per-test limit for tests that set none (v2). */
  testTimeoutMs?: number;
  resources?: Record<string, ResourceNeed>;
  /** After the signal aborts, how long the running test may take before the server is stopped. @default 2000 */
  cancelGraceMs?: number;
  /** How long a dying server may take to exit once killed. @default 5000 */
  reapMs?: number;
  clock: Clock;
}

/** What became of one batch on one server. */
export interface BatchReport {
  /** Tests that reached a final status. */
  finished: Set<string>;
  /** Ids the server said it does not know (Done.unknown). */
  unknown: string[];
  /** Set when the server died or hung: the connection error and how the process ended. */
  crash?: ServerCrash;
  /** The test running when the server died: failed by the runner, never re-run. */
  blamed?: string;
  /** Whether the Run was cancelled (Ctrl-C) rather than completed. */
  cancelled: boolean;
}

export interface ServerCrash {
  error: SubrunError;
  exitCode: number | null | undefined;
  signal: string | null | undefined;
  stderrTail: string;
}

/**
 * Run one batch on one server and account for every test in it (SPEC §14.9): a server
 * that dies or hangs mid-batch (ERR_CONNECTION_CLOSED, ERR_SERVER_HUNG) is killed by pid,
 * and the test it was running (its last `inprogress` without a final status) is
 * reported `fail` with the exit status and the tail of the server's stderr. The caller
 * reschedules the tests that never started.
 */
export async function runBatch(server: TestServerProcess, tests: readonly string[], options: BatchRunOptions): Promise<BatchReport> {
  const finished = new Set<string>();
  const open: string[] = [];
  const report: BatchReport = { finished, unknown: [], cancelled: false };
  const handle = server.connection.run({
    tests: [...tests],
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.testTimeoutMs === undefined ? {} : { testTimeoutMs: options.testTimeoutMs }),
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    onResult: (event) => {
      const id = event.testId;
      if (id === RPC_TEST_ID) return;
      if (id !== undefined && event.status === 'inprogress') {
        open.push(id);
        server.started.push(id);
      } else if (id !== undefined && event.status !== undefined && FINAL.has(event.status)) {
        finished.add(id);
        const at = open.lastIndexOf(id);
        if (at >= 0) open.splice(at, 1);
      }
      options.onEvent(event);
    },
  });
  // SPEC §7.4: Cancel stops new tests, but the running one may take long; after the
  // grace period the server is stopped instead of waited for.
  let graceTimer: { cancel(): void } | undefined;
  const onAbort = (): void => {
    graceTimer = options.clock.setTimeout(() => {
      server.connection.destroy(new SubrunError('ERR_ABORTED', 'the run was interrupted and the server did not stop in time'));
    }, options.cancelGraceMs ?? 2000);
  };
  if (options.signal?.aborted === true) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const done = await handle.done;
    report.unknown = done.unknown ?? [];
    report.cancelled = done.cancelled === true || options.signal?.aborted === true;
    return report;
  } catch (error) {
    const err = error instanceof SubrunError ? error : new SubrunError('ERR_CONNECTION_CLOSED', String(error), { cause: error });
    const closed = await reap(server, options);
    report.crash = { error: err, exitCode: closed.exitCode, signal: closed.signal, stderrTail: closed.stderrTail ?? '' };
    report.cancelled = options.signal?.aborted === true;
    // A batch of one test has one suspect even when its `inprogress` never left the server.
    const blamed = open.at(-1) ?? (tests.length === 1 && !finished.has(tests[0]!) ? tests[0] : undefined);
    if (blamed !== undefined && !report.cancelled) {
      report.blamed = blamed;
      finished.add(blamed);
      options.onEvent(blameEvent(blamed, server, report.crash, options.clock));
    }
    return report;
  } finally {
    graceTimer?.cancel();
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Kill a dead or hung server by pid and wait (bounded) for how it ended. */
export async function reap(server: TestServerProcess, options: { reapMs?: number; clock: Clock }): Promise<{ exitCode?: number | null; signal?: string | null; stderrTail?: string }> {
  server.connection.destroy();
  server.transport.destroy();
  let timer: { cancel(): void } | undefined;
  const result = await Promise.race([
    server.transport.closed,
    new Promise<Record<string, never>>((resolve) => {
      timer = options.clock.setTimeout(() => resolve({}), options.reapMs ?? 5000);
    }),
  ]);
  timer?.cancel();
  return result;
}

/** The `fail` packet charged to the test a dead server was running (SPEC §14.9). */
function blameEvent(testId: string, server: TestServerProcess, crash: ServerCrash, clock: Clock): SubunitEvent {
  const how = crash.error.code === 'ERR_SERVER_HUNG'
    ? `the test server ${server.url} stopped answering (${crash.error.message}) and was killed`
    : `the test server ${server.url} died while this test was running`;
  const exit = crash.exitCode != null ? `exit status ${crash.exitCode}` : crash.signal != null ? `killed by ${crash.signal}` : 'exit status unknown';
  const tail = crash.stderrTail.trim();
  const text = `${how} (${exit}).\n${tail === '' ? '(the server wrote nothing to stderr)' : `Last lines of its stderr:\n${tail}`}\n`;
  return {
    testId,
    status: 'fail',
    fileName: 'traceback',
    mimeType: 'text/plain; charset=utf8',
    fileBytes: Buffer.from(text, 'utf8'),
    eof: true,
    timestamp: timestampFromMillis(clock.now()),
  };
}
