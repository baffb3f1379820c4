import { systemClock, type Clock } from '../core/clock.js';
import type { ClosedLatch } from './closed-latch.js';

/**
 * SPEC §9.1 close(): end our side, give the peer `timeoutMs` to finish, then force.
 * Resolves once the latch has settled; never rejects.
 */
export async function closeGracefully(latch: ClosedLatch, end: () => void, force: () => void, timeoutMs: number, clock: Clock = systemClock): Promise<void> {
  if (!latch.settled) {
    end();
    const timer = clock.setTimeout(force, timeoutMs);
    try {
      await latch.promise;
    } finally {
      timer.cancel();
    }
  }
  await latch.promise;
}

export interface CloseOptions {
  /** How long close() waits for the peer before forcing. @default 5000 */
  closeTimeoutMs?: number;
  /** Time source for close(); tests pass a ManualClock. @default systemClock */
  clock?: Clock;
}
