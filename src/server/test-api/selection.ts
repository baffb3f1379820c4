/**
 * Which listed tests a request names. An entry selects the test with that id, or
 * every test under it when it is a file path or a `file > describe` prefix. Entries
 * that select nothing are returned as unknown.
 */
import { ID_SEPARATOR } from '../../testing/engine.js';

export interface Selection {
  /** Selected ids in list order (which is also run order). */
  ids: string[];
  unknown: string[];
}

// A worker's list is fixed for its life; its Set is built once, not per request.
const LISTED = new WeakMap<readonly string[], ReadonlySet<string>>();

export function select(listed: readonly string[], requested: readonly string[] | undefined): Selection {
  if (requested === undefined) return { ids: [...listed], unknown: [] };
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let listedSet = LISTED.get(listed);
  if (listedSet === undefined) LISTED.set(listed, (listedSet = new Set(listed)));
  const matched = new Set<string>();
  for (const entry of requested) {
    if (listedSet.has(entry)) exact.add(entry);
    else prefixes.push(entry);
  }
  const ids: string[] = [];
  for (const id of listed) {
    if (exact.has(id)) {
      ids.push(id);
      continue;
    }
    let selected = false;
    for (const p of prefixes) {
      if (id.startsWith(p) && id.startsWith(ID_SEPARATOR, p.length)) {
        selected = true;
        matched.add(p);
      }
    }
    if (selected) ids.push(id);
  }
  const unknown = prefixes.filter((p) => !matched.has(p));
  return { ids, unknown };
}
