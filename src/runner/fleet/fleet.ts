import { SubrunError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { RunnerConfig, ServerEntry } from '../config/runner-config.js';
import { reap } from './batch-runner.js';
import { startTestServer, type ServerStartOptions, type TestServerProcess } from './test-server-process.js';

export interface FleetOptions extends ServerStartOptions {
  /**
   * How many servers may be started again after crashes and hangs, over the whole run
   * (SPEC §14.9); once spent, a slot whose server dies is retired.
   * @default 2 × the number of servers, at least 3
   */
  restartBudget?: number;
  /** How long Goodbye may take before the server is stopped. @default 5000 */
  goodbyeMs?: number;
}

/**
 * The servers of one run (SPEC §14.9): started in parallel, one per slot, kept warm for
 * every batch, replaced after a crash while the restart budget lasts, and sent Goodbye at
 * the end. A slot whose server cannot be (re)started is empty; the run goes on with the rest.
 */
export class Fleet {
  readonly #config: RunnerConfig;
  readonly #entries: readonly ServerEntry[];
  readonly #options: FleetOptions;
  readonly #clock: Clock;
  readonly #servers: Array<TestServerProcess | undefined>;
  #budget: number;
  #closed = false;
  /** Why slots are empty or were restarted, in order. */
  readonly problems: SubrunError[] = [];
  restarts = 0;

  private constructor(config: RunnerConfig, entries: readonly ServerEntry[], options: FleetOptions) {
    this.#config = config;
    this.#entries = entries;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#servers = entries.map(() => undefined);
    this.#budget = options.restartBudget ?? Math.max(3, 2 * entries.length);
  }

  /**
   * Start a server for every entry at once. Rejects (after stopping the ones that came
   * up) only when none starts; otherwise the failures are in `problems`.
   */
  static async start(config: RunnerConfig, entries: readonly ServerEntry[], options: FleetOptions): Promise<Fleet> {
    if (entries.length === 0) throw new SubrunError('ERR_CONFIG', `${config.file}: no test servers are configured`, { details: { file: config.file } });
    const fleet = new Fleet(config, entries, options);
    const results = await Promise.allSettled(entries.map((entry, slot) => startTestServer(config, entry, slot, options)));
    results.forEach((r, slot) => {
      if (r.status === 'fulfilled') fleet.#servers[slot] = r.value;
      else fleet.problems.push(asError(r.reason));
    });
    if (fleet.live === 0 || options.signal?.aborted === true) {
      await fleet.close();
      throw fleet.problems.find((p) => p.code === 'ERR_ABORTED') ?? fleet.problems[0] ?? new SubrunError('ERR_ABORTED', 'starting the test servers was aborted');
    }
    return fleet;
  }

  get size(): number {
    return this.#entries.length;
  }

  get live(): number {
    return this.#servers.filter((s) => s !== undefined).length;
  }

  get restartBudgetLeft(): number {
    return this.#budget;
  }

  server(slot: number): TestServerProcess | undefined {
    return this.#servers[slot];
  }

  /** Any live server (for List). */
  any(): TestServerProcess | undefined {
    return this.#servers.find((s) => s !== undefined);
  }

  /**
   * The slot's server died or hung: kill what is left of it and start a fresh one if the
   * restart budget allows. Resolves with the new server, or undefined (slot retired).
   */
  async replace(slot: number): Promise<TestServerProcess | undefined> {
    const old = this.#servers[slot];
    this.#servers[slot] = undefined;
    if (old !== undefined) await reap(old, { clock: this.#clock });
    if (this.#closed || this.#options.signal?.aborted === true) return undefined;
    if (this.#budget <= 0) {
      this.problems.push(new SubrunError('ERR_RESTART_BUDGET', `the restart budget is spent; server slot ${slot} (${this.#entries[slot]!.url}) is retired`, { details: { slot } }));
      return undefined;
    }
    this.#budget--;
    this.restarts++;
    return this.#startInto(slot);
  }

  /** A clean fresh server for the slot (--isolated): Goodbye to the old one; no budget spent. */
  async recycle(slot: number): Promise<TestServerProcess | undefined> {
    const old = this.#servers[slot];
    this.#servers[slot] = undefined;
    if (old !== undefined) await this.#stop(old);
    if (this.#closed || this.#options.signal?.aborted === true) return undefined;
    return this.#startInto(slot);
  }

  /** Goodbye to every server (bounded), then close their transports. Idempotent. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed = true;
    const servers = this.#servers.splice(0, this.#servers.length, ...this.#servers.map(() => undefined));
    await Promise.all(servers.map((s) => (s === undefined ? undefined : this.#stop(s, options.timeoutMs))));
  }

  /** Stop every server now (a second Ctrl-C). Idempotent. */
  destroy(): void {
    this.#closed = true;
    for (const [slot, s] of this.#servers.entries()) {
      this.#servers[slot] = undefined;
      if (s === undefined) continue;
      s.connection.destroy();
      s.transport.destroy();
    }
  }

  async #startInto(slot: number): Promise<TestServerProcess | undefined> {
    try {
      const server = await startTestServer(this.#config, this.#entries[slot]!, slot, this.#options);
      if (this.#closed) {
        await this.#stop(server);
        return undefined;
      }
      this.#servers[slot] = server;
      return server;
    } catch (error) {
      this.problems.push(asError(error));
      return undefined;
    }
  }

  async #stop(server: TestServerProcess, timeoutMs?: number): Promise<void> {
    const goodbyeMs = timeoutMs ?? this.#options.goodbyeMs ?? 5000;
    try {
      await server.connection.goodbye({ timeoutMs: goodbyeMs });
    } catch {
      // A server that cannot say goodbye is stopped below all the same.
    }
    if (timeoutMs !== undefined) {
      server.transport.destroy();
      await server.transport.closed;
    } else {
      await server.transport.close();
    }
  }
}

function asError(error: unknown): SubrunError {
  return error instanceof SubrunError ? error : new SubrunError('ERR_SERVER_START', String((error as Error)?.message ?? error), { cause: error });
}
