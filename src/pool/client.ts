import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { withTimeout } from '../core/abort.js';
import { normalizeNeeds, type NeedsInput } from './needs-input.js';
import { Lease } from './lease.js';
import { leaseOfShortGranted } from './messages.js';
import type { LeaseView, Need } from './types.js';

export { normalizeNeeds, type NeedsInput } from './needs-input.js';

/**
 * `PoolClient` (SPEC §12.4): one WebSocket session with the pool. Leases live as long as
 * the session; the client reconnects with its session token after a dropped connection
 * or a pool restart and learns which leases survived (a lost one emits `lost`).
 */

export interface PoolClientOptions {
  /** Bearer token (client or admin). */
  token?: string;
  /** Shown on the dashboard and in the event log. @default 'subrun' */
  name?: string;
  /** How long the pool keeps this client's leases after an unclean disconnect. @default 0 */
  graceMs?: number;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** How long to keep trying to reconnect after losing the connection. @default 30000 */
  reconnectForMs?: number;
  /** Extra trusted CA for wss:// with a private certificate. */
  ca?: string | Buffer;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface AcquireOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the queue position when the request has to wait. */
  onQueued?: (position: number) => void;
  /**
   * A lease of this client to give back in the same message (SPEC §12.4.5): one message
   * instead of a `release` round trip first. It counts as released at once (`state`
   * `released`), whatever becomes of the request. A pool that predates protocol 2 gets a
   * `release` first, confirmed, then the `acquire`.
   */
  release?: Lease;
}

interface Pending {
  needs: Need[];
  resolve: (lease: Lease) => void;
  reject: (error: Error) => void;
  onQueued: ((position: number) => void) | undefined;
}

/** The protocol this client speaks, said in `hello` (SPEC §12.4.6). */
const CLIENT_PROTOCOL = 2;

type Waiter = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };

export class PoolClient extends EventEmitter {
  readonly url: string;
  readonly #opts: PoolClientOptions;
  readonly #clock: Clock;
  #ws: WebSocket | null = null;
  #session: { id: string; token: string } | null = null;
  #pingTimeoutMs = 10_000;
  #lastSeen = 0;
  #watchdog: TimerHandle | null = null;
  #nextId = 0;
  /** The pool's protocol version, from `welcome`. */
  #protocol = 1;
  /** Request id → the lease its `acquire` released, until the pool answers that request. */
  readonly #carried = new Map<string, string>();
  readonly #pending = new Map<string, Pending>();
  readonly #leases = new Map<string, Lease>();
  readonly #releases = new Map<string, Waiter>();
  readonly #verifies = new Map<string, Waiter[]>();
  #ready: Promise<void>;
  #readyResolve: () => void = () => {};
  #readyReject: (e: Error) => void = () => {};
  #closing = false;
  #closed = false;

  private constructor(url: string, options: PoolClientOptions) {
    super();
    this.url = url;
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#ready = this.#newReady();
  }

