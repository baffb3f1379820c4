import { InvalidArgumentError } from '../../core/errors.js';
import { byEstimateDescending, type WorkUnit } from './work-unit.js';

export interface Partition {
  units: WorkUnit[];
  tests: string[];
  /** Sum of the units' estimates. */
  load: number;
}

/**
 * Longest-processing-time-first (SPEC §14.8): units sorted longest first, each put
 * on the partition with the least load (ties: fewer tests, then lower index).
 * Graham's bound: the plan is within 4/3 of optimal when the estimates are right.
 */
export function lptPartition(units: readonly WorkUnit[], count: number): Partition[] {
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError('count', 'a positive integer', count);
  const parts: Partition[] = Array.from({ length: count }, () => ({ units: [], tests: [], load: 0 }));
  for (const unit of byEstimateDescending(units)) {
    let best = 0;
    for (let i = 1; i < count; i++) {
      const p = parts[i]!;
      const b = parts[best]!;
      if (p.load < b.load || (p.load === b.load && p.tests.length < b.tests.length)) best = i;
    }
    const target = parts[best]!;
    target.units.push(unit);
    target.tests.push(...unit.tests);
    target.load += unit.estimate;
  }
  return parts;
}
