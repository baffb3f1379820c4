import { InvalidArgumentError } from '../../core/errors.js';
import { BatchQueue, type BatchQueueOptions } from './batch-queue.js';
import { lptPartition } from './lpt.js';
import { makeUnits } from './work-unit.js';

/**
 * - `work-stealing`: subrun's BatchQueue (SPEC §14.8).
 * - `static-lpt`: one LPT partition per server, planned from recorded times (stestr's and testr's partitioning).
 */
export type SchedulingPolicy = 'work-stealing' | 'static-lpt';

export interface SimulationInput {
  /** Test id → its true duration in seconds (what it will take this run). */
  actual: ReadonlyMap<string, number>;
  /** Test id → its recorded duration (what the scheduler believes); missing means unknown. */
  recorded: ReadonlyMap<string, number>;
  servers: number;
  policy: SchedulingPolicy;
  groupKey?: (id: string) => string;
  /** Seconds each batch costs beyond its tests (a Run round trip, a process start). @default 0 */
  batchOverhead?: number;
  queue?: BatchQueueOptions;
}

export interface SimulationResult {
  /** When the last server finishes, in seconds. */
  makespan: number;
  /** max(total / servers, longest test): no schedule can finish sooner. */
  lowerBound: number;
  batches: number;
  /** Per server: seconds busy. */
  busy: number[];
}

/**
 * A deterministic simulation of one run: servers take batches as they become free
 * (the lowest index first on ties) and each batch takes the sum of its tests' true
 * durations plus the overhead. Pure; used by the tests and bench/scheduler.js.
 */
export function simulate(input: SimulationInput): SimulationResult {
  const { actual, recorded, servers, policy } = input;
  if (!Number.isInteger(servers) || servers < 1) throw new InvalidArgumentError('servers', 'a positive integer', servers);
  const overhead = input.batchOverhead ?? 0;
  const ids = [...actual.keys()];
  const units = makeUnits(ids, recorded, input.groupKey);
  const cost = (tests: readonly string[]): number => overhead + tests.reduce((s, id) => s + actual.get(id)!, 0);
  let total = 0;
  let longest = 0;
  for (const d of actual.values()) {
    total += d;
    if (d > longest) longest = d;
  }
  const lowerBound = Math.max(total / servers, longest);
  const busy = new Array<number>(servers).fill(0);
  let batches = 0;
  if (policy === 'static-lpt') {
    lptPartition(units, servers).forEach((p, i) => {
      if (p.tests.length === 0) return;
      busy[i] = cost(p.tests);
      batches++;
    });
  } else if (policy === 'work-stealing') {
    const queue = new BatchQueue(units, servers, input.queue);
    for (;;) {
      let free = 0;
      for (let i = 1; i < servers; i++) if (busy[i]! < busy[free]!) free = i;
      const batch = queue.next();
      if (batch === undefined) break;
      busy[free] = busy[free]! + cost(batch.tests);
      batches++;
    }
  } else {
    throw new InvalidArgumentError('policy', '"work-stealing" or "static-lpt"', policy);
  }
  return { makespan: Math.max(...busy), lowerBound, batches, busy };
}
