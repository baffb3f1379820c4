import { InvalidArgumentError } from '../../core/errors.js';

/** Tests that must run together on one server or process (a group_regex group, or one test). */
export interface WorkUnit {
  /** The group key (the test id for an ungrouped test). */
  key: string;
  /** The unit's tests, in the order they were given. */
  tests: string[];
  /** Expected seconds: the sum of its tests' recorded or estimated durations. */
  estimate: number;
  /** Whether every test in it had a recorded duration. */
  known: boolean;
}

/**
 * Group test ids into units (SPEC §14.8) and estimate each from recorded
 * durations (seconds); a test with no record counts as the mean of the recorded
 * ones among `ids` (1 second when none is recorded). Units come out in the
 * order their first test appears.
 */
export function makeUnits(ids: readonly string[], durations: ReadonlyMap<string, number>, groupKey: (id: string) => string = (id) => id): WorkUnit[] {
  let sum = 0;
  let count = 0;
  for (const id of ids) {
    const d = durations.get(id);
    if (d !== undefined) {
      if (!Number.isFinite(d) || d < 0) throw new InvalidArgumentError(`durations.get(${JSON.stringify(id)})`, 'a finite non-negative number of seconds', d);
      sum += d;
      count++;
    }
  }
  const mean = count === 0 ? 1 : sum / count;
  const units = new Map<string, WorkUnit>();
  for (const id of ids) {
    const key = groupKey(id);
    let unit = units.get(key);
    if (unit === undefined) {
      unit = { key, tests: [], estimate: 0, known: true };
      units.set(key, unit);
    }
    unit.tests.push(id);
    const d = durations.get(id);
    unit.estimate += d ?? mean;
    if (d === undefined) unit.known = false;
  }
  return [...units.values()];
}

/** Units longest first; ties by key, so plans are deterministic. */
export function byEstimateDescending(units: readonly WorkUnit[]): WorkUnit[] {
  return [...units].sort((a, b) => b.estimate - a.estimate || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