  /** Connect and register; resolves once the pool has welcomed the session. */
  static async connect(url: string, options: PoolClientOptions = {}): Promise<PoolClient> {
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new InvalidArgumentError('url', 'a ws:// or wss:// URL', url);
    const client = new PoolClient(url, options);
    try {
      await withTimeout(client.#open(), { timeoutMs: options.connectTimeoutMs ?? 10_000, signal: options.signal, clock: client.#clock, what: `connecting to the pool at ${url}`, timeoutCode: 'ERR_POOL_CONNECT' });
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  /** The session id the pool gave this client. */
  get session(): string | null {
    return this.#session?.id ?? null;
  }

  /** Leases currently held. */
  get leases(): Lease[] {
    return [...this.#leases.values()];
  }

  /**
   * Wait for `needs`, granted all at once. Rejects with ERR_POOL_IMPOSSIBLE if the pool can
   * never satisfy them, ERR_TIMEOUT / ERR_ABORTED (the request is withdrawn), ERR_POOL_CLOSED.
   */
  async acquire(needs: NeedsInput, options: AcquireOptions = {}): Promise<Lease> {
    const parsed = normalizeNeeds(needs);
    const old = options.release;
    if (old !== undefined && !(old instanceof Lease)) throw new InvalidArgumentError('options.release', 'a Lease', old);
    if (this.#closing) throw new SubrunError('ERR_POOL_CLOSED', 'the pool client is closed');
    let carried: string | null = null;
    if (old !== undefined && this.#leases.get(old.id) === old) {
      if (this.#protocol >= 2 && this.#ws !== null && this.#ws.readyState === WebSocket.OPEN) carried = old.id;
      else await this.release(old, { timeoutMs: options.timeoutMs, signal: options.signal });
    }
    const id = `r${++this.#nextId}`;
    const granted = new Promise<Lease>((resolve, reject) => {
      this.#pending.set(id, { needs: parsed, resolve, reject, onQueued: options.onQueued });
    });
    const msg = this.#acquireMessage(id, parsed, options.onQueued);
    if (carried !== null) {
      this.#leases.delete(carried);
      old!.markReleased();
      this.#carried.set(id, carried);
      msg.release = carried;
    }
    this.#send(msg);
    try {
      return await withTimeout(granted, { timeoutMs: options.timeoutMs, signal: options.signal, clock: this.#clock, what: 'waiting for a grant' });
    } catch (error) {
      if (this.#pending.delete(id)) this.#send({ op: 'cancel', id });
      throw error;
    }
  }

  /** Give a lease back; resolves when the pool confirms. */
  async release(lease: Lease | string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const id = typeof lease === 'string' ? lease : lease.id;
    if (!this.#leases.has(id)) return;
    const done = new Promise<Record<string, unknown>>((resolve, reject) => this.#releases.set(id, { resolve, reject }));
    this.#send({ op: 'release', lease: id });
    await withTimeout(done, { timeoutMs: options.timeoutMs ?? this.#opts.connectTimeoutMs ?? 10_000, signal: options.signal, clock: this.#clock, what: `releasing ${id}` });
  }

  /** Ask the pool whether `lease`'s fencing token is still current (SPEC §12.7). */
  async verify(lease: Lease, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ valid: boolean; currentFence: number }> {
    const timeoutMs = options.timeoutMs ?? this.#opts.connectTimeoutMs ?? 10_000;
    await withTimeout(this.#ready, { timeoutMs, signal: options.signal, clock: this.#clock, what: 'waiting for the pool connection' });
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const list = this.#verifies.get(lease.id) ?? [];
      list.push({ resolve, reject });
      this.#verifies.set(lease.id, list);
    });
    this.#send({ op: 'verify', lease: lease.id, fence: lease.fence, resources: lease.resources.map((r) => r.id) });
    const r = await withTimeout(answer, { timeoutMs, signal: options.signal, clock: this.#clock, what: 'verifying a lease' });
    return { valid: r.valid === true, currentFence: Number(r.currentFence) };
  }

  /** End the session cleanly: the pool releases every lease at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    const ws = this.#ws;
    if (ws !== null && ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        const timer = this.#clock.setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000);
        ws.once('close', () => {
          timer.cancel();
          resolve();
        });
        ws.close(1000, 'done');
      });
    }
    this.destroy();
  }

  /** Drop the connection now (the pool notices and releases); settles every pending promise. */
  destroy(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#closed = true;
    this.#watchdog?.cancel();
    this.#ws?.terminate();
    this.#ws = null;
    const error = new SubrunError('ERR_POOL_CLOSED', 'the pool client is closed');
    this.#readyReject(error);
    this.#failAll(error);
    this.#leases.clear();
    this.#carried.clear();
  }

  #newReady(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    p.catch(() => {});
    return p;
  }

  #failAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    for (const w of this.#releases.values()) w.reject(error);
    this.#releases.clear();
    for (const list of this.#verifies.values()) for (const w of list) w.reject(error);
    this.#verifies.clear();
  }

  /** Nobody listening for positions: ask the pool not to send them (SPEC §12.4.4). */
  #acquireMessage(id: string, needs: Need[], onQueued: ((position: number) => void) | undefined): { op: 'acquire'; id: string; needs: Need[]; quiet?: true; release?: string } {
    const quiet = onQueued === undefined && this.listenerCount('queued') === 0;
    return quiet ? { op: 'acquire', id, needs, quiet } : { op: 'acquire', id, needs };
  }

  #send(msg: object): void {
    const ws = this.#ws;
    // While reconnecting, requests wait in #pending and are re-sent after the welcome.
    if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  /** Open a connection and complete the hello/welcome exchange. */
  #open(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.#opts.token !== undefined) headers.authorization = `Bearer ${this.#opts.token}`;
    const ws = new WebSocket(this.url, { headers, ca: this.#opts.ca, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024, handshakeTimeout: this.#opts.connectTimeoutMs ?? 10_000 });
    this.#ws = ws;
    return new Promise<void>((resolve, reject) => {
      let welcomed = false;
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => {
          let code = 'ERR_POOL_CONNECT';
          let message = `the pool refused the connection: HTTP ${res.statusCode}`;
          try {
            const e = JSON.parse(body) as { code?: string; message?: string };
            if (typeof e.code === 'string') code = e.code;
            if (typeof e.message === 'string') message = `the pool refused the connection: ${e.message}`;
          } catch {
            // keep the generic message
          }
          reject(new SubrunError(code, message, { details: { status: res.statusCode } }));
        });
        res.on('error', () => reject(new SubrunError('ERR_POOL_CONNECT', `the pool refused the connection: HTTP ${res.statusCode}`)));
      });
      ws.on('open', () => {
        this.#lastSeen = this.#clock.monotonic();
        const resume = this.#session === null ? null : { session: this.#session.id, token: this.#session.token };
        ws.send(JSON.stringify({ op: 'hello', client: this.#opts.name ?? 'subrun', graceMs: this.#opts.graceMs ?? 0, resume, protocol: CLIENT_PROTOCOL }));
      });
      ws.on('ping', () => {
        this.#lastSeen = this.#clock.monotonic();
      });
      ws.on('message', (data: WebSocket.RawData) => {
        this.#lastSeen = this.#clock.monotonic();
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(data.toString()) as Record<string, unknown>;
        } catch {
          return;
        }
        if (!welcomed && msg.op === 'welcome') {
          welcomed = true;
          this.#onWelcome(msg);
          resolve();
          return;
        }
        if (!welcomed && msg.op === 'error') {
          if (msg.code === 'ERR_POOL_SESSION_EXPIRED' && this.#session !== null) {
            // Our session is gone (we were away too long): every lease is lost. Start afresh.
            this.#loseAll('the pool expired this session while it was disconnected');
            this.#session = null;
            ws.send(JSON.stringify({ op: 'hello', client: this.#opts.name ?? 'subrun', graceMs: this.#opts.graceMs ?? 0, resume: null, protocol: CLIENT_PROTOCOL }));
            return;
          }
          reject(new SubrunError(String(msg.code), String(msg.message)));
          ws.terminate();
          return;
        }
        this.#onMessage(msg);
      });
      ws.on('error', (error) => {
        if (!welcomed) reject(new SubrunError('ERR_POOL_CONNECT', `cannot connect to the pool at ${this.url}: ${error.message}`, { cause: error }));
      });
      ws.on('close', () => {
        if (!welcomed) reject(new SubrunError('ERR_POOL_CONNECT', `the pool at ${this.url} closed the connection`));
        if (this.#ws !== ws) return;
        this.#ws = null;
        this.#watchdog?.cancel();
        if (welcomed && !this.#closing) this.#reconnect();
      });
    });
  }

  #onWelcome(msg: Record<string, unknown>): void {
    this.#session = { id: String(msg.session), token: String(msg.token) };
    this.#protocol = typeof msg.protocol === 'number' ? msg.protocol : 1;
    this.#pingTimeoutMs = typeof msg.pingTimeoutMs === 'number' ? msg.pingTimeoutMs : 10_000;
    const held = new Map((msg.leases as LeaseView[]).map((l) => [l.id, l]));
    for (const [id, lease] of this.#leases) {
      if (held.has(id)) continue;
      const releasing = this.#releases.get(id);
      if (releasing !== undefined) {
        // Our release went through before the connection dropped.
        this.#leases.delete(id);
        lease.markReleased();
        this.#releases.delete(id);
        releasing.resolve({ op: 'released', lease: id });
      } else {
        this.#lose(lease, 'the pool no longer has this lease');
      }
    }
    // A release sent into a dying connection is sent again, also one carried by an acquire (SPEC §12.4.5).
    for (const id of this.#releases.keys()) if (held.has(id)) this.#send({ op: 'release', lease: id });
    const carried = new Set(this.#carried.values());
    this.#carried.clear();
    for (const id of carried) if (held.has(id)) this.#send({ op: 'release', lease: id });
    const queued = new Set((msg.queued as Array<{ id: string }>).map((q) => q.id));
    for (const view of held.values()) {
      if (this.#leases.has(view.id) || carried.has(view.id)) continue;
      // Granted while we were away (or just before the pool restarted): deliver it now.
      this.#onGranted(view.requestId, view);
    }
    for (const [id, p] of this.#pending) {
      if (!queued.has(id)) this.#send(this.#acquireMessage(id, p.needs, p.onQueued));
    }
    this.#readyResolve();
    this.#armWatchdog();
    if (msg.resumed === true) this.emit('reconnected');
  }

  #armWatchdog(): void {
    this.#watchdog?.cancel();
    const every = Math.max(10, this.#pingTimeoutMs / 2);
    this.#watchdog = this.#clock.setTimeout(() => {
      // The pool pings every quarter timeout; this much silence means it is gone.
      if (this.#clock.monotonic() - this.#lastSeen > this.#pingTimeoutMs * 1.5) this.#ws?.terminate();
      else this.#armWatchdog();
    }, every);
  }

  #onMessage(msg: Record<string, unknown>): void {
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    // Any answer to a request confirms the release it carried (SPEC §12.4.5).
    if (id !== undefined && this.#carried.size > 0) this.#carried.delete(id);
    switch (msg.op) {
      case 'granted': {
        // A full lease from a protocol 1 pool, else the short form (SPEC §12.4.6).
        const view = typeof msg.lease === 'object' && msg.lease !== null ? (msg.lease as LeaseView) : leaseOfShortGranted(msg, this.#session?.id ?? '', this.#opts.name ?? 'subrun');
        if (view !== null) this.#onGranted(id ?? '', view);
        return;
      }
      case 'queued': {
        const p = id === undefined ? undefined : this.#pending.get(id);
        p?.onQueued?.(Number(msg.position));
        this.emit('queued', id, Number(msg.position));
        return;
      }
      case 'released': {
        const leaseId = String(msg.lease);
        const lease = this.#leases.get(leaseId);
        this.#leases.delete(leaseId);
        if (lease !== undefined) lease.markReleased();
        this.#releases.get(leaseId)?.resolve(msg);
        this.#releases.delete(leaseId);
        return;
      }
      case 'verified': {
        const list = this.#verifies.get(String(msg.lease));
        const w = list?.shift();
        if (list !== undefined && list.length === 0) this.#verifies.delete(String(msg.lease));
        w?.resolve(msg);
        return;
      }
      case 'error': {
        const error = new SubrunError(String(msg.code), String(msg.message), { details: { status: msg.status } });
        const p = id === undefined ? undefined : this.#pending.get(id);
        if (p !== undefined) {
          this.#pending.delete(id!);
          p.reject(error);
          return;
        }
        const leaseId = typeof msg.lease === 'string' ? msg.lease : undefined;
        const releasing = leaseId === undefined ? undefined : this.#releases.get(leaseId);
        if (releasing !== undefined && error.code === 'ERR_POOL_NOT_FOUND') {
          // The pool no longer has it (it expired): released either way.
          this.#releases.delete(leaseId!);
          const lease = this.#leases.get(leaseId!);
          this.#leases.delete(leaseId!);
          lease?.markReleased();
          releasing.resolve(msg);
          return;
        }
        this.emit('error-message', error);
        return;
      }
      default:
        return;
    }
  }

  #onGranted(requestId: string, view: LeaseView): void {
    const lease = new Lease(view, this);
    const p = this.#pending.get(requestId);
    this.#leases.set(view.id, lease);
    if (p === undefined) {
      // Nobody waits for it any more (timed out or aborted just as it was granted): give it back.
      this.#send({ op: 'release', lease: view.id });
      return;
    }
    this.#pending.delete(requestId);
    p.resolve(lease);
  }

  #lose(lease: Lease, why: string): void {
    this.#leases.delete(lease.id);
    lease.markLost();
    this.emit('lost', lease, new SubrunError('ERR_POOL_LEASE_LOST', `lease ${lease.id} (fence ${lease.fence}) was lost: ${why}`));
  }

  #loseAll(why: string): void {
    for (const lease of [...this.#leases.values()]) this.#lose(lease, why);
  }

  #reconnect(): void {
    this.#ready = this.#newReady();
    this.emit('disconnected');
    const deadline = this.#clock.monotonic() + (this.#opts.reconnectForMs ?? 30_000);
    let delay = 25;
    const attempt = (): void => {
      if (this.#closing) return;
      this.#open().then(
        () => {},
        (error: unknown) => {
          if (this.#closing) return;
          if (error instanceof SubrunError && (error.code === 'ERR_POOL_UNAUTHORIZED' || error.code === 'ERR_POOL_FORBIDDEN' || this.#clock.monotonic() + delay > deadline)) {
            this.#loseAll('could not reconnect to the pool');
            this.emit('failed', error);
            this.destroy();
            return;
          }
          delay = Math.min(delay * 2, 1000);
          this.#clock.setTimeout(attempt, delay);
        },
      );
    };
    attempt();
  }
}
