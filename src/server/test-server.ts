import type { Duplex } from 'node:stream';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { ServerConnection, type RequestContext, type ServerFinish, type ServerHandler, type ServerOptions } from '../rpc/server.js';
import type { ResultSink, Suite } from './suite.js';

export interface TestServerOptions {
  /** Options for each protocol connection (versions, capabilities, limits). */
  connection?: ServerOptions;
  /** Resolve `idle` once no request has been running for this long (`--idle-exit`). */
  idleExitMs?: number;
  clock?: Clock;
  /** Resources a Run asks for are acquired here before the batch and released after (SPEC §7.8). */
  resources?: ResourceProvider;
}

/** Acquires what a batch needs from a pool (see the pool's PoolClient) and gives it back. */
export interface ResourceProvider {
  acquire(needs: NonNullable<Parameters<ServerHandler['run']>[0]['resources']>, signal: AbortSignal): Promise<GrantedResources>;
}

export interface GrantedResources {
  /** What tests see as `t.resources`: resource type → granted values. */
  values: Readonly<Record<string, unknown>>;
  /** Environment variables describing the grant (SUBRUN_RESOURCE_PORT=...). */
  env: Readonly<Record<string, string>>;
  release(): Promise<void>;
}

/**
 * A long-lived test server: serves a Suite over any number of protocol connections
 * (SPEC §5-§8), one after another or at once. Embed it with `createTestServer(suite)`
 * and hand it a byte stream per client; `subrun serve` is this plus argv.
 */
export class TestServer {
  readonly suite: Suite;
  readonly #options: TestServerOptions;
  readonly #clock: Clock;
  readonly #connections = new Set<ServerConnection>();
  #busy = 0;
  #idleTimer: TimerHandle | undefined;
  #idle: (() => void) | undefined;
  readonly idle: Promise<void>;
  #closed = false;

  constructor(suite: Suite, options: TestServerOptions = {}) {
    if (suite === null || typeof suite !== 'object' || typeof suite.run !== 'function' || typeof suite.list !== 'function') {
      throw new InvalidArgumentError('suite', 'a Suite (with list and run)', suite);
    }
    if (options.idleExitMs !== undefined && !(options.idleExitMs > 0)) {
      throw new InvalidArgumentError('idleExitMs', 'a positive number of milliseconds', options.idleExitMs);
    }
    this.suite = suite;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.idle = new Promise((resolve) => {
      this.#idle = resolve;
    });
    this.#armIdle();
  }

  /** Serve one client over `stream`; the returned connection's `finished` says how it ended. */
  serve(stream: Duplex): ServerConnection {
    const connection = new ServerConnection(stream, this.#handler(), {
      ...this.#options.connection,
      capabilities: {
        resources: this.#options.resources !== undefined,
        ...this.#options.connection?.capabilities,
      },
      clock: this.#clock,
    });
    this.#connections.add(connection);
    void connection.finished.then(() => {
      this.#connections.delete(connection);
    });
    return connection;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Orderly stop of every connection (SIGTERM): running tests finish, then each ends. */
  shutdown(): Promise<ServerFinish[]> {
    return Promise.all([...this.#connections].map((c) => {
      c.shutdown();
      return c.finished;
    }));
  }

  /**
   * Stop serving and release the suite's workers. Idempotent. Connections are
   * destroyed first, so a run still going (a test that never yields, past the
   * Goodbye grace, SPEC §6.1) has no reader left: it is stopped, not awaited.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idleTimer?.cancel();
    for (const c of this.#connections) c.destroy();
    await (this.suite.destroy !== undefined ? this.suite.destroy() : this.suite.close());
  }

  #armIdle(): void {
    const ms = this.#options.idleExitMs;
    if (ms === undefined || this.#closed || this.#busy > 0) return;
    this.#idleTimer?.cancel();
    this.#idleTimer = this.#clock.setTimeout(() => this.#idle?.(), ms);
  }

  #handler(): ServerHandler {
    const suite = this.suite;
    const sinkOf = (ctx: RequestContext): ResultSink => ({ emit: (event) => ctx.emit(event) });
    const track = async <T>(work: () => Promise<T>): Promise<T> => {
      this.#busy++;
      this.#idleTimer?.cancel();
      try {
        return await work();
      } finally {
        this.#busy--;
        this.#armIdle();
      }
    };
    return {
      list: (request, ctx) =>
        track(async () => {
          const outcome = await suite.list(sinkOf(ctx), request.tests);
          return { unknown: outcome.unknown };
        }),
      unknownTests: async (tests) => (await suite.list({ emit() {} }, tests)).unknown,
      run: (request, ctx) =>
        track(async () => {
          let grant: GrantedResources | undefined;
          if (request.resources !== undefined && Object.keys(request.resources).length > 0) {
            const provider = this.#options.resources;
            if (provider === undefined) {
              throw new SubrunError('ERR_RESOURCES', 'this server has no resource pool configured (start it with --pool URL)');
            }
            try {
              grant = await provider.acquire(request.resources, ctx.signal);
            } catch (error) {
              // A Run cancelled while it waits for its grant ends with Done {cancelled: true} (SPEC §7.4, §7.8).
              if (ctx.signal.aborted) return { ran: 0 };
              throw error;
            }
          }
          try {
            const outcome = await suite.run(
              {
                ...(request.tests === undefined ? {} : { tests: request.tests }),
                ...(grant === undefined ? {} : { resources: grant.values, env: grant.env }),
                signal: ctx.signal,
              },
              sinkOf(ctx),
            );
            return { ran: outcome.ran };
          } finally {
            await grant?.release();
          }
        }),
    };
  }
}

export function createTestServer(suite: Suite, options: TestServerOptions = {}): TestServer {
  return new TestServer(suite, options);
}
