import type { Clock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { TextSink } from './summary.js';

export interface ProgressOptions {
  /** Tests expected in the run. */
  total: number;
  /** Recorded durations (ms) by test id, from the history (`repo.times(ids)`), for the ETA. */
  expectedMs?: ReadonlyMap<string, number>;
  /**
   * Tests that run at once (servers), dividing the remaining recorded time.
   * @default 1
   */
  concurrency?: number;
  /**
   * Columns to fit the line into.
   * @default 80
   */
  columns?: number;
  /**
   * Least time between two redraws.
   * @default 100
   */
  minIntervalMs?: number;
  clock: Clock;
}

const FAILED: ReadonlySet<string> = new Set(['fail', 'uxsuccess']);

/**
 * The live progress line of a run on a terminal: done/total, failures so far,
 * elapsed time and an ETA from recorded times. It redraws one line in place
 * (`\r` and erase-to-end), at most every `minIntervalMs`. Only for a TTY: the
 * caller does not create one off a terminal, where output stays plain lines.
 */
export class ProgressLine {
  readonly #out: TextSink;
  readonly #total: number;
  readonly #expected: ReadonlyMap<string, number>;
  readonly #concurrency: number;
  readonly #columns: number;
  readonly #minInterval: number;
  readonly #clock: Clock;
  readonly #start: number;
  #done = 0;
  #failures = 0;
  /** Recorded time of the tests not finished yet. */
  #remainingExpected = 0;
  #unknownRemaining = 0;
  #lastDraw = -Infinity;
  #shown = false;
  #finished = new Set<string>();

  constructor(out: TextSink, options: ProgressOptions) {
    const { total, concurrency = 1, columns = 80, minIntervalMs = 100 } = options;
    if (!Number.isInteger(total) || total < 0) throw new InvalidArgumentError('options.total', 'an integer >= 0', total);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError('options.concurrency', 'an integer >= 1', concurrency);
    if (!Number.isInteger(columns) || columns < 20) throw new InvalidArgumentError('options.columns', 'an integer >= 20', columns);
    this.#out = out;
    this.#total = total;
    this.#expected = options.expectedMs ?? new Map();
    this.#concurrency = concurrency;
    this.#columns = columns;
    this.#minInterval = minIntervalMs;
    this.#clock = options.clock;
    this.#start = options.clock.monotonic();
    for (const ms of this.#expected.values()) this.#remainingExpected += ms;
    this.#unknownRemaining = Math.max(0, total - this.#expected.size);
  }

  /** A test reached a final status. */
  testFinished(testId: string, status: string): void {
    if (this.#finished.has(testId)) return;
    this.#finished.add(testId);
    this.#done++;
    if (FAILED.has(status)) this.#failures++;
    const ms = this.#expected.get(testId);
    if (ms !== undefined) this.#remainingExpected -= ms;
    else if (this.#unknownRemaining > 0) this.#unknownRemaining--;
    this.#maybeDraw();
  }

  /** The line as it would be drawn now (without control characters). */
  text(): string {
    const elapsed = this.#clock.monotonic() - this.#start;
    const parts = [`${this.#done}/${this.#total} tests`];
    if (this.#failures > 0) parts.push(`${this.#failures} failed`);
    parts.push(formatDuration(elapsed));
    const eta = this.etaMs();
    if (eta !== null && this.#done < this.#total) parts.push(`ETA ${formatDuration(eta)}`);
    const line = parts.join(', ');
    return line.length > this.#columns - 1 ? line.slice(0, this.#columns - 1) : line;
  }

  /**
   * Remaining time: recorded times of the tests still to run over the
   * concurrency, plus the observed mean for tests with no record. Null before
   * anything can be said.
   */
  etaMs(): number | null {
    const elapsed = this.#clock.monotonic() - this.#start;
    const observedMean = this.#done > 0 ? (elapsed * this.#concurrency) / this.#done : null;
    if (this.#unknownRemaining > 0 && observedMean === null) return null;
    const unknown = this.#unknownRemaining * (observedMean ?? 0);
    return Math.max(0, (this.#remainingExpected + unknown) / this.#concurrency);
  }

  /** Draw now, regardless of the interval. */
  draw(): void {
    this.#lastDraw = this.#clock.monotonic();
    this.#shown = true;
    this.#out.write(`\r${this.text()}\x1b[K`);
  }

  /** Erase the line (before printing other output, or at the end). Idempotent. */
  clear(): void {
    if (!this.#shown) return;
    this.#shown = false;
    this.#out.write('\r\x1b[K');
  }

  #maybeDraw(): void {
    if (this.#clock.monotonic() - this.#lastDraw >= this.#minInterval) this.draw();
  }
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
