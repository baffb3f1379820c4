import type { Duplex } from 'node:stream';
import { SubrunError } from '../core/errors.js';
import { abortError } from '../core/abort.js';
import type { TimerHandle } from '../core/clock.js';
import type { SubunitEvent } from '../subunit/event.js';
import { Endpoint, type CloseInfo, type EndpointOptions } from './endpoint.js';
import {
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  commonCapabilities,
  negotiateVersion,
  type Capabilities,
  type DoneMessage,
  type HeartbeatMessage,
  type HelloMessage,
  type ResourceNeed,
  type RpcMessage,
} from './messages.js';

export interface ClientOptions extends EndpointOptions {
  /** Versions offered (SPEC §5.1). @default 1 */
  min?: number;
  /** @default 2 */
  max?: number;
  /** @default { encodings: ['json', 'msgpack'], heartbeat: true, cancel: true } */
  capabilities?: Capabilities;
  /** @default 'subrun' */
  agent?: string;
  /** SPEC §5.8. @default 30000 */
  handshakeTimeoutMs?: number;
  /** Ask the server for a Heartbeat this often (SPEC §7.7); 0 turns beats off. @default 1000 */
  heartbeatMs?: number;
  /** Silence after which the server is declared hung. @default max(5000, 5 × heartbeatMs) */
  hangTimeoutMs?: number;
  signal?: AbortSignal;
  /** Bytes that were not packets: banners, stray prints (SPEC §4.7). */
  onOutput?: (bytes: Uint8Array) => void;
  /** Result packets that belong to no outstanding request (SPEC §7.5). */
  onUnrouted?: (event: SubunitEvent, raw: Uint8Array) => void;
  /** A corrupt packet the decoder skipped. */
  onDecodeError?: (error: SubrunError) => void;
  /** Unsolicited server Heartbeats (SPEC §7.7). */
  onHeartbeat?: (message: HeartbeatMessage) => void;
  /** An Error from the server that answers no request of ours. */
  onServerError?: (error: SubrunError) => void;
}

export interface RequestOptions {
  tests?: string[];
  signal?: AbortSignal;
  /** Fail the request (and close the connection) after this long (SPEC §8.7). */
  timeoutMs?: number;
}

export interface RunOptions extends RequestOptions {
  /** Per-test time limit for tests that declare none (v2). */
  testTimeoutMs?: number;
  /** Pool resources the batch needs (v2, SPEC §7.8). */
  resources?: Record<string, ResourceNeed>;
  /** Each result packet of this Run; `raw` (the packet's bytes, route code included) is valid only during the call. */
  onResult?: (event: SubunitEvent, raw: Uint8Array) => void;
}

export interface ListResult {
  tests: string[];
  unknown: string[];
  cancelled: boolean;
}

export interface RunHandle {
  readonly nonce: string;
  /** Settles with the Done; rejects with the server's Error or a coded connection error. */
  readonly done: Promise<DoneMessage>;
  /** SPEC §7.4 (v2): stop starting tests; the Done still comes. */
  cancel(): void;
}

interface Pending {
  nonce: string;
  kind: 'List' | 'Run';
  route: string;
  onResult: ((event: SubunitEvent, raw: Uint8Array) => void) | undefined;
  resolve: (done: DoneMessage) => void;
  reject: (error: SubrunError) => void;
  cleanup: () => void;
}

const DEFAULT_CAPABILITIES: Capabilities = { encodings: ['json', 'msgpack'], heartbeat: true, cancel: true };

/**
 * The runner's side of a connection to a test server (SPEC §5-§8): the handshake,
 * the nonce table, demultiplexing of results by route code, heartbeats and Goodbye.
 */
export class ClientConnection extends Endpoint {
  readonly options: ClientOptions;
  #serverHello: HelloMessage | undefined;
  #capabilities: Capabilities = {};
  #handshake: { resolve: () => void; reject: (e: SubrunError) => void } | undefined;
  readonly #pending = new Map<string, Pending>();
  readonly #routes = new Map<string, Pending>();
  readonly #pings = new Map<string, () => void>();
  #nextId = 1;
  #hangTimer: TimerHandle | undefined;
  #goodbyeSent = false;
  /** Waits (#wait) to fail when the connection finishes. */
  readonly #waiters = new Set<(error: SubrunError) => void>();

  private constructor(stream: Duplex, options: ClientOptions) {
    super(stream, options);
    this.options = options;
  }

