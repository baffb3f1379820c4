import { SubrunError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Repository, RunSummary, RunWriter } from '../repository/types.js';
import { RPC_TEST_ID, type SubunitEvent } from '../subunit/event.js';
import { makeGroupKey, type RunnerConfig, type ServerEntry } from './config/runner-config.js';
import { resolveConcurrency } from './legacy/concurrency.js';
import { listTests } from './legacy/list-tests.js';
import { runLegacy } from './run-legacy.js';
import type { ServerCrash } from './fleet/batch-runner.js';
import { Fleet } from './fleet/fleet.js';
import { runOnFleet } from './fleet/fleet-run.js';
import { analyzeIsolation, type IsolationFinding } from './fleet/isolation.js';
import type { TestServerProcess } from './fleet/test-server-process.js';
import { WorkerTagger } from './fleet/worker-tag.js';
import { compileFilters, selectTests } from './selection.js';

export interface RunRequest {
  config: RunnerConfig;
  repo: Repository;
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Regexes (Python `re.search` semantics); a test runs when any matches. */
  filters?: readonly string[];
  /** Run only the tests in the failing set (`--failing`). */
  failing?: boolean;
  /** Run only these ids (`--load-list`). */
  loadList?: readonly string[];
  /** Servers or partitions; undefined: the config's (legacy mode: 1, as testr without --parallel). */
  concurrency?: number;
  /** Only update the tests this run reports. Implied by --failing, --load-list and filters. */
  partial?: boolean;
  isolated?: boolean;
  analyzeIsolation?: boolean;
  /** Extra ssh client arguments for ssh:// servers. */
  sshArgs?: readonly string[];
  /** Appended to a legacy test command (testr's `-- args`). */
  extraArgs?: readonly string[];
  /** Aborting stops the run (Ctrl-C): Cancel, Goodbye, and the run is kept as interrupted. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Restarts allowed after server crashes. */
  restartBudget?: number;
  /** The run is about to start: how many tests (null when a legacy command runs without a list). */
  onStart?: (info: RunStartInfo) => void;
  /** Every packet of the merged stream (what the history gets), in arrival order. `raw` is valid during the call. */
  onPacket?: (event: SubunitEvent, raw: Uint8Array) => void;
  /** Something the user should know (a crash, a restart, ids that no longer exist): one line. */
  onNotice?: (text: string) => void;
  /** A server's or test command's stderr. */
  onStderr?: (chunk: Buffer) => void;
}

export interface RunStartInfo {
  mode: 'server' | 'legacy';
  tests: readonly string[] | null;
  concurrency: number;
  /** Recorded durations in ms of the selected tests (for an ETA). */
  expectedMs: ReadonlyMap<string, number>;
  runId: number;
}

export interface RunOutcome {
  summary: RunSummary;
  mode: 'server' | 'legacy';
  /** Tests selected but never run (every server retired, or Ctrl-C). */
  notRun: string[];
  interrupted: boolean;
  /** Failures of the machinery (servers that would not start, a spent restart budget, dead partitions). */
  problems: SubrunError[];
  crashes: number;
  isolation?: IsolationFinding[];
}

/** How a run ended, for the exit status (README "Exit codes" of `subrun run`). */
export function outcomeExitCode(outcome: RunOutcome): 0 | 1 | 3 | 130 {
  if (outcome.interrupted) return 130;
  if (outcome.notRun.length > 0) return 3;
  if (outcome.summary.failures > 0) return 1;
  if (outcome.summary.tests === 0) return 1;
  return 0;
}

/**
 * One `subrun run` (SPEC §14.6-§14.10): select the tests, schedule them on warm servers
 * (server mode) or on test_command processes (legacy mode), merge every result into the
 * history as it arrives, and keep whatever was received when stopped.
 * Throws ERR_NO_TESTS before creating a run when the selection is empty.
 */
export async function runTests(request: RunRequest): Promise<RunOutcome> {
  const { config } = request;
  if (request.analyzeIsolation === true && config.mode !== 'server') {
    throw new SubrunError('ERR_USAGE', '--analyze-isolation needs server mode (test_server_command or servers in the config)');
  }
  return config.mode === 'server' ? runServerMode(request) : runLegacyMode(request);
}

