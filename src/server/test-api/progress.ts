/**
 * Progress the worker shares with the main thread through memory, not messages: the
 * planned test running now, its deadline, and each planned test's final status. It
 * costs a few atomic stores per test, and it survives the worker: when a busy loop
 * or a crash ends the worker, the main thread still knows which test was running and
 * how the tests whose results were not yet posted ended.
 */
import type { FinalStatus } from '../../testing/engine.js';

const STATUS_CODES: readonly FinalStatus[] = ['success', 'fail', 'skip', 'xfail', 'uxsuccess'];
const HEADER_BYTES = 16;
// Layout: float64 deadline, float64 timeout, int32 current index, int32 stop request, int32 status per planned test.

export class Progress {
  readonly buffer: SharedArrayBuffer;
  readonly #deadline: Float64Array;
  readonly #ints: Int32Array;

  constructor(bufferOrCount: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrCount === 'number' ? new SharedArrayBuffer(HEADER_BYTES + 8 + 4 * bufferOrCount) : bufferOrCount;
    this.#deadline = new Float64Array(this.buffer, 0, 2);
    this.#ints = new Int32Array(this.buffer, HEADER_BYTES);
    if (typeof bufferOrCount === 'number') Atomics.store(this.#ints, 0, -1);
  }

  start(index: number, deadlineMs: number, timeoutMs: number): void {
    this.#deadline[0] = deadlineMs;
    this.#deadline[1] = timeoutMs;
    Atomics.store(this.#ints, 0, index);
  }

  finish(index: number, status: FinalStatus): void {
    Atomics.store(this.#ints, 2 + index, 1 + STATUS_CODES.indexOf(status));
  }

  /**
   * Ask the worker to start no further test (SPEC §7.4: a cancelled Run lets the running
   * test finish). Shared memory, so it is seen even while the worker's loop is busy.
   */
  requestStop(): void {
    Atomics.store(this.#ints, 1, 1);
  }

  get stopRequested(): boolean {
    return Atomics.load(this.#ints, 1) === 1;
  }

  /** The planned test started last (-1 before the first). */
  get current(): number {
    return Atomics.load(this.#ints, 0);
  }

  /** Wall-clock deadline of the current test (Infinity when it has no timeout). */
  get deadlineMs(): number {
    return this.#deadline[0]!;
  }

  get timeoutMs(): number {
    return this.#deadline[1]!;
  }

  status(index: number): FinalStatus | undefined {
    const code = Atomics.load(this.#ints, 2 + index);
    return code === 0 ? undefined : STATUS_CODES[code - 1];
  }
}
