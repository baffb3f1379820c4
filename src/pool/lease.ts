import type { GrantedResource, LeaseView } from './types.js';

/**
 * A granted lease as a holder sees it (SPEC §12.4): the values it may use, the fencing
 * token to present to whatever it protects, and ways to hand them to a test.
 */
export class Lease {
  readonly id: string;
  readonly fence: number;
  readonly requestId: string;
  readonly resources: readonly GrantedResource[];
  readonly grantedAt: number;
  #state: 'held' | 'released' | 'lost' = 'held';
  readonly #owner: { release(lease: Lease): Promise<void> };

  constructor(view: LeaseView, owner: { release(lease: Lease): Promise<void> }) {
    this.id = view.id;
    this.fence = view.fence;
    this.requestId = view.requestId;
    this.resources = view.resources.map((r) => ({ ...r, attrs: { ...r.attrs } }));
    this.grantedAt = view.grantedAt;
    this.#owner = owner;
  }

  get state(): 'held' | 'released' | 'lost' {
    return this.#state;
  }

  /** Values granted for `type`, in grant order. */
  values(type: string): string[] {
    return this.resources.filter((r) => r.type === type).map((r) => r.value);
  }

  /** The first value granted for `type` (throws if none: a programming error in the caller). */
  value(type: string): string {
    const v = this.values(type)[0];
    if (v === undefined) throw new RangeError(`lease ${this.id} holds no resource of type ${JSON.stringify(type)}`);
    return v;
  }

  /** Granted values by type: `{port: ['7000', '7001'], compute: ['h1']}`. */
  get byType(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const r of this.resources) (out[r.type] ??= []).push(r.value);
    return out;
  }

  /**
   * Environment variables for a command or a test (SPEC §12.4): `PREFIX_<TYPE>` is the
   * comma-joined values, `PREFIX_<TYPE>_<i>` each value, plus `PREFIX_LEASE` and `PREFIX_FENCE`.
   */
  env(prefix = 'SUBRUN_POOL'): Record<string, string> {
    const out: Record<string, string> = { [`${prefix}_LEASE`]: this.id, [`${prefix}_FENCE`]: String(this.fence) };
    for (const [type, values] of Object.entries(this.byType)) {
      const key = `${prefix}_${type.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
      out[key] = values.join(',');
      values.forEach((v, i) => (out[`${key}_${i}`] = v));
    }
    return out;
  }

  release(): Promise<void> {
    return this.#owner.release(this);
  }

  /** @internal */
  markReleased(): void {
    if (this.#state === 'held') this.#state = 'released';
  }

  /** @internal */
  markLost(): void {
    if (this.#state === 'held') this.#state = 'lost';
  }
}
