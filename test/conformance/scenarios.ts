import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseScenario, type Scenario } from '../../src/rpc/conformance/index.js';
import { ROOT } from '../helpers/paths.js';

/** The built-in scenarios, read the way `subrun check` reads them. */
export function builtInScenarios(): Scenario[] {
  const dir = path.join(ROOT, 'protocol', 'conformance');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => parseScenario(JSON.parse(readFileSync(path.join(dir, f), 'utf8')), f));
}

export interface ClauseId {
  id: string;
  status: 'pass' | 'fail' | 'skip';
}

/** `scenario/clause` ids of a report, by status. */
export function clauseIds(report: { scenarios: Array<{ name: string; clauses: Array<{ clause: string; status: string }> }> }, status: string): string[] {
  return report.scenarios.flatMap((s) => s.clauses.filter((c) => c.status === status).map((c) => `${s.name}/${c.clause}`)).sort();
}
