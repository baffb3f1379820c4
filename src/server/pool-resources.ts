import { InvalidArgumentError, SubrunError, isSubrunError } from '../core/errors.js';
import { PoolClient, normalizeNeeds, type PoolClientOptions } from '../pool/client.js';
import type { Lease } from '../pool/lease.js';
import type { Need } from '../pool/types.js';
import type { ResourceNeed } from '../rpc/messages.js';
import type { GrantedResources, ResourceProvider } from './test-server.js';

/**
 * The test server's ResourceProvider over the resource pool (SPEC §7.8, §12): one
 * PoolClient session per server process, opened at the first Run that needs resources and
 * shared by every Run after it. The session has no grace period, so if the server dies its
 * connection does and the pool takes back every lease at once.
 */

export interface PoolResourcesOptions {
  /** Bearer token for the pool. */
  token?: string;
  /** Shown on the pool's dashboard and in its event log. @default 'subrun-serve' */
  name?: string;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** Give up waiting for a grant after this long (ERR_RESOURCES); none by default: a Run waits its turn. */
  acquireTimeoutMs?: number;
  /** How long a release may take before the session is dropped instead (the pool then reclaims). @default 10000 */
  releaseTimeoutMs?: number;
  /** For tests: the client options passed through (clock, ca). */
  client?: Pick<PoolClientOptions, 'clock' | 'ca'>;
}

export class PoolResources implements ResourceProvider {
  readonly url: string;
  readonly #options: PoolResourcesOptions;
  #client: Promise<PoolClient> | null = null;
  #closed = false;

  constructor(url: string, options: PoolResourcesOptions = {}) {
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new InvalidArgumentError('url', 'a ws:// or wss:// URL of the pool', url);
    this.url = url;
    this.#options = options;
  }

  /** Acquire everything a Run's `resources` asks for, all at once (SPEC §7.8). */
  async acquire(needs: Readonly<Record<string, ResourceNeed>>, signal: AbortSignal): Promise<GrantedResources> {
    if (this.#closed) throw new SubrunError('ERR_RESOURCES', 'the server is shutting down: no more resources are acquired');
    const wanted = toPoolNeeds(needs);
    let lease: Lease;
    let client: PoolClient;
    try {
      client = await this.#connect();
      lease = await client.acquire(wanted, { signal, ...(this.#options.acquireTimeoutMs === undefined ? {} : { timeoutMs: this.#options.acquireTimeoutMs }) });
    } catch (error) {
      if (isSubrunError(error, 'ERR_ABORTED')) throw error;
      if (isSubrunError(error, 'ERR_POOL_CLOSED') || isSubrunError(error, 'ERR_POOL_CONNECT')) this.#client = null;
      const code = error instanceof SubrunError ? error.code : 'ERR_INTERNAL';
      throw new SubrunError('ERR_RESOURCES', `cannot acquire ${describe(wanted)} from the pool at ${this.url}: ${(error as Error).message}`, { details: { poolCode: code }, cause: error });
    }
    return {
      values: lease.byType,
      env: lease.env(),
      release: () => this.#release(client, lease),
    };
  }

  /** End the pool session cleanly: the pool releases whatever is still held. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#client;
    this.#client = null;
    if (pending === null) return;
    const client = await pending.catch(() => null);
    await client?.close();
  }

  async #release(client: PoolClient, lease: Lease): Promise<void> {
    try {
      await client.release(lease, { timeoutMs: this.#options.releaseTimeoutMs ?? 10_000 });
    } catch {
      // The pool did not confirm: drop the session so that the pool's own rule (a lease
      // lives as long as its holder's connection) gives it back. Nothing leaks; the next
      // Run opens a new session.
      if (this.#client !== null && (await this.#client.catch(() => null)) === client) this.#client = null;
      client.destroy();
    }
  }

  #connect(): Promise<PoolClient> {
    if (this.#client === null) {
      const opening = PoolClient.connect(this.url, {
        ...this.#options.client,
        name: this.#options.name ?? 'subrun-serve',
        ...(this.#options.token === undefined ? {} : { token: this.#options.token }),
        connectTimeoutMs: this.#options.connectTimeoutMs ?? 10_000,
      });
      this.#client = opening;
      opening.then(
        (client) => {
          // A session the client could not resume is gone for good: open a new one next time.
          client.once('failed', () => {
            if (this.#client === opening) this.#client = null;
          });
        },
        () => {
          if (this.#client === opening) this.#client = null;
        },
      );
    }
    return this.#client;
  }
}

/** Run.resources (SPEC §7.8) in the pool's terms (SPEC §12.3); bad input from the peer is ERR_RESOURCES. */
export function toPoolNeeds(needs: Readonly<Record<string, ResourceNeed>>): Need[] {
  try {
    return normalizeNeeds(
      Object.entries(needs).map(([type, need]) =>
        typeof need === 'number' ? { type, count: need } : { type, count: need.count, attrs: need.match ?? {} },
      ),
    );
  } catch (error) {
    throw new SubrunError('ERR_RESOURCES', `the pool cannot take this request: ${(error as Error).message}`);
  }
}

function describe(needs: readonly Need[]): string {
  return needs.map((n) => `${n.type}=${n.count}${Object.keys(n.attrs).length > 0 ? ':' + Object.entries(n.attrs).map(([k, v]) => `${k}=${v}`).join(',') : ''}`).join(' ');
}
