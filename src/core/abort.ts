import { SubrunError } from './errors.js';
import { systemClock, type Clock } from './clock.js';

export interface WaitOptions {
  /** Milliseconds before the wait fails with `timeoutCode`. */
  timeoutMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
  /** Error code used on timeout. @default 'ERR_TIMEOUT' */
  timeoutCode?: string;
  /** What is being waited for, for the error message. */
  what?: string;
}

/**
 * Race a promise against a timeout and an AbortSignal. The timer and the abort
 * listener are always removed in `finally` (STYLE: p-queue's habit), so nothing
 * leaks whichever way the race ends.
 */
export async function withTimeout<T>(promise: Promise<T>, options: WaitOptions): Promise<T> {
  const { timeoutMs, signal, clock = systemClock, timeoutCode = 'ERR_TIMEOUT', what = 'operation' } = options;
  if (signal?.aborted) throw abortError(signal, what);
  if (timeoutMs === undefined && signal === undefined) return promise;
  let timer: { cancel(): void } | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      if (timeoutMs !== undefined) {
        timer = clock.setTimeout(() => reject(new SubrunError(timeoutCode, `${what} timed out after ${timeoutMs} ms`, { details: { timeoutMs } })), timeoutMs);
      }
      if (signal !== undefined) {
        onAbort = () => reject(abortError(signal, what));
        signal.addEventListener('abort', onAbort, { once: true });
      }
      promise.then(resolve, reject);
    });
  } finally {
    timer?.cancel();
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}

export function abortError(signal: AbortSignal, what = 'operation'): SubrunError {
  return new SubrunError('ERR_ABORTED', `${what} was aborted`, { cause: signal.reason });
}

/** Parse a human duration ("500ms", "30s", "5m", "1h", or bare milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) throw new SubrunError('ERR_INVALID_DURATION', `Expected a duration like 500ms, 30s, 5m or 1h, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
