import PQueue from 'p-queue';
import { SubrunError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { SubunitEvent } from '../subunit/event.js';
import { makeGroupKey, type RunnerConfig } from './config/runner-config.js';
import { resolveConcurrency } from './legacy/concurrency.js';
import { InstancePool } from './legacy/instance-pool.js';
import { listTests } from './legacy/list-tests.js';
import { runPartition, type PartitionResult } from './legacy/run-partition.js';
import { BatchQueue, type BatchQueueOptions } from './scheduler/batch-queue.js';
import { dispatch } from './scheduler/dispatch.js';
import { lptPartition } from './scheduler/lpt.js';
import { makeUnits } from './scheduler/work-unit.js';
import { compileFilters } from './selection.js';

export interface LegacyRunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Partitions (`--parallel N`); 1 is `--serial`. @default resolveConcurrency(config) */
  concurrency?: number;
  /** Run only these ids (`--failing`, `--load-list`); null or absent runs the whole suite. */
  ids?: readonly string[] | null;
  /** Regexes; a test runs when any matches somewhere in its id (testr's filters, `re.search`). */
  filters?: readonly string[];
  /** Recorded durations in seconds, for partitioning. */
  durations?: ReadonlyMap<string, number>;
  /** Appended to the test command (testr's `-- args`). */
  extraArgs?: readonly string[];
  /**
   * `partitions`: one process per partition, all at once (testr's way). `batches`: the
   * work-stealing queue (SPEC §14.8), one process per batch, `concurrency` at a time;
   * more process starts, but a slow partition no longer stretches the run.
   * @default 'partitions'
   */
  policy?: 'partitions' | 'batches';
  /** Batch sizing for the `batches` policy. */
  batchQueue?: BatchQueueOptions;
  /** Every packet of the merged stream, tagged with its worker (SPEC §14.7). */
  onPacket: (event: SubunitEvent, raw: Uint8Array, worker: number) => void;
  onStderr?: (chunk: Buffer, worker: number) => void;
  /** Each command line before it runs (testr prints `running=...`). */
  onCommand?: (command: string) => void;
  clock?: Clock;
}

export interface LegacyPartitionOutcome {
  worker: number;
  tests: string[] | null;
  result: PartitionResult;
}

export interface LegacyRunResult {
  concurrency: number;
  /** The ids listed or given, after filters; null when the command ran without ids. */
  tests: string[] | null;
  partitions: LegacyPartitionOutcome[];
  aborted: boolean;
}

/**
 * A legacy-mode run (SPEC §14.6, §14.7), as `testr run` does it: list the tests when
 * ids are needed (parallel, or filters), partition them by recorded duration (LPT,
 * SPEC §14.8; groups kept together), start one process per non-empty partition at
 * once, and pass every packet on, tagged for its worker, as it arrives. Instances
 * are provisioned on demand and disposed at the end, even after a failure or abort.
 */
