/**
 * Data shapes of the resource pool (SPEC §12). Pure: no I/O.
 */

/** What a holder asks for: `count` resources of `type` whose attributes include `attrs`. SPEC §12.3 */
export interface Need {
  type: string;
  count: number;
  attrs: Record<string, string>;
}

/** How a resource is declared (config file, `--resource`, admin API). */
export interface ResourceSpec {
  type: string;
  value: string;
  attrs?: Record<string, string>;
}

/** The state a user sees for a resource. SPEC §12.2 */
export type ResourceState = 'free' | 'held' | 'resetting' | 'maintenance' | 'quarantined';

export interface ResourceView {
  /** `type:value`, unique in the pool. */
  id: string;
  type: string;
  value: string;
  attrs: Record<string, string>;
  state: ResourceState;
  enabled: boolean;
  quarantined: boolean;
  resetting: boolean;
  /** Lease id of the holder, or null. */
  lease: string | null;
  /** Fencing token of the latest grant of this resource (0: never granted). */
  fence: number;
  note: string | null;
}

/** The part of a resource a holder receives. */
export interface GrantedResource {
  id: string;
  type: string;
  value: string;
  attrs: Record<string, string>;
}

export interface LeaseView {
  id: string;
  session: string;
  client: string;
  requestId: string;
  fence: number;
  resources: GrantedResource[];
  /** Wall-clock ms of the grant. */
  grantedAt: number;
}

export interface WaiterView {
  session: string;
  client: string;
  requestId: string;
  position: number;
  needs: Need[];
  /** Wall-clock ms when the request joined the queue. */
  since: number;
}

export interface SessionView {
  id: string;
  client: string;
  connected: boolean;
  graceMs: number;
  leases: string[];
  waiting: string[];
}

/** Why a lease ended. SPEC §12.5 */
export type ReleaseReason = 'release' | 'disconnect' | 'ping-timeout' | 'expired';

/**
 * Everything that changes pool state is an event (SPEC §12.8). The store appends each to
 * the log and applies it to its tables before the server tells anyone about it.
 */
export type PoolEvent =
  | { kind: 'session-opened'; at: number; session: string; client: string; tokenHash: string; graceMs: number; remote: string }
  | { kind: 'session-disconnected'; at: number; session: string; reason: 'abnormal' | 'ping-timeout'; graceMs: number }
  | { kind: 'session-resumed'; at: number; session: string; remote: string }
  | { kind: 'session-closed'; at: number; session: string; reason: 'clean' | 'expired' | 'ping-timeout' | 'abnormal' }
  | { kind: 'queued'; at: number; session: string; requestId: string; position: number; needs: Need[] }
  | { kind: 'granted'; at: number; session: string; requestId: string; lease: LeaseView; waitedMs: number }
  | { kind: 'refused'; at: number; session: string; requestId: string; code: string; message: string }
  | { kind: 'cancelled'; at: number; session: string; requestId: string }
  | { kind: 'released'; at: number; session: string; lease: string; fence: number; resources: string[]; reason: ReleaseReason }
  | { kind: 'resource-added'; at: number; actor: string; resource: ResourceView }
  | { kind: 'resource-removed'; at: number; actor: string; resource: string }
  | { kind: 'resource-disabled'; at: number; actor: string; resource: string; note: string | null }
  | { kind: 'resource-enabled'; at: number; actor: string; resource: string }
  | { kind: 'reset-started'; at: number; resource: string }
  | { kind: 'reset-finished'; at: number; resource: string; ok: boolean; detail: string };

export type PoolEventKind = PoolEvent['kind'];

/** What survives a restart (SPEC §12.6): loaded by the store, handed to a new PoolState. */
export interface PoolSnapshot {
  fence: number;
  resources: Array<{
    id: string;
    type: string;
    value: string;
    attrs: Record<string, string>;
    enabled: boolean;
    quarantined: boolean;
    resetting: boolean;
    fence: number;
    note: string | null;
  }>;
  sessions: Array<{ id: string; client: string; tokenHash: string; graceMs: number }>;
  leases: Array<{ id: string; session: string; requestId: string; fence: number; resources: string[]; grantedAt: number }>;
}

export function resourceId(type: string, value: string): string {
  return `${type}:${value}`;
}
