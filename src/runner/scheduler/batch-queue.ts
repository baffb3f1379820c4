import { InvalidArgumentError } from '../../core/errors.js';
import { lptPartition } from './lpt.js';
import { byEstimateDescending, type WorkUnit } from './work-unit.js';

export interface Batch {
  /** 1-based, in the order handed out. */
  id: number;
  units: WorkUnit[];
  tests: string[];
  estimate: number;
}

export interface BatchQueueOptions {
  /**
   * The share of the expected work planned up front by LPT, one batch per server.
   * The rest is handed out in shrinking batches to whichever server is free.
   * @default 0.5
   */
  initialShare?: number;
  /**
   * Each later batch aims at (remaining work) / (shrink × servers).
   * @default 2
   */
  shrink?: number;
  /**
   * Later batches aim at no less than this many expected seconds, so a batch that
   * costs a process start is not cut down to one short test.
   * @default 0
   */
  minBatch?: number;
}

/**
 * The work-stealing batch queue (SPEC §14.8). Every server's first batch comes from
 * an LPT plan of the longest units covering `initialShare` of the expected work;
 * the remaining units, longest first, are cut into batches of shrinking expected
 * length (guided self-scheduling: remaining / (shrink × servers), at least one unit)
 * for whichever server asks next. A slow test delays only its own server while the
 * others drain the queue, and the small batches at the end keep the finish even.
 * Units given back (`requeue`, after a server died) go to the front.
 */
export class BatchQueue {
  private readonly servers: number;
  private readonly shrink: number;
  private readonly minBatch: number;
  private readonly initial: WorkUnit[][];
  private rest: WorkUnit[];
  private nextId = 1;
  private remaining: number;

  constructor(units: readonly WorkUnit[], servers: number, options: BatchQueueOptions = {}) {
    if (!Number.isInteger(servers) || servers < 1) throw new InvalidArgumentError('servers', 'a positive integer', servers);
    const share = options.initialShare ?? 0.5;
    if (!(share >= 0 && share <= 1)) throw new InvalidArgumentError('options.initialShare', 'a number in 0..1', share);
    this.shrink = options.shrink ?? 2;
    if (!(this.shrink >= 1) || !Number.isFinite(this.shrink)) throw new InvalidArgumentError('options.shrink', 'a finite number >= 1', this.shrink);
    this.minBatch = options.minBatch ?? 0;
    if (!(this.minBatch >= 0) || !Number.isFinite(this.minBatch)) throw new InvalidArgumentError('options.minBatch', 'a finite number >= 0', this.minBatch);
    this.servers = servers;
    const sorted = byEstimateDescending(units);
    const total = sorted.reduce((s, u) => s + u.estimate, 0);
    let planned = 0;
    let cut = 0;
    while (cut < sorted.length && (planned < share * total || cut < Math.min(servers, sorted.length) * (share > 0 ? 1 : 0))) {
      planned += sorted[cut]!.estimate;
      cut++;
    }
    this.initial = lptPartition(sorted.slice(0, cut), servers)
      .map((p) => p.units)
      .filter((u) => u.length > 0);
    this.rest = sorted.slice(cut);
    this.remaining = total;
  }

  /** Units not yet handed out. */
  get pendingUnits(): number {
    return this.initial.reduce((s, b) => s + b.length, 0) + this.rest.length;
  }

  get isEmpty(): boolean {
    return this.pendingUnits === 0;
  }

  /** The next batch for a free server, or undefined when all work is handed out. */
  next(): Batch | undefined {
    const first = this.initial.shift();
    if (first !== undefined) return this.make(first);
    if (this.rest.length === 0) return undefined;
    const target = Math.max(this.remaining / (this.shrink * this.servers), this.minBatch);
    const units: WorkUnit[] = [];
    let estimate = 0;
    while (this.rest.length > 0 && (units.length === 0 || estimate + this.rest[0]!.estimate <= target)) {
      const u = this.rest.shift()!;
      units.push(u);
      estimate += u.estimate;
    }
    return this.make(units);
  }

  /** Give units back (a crashed server's unfinished work); they are handed out next. */
  requeue(units: readonly WorkUnit[]): void {
    if (units.length === 0) return;
    this.rest = [...byEstimateDescending(units), ...this.rest];
    this.remaining += units.reduce((s, u) => s + u.estimate, 0);
  }

  private make(units: WorkUnit[]): Batch {
    const estimate = units.reduce((s, u) => s + u.estimate, 0);
    this.remaining -= estimate;
    return { id: this.nextId++, units, tests: units.flatMap((u) => u.tests), estimate };
  }
}