export async function runLegacy(config: RunnerConfig, options: LegacyRunOptions): Promise<LegacyRunResult> {
  if (config.testCommand === undefined) {
    throw new SubrunError('ERR_CONFIG', `${config.file}: test_command is required for a legacy run`, { details: { file: config.file, key: 'test_command' } });
  }
  const filters = compileFilters(options.filters);
  const concurrency = options.concurrency ?? (await resolveConcurrency(config, options));
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SubrunError('ERR_INVALID_ARGUMENT', `Expected \`concurrency\` to be a positive integer, got \`${concurrency}\``);
  }
  const pool = config.instances === undefined ? undefined : new InstancePool(config.instances, { cwd: options.cwd, env: options.env, onCommand: options.onCommand });
  const common = { cwd: options.cwd, env: options.env, signal: options.signal, extraArgs: options.extraArgs, instances: pool, concurrency, onCommand: options.onCommand };
  try {
    let ids: string[] | null = options.ids == null ? null : [...options.ids];
    if (ids === null && concurrency === 1 && config.testIdListDefault) ids = config.testIdListDefault.split(/\s+/).filter((s) => s !== '');
    if (ids === null && (concurrency > 1 || filters !== null)) ids = await listTests(config, common);
    if (ids !== null && filters !== null) ids = ids.filter((id) => filters.some((re) => re.test(id)));

    let plan: Array<string[] | null>;
    if (ids === null) plan = [null];
    else if (concurrency === 1) plan = ids.length === 0 ? [] : [ids];
    else {
      const units = makeUnits(ids, options.durations ?? new Map(), makeGroupKey(config.groupRegex));
      plan = lptPartition(units, concurrency)
        .map((p) => p.tests)
        .filter((tests) => tests.length > 0);
    }
    if (ids !== null && concurrency > 1 && options.policy === 'batches') {
      const units = makeUnits(ids, options.durations ?? new Map(), makeGroupKey(config.groupRegex));
      // Every batch costs a process start: by default no later batch is planned below an
      // eighth of a slot's share, so the tail is a few batches, not dozens of one-test ones.
      const total = units.reduce((sum, u) => sum + u.estimate, 0);
      const sizing = { minBatch: total / (8 * concurrency), ...options.batchQueue };
      return { concurrency, tests: ids, ...(await runBatches(config, new BatchQueue(units, concurrency, sizing), concurrency, common, options)) };
    }
    const queue = new PQueue({ concurrency: Math.max(1, plan.length) });
    const partitions = await Promise.all(
      plan.map((tests, worker) =>
        queue.add(async (): Promise<LegacyPartitionOutcome> => {
          const result = await runPartition(config, tests, {
            ...common,
            worker,
            onPacket: (event, raw) => options.onPacket(event, raw, worker),
            ...(options.onStderr === undefined ? {} : { onStderr: (chunk: Buffer) => options.onStderr!(chunk, worker) }),
            ...(options.clock === undefined ? {} : { clock: options.clock }),
          });
          return { worker, tests, result };
        }),
      ),
    );
    return { concurrency, tests: ids, partitions, aborted: options.signal?.aborted === true || partitions.some((p) => p.result.aborted) };
  } finally {
    await pool?.dispose();
  }
}

type Common = Pick<LegacyRunOptions, 'cwd' | 'env' | 'signal' | 'extraArgs' | 'onCommand'> & { instances: InstancePool | undefined; concurrency: number };

/** The `batches` policy: slots 0..N-1 take batches from the queue; each batch is one process tagged for its slot. */
async function runBatches(
  config: RunnerConfig,
  queue: BatchQueue,
  slots: number,
  common: Common,
  options: LegacyRunOptions,
): Promise<Pick<LegacyRunResult, 'partitions' | 'aborted'>> {
  const partitions: LegacyPartitionOutcome[] = [];
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop.abort(options.signal.reason);
  let failure: { error: unknown } | undefined;
  try {
    await dispatch({
      workers: Array.from({ length: slots }, (_, i) => i),
      queue,
      signal: stop.signal,
      run: async (batch, worker) => {
        try {
          const result = await runPartition(config, batch.tests, {
            ...common,
            signal: stop.signal,
            worker,
            onPacket: (event, raw) => options.onPacket(event, raw, worker),
            ...(options.onStderr === undefined ? {} : { onStderr: (chunk: Buffer) => options.onStderr!(chunk, worker) }),
            ...(options.clock === undefined ? {} : { clock: options.clock }),
          });
          partitions.push({ worker, tests: batch.tests, result });
          return undefined;
        } catch (error) {
          // A failing consumer or helper command ends the run; it is not the batch's fault.
          failure ??= { error };
          stop.abort(error);
          return { retire: true };
        }
      },
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure.error;
  return { partitions, aborted: options.signal?.aborted === true || partitions.some((p) => p.result.aborted) };
}

