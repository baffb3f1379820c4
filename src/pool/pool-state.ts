import type { Clock, TimerHandle } from '../core/clock.js';
import { poolError } from './errors.js';
import { allocate, claim, matches } from './allocate.js';
import { leaseView, resourceView, sessionView, type Lease, type Resource, type Session, type Waiter } from './records.js';
import {
  resourceId,
  type LeaseView,
  type Need,
  type PoolEvent,
  type PoolSnapshot,
  type ReleaseReason,
  type ResourceSpec,
  type ResourceView,
  type SessionView,
  type WaiterView,
} from './types.js';

/**
 * The pool's state machine (SPEC §12.5). Pure: no I/O, time only from the injected Clock,
 * ids derived from the fencing counter, so a test can drive it exhaustively. Every change
 * is reported through `emit` before the method returns; the server persists each event
 * and only then tells the peers.
 */

export type RequestOutcome =
  | { status: 'granted'; lease: LeaseView; replay: boolean }
  | { status: 'queued'; position: number; replay: boolean };

export interface PoolStateOptions {
  clock: Clock;
  emit: (event: PoolEvent) => void;
  /** State to resume from (a restart); its sessions start disconnected. */
  snapshot?: PoolSnapshot;
  /** How long sessions restored from a snapshot have to reconnect. @default 10000 */
  restartGraceMs?: number;
  /** Whether released resources of this type must pass a release hook first. */
  hasReleaseHook?: (type: string) => boolean;
}

export class PoolState {
  readonly #clock: Clock;
  readonly #emit: (event: PoolEvent) => void;
  readonly #hasHook: (type: string) => boolean;
  readonly #resources = new Map<string, Resource>();
  /** Grantable resources per type, in the order they became free (fair rotation). */
  readonly #free = new Map<string, Set<string>>();
  /** Every resource per type, whatever its state (for the impossibility check). */
  readonly #all = new Map<string, Set<string>>();
  readonly #leases = new Map<string, Lease>();
  readonly #sessions = new Map<string, Session>();
  #queue: Waiter[] = [];
  /** How many waiters need each type: free resources of other types cannot serve the queue. */
  readonly #waitingByType = new Map<string, number>();
  #fence = 0;
  #closed = false;

  constructor(options: PoolStateOptions) {
    this.#clock = options.clock;
    this.#emit = options.emit;
    this.#hasHook = options.hasReleaseHook ?? (() => false);
    const snap = options.snapshot;
    if (snap !== undefined) this.#restore(snap, options.restartGraceMs ?? 10_000);
  }

  // ---- sessions (SPEC §12.5) ----