  /** Open a connection: send Hello and wait for the server's (SPEC §5). */
  static async connect(stream: Duplex, options: ClientOptions = {}): Promise<ClientConnection> {
    const c = new ClientConnection(stream, options);
    await c.#hello();
    return c;
  }

  get version(): number {
    return this.negotiated!;
  }

  get serverHello(): HelloMessage {
    return this.#serverHello!;
  }

  /** The connection's effective capabilities (SPEC §7.1). */
  get capabilities(): Capabilities {
    return this.#capabilities;
  }

  /** Requests that have not been answered yet. */
  get outstanding(): number {
    return this.#pending.size;
  }

  async list(options: RequestOptions = {}): Promise<ListResult> {
    const tests: string[] = [];
    const done = await this.#request('List', options, (event) => {
      if (event.status === 'exists' && event.testId !== undefined) tests.push(event.testId);
    }).done;
    return { tests, unknown: done.unknown ?? [], cancelled: done.cancelled === true };
  }

  run(options: RunOptions = {}): RunHandle {
    return this.#request('Run', options, options.onResult);
  }

  /** Round-trip a ping Heartbeat (SPEC §7.7); resolves with the time it took in ms. */
  async ping(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    if (this.capabilities.heartbeat !== true) {
      throw new SubrunError('ERR_UNSUPPORTED', `the server does not support Heartbeat (protocol version ${this.version})`);
    }
    const nonce = `p${this.#nextId++}`;
    const started = this.clock.monotonic();
    await this.#wait(
      new Promise<void>((resolve) => {
        this.#pings.set(nonce, resolve);
        this.sendMessage({ msg: 'Heartbeat', nonce });
      }),
      options,
      'ping',
      () => this.#pings.delete(nonce),
    );
    return this.clock.monotonic() - started;
  }

  /**
   * Say Goodbye (SPEC §6.1) and wait, at most `timeoutMs`, for the server to close its
   * side; then the connection is finished. Outstanding requests still get their Done if
   * the server sends it in that time.
   */
  async goodbye(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.isClosed) return;
    if (!this.#goodbyeSent) {
      this.#goodbyeSent = true;
      this.sendMessage({ msg: 'Goodbye' });
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.closed,
      new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, timeoutMs);
      }),
    ]);
    timer?.cancel();
    this.finish(this.#pending.size === 0 ? undefined : new SubrunError('ERR_CONNECTION_CLOSED', 'connection closed after Goodbye'));
  }

  /** Stop now: every outstanding request rejects with `error` (or ERR_CONNECTION_CLOSED). */
  destroy(error?: SubrunError): void {
    this.finish(error ?? new SubrunError('ERR_CONNECTION_CLOSED', 'connection destroyed'));
  }

  async #hello(): Promise<void> {
    const o = this.options;
    const hello: HelloMessage = {
      msg: 'Hello',
      min: o.min ?? PROTOCOL_MIN,
      max: o.max ?? PROTOCOL_MAX,
      capabilities: o.capabilities ?? DEFAULT_CAPABILITIES,
      agent: o.agent ?? 'subrun',
    };
    const heartbeatMs = o.heartbeatMs ?? 1000;
    if (heartbeatMs > 0) hello.heartbeatMs = heartbeatMs;
    const waiting = new Promise<void>((resolve, reject) => {
      this.#handshake = { resolve, reject };
    });
    this.sendMessage(hello);
    try {
      await this.#wait(waiting, { timeoutMs: o.handshakeTimeoutMs ?? 30_000, signal: o.signal }, 'handshake', undefined, 'ERR_HANDSHAKE_TIMEOUT');
    } catch (error) {
      this.finish(error as SubrunError);
      throw error;
    }
    if (this.#capabilities.heartbeat === true && heartbeatMs > 0) this.#watchForHang(o.hangTimeoutMs ?? Math.max(5000, 5 * heartbeatMs));
  }

  #request(kind: 'List' | 'Run', options: RunOptions, onResult: Pending['onResult']): RunHandle {
    if (this.isClosed) {
      const error = new SubrunError('ERR_CONNECTION_CLOSED', `cannot send ${kind}: the connection is closed`);
      const done = Promise.reject(error);
      done.catch(() => {});
      return { nonce: '', done, cancel: () => {} };
    }
    const nonce = `r${this.#nextId++}`;
    let pending!: Pending;
    const done = new Promise<DoneMessage>((resolve, reject) => {
      pending = { nonce, kind, route: nonce, onResult, resolve, reject, cleanup: () => {} };
    });
    this.#pending.set(nonce, pending);
    this.#routes.set(nonce, pending);
    const message: RpcMessage =
      kind === 'List' ? { msg: 'List', nonce } : { msg: 'Run', nonce };
    if (options.tests !== undefined) message.tests = options.tests;
    if (kind === 'Run' && this.version >= 2 && message.msg === 'Run') {
      if (options.testTimeoutMs !== undefined) message.timeoutMs = options.testTimeoutMs;
      if (options.resources !== undefined) message.resources = options.resources;
    }
    const cancel = (): void => {
      if (!this.#pending.has(nonce)) return;
      if (this.version >= 2 && this.capabilities.cancel === true) this.sendMessage({ msg: 'Cancel', nonce });
    };
    let timer: TimerHandle | undefined;
    let onAbort: (() => void) | undefined;
    if (options.timeoutMs !== undefined) {
      timer = this.clock.setTimeout(() => {
        this.destroy(new SubrunError('ERR_REQUEST_TIMEOUT', `${kind} ${nonce} timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    }
    if (options.signal !== undefined) {
      if (options.signal.aborted) queueMicrotask(cancel);
      else {
        onAbort = cancel;
        options.signal.addEventListener('abort', onAbort, { once: true });
      }
    }
    pending.cleanup = () => {
      timer?.cancel();
      if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    };
    this.sendMessage(message);
    return { nonce, done, cancel };
  }

  #settle(nonce: string, outcome: DoneMessage | SubrunError): boolean {
    const p = this.#pending.get(nonce);
    if (p === undefined) return false;
    this.#pending.delete(nonce);
    this.#routes.delete(p.route);
    p.cleanup();
    if (outcome instanceof SubrunError) p.reject(outcome);
    else p.resolve(outcome);
    return true;
  }

  protected onMessage(message: RpcMessage): void {
    if (this.negotiated === undefined) {
      if (message.msg === 'Hello') this.#onServerHello(message);
      else if (message.msg === 'Error') this.#failHandshake(new SubrunError(message.code, message.message, detailsOf(message.details)));
      // Anything else before the server's Hello is not yet meaningful (SPEC §5.3).
      return;
    }
    switch (message.msg) {
      case 'Done':
        if (!this.#settle(message.nonce, message)) {
          this.options.onServerError?.(new SubrunError('ERR_PROTOCOL', `Done for unknown nonce ${JSON.stringify(message.nonce)}`));
        }
        return;
      case 'Error': {
        const error = new SubrunError(message.code, message.message, detailsOf(message.details));
        if (message.nonce === undefined || !this.#settle(message.nonce, error)) this.options.onServerError?.(error);
        return;
      }
      case 'Heartbeat':
        if (message.nonce !== undefined) {
          const resolve = this.#pings.get(message.nonce);
          this.#pings.delete(message.nonce);
          resolve?.();
        } else {
          this.options.onHeartbeat?.(message);
        }
        return;
      default:
        this.options.onServerError?.(new SubrunError('ERR_PROTOCOL', `unexpected ${message.msg} from the server`));
    }
  }

  #onServerHello(hello: HelloMessage): void {
    this.#serverHello = hello;
    const mine = { min: this.options.min ?? PROTOCOL_MIN, max: this.options.max ?? PROTOCOL_MAX };
    const version = negotiateVersion(mine, hello);
    if (version === undefined) {
      this.#failHandshake(
        new SubrunError(
          'ERR_NO_COMMON_VERSION',
          `no common protocol version: client speaks ${mine.min}..${mine.max}, server speaks ${hello.min}..${hello.max}`,
          { details: { client: mine, server: { min: hello.min, max: hello.max } } },
        ),
      );
      return;
    }
    this.negotiated = version;
    this.#capabilities = version >= 2 ? commonCapabilities(this.options.capabilities ?? DEFAULT_CAPABILITIES, hello.capabilities) : { encodings: ['json'] };
    if (this.#capabilities.encodings?.includes('msgpack') === true) this.outgoing = 'msgpack';
    this.#handshake?.resolve();
    this.#handshake = undefined;
  }

  #failHandshake(error: SubrunError): void {
    this.#handshake?.reject(error);
    this.#handshake = undefined;
  }

  protected onBadMessage(error: SubrunError): void {
    // SPEC §8.6: a server whose messages we cannot read may have lost a Done; stop now.
    this.destroy(new SubrunError('ERR_PROTOCOL', `the server sent an unreadable message: ${error.message}`, { cause: error }));
  }

  protected onResult(event: SubunitEvent, raw: Uint8Array): void {
    let target: Pending | undefined;
    const route = event.routeCode;
    if (route !== undefined && this.negotiated !== undefined && this.negotiated >= 2) {
      const slash = route.indexOf('/');
      const head = slash < 0 ? route : route.slice(0, slash);
      target = this.#routes.get(head);
      if (target !== undefined) {
        // SPEC §7.5: strip our route; keep a nested producer's.
        if (slash < 0) delete event.routeCode;
        else event.routeCode = route.slice(slash + 1);
      }
    }
    if (target === undefined && (route === undefined || this.negotiated === 1) && this.#pending.size === 1) {
      target = this.#pending.values().next().value;
    }
    if (target?.onResult !== undefined) target.onResult(event, raw);
    else if (target === undefined) this.options.onUnrouted?.(event, raw);
  }

  protected onOutput(bytes: Uint8Array): void {
    this.options.onOutput?.(bytes);
  }

  protected onDecodeError(error: SubrunError): void {
    this.options.onDecodeError?.(error);
  }

  protected onInputEnd(): void {
    // The server closed its side: nothing more can arrive (SPEC §8.3).
    if (this.#pending.size === 0 && this.negotiated !== undefined) this.finish();
    else this.finish(new SubrunError('ERR_CONNECTION_CLOSED', 'the server closed the connection'));
  }

  protected onFinished(info: CloseInfo): void {
    this.#hangTimer?.cancel();
    const error = info.error ?? new SubrunError('ERR_CONNECTION_CLOSED', 'the connection closed');
    this.#failHandshake(error);
    for (const nonce of [...this.#pending.keys()]) this.#settle(nonce, error);
    this.#pings.clear();
    for (const fail of [...this.#waiters]) fail(error);
  }

  #watchForHang(hangTimeoutMs: number): void {
    const check = (): void => {
      if (this.isClosed) return;
      const silent = this.clock.monotonic() - this.lastReceived;
      if (silent >= hangTimeoutMs) {
        this.destroy(new SubrunError('ERR_SERVER_HUNG', `the server sent nothing for ${Math.round(silent)} ms (hang timeout ${hangTimeoutMs} ms)`));
        return;
      }
      this.#hangTimer = this.clock.setTimeout(check, hangTimeoutMs - silent);
    };
    this.#hangTimer = this.clock.setTimeout(check, hangTimeoutMs);
  }

  async #wait<T>(
    promise: Promise<T>,
    options: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined },
    what: string,
    onGiveUp?: () => void,
    timeoutCode = 'ERR_TIMEOUT',
  ): Promise<T> {
    let timer: TimerHandle | undefined;
    let onAbort: (() => void) | undefined;
    let onClosed: ((error: SubrunError) => void) | undefined;
    try {
      return await new Promise<T>((resolve, reject) => {
        if (options.signal?.aborted === true) throw abortError(options.signal, what);
        if (options.timeoutMs !== undefined) {
          timer = this.clock.setTimeout(() => reject(new SubrunError(timeoutCode, `${what} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
        }
        if (options.signal !== undefined) {
          const signal = options.signal;
          onAbort = () => reject(abortError(signal, what));
          signal.addEventListener('abort', onAbort, { once: true });
        }
        // Deferred, so that an outcome the peer sent just before closing (an Error, a Done) wins.
        onClosed = (error) => queueMicrotask(() => reject(new SubrunError(error.code, `${error.message} (during ${what})`, { cause: error })));
        if (this.isClosed) onClosed(new SubrunError('ERR_CONNECTION_CLOSED', 'the connection is closed'));
        this.#waiters.add(onClosed);
        promise.then(resolve, reject);
      });
    } catch (error) {
      onGiveUp?.();
      throw error;
    } finally {
      timer?.cancel();
      if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
      if (onClosed !== undefined) this.#waiters.delete(onClosed);
    }
  }
}

function detailsOf(details: Record<string, unknown> | undefined): { details: Record<string, unknown> } | undefined {
  return details === undefined ? undefined : { details };
}
