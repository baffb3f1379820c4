import type { GrantedResource, PoolEvent, ReleaseReason } from './types.js';

/**
 * How an event is kept in the `data` column of the log (SPEC §12.8.2). Pure. A grant and a
 * release, the two rows of every grant cycle, are a JSON array of the fields the row's
 * `kind` and `at` columns do not already hold, and without what follows from the others
 * (a lease id is `L<fence>`, a resource's type and value are its id); any other event, and
 * a grant or release that does not have the shape the state machine gives it, is the event
 * as a JSON object. So `data` starting with `[` is the compact form.
 *
 *   granted:  [session, requestId, client, fence, waitedMs, resource...]
 *   released: [session, lease, fence, reason, resource...]
 *
 * where a resource is its id, or `[id, attrs]` when it has attributes.
 */

type CompactResource = string | [string, Record<string, string>];

export function encodeEventData(e: PoolEvent): string {
  if (e.kind === 'granted') {
    const l = e.lease;
    if (l.id === `L${l.fence}` && l.session === e.session && l.requestId === e.requestId && l.grantedAt === e.at) {
      const row: unknown[] = [e.session, e.requestId, l.client, l.fence, e.waitedMs];
      for (const r of l.resources) {
        if (r.type.includes(':') || r.id !== `${r.type}:${r.value}`) return JSON.stringify(e);
        row.push(hasKeys(r.attrs) ? [r.id, r.attrs] : r.id);
      }
      return JSON.stringify(row);
    }
  } else if (e.kind === 'released') {
    return JSON.stringify([e.session, e.lease, e.fence, e.reason, ...e.resources]);
  }
  return JSON.stringify(e);
}

/** The event a row holds; throws on a row no version of the store wrote (a corrupt database). */
export function decodeEvent(kind: string, at: number, data: string): PoolEvent {
  if (data.charCodeAt(0) !== 0x5b /* [ */) return JSON.parse(data) as PoolEvent;
  const row = JSON.parse(data) as unknown[];
  if (kind === 'granted') {
    const [session, requestId, client, fence, waitedMs] = row as [string, string, string, number, number];
    const resources: GrantedResource[] = [];
    for (let i = 5; i < row.length; i++) {
      const item = row[i] as CompactResource;
      const [id, attrs] = typeof item === 'string' ? [item, {}] : item;
      const colon = id.indexOf(':');
      resources.push({ id, type: id.slice(0, colon), value: id.slice(colon + 1), attrs: { ...attrs } });
    }
    return { kind, at, session, requestId, lease: { id: `L${fence}`, session, client, requestId, fence, resources, grantedAt: at }, waitedMs };
  }
  if (kind === 'released') {
    const [session, lease, fence, reason] = row as [string, string, number, ReleaseReason];
    return { kind, at, session, lease, fence, resources: row.slice(4) as string[], reason };
  }
  throw new SyntaxError(`a compact event row of kind ${JSON.stringify(kind)}`);
}

function hasKeys(o: Record<string, string>): boolean {
  for (const _ in o) return true;
  return false;
}
