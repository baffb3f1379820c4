import PQueue from 'p-queue';
import type { Clock } from '../../core/clock.js';
import { timestampFromMillis, type SubunitEvent } from '../../subunit/event.js';
import type { ResourceNeed } from '../../rpc/messages.js';
import { BatchQueue } from '../scheduler/batch-queue.js';
import { dispatch } from '../scheduler/dispatch.js';
import { makeUnits, type WorkUnit } from '../scheduler/work-unit.js';
import { runBatch, type BatchReport, type ServerCrash } from './batch-runner.js';
import type { Fleet } from './fleet.js';
import type { TestServerProcess } from './test-server-process.js';

export interface FleetRunOptions {
  tests: readonly string[];
  /** Recorded durations in seconds, for the plan. */
  durations: ReadonlyMap<string, number>;
  groupKey: (id: string) => string;
  /** Each result packet with the slot (worker) that produced it. */
  onEvent: (event: SubunitEvent, worker: number, server: TestServerProcess) => void;
  /** Each server crash or hang, as it is handled. */
  onCrash?: (crash: ServerCrash, slot: number, blamed: string | undefined) => void;
  /** Each test in a fresh server (--isolated). */
  isolated?: boolean;
  testTimeoutMs?: number;
  resources?: Record<string, ResourceNeed>;
  signal?: AbortSignal;
  clock: Clock;
}

export interface FleetRunResult {
  /** Tests never run: every server retired, or the run was stopped. */
  notRun: string[];
  crashes: number;
  batches: number;
}

/**
 * Run tests on a fleet (SPEC §14.8, §14.9): an LPT plan from recorded durations, then work
 * stealing through the BatchQueue, one batch at a time per server. After a crash the tests
 * of the batch that never started go back to the front of the queue for the next free
 * server, and the slot gets a fresh server while the restart budget lasts.
 */
export async function runOnFleet(fleet: Fleet, options: FleetRunOptions): Promise<FleetRunResult> {
  if (options.isolated === true) return runIsolated(fleet, options);
  const units = makeUnits(options.tests, options.durations, options.groupKey);
  const queue = new BatchQueue(units, fleet.size);
  let crashes = 0;
  let batches = 0;
  const slots = Array.from({ length: fleet.size }, (_, i) => i);
  const result = await dispatch({
    workers: slots,
    queue,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    run: async (batch, slot) => {
      const server = fleet.server(slot) ?? (await fleet.replace(slot));
      if (server === undefined) return { unfinished: batch.units, retire: true };
      batches++;
      const report = await runOne(server, batch.tests, slot, options);
      if (report.crash === undefined) return {};
      crashes++;
      let unfinished = report.cancelled ? [] : remaining(batch.units, report);
      let fresh = await fleet.replace(slot);
      if (report.blamed === undefined && unfinished.length > 0 && fresh !== undefined) {
        // Nobody was seen running: find the culprit by running the rest one test at a time.
        const alone = await oneByOne(fleet, slot, fresh, unfinished, options);
        crashes += alone.crashes;
        batches += alone.batches;
        unfinished = alone.unfinished;
        fresh = alone.server;
      }
      return { unfinished, retire: fresh === undefined };
    },
  });
  const notRun = result.undispatched.flatMap((u) => u.tests);
  return { notRun, crashes, batches };
}

async function runOne(server: TestServerProcess, tests: readonly string[], slot: number, options: FleetRunOptions): Promise<BatchReport> {
  const report = await runBatch(server, tests, {
    onEvent: (event) => options.onEvent(event, slot, server),
    clock: options.clock,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.testTimeoutMs === undefined ? {} : { testTimeoutMs: options.testTimeoutMs }),
    ...(options.resources === undefined ? {} : { resources: options.resources }),
  });
  if (report.crash !== undefined) options.onCrash?.(report.crash, slot, report.blamed);
  // A test the server does not know is a failure the user sees, not a silent gap.
  for (const id of report.unknown) {
    if (report.finished.has(id)) continue;
    report.finished.add(id);
    options.onEvent(unknownTest(id, server, options.clock), slot, server);
  }
  return report;
}

/**
 * After a crash that named no test: run the batch's remaining tests one per Run, so the
 * next crash has exactly one suspect. Stops at the first crash (the culprit is then
 * blamed) and hands the rest back to the queue, or when the slot is retired.
 */
async function oneByOne(
  fleet: Fleet,
  slot: number,
  server: TestServerProcess,
  units: readonly WorkUnit[],
  options: FleetRunOptions,
): Promise<{ unfinished: WorkUnit[]; server: TestServerProcess | undefined; crashes: number; batches: number }> {
  const tests = units.flatMap((u) => u.tests);
  const done = new Set<string>();
  let crashes = 0;
  let batches = 0;
  let current: TestServerProcess | undefined = server;
  for (const id of tests) {
    if (current === undefined || options.signal?.aborted === true) break;
    batches++;
    const report = await runOne(current, [id], slot, options);
    for (const f of report.finished) done.add(f);
    if (report.crash !== undefined) {
      crashes++;
      current = await fleet.replace(slot);
      if (report.blamed !== undefined) break;
    }
  }
  const rest = units
    .map((u) => ({ ...u, tests: u.tests.filter((id) => !done.has(id)) }))
    .filter((u) => u.tests.length > 0);
  return { unfinished: rest, server: current, crashes, batches };
}

/** The units' tests that neither finished nor were blamed, kept in their units. */
function remaining(units: readonly WorkUnit[], report: BatchReport): WorkUnit[] {
  const out: WorkUnit[] = [];
  for (const u of units) {
    const tests = u.tests.filter((t) => !report.finished.has(t));
    if (tests.length === 0) continue;
    out.push({ ...u, tests, estimate: (u.estimate * tests.length) / u.tests.length });
  }
  return out;
}

async function runIsolated(fleet: Fleet, options: FleetRunOptions): Promise<FleetRunResult> {
  const pending = [...options.tests];
  let crashes = 0;
  let batches = 0;
  const retired = new Set<number>();
  const queue = new PQueue({ concurrency: fleet.size });
  const worker = async (slot: number): Promise<void> => {
    while (pending.length > 0 && options.signal?.aborted !== true) {
      let server = fleet.server(slot);
      if (server !== undefined && server.started.length > 0) server = await fleet.recycle(slot);
      else if (server === undefined) server = await fleet.replace(slot);
      if (server === undefined) {
        retired.add(slot);
        return;
      }
      const id = pending.shift();
      if (id === undefined) return;
      batches++;
      const report = await runOne(server, [id], slot, options);
      if (report.crash !== undefined) {
        crashes++;
        if (!report.finished.has(id) && !report.cancelled) pending.push(id);
        if ((await fleet.replace(slot)) === undefined) {
          retired.add(slot);
          return;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: fleet.size }, (_, slot) => queue.add(() => worker(slot))));
  return { notRun: pending, crashes, batches };
}

function unknownTest(testId: string, server: TestServerProcess, clock: Clock): SubunitEvent {
  return {
    testId,
    status: 'fail',
    fileName: 'traceback',
    mimeType: 'text/plain; charset=utf8',
    fileBytes: Buffer.from(`the test server ${server.url} does not know this test (it may have been renamed or removed)\n`, 'utf8'),
    eof: true,
    timestamp: timestampFromMillis(clock.now()),
  };
}