  openSession(id: string, info: { client: string; tokenHash: string; graceMs: number; remote: string }): void {
    if (this.#sessions.has(id)) throw poolError('ERR_POOL_CONFLICT', `session ${id} already exists`);
    this.#sessions.set(id, { id, client: info.client, tokenHash: info.tokenHash, graceMs: info.graceMs, connected: true, leases: new Set(), waiting: new Map(), timer: null });
    this.#emit({ kind: 'session-opened', at: this.#clock.now(), session: id, client: info.client, tokenHash: info.tokenHash, graceMs: info.graceMs, remote: info.remote });
  }

  /** Reattach a session within its grace period. Throws ERR_POOL_SESSION_EXPIRED / ERR_POOL_UNAUTHORIZED. */
  resumeSession(id: string, tokenHash: string, remote: string): SessionView {
    const s = this.#sessions.get(id);
    if (s === undefined) throw poolError('ERR_POOL_SESSION_EXPIRED', `session ${id} has expired; its leases were released`);
    if (s.tokenHash !== tokenHash) throw poolError('ERR_POOL_UNAUTHORIZED', `wrong token for session ${id}`);
    s.timer?.cancel();
    s.timer = null;
    s.connected = true;
    this.#emit({ kind: 'session-resumed', at: this.#clock.now(), session: id, remote });
    return sessionView(s);
  }

  /**
   * The holder's connection ended. A clean close, or a session with no grace period,
   * releases everything at once; otherwise the leases wait `graceMs` for a resume.
   */
  disconnect(id: string, how: 'clean' | 'abnormal' | 'ping-timeout'): void {
    const s = this.#sessions.get(id);
    if (s === undefined || !s.connected) return;
    if (how === 'clean' || s.graceMs === 0) {
      this.#expire(s, how);
      return;
    }
    s.connected = false;
    this.#emit({ kind: 'session-disconnected', at: this.#clock.now(), session: id, reason: how, graceMs: s.graceMs });
    s.timer = this.#clock.setTimeout(() => this.#expire(s, 'expired'), s.graceMs);
  }

  #expire(s: Session, reason: 'clean' | 'abnormal' | 'ping-timeout' | 'expired'): void {
    if (this.#sessions.get(s.id) !== s) return;
    s.timer?.cancel();
    s.timer = null;
    for (const requestId of [...s.waiting.keys()]) this.#dropWaiter(s, requestId);
    const leaseReason: ReleaseReason = reason === 'clean' ? 'disconnect' : reason === 'abnormal' ? 'disconnect' : reason;
    for (const leaseId of [...s.leases]) this.#releaseLease(leaseId, leaseReason, false);
    this.#sessions.delete(s.id);
    this.#emit({ kind: 'session-closed', at: this.#clock.now(), session: s.id, reason });
    this.#schedule();
  }

  // ---- requests (SPEC §12.5) ----

  /**
   * Ask for `needs` all at once. Granted now if they fit and nobody earlier is waiting for
   * the same resources; otherwise queued (FIFO). Impossible requests throw ERR_POOL_IMPOSSIBLE.
   * A repeated request id (a resend after reconnecting) replays the earlier outcome.
   */
  request(sessionId: string, requestId: string, needs: Need[]): RequestOutcome {
    const s = this.#live(sessionId);
    for (const leaseId of s.leases) {
      const lease = this.#leases.get(leaseId)!;
      if (lease.requestId === requestId) return { status: 'granted', lease: leaseView(this.#resources, this.#sessions, lease), replay: true };
    }
    const earlier = s.waiting.get(requestId);
    if (earlier !== undefined) return { status: 'queued', position: this.#queue.indexOf(earlier) + 1, replay: true };
    this.#checkPossible(needs);
    const now = this.#clock.now();
    const waiter: Waiter = { session: sessionId, requestId, needs, since: now, sinceMono: this.#clock.monotonic() };
    // Grant at once only if no earlier waiter claims what we would take (SPEC §12.5 no starvation).
    // The claims are computed only when the free resources alone would fit the request.
    let picked = allocate(needs, this.#free, this.#resources, null);
    if (picked !== null && this.#queue.length > 0) picked = allocate(needs, this.#free, this.#resources, this.#claimsOn(needs));
    if (picked !== null) return { status: 'granted', lease: this.#grant(waiter, picked), replay: false };
    this.#enqueue(waiter);
    s.waiting.set(requestId, waiter);
    const position = this.#queue.length;
    this.#emit({ kind: 'queued', at: now, session: sessionId, requestId, position, needs });
    return { status: 'queued', position, replay: false };
  }

  /** Withdraw a queued request. Throws ERR_POOL_NOT_FOUND if it is not waiting. */
  cancel(sessionId: string, requestId: string): void {
    const s = this.#live(sessionId);
    if (!s.waiting.has(requestId)) throw poolError('ERR_POOL_NOT_FOUND', `no waiting request ${requestId}`);
    this.#dropWaiter(s, requestId);
    this.#emit({ kind: 'cancelled', at: this.#clock.now(), session: sessionId, requestId });
    this.#schedule();
  }

  /** The holder gives a lease back. */
  release(sessionId: string, leaseId: string): void {
    const s = this.#live(sessionId);
    if (!s.leases.has(leaseId)) throw poolError('ERR_POOL_NOT_FOUND', `session holds no lease ${leaseId}`);
    this.#releaseLease(leaseId, 'release', true);
  }

  /** Whether the session holds `leaseId` (a release carried by an acquire ignores one it does not, SPEC §12.4.5). */
  holds(sessionId: string, leaseId: string): boolean {
    return this.#sessions.get(sessionId)?.leases.has(leaseId) === true;
  }

  /**
   * Is `fence` still the current grant of every one of `resources`? (SPEC §12.7) A holder
   * that was frozen past its ping timeout learns here that a newer fence exists.
   */
  verify(leaseId: string, fence: number, resources: readonly string[]): { valid: boolean; currentFence: number } {
    const lease = this.#leases.get(leaseId);
    const ids = lease?.resources ?? resources;
    const currentFence = this.currentFenceOf(ids);
    return { valid: lease !== undefined && lease.fence === fence && currentFence === fence, currentFence };
  }

  /** The newest fencing token any of `resources` was granted under (SPEC §12.7). */
  currentFenceOf(resources: readonly string[]): number {
    let max = 0;
    for (const id of resources) max = Math.max(max, this.#resources.get(id)?.fence ?? 0);
    return max;
  }

  // ---- administration (SPEC §12.6) ----

  addResource(spec: ResourceSpec, actor: string): ResourceView {
    const id = resourceId(spec.type, spec.value);
    if (this.#resources.has(id)) throw poolError('ERR_POOL_CONFLICT', `resource ${id} already exists`);
    const r: Resource = { id, type: spec.type, value: spec.value, attrs: { ...(spec.attrs ?? {}) }, enabled: true, quarantined: false, resetting: false, lease: null, fence: 0, note: null };
    this.#resources.set(id, r);
    this.#index(r);
    this.#markFree(r);
    const view = resourceView(r);
    this.#emit({ kind: 'resource-added', at: this.#clock.now(), actor, resource: view });
    this.#schedule();
    return view;
  }

  removeResource(id: string, actor: string): void {
    const r = this.#resource(id);
    if (r.lease !== null) throw poolError('ERR_POOL_CONFLICT', `resource ${id} is held by lease ${r.lease}; disable it and remove it once released`);
    this.#unmarkFree(r);
    this.#resources.delete(id);
    this.#all.get(r.type)?.delete(id);
    this.#emit({ kind: 'resource-removed', at: this.#clock.now(), actor, resource: id });
    // Waiters that can no longer ever be served are refused now, not left waiting forever.
    for (const w of [...this.#queue]) {
      try {
        this.#checkPossible(w.needs);
      } catch (error) {
        const s = this.#sessions.get(w.session)!;
        this.#dropWaiter(s, w.requestId);
        this.#emit({ kind: 'refused', at: this.#clock.now(), session: w.session, requestId: w.requestId, code: 'ERR_POOL_IMPOSSIBLE', message: (error as Error).message });
      }
    }
    this.#schedule();
  }

  /** Never granted again until enabled; a held resource finishes its lease first (maintenance). */
  disable(id: string, actor: string, note: string | null = null): ResourceView {
    const r = this.#resource(id);
    r.enabled = false;
    r.note = note;
    this.#unmarkFree(r);
    this.#emit({ kind: 'resource-disabled', at: this.#clock.now(), actor, resource: id, note });
    return resourceView(r);
  }

  /** Back into service; also lifts a quarantine. */
  enable(id: string, actor: string): ResourceView {
    const r = this.#resource(id);
    r.enabled = true;
    r.quarantined = false;
    r.note = null;
    this.#markFree(r);
    this.#emit({ kind: 'resource-enabled', at: this.#clock.now(), actor, resource: id });
    this.#schedule();
    return resourceView(r);
  }

  /** The release hook of a resetting resource finished; failure quarantines it. */
  resetFinished(id: string, ok: boolean, detail: string): void {
    const r = this.#resources.get(id);
    if (r === undefined || !r.resetting) return;
    r.resetting = false;
    if (!ok) {
      r.quarantined = true;
      r.note = detail;
    }
    this.#emit({ kind: 'reset-finished', at: this.#clock.now(), resource: id, ok, detail });
    this.#markFree(r);
    this.#schedule();
  }

  /** Resources left resetting by a previous run (their hook must run again). */
  resettingResources(): ResourceView[] {
    return [...this.#resources.values()].filter((r) => r.resetting).map((r) => resourceView(r));
  }

  /** Stop all grace timers (the server is going away; the snapshot keeps the sessions). */
  dispose(): void {
    this.#closed = true;
    for (const s of this.#sessions.values()) {
      s.timer?.cancel();
      s.timer = null;
    }
  }

  // ---- views ----

  resources(): ResourceView[] {
    return [...this.#resources.values()].map((r) => resourceView(r));
  }

  resource(id: string): ResourceView {
    return resourceView(this.#resource(id));
  }

  leases(): LeaseView[] {
    return [...this.#leases.values()].map((l) => leaseView(this.#resources, this.#sessions, l));
  }

  queue(): WaiterView[] {
    return this.#queue.map((w, i) => ({
      session: w.session,
      client: this.#sessions.get(w.session)?.client ?? '',
      requestId: w.requestId,
      position: i + 1,
      needs: w.needs,
      since: w.since,
    }));
  }

  sessions(): SessionView[] {
    return [...this.#sessions.values()].map((s) => sessionView(s));
  }

  session(id: string): SessionView | undefined {
    const s = this.#sessions.get(id);
    return s === undefined ? undefined : sessionView(s);
  }

  get fence(): number {
    return this.#fence;
  }

  // ---- internals ----

  #live(sessionId: string): Session {
    const s = this.#sessions.get(sessionId);
    if (s === undefined) throw poolError('ERR_POOL_SESSION_EXPIRED', `session ${sessionId} has expired`);
    return s;
  }

  #resource(id: string): Resource {
    const r = this.#resources.get(id);
    if (r === undefined) throw poolError('ERR_POOL_NOT_FOUND', `no resource ${id}`);
    return r;
  }

  /** Refuse at once what no arrangement of existing resources (in any state) could satisfy. */
  #checkPossible(needs: Need[]): void {
    if (allocate(needs, this.#all, this.#resources, null) !== null) return;
    const described = needs.map((n) => `${n.count} × ${n.type}${Object.keys(n.attrs).length ? ' ' + JSON.stringify(n.attrs) : ''}`).join(' + ');
    for (const n of needs) {
      const have = [...this.#resources.values()].filter((r) => r.type === n.type && matches(r.attrs, n.attrs)).length;
      if (have < n.count) {
        throw poolError('ERR_POOL_IMPOSSIBLE', `the pool has ${have} resource(s) of type ${JSON.stringify(n.type)} matching ${JSON.stringify(n.attrs)}, request needs ${n.count}`);
      }
    }
    throw poolError('ERR_POOL_IMPOSSIBLE', `no arrangement of the pool's resources satisfies ${described}`);
  }

  /**
   * Free resources of the types in `needs` that waiters already in the queue would take,
   * so that a newcomer does not take those (SPEC §12.5.2: a large request is not starved
   * by a stream of small ones). Only those types matter to the newcomer, and the scan
   * stops once every free resource of them is claimed.
   */
  #claimsOn(needs: readonly Need[]): Set<string> {
    const claimed = new Set<string>();
    const types = new Set(needs.map((n) => n.type));
    let available = 0;
    for (const type of types) available += this.#free.get(type)?.size ?? 0;
    for (let i = 0; i < this.#queue.length && claimed.size < available; i++) {
      const relevant = this.#queue[i]!.needs.filter((n) => types.has(n.type));
      if (relevant.length > 0) claim(relevant, this.#free, this.#resources, claimed);
    }
    return claimed;
  }

  /**
   * Grant waiters in queue order (SPEC §12.5.2). The scan ends once every free resource
   * some waiter could use is granted or claimed: free resources of types nobody waits for
   * do not make it walk the whole queue.
   */
  #schedule(): void {
    if (this.#closed || this.#queue.length === 0) return;
    let available = this.#freeForWaiters();
    const claimed = new Set<string>();
    for (let i = 0; i < this.#queue.length && claimed.size < available; ) {
      const w = this.#queue[i]!;
      const picked = allocate(w.needs, this.#free, this.#resources, claimed);
      if (picked === null) {
        claim(w.needs, this.#free, this.#resources, claimed);
        i++;
        continue;
      }
      const s = this.#sessions.get(w.session)!;
      this.#dequeueAt(i);
      s.waiting.delete(w.requestId);
      this.#grant(w, picked);
      available = this.#freeForWaiters();
    }
  }

  /** Free resources of the types someone in the queue needs. */
  #freeForWaiters(): number {
    let n = 0;
    for (const [type, waiting] of this.#waitingByType) if (waiting > 0) n += this.#free.get(type)?.size ?? 0;
    return n;
  }

  #enqueue(w: Waiter): void {
    this.#queue.push(w);
    for (const type of typesOf(w.needs)) this.#waitingByType.set(type, (this.#waitingByType.get(type) ?? 0) + 1);
  }

  #dequeueAt(i: number): void {
    // shift() is O(1) in V8 for the usual case, the head of the queue; splice() copies.
    const w = i === 0 ? this.#queue.shift()! : this.#queue.splice(i, 1)[0]!;
    for (const type of typesOf(w.needs)) {
      const left = (this.#waitingByType.get(type) ?? 1) - 1;
      if (left === 0) this.#waitingByType.delete(type);
      else this.#waitingByType.set(type, left);
    }
  }

  #grant(w: Waiter, picked: string[]): LeaseView {
    const s = this.#sessions.get(w.session)!;
    const fence = ++this.#fence;
    const lease: Lease = { id: `L${fence}`, session: w.session, requestId: w.requestId, fence, resources: picked, grantedAt: this.#clock.now() };
    for (const id of picked) {
      const r = this.#resources.get(id)!;
      this.#unmarkFree(r);
      r.lease = lease.id;
      r.fence = fence;
    }
    this.#leases.set(lease.id, lease);
    s.leases.add(lease.id);
    const view = leaseView(this.#resources, this.#sessions, lease);
    this.#emit({ kind: 'granted', at: lease.grantedAt, session: w.session, requestId: w.requestId, lease: view, waitedMs: Math.max(0, Math.round((this.#clock.monotonic() - w.sinceMono) * 1000) / 1000) });
    return view;
  }

  #releaseLease(leaseId: string, reason: ReleaseReason, schedule: boolean): void {
    const lease = this.#leases.get(leaseId)!;
    this.#leases.delete(leaseId);
    this.#sessions.get(lease.session)?.leases.delete(leaseId);
    this.#emit({ kind: 'released', at: this.#clock.now(), session: lease.session, lease: leaseId, fence: lease.fence, resources: lease.resources, reason });
    for (const id of lease.resources) {
      const r = this.#resources.get(id);
      if (r === undefined) continue;
      r.lease = null;
      if (r.enabled && this.#hasHook(r.type)) {
        r.resetting = true;
        this.#emit({ kind: 'reset-started', at: this.#clock.now(), resource: id });
      } else {
        this.#markFree(r);
      }
    }
    if (schedule) this.#schedule();
  }

  #dropWaiter(s: Session, requestId: string): void {
    const w = s.waiting.get(requestId);
    if (w === undefined) return;
    s.waiting.delete(requestId);
    const i = this.#queue.indexOf(w);
    if (i !== -1) this.#dequeueAt(i);
  }

  #index(r: Resource): void {
    let set = this.#all.get(r.type);
    if (set === undefined) this.#all.set(r.type, (set = new Set()));
    set.add(r.id);
  }

  #markFree(r: Resource): void {
    if (!r.enabled || r.quarantined || r.resetting || r.lease !== null) return;
    let set = this.#free.get(r.type);
    if (set === undefined) this.#free.set(r.type, (set = new Set()));
    set.add(r.id);
  }

  #unmarkFree(r: Resource): void {
    this.#free.get(r.type)?.delete(r.id);
  }

  #restore(snap: PoolSnapshot, graceMs: number): void {
    this.#fence = snap.fence;
    for (const r of snap.resources) {
      const restored: Resource = { ...r, attrs: { ...r.attrs }, lease: null };
      this.#resources.set(r.id, restored);
      this.#index(restored);
    }
    for (const s of snap.sessions) {
      const session: Session = { id: s.id, client: s.client, tokenHash: s.tokenHash, graceMs: s.graceMs, connected: false, leases: new Set(), waiting: new Map(), timer: null };
      this.#sessions.set(s.id, session);
    }
    for (const l of snap.leases) {
      const s = this.#sessions.get(l.session);
      if (s === undefined) continue;
      this.#leases.set(l.id, { ...l, resources: [...l.resources] });
      s.leases.add(l.id);
      for (const id of l.resources) {
        const r = this.#resources.get(id);
        if (r !== undefined) r.lease = l.id;
      }
      this.#fence = Math.max(this.#fence, l.fence);
    }
    for (const r of this.#resources.values()) this.#markFree(r);
    // Sessions restored from disk are disconnected until their holder comes back (SPEC §12.6).
    for (const s of this.#sessions.values()) {
      s.timer = this.#clock.setTimeout(() => this.#expire(s, 'expired'), Math.max(graceMs, s.graceMs));
    }
  }
}

/** The distinct types of a request (most requests have a single need). */
function typesOf(needs: readonly Need[]): Iterable<string> {
  return needs.length === 1 ? [needs[0]!.type] : new Set(needs.map((n) => n.type));
}
