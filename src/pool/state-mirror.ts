import type { PoolEvent, PoolSnapshot } from './types.js';

/**
 * The leases and resources the store's tables describe, kept in memory and moved forward
 * by each event (SPEC §12.8.3). Pure. The store writes only the log per event; the rows
 * this mirror marks dirty reach the tables at the next checkpoint, and a restart replays
 * the log after that checkpoint through the same `apply`, so both paths agree by
 * construction.
 */

export type ResourceRow = PoolSnapshot['resources'][number];
export type LeaseRow = PoolSnapshot['leases'][number];

export class StateMirror {
  readonly resources = new Map<string, ResourceRow>();
  readonly leases = new Map<string, LeaseRow>();
  readonly dirtyResources = new Set<string>();
  readonly dirtyLeases = new Set<string>();
  /** Highest fence of any grant applied. */
  fence = 0;

  apply(e: PoolEvent): void {
    switch (e.kind) {
      case 'granted': {
        const l = e.lease;
        const ids = l.resources.map((r) => r.id);
        this.leases.set(l.id, { id: l.id, session: e.session, requestId: e.requestId, fence: l.fence, resources: ids, grantedAt: l.grantedAt });
        this.dirtyLeases.add(l.id);
        for (const id of ids) this.#update(id, (r) => (r.fence = l.fence));
        if (l.fence > this.fence) this.fence = l.fence;
        return;
      }
      case 'released':
        this.leases.delete(e.lease);
        this.dirtyLeases.add(e.lease);
        return;
      case 'resource-added': {
        const r = e.resource;
        this.resources.set(r.id, { id: r.id, type: r.type, value: r.value, attrs: { ...r.attrs }, enabled: true, quarantined: false, resetting: false, fence: 0, note: null });
        this.dirtyResources.add(r.id);
        return;
      }
      case 'resource-removed':
        this.resources.delete(e.resource);
        this.dirtyResources.add(e.resource);
        return;
      case 'resource-disabled':
        this.#update(e.resource, (r) => {
          r.enabled = false;
          r.note = e.note;
        });
        return;
      case 'resource-enabled':
        this.#update(e.resource, (r) => {
          r.enabled = true;
          r.quarantined = false;
          r.note = null;
        });
        return;
      case 'reset-started':
        this.#update(e.resource, (r) => (r.resetting = true));
        return;
      case 'reset-finished':
        this.#update(e.resource, (r) => {
          r.resetting = false;
          r.quarantined = !e.ok;
          if (!e.ok) r.note = e.detail;
        });
        return;
      default:
        return;
    }
  }

  #update(id: string, change: (r: ResourceRow) => void): void {
    const r = this.resources.get(id);
    if (r === undefined) return;
    change(r);
    this.dirtyResources.add(id);
  }
}
