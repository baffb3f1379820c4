import { FAILING_STATUSES } from '../subunit/event.js';
import type { TestResult } from './types.js';

/** How one finished run changes the failing set (SPEC §13.6). */
export interface FailingPlan {
  /** A full run: drop every entry first. */
  clear: boolean;
  /** Tests that failed in the run: added, or their run updated. */
  add: TestResult[];
  /** Tests the run reported with a non-failing status: removed. */
  remove: string[];
}

export function planFailing(results: readonly TestResult[], partial: boolean): FailingPlan {
  const add: TestResult[] = [];
  const remove: string[] = [];
  for (const r of results) {
    if (FAILING_STATUSES.has(r.status)) add.push(r);
    else if (partial) remove.push(r.testId);
  }
  return { clear: !partial, add, remove };
}

/** The running average's weight cap (SPEC §13.5): follows change within about ten runs. */
export const AVERAGE_WINDOW = 10;

/** Whether a result contributes to the recorded times (SPEC §13.5: not skips, not without a duration). */
export function isTimed(r: TestResult): r is TestResult & { durationMs: number } {
  return r.durationMs !== null && r.status !== 'skip';
}
