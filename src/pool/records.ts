import type { TimerHandle } from '../core/clock.js';
import type { GrantedResource, LeaseView, Need, ResourceState, ResourceView, SessionView } from './types.js';

/** The state machine's internal records and the views it hands out (SPEC §12.2, §12.4). Pure. */

export interface Resource {
  id: string;
  type: string;
  value: string;
  attrs: Record<string, string>;
  enabled: boolean;
  quarantined: boolean;
  resetting: boolean;
  lease: string | null;
  fence: number;
  note: string | null;
}

export interface Lease {
  id: string;
  session: string;
  requestId: string;
  fence: number;
  resources: string[];
  grantedAt: number;
}

export interface Waiter {
  session: string;
  requestId: string;
  needs: Need[];
  since: number;
  sinceMono: number;
}

export interface Session {
  id: string;
  client: string;
  tokenHash: string;
  graceMs: number;
  connected: boolean;
  leases: Set<string>;
  waiting: Map<string, Waiter>;
  timer: TimerHandle | null;
}

export function resourceView(r: Resource): ResourceView {
  let state: ResourceState;
  if (r.lease !== null) state = 'held';
  else if (r.resetting) state = 'resetting';
  else if (r.quarantined) state = 'quarantined';
  else if (!r.enabled) state = 'maintenance';
  else state = 'free';
  return { id: r.id, type: r.type, value: r.value, attrs: { ...r.attrs }, state, enabled: r.enabled, quarantined: r.quarantined, resetting: r.resetting, lease: r.lease, fence: r.fence, note: r.note };
}

export function leaseView(resources: ReadonlyMap<string, Resource>, sessions: ReadonlyMap<string, Session>, l: Lease): LeaseView {
  const granted: GrantedResource[] = l.resources.map((id) => {
    const r = resources.get(id);
    return r === undefined ? { id, type: '', value: '', attrs: {} } : { id, type: r.type, value: r.value, attrs: { ...r.attrs } };
  });
  return { id: l.id, session: l.session, client: sessions.get(l.session)?.client ?? '', requestId: l.requestId, fence: l.fence, resources: granted, grantedAt: l.grantedAt };
}

export function sessionView(s: Session): SessionView {
  return { id: s.id, client: s.client, connected: s.connected, graceMs: s.graceMs, leases: [...s.leases], waiting: [...s.waiting.keys()] };
}