async function runServerMode(request: RunRequest): Promise<RunOutcome> {
  const { config, repo } = request;
  const clock = request.clock ?? systemClock;
  const entries = await serverEntries(request);
  const notice = request.onNotice ?? (() => {});
  // SPEC §14.5: the pool a batch leases from is handed to local servers in SUBRUN_POOL_URL.
  const env = config.resources === undefined || request.env === undefined ? request.env : { ...(request.env ?? {}), SUBRUN_POOL_URL: config.resources.pool };
  const fleet = await Fleet.start(config, entries, {
    cwd: request.cwd,
    clock,
    ...(env === undefined ? {} : { env }),
    ...(request.sshArgs === undefined ? {} : { sshArgs: request.sshArgs }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    ...(request.restartBudget === undefined ? {} : { restartBudget: request.restartBudget }),
    ...(request.onStderr === undefined ? {} : { onStderr: (chunk: Buffer) => request.onStderr!(chunk) }),
  });
  for (const p of fleet.problems) notice(`${p.message} [${p.code}]`);
  const reported = fleet.problems.length;
  let writer: RunWriter | undefined;
  try {
    const lister = fleet.any()!;
    const listed = await lister.connection.list({ timeoutMs: config.timeouts.listMs, ...(request.signal === undefined ? {} : { signal: request.signal }) });
    const tests = selectTests(listed.tests, request, repo, notice);
    const partial = isPartial(request);
    const expectedMs = repo.times(tests);
    writer = repo.beginRun({ partial, source: config.testServerCommand ?? entries.map((e) => e.url).join(' ') });
    request.onStart?.({ mode: 'server', tests, concurrency: fleet.size, expectedMs, runId: writer.id });
    const sink = mergeSink(writer, request, clock);
    const before = new Map<string, string[]>();
    const result = await runOnFleet(fleet, {
      tests,
      durations: seconds(expectedMs),
      groupKey: makeGroupKey(config.groupRegex),
      clock,
      isolated: request.isolated === true,
      ...(config.resources === undefined ? {} : { resources: config.resources.perBatch }),
      ...(config.timeouts.perTestMs === undefined ? {} : { testTimeoutMs: config.timeouts.perTestMs }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      onEvent: (event, worker, server) => {
        if (request.analyzeIsolation === true) noteOrder(event, server, before);
        sink(event, worker);
      },
      onCrash: (crash, slot, blamed) => notice(describeCrash(crash, slot, blamed)),
    });
    const interrupted = request.signal?.aborted === true;
    const summary = interrupted ? await writer.abort('the run was interrupted') : await writer.finish();
    const problems = fleet.problems.slice();
    for (const p of problems.slice(reported)) notice(`${p.message} [${p.code}]`);
    await fleet.close(interrupted ? { timeoutMs: 1000 } : {});
    const outcome: RunOutcome = { summary, mode: 'server', notRun: result.notRun, interrupted, problems, crashes: result.crashes };
    if (request.analyzeIsolation === true && !interrupted) {
      outcome.isolation = await analyzeFailures(request, entries[0]!, summary, before, clock);
    }
    return outcome;
  } catch (error) {
    if (writer !== undefined) await writer.abort(`the runner failed: ${(error as Error).message}`).catch(() => {});
    fleet.destroy();
    throw error;
  } finally {
    await fleet.close();
  }
}

async function runLegacyMode(request: RunRequest): Promise<RunOutcome> {
  const { config, repo } = request;
  const clock = request.clock ?? systemClock;
  const notice = request.onNotice ?? (() => {});
  let ids: string[] | null = null;
  if (request.failing === true || request.loadList !== undefined) ids = selectTests(null, request, repo, notice);
  const concurrency = request.concurrency ?? 1;
  const partial = isPartial(request);
  const expectedMs = repo.times(ids ?? undefined);
  const writer = repo.beginRun({ partial, ...(config.testCommand === undefined ? {} : { source: config.testCommand }) });
  request.onStart?.({ mode: 'legacy', tests: ids, concurrency, expectedMs, runId: writer.id });
  const problems: SubrunError[] = [];
  const forward = (event: SubunitEvent, raw: Uint8Array): void => {
    if (event.testId === RPC_TEST_ID) return;
    writer.packet(event, raw);
    request.onPacket?.(event, raw);
  };
  try {
    const common = {
      cwd: request.cwd,
      clock,
      durations: seconds(expectedMs),
      onPacket: (event: SubunitEvent, raw: Uint8Array) => forward(event, raw),
      ...(request.env === undefined ? {} : { env: request.env }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      ...(request.extraArgs === undefined ? {} : { extraArgs: request.extraArgs }),
      ...(request.onStderr === undefined ? {} : { onStderr: (chunk: Buffer) => request.onStderr!(chunk) }),
    };
    if (request.isolated === true) {
      const all = ids ?? (await listTests(config, { cwd: request.cwd, ...(request.env === undefined ? {} : { env: request.env }) }));
      const filters = compileFilters(request.filters);
      for (const id of all.filter((t) => filters === null || filters.some((re) => re.test(t)))) {
        if (request.signal?.aborted === true) break;
        await runLegacy(config, { ...common, concurrency: 1, ids: [id] });
      }
    } else {
      const result = await runLegacy(config, { ...common, concurrency, ids, ...(request.filters === undefined ? {} : { filters: request.filters }) });
      for (const p of result.partitions) {
        if (p.result.exitCode !== 0 && !p.result.aborted && p.result.stderrTail.trim() !== '') {
          notice(`worker-${p.worker}: ${p.result.command} exited ${p.result.exitCode ?? p.result.signal}; stderr:\n${p.result.stderrTail.trimEnd()}`);
        }
      }
    }
  } catch (error) {
    await writer.abort(`the runner failed: ${(error as Error).message}`).catch(() => {});
    throw error;
  }
  const interrupted = request.signal?.aborted === true;
  const summary = interrupted ? await writer.abort('the run was interrupted') : await writer.finish();
  return { summary, mode: 'legacy', notRun: [], interrupted, problems, crashes: 0 };
}

/** The tests a command would run, for `subrun list`. */
export async function listSelectedTests(request: Omit<RunRequest, 'repo'> & { repo?: Repository }): Promise<string[]> {
  const { config } = request;
  let all: string[];
  if (config.mode === 'server') {
    const entries = await serverEntries({ ...request, concurrency: 1 });
    const fleet = await Fleet.start(config, entries.slice(0, 1), {
      cwd: request.cwd,
      ...(request.env === undefined ? {} : { env: request.env }),
      ...(request.sshArgs === undefined ? {} : { sshArgs: request.sshArgs }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      ...(request.clock === undefined ? {} : { clock: request.clock }),
    });
    try {
      all = (await fleet.any()!.connection.list({ timeoutMs: config.timeouts.listMs })).tests;
    } finally {
      await fleet.close();
    }
  } else {
    all = await listTests(config, { cwd: request.cwd, ...(request.env === undefined ? {} : { env: request.env }), ...(request.extraArgs === undefined ? {} : { extraArgs: request.extraArgs }) });
  }
  const filters = compileFilters(request.filters);
  return filters === null ? all : all.filter((id) => filters.some((re) => re.test(id)));
}

/** Server entries of a run (SPEC §14.6): the configured ones, or `concurrency` local servers. */
async function serverEntries(request: Pick<RunRequest, 'config' | 'concurrency' | 'cwd' | 'env' | 'signal'>): Promise<ServerEntry[]> {
  const { config } = request;
  if (config.servers.length > 0) {
    const n = request.concurrency;
    return n === undefined ? config.servers : config.servers.slice(0, Math.max(1, n));
  }
  const n = request.concurrency ?? (await resolveConcurrency(config, { cwd: request.cwd, ...(request.env === undefined ? {} : { env: request.env }) }));
  return Array.from({ length: n }, () => ({ kind: 'local', url: 'local:' }) as const);
}

function isPartial(request: RunRequest): boolean {
  return request.partial === true || request.failing === true || request.loadList !== undefined || (request.filters?.length ?? 0) > 0;
}

function mergeSink(writer: RunWriter, request: RunRequest, clock: Clock): (event: SubunitEvent, worker: number) => void {
  const tagger = new WorkerTagger(clock);
  return (event, worker) => {
    if (event.testId === RPC_TEST_ID) return;
    const { event: tagged, raw } = tagger.tag(event, worker);
    writer.packet(tagged, raw);
    request.onPacket?.(tagged, raw);
  };
}

/** Remember, at each failure, what ran before the failing test on its server process. */
function noteOrder(event: SubunitEvent, server: TestServerProcess, before: Map<string, string[]>): void {
  if (event.testId === undefined || (event.status !== 'fail' && event.status !== 'uxsuccess')) return;
  const at = server.started.lastIndexOf(event.testId);
  if (at >= 0) before.set(event.testId, server.started.slice(0, at));
}

async function analyzeFailures(request: RunRequest, entry: ServerEntry, summary: RunSummary, before: Map<string, string[]>, clock: Clock): Promise<IsolationFinding[]> {
  const failed = request.repo.results(summary.id).filter((r) => r.status === 'fail' || r.status === 'uxsuccess');
  const findings: IsolationFinding[] = [];
  for (const r of failed) {
    if (request.signal?.aborted === true) break;
    findings.push(
      await analyzeIsolation(request.config, entry, r.testId, before.get(r.testId) ?? [], {
        cwd: request.cwd,
        clock,
        ...(request.env === undefined ? {} : { env: request.env }),
        ...(request.sshArgs === undefined ? {} : { sshArgs: request.sshArgs }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      }),
    );
  }
  return findings;
}

function describeCrash(crash: ServerCrash, slot: number, blamed: string | undefined): string {
  const how = crash.exitCode != null ? `exit ${crash.exitCode}` : crash.signal != null ? crash.signal : crash.error.code;
  const what = crash.error.code === 'ERR_SERVER_HUNG' ? 'hung and was killed' : 'died';
  return `worker-${slot}: the test server ${what} (${how})${blamed === undefined ? '' : `; ${blamed} is reported failed`}; its unfinished tests are rescheduled`;
}

function seconds(ms: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, v] of ms) out.set(id, v / 1000);
  return out;
}
