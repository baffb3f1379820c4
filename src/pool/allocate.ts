import type { Need } from './types.js';

/**
 * All-or-nothing choice of resources for a request (SPEC §12.5). Pure.
 * Needs are served most-specific first (fewest candidates), each taking the resources
 * that have been free longest; a need that cannot be met fails the whole request.
 */

export function matches(attrs: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  for (const k in wanted) if (attrs[k] !== wanted[k]) return false;
  return true;
}

export function allocate(
  needs: readonly Need[],
  free: ReadonlyMap<string, ReadonlySet<string>>,
  resources: ReadonlyMap<string, { attrs: Record<string, string> }>,
  exclude: ReadonlySet<string> | null,
): string[] | null {
  if (needs.length === 1) {
    const need = needs[0]!;
    return pick(need, free.get(need.type), resources, exclude, null);
  }
  const order = needs
    .map((need) => ({ need, candidates: countCandidates(need, free.get(need.type), resources, exclude) }))
    .sort((a, b) => a.candidates - b.candidates);
  const taken = new Set<string>();
  const out: string[] = [];
  for (const { need } of order) {
    const got = pick(need, free.get(need.type), resources, exclude, taken);
    if (got === null) return null;
    for (const id of got) {
      taken.add(id);
      out.push(id);
    }
  }
  return out;
}

function pick(
  need: Need,
  pool: ReadonlySet<string> | undefined,
  resources: ReadonlyMap<string, { attrs: Record<string, string> }>,
  exclude: ReadonlySet<string> | null,
  taken: ReadonlySet<string> | null,
): string[] | null {
  if (pool === undefined || pool.size < need.count) return null;
  const out: string[] = [];
  for (const id of pool) {
    if (exclude !== null && exclude.has(id)) continue;
    if (taken !== null && taken.has(id)) continue;
    if (!matches(resources.get(id)!.attrs, need.attrs)) continue;
    out.push(id);
    if (out.length === need.count) return out;
  }
  return null;
}

function countCandidates(
  need: Need,
  pool: ReadonlySet<string> | undefined,
  resources: ReadonlyMap<string, { attrs: Record<string, string> }>,
  exclude: ReadonlySet<string> | null,
): number {
  if (pool === undefined) return 0;
  let n = 0;
  for (const id of pool) if ((exclude === null || !exclude.has(id)) && matches(resources.get(id)!.attrs, need.attrs)) n++;
  return n;
}

/**
 * Add to `claimed` the free resources a waiting request would take, up to its counts, so
 * that requests queued behind it cannot take them (SPEC §12.5.2: no starvation).
 */
export function claim(
  needs: readonly Need[],
  free: ReadonlyMap<string, ReadonlySet<string>>,
  resources: ReadonlyMap<string, { attrs: Record<string, string> }>,
  claimed: Set<string>,
): void {
  for (const need of needs) {
    const pool = free.get(need.type);
    if (pool === undefined) continue;
    let n = 0;
    for (const id of pool) {
      if (n >= need.count) break;
      if (claimed.has(id) || !matches(resources.get(id)!.attrs, need.attrs)) continue;
      claimed.add(id);
      n++;
    }
  }
}
