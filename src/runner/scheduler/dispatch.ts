import PQueue from 'p-queue';
import { InvalidArgumentError } from '../../core/errors.js';
import type { Batch, BatchQueue } from './batch-queue.js';
import type { WorkUnit } from './work-unit.js';

export interface BatchOutcome {
  /** Units of the batch that did not finish (the worker died); they are requeued. */
  unfinished?: readonly WorkUnit[];
  /** Take this worker out of the rotation (it died and may not be restarted). */
  retire?: boolean;
}

export interface DispatchOptions<W> {
  /** The workers (servers, process slots); each runs one batch at a time. */
  workers: readonly W[];
  queue: BatchQueue;
  /** Run one batch on one worker. A rejection requeues the whole batch and retires the worker. */
  run: (batch: Batch, worker: W, index: number) => Promise<BatchOutcome | void>;
  /** Stops handing out batches; batches already running are left to finish (or to their own signal). */
  signal?: AbortSignal;
}

export interface DispatchResult {
  /** Batches run, per worker index. */
  batchesPerWorker: number[];
  /** Errors that retired workers, in order. */
  errors: Array<{ worker: number; batch: number; error: unknown }>;
  /** Units never run: every worker retired, or the signal stopped the run. */
  undispatched: WorkUnit[];
}

/**
 * Work stealing over a BatchQueue (SPEC §14.8): p-queue keeps one batch running per
 * live worker; whichever worker finishes first takes the next batch, so the batch is
 * sized from the work remaining at that moment. Unfinished units go back to the front
 * of the queue for the next free worker. Settles when the queue is empty and nothing
 * runs, or when no live worker is left.
 */
export async function dispatch<W>(options: DispatchOptions<W>): Promise<DispatchResult> {
  const { workers, queue, run, signal } = options;
  if (workers.length === 0) throw new InvalidArgumentError('workers', 'a non-empty array', workers);
  const pq = new PQueue({ concurrency: workers.length });
  const free = workers.map((_, i) => i);
  const batchesPerWorker = workers.map(() => 0);
  const errors: DispatchResult['errors'] = [];
  const fill = (): void => {
    while (free.length > 0 && signal?.aborted !== true) {
      const batch = queue.next();
      if (batch === undefined) return;
      const index = free.shift()!;
      void pq.add(() => runOne(batch, index));
    }
  };
  const runOne = async (batch: Batch, index: number): Promise<void> => {
    batchesPerWorker[index]!++;
    let retire = false;
    try {
      const outcome = await run(batch, workers[index]!, index);
      if (outcome?.unfinished !== undefined) queue.requeue(outcome.unfinished);
      retire = outcome?.retire === true;
    } catch (error) {
      queue.requeue(batch.units);
      errors.push({ worker: index, batch: batch.id, error });
      retire = true;
    }
    if (!retire) free.push(index);
    fill();
  };
  fill();
  await pq.onIdle();
  const undispatched: WorkUnit[] = [];
  for (let b = queue.next(); b !== undefined; b = queue.next()) undispatched.push(...b.units);
  return { batchesPerWorker, errors, undispatched };
}
