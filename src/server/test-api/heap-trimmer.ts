/**
 * A long-lived server should not let each batch's garbage ratchet its RSS up until V8
 * decides on a full collection: V8 grows the old generation's limit with the garbage
 * a 10,000-test run promotes, and its pages count in RSS until then. Once a batch is
 * reported (so no result waits on it), collect if the heap has grown well past what
 * survived the last collection. Used by the worker and by the main thread, which
 * relays every result and so makes garbage in proportion to the run.
 */
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface HeapTrimmerOptions {
  /** Collect when the measure is above `growth ×` its floor plus `slackBytes`. @default 1.5 */
  growth?: number;
  /** @default 8 MiB */
  slackBytes?: number;
  /** What is compared with the floor. @default usedHeapBytes */
  measure?: () => number;
  /** The collector; by default V8's, exposed at run time. */
  gc?: (() => void) | undefined;
}

/** Everything live or not yet collected in this thread's heap. */
export function usedHeapBytes(): number {
  return getHeapStatistics().used_heap_size;
}

/**
 * The old generation only: what scavenges promoted. Young garbage is the scavenger's
 * (cheap) business; counting it would buy a full collection every few small runs.
 */
export function oldGenerationBytes(): number {
  let sum = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name !== 'new_space' && space.space_name !== 'new_large_object_space') sum += space.space_used_size;
  }
  return sum;
}

export class HeapTrimmer {
  readonly #gc: (() => void) | undefined;
  readonly #growth: number;
  readonly #slack: number;
  readonly #measure: () => number;
  #floor: number;

  constructor(options: HeapTrimmerOptions = {}) {
    this.#gc = 'gc' in options ? options.gc : exposeGc();
    this.#growth = options.growth ?? 1.5;
    this.#slack = options.slackBytes ?? 8 * 2 ** 20;
    this.#measure = options.measure ?? usedHeapBytes;
    this.#floor = this.#measure();
  }

  /** Whether trim() can collect at all (`--expose-gc` could be set at run time). */
  get available(): boolean {
    return this.#gc !== undefined;
  }

  /** Collect if the measure grew past the threshold over the last floor; returns whether it did. */
  trim(current = this.#measure()): boolean {
    if (this.#gc === undefined || current < this.#floor * this.#growth + this.#slack) return false;
    this.#gc();
    this.#floor = this.#measure();
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
