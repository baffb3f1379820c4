import type { PoolEvent } from './types.js';

/**
 * Replays an event log against the pool's safety rules (SPEC §12.8) and returns every
 * violation found (empty: the log is sound). Pure; used by tests and `subrun pool history --check`.
 *
 * 1. A resource is granted only while no lease holds it (never granted twice).
 * 2. Fencing tokens strictly increase, across restarts too.
 * 3. A release names a live lease and exactly its resources.
 * 4. A disabled, quarantined or resetting resource is not granted.
 * 5. A closed session holds no lease.
 */
export function checkEventLog(events: Iterable<PoolEvent>): string[] {
  const violations: string[] = [];
  const holder = new Map<string, string>();
  const leases = new Map<string, { session: string; resources: string[] }>();
  const blocked = new Map<string, string>();
  let lastFence = 0;
  let n = 0;
  for (const e of events) {
    n++;
    switch (e.kind) {
      case 'granted': {
        const { lease } = e;
        if (lease.fence <= lastFence) violations.push(`#${n}: fence ${lease.fence} not above ${lastFence}`);
        lastFence = Math.max(lastFence, lease.fence);
        if (leases.has(lease.id)) violations.push(`#${n}: lease ${lease.id} granted twice`);
        for (const r of lease.resources) {
          const h = holder.get(r.id);
          if (h !== undefined) violations.push(`#${n}: ${r.id} granted to ${lease.id} while held by ${h}`);
          const why = blocked.get(r.id);
          if (why !== undefined) violations.push(`#${n}: ${r.id} granted while ${why}`);
          holder.set(r.id, lease.id);
        }
        leases.set(lease.id, { session: e.session, resources: lease.resources.map((r) => r.id) });
        break;
      }
      case 'released': {
        const l = leases.get(e.lease);
        if (l === undefined) {
          violations.push(`#${n}: release of unknown lease ${e.lease}`);
          break;
        }
        if (l.resources.join(',') !== e.resources.join(',')) violations.push(`#${n}: release of ${e.lease} names other resources`);
        for (const r of l.resources) if (holder.get(r) === e.lease) holder.delete(r);
        leases.delete(e.lease);
        break;
      }
      case 'session-closed':
        for (const [id, l] of leases) if (l.session === e.session) violations.push(`#${n}: session ${e.session} closed still holding ${id}`);
        break;
      case 'resource-disabled':
        blocked.set(e.resource, 'disabled');
        break;
      case 'resource-enabled':
        blocked.delete(e.resource);
        break;
      case 'reset-started':
        blocked.set(e.resource, 'resetting');
        break;
      case 'reset-finished':
        if (e.ok) blocked.delete(e.resource);
        else blocked.set(e.resource, 'quarantined');
        break;
      case 'resource-removed':
        if (holder.has(e.resource)) violations.push(`#${n}: ${e.resource} removed while held`);
        break;
      default:
        break;
    }
  }
  return violations;
}
