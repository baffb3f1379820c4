/**
 * A long-lived server should not let each batch's garbage ratchet its RSS up until V8
 * decides on a full collection: V8 grows the old generation's limit with the garbage
 * a 10,000-test run promotes, and its pages count in RSS until then. Once a batch is
 * reported (so no result waits on it), collect if the heap has grown well past what
 * survived the last collection. Used by the worker and by the main thread, which
 * relays every result and so makes garbage in proportion to the run.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface HeapTrimmerOptions {
  /** Collect when the heap is above `growth ×` the floor plus `slackBytes`. @default 1.5 */
  growth?: number;
  /** @default 8 MiB */
  slackBytes?: number;
  /** The collector; by default V8's, exposed at run time. */
  gc?: (() => void) | undefined;
}

export class HeapTrimmer {
  readonly #gc: (() => void) | undefined;
  readonly #growth: number;
  readonly #slack: number;
  #floor: number;

  constructor(options: HeapTrimmerOptions = {}) {
    this.#gc = 'gc' in options ? options.gc : exposeGc();
    this.#growth = options.growth ?? 1.5;
    this.#slack = options.slackBytes ?? 8 * 2 ** 20;
    this.#floor = getHeapStatistics().used_heap_size;
  }

  /** Whether trim() can collect at all (`--expose-gc` could be set at run time). */
  get available(): boolean {
    return this.#gc !== undefined;
  }

  /** Collect if the heap grew past the threshold over the last floor; returns whether it did. */
  trim(heapUsed = getHeapStatistics().used_heap_size): boolean {
    if (this.#gc === undefined || heapUsed < this.#floor * this.#growth + this.#slack) return false;
    this.#gc();
    this.#floor = getHeapStatistics().used_heap_size;
    return true;
  }
}

function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}
