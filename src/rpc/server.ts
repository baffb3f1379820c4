import type { Duplex } from 'node:stream';
import { SubrunError } from '../core/errors.js';
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
  type HelloMessage,
  type ListMessage,
  type ResourceNeed,
  type RpcMessage,
  type RunMessage,
  type RunningTest,
} from './messages.js';

/** What a handler gets for one List or Run. */
export interface RequestContext {
  readonly nonce: string;
  readonly version: number;
  /** Aborted by Cancel, Goodbye or the end of the connection (SPEC §6.1, §7.4). */
  readonly signal: AbortSignal;
  /**
   * Write one result packet for this request. The route code is stamped here (SPEC §7.5);
   * `inprogress` and final statuses keep the Heartbeat's `running` list (§7.7) current.
   */
  emit(event: SubunitEvent): void;
  /** Resolves when the channel can take more (backpressure); await it in long loops. */
  drain(): Promise<void>;
}

export interface ServerHandler {
  /** Emit an `exists` packet per test (restricted to `tests` when given); return the ids of `tests` that do not exist. */
  list(request: { tests?: string[] }, ctx: RequestContext): Promise<{ unknown?: string[] }>;
  /** Run the tests, emitting their results; return how many ran. */
  run(
    request: { tests?: string[]; timeoutMs?: number; resources?: Record<string, ResourceNeed> },
    ctx: RequestContext,
  ): Promise<{ ran: number }>;
  /** Which of `tests` the server does not have (SPEC §6.3, §7.6). Without it, every id is assumed known. */
  unknownTests?(tests: string[]): Promise<string[]>;
}

export interface ServerOptions extends EndpointOptions {
  /** @default 1 */
  min?: number;
  /** @default 2 */
  max?: number;
  /** Declared in the server's Hello (SPEC §7.1). */
  capabilities?: Capabilities;
  /** @default 'subrun' */
  agent?: string;
  /** How long running tests may take to finish after Goodbye or EOF (SPEC §6.1). @default 5000 */
  goodbyeGraceMs?: number;
  /** Bytes from the client that are not packets: ignored, but reported here. */
  onGarbage?: (bytes: Uint8Array) => void;
  /** Called when a handler throws: the request gets Error ERR_INTERNAL (v2) or a Done (v1). */
  onHandlerError?: (error: unknown) => void;
}

/** Why the server's connection ended: what the process should do next. */
export interface ServerFinish {
  reason: 'goodbye' | 'eof' | 'no-common-version' | 'error';
  error?: SubrunError;
}

interface Active {
  nonce: string;
  kind: 'List' | 'Run';
  route: string | undefined;
  controller: AbortController;
  cancelled: boolean;
  running: Map<string, number>;
}

const DEFAULT_SERVER_CAPABILITIES: Capabilities = {
  encodings: ['json', 'msgpack'],
  heartbeat: true,
  cancel: true,
  concurrentRuns: 1,
};

/**
 * The test server's side of a connection (SPEC §5-§8). Lists run at once; Runs are
 * queued up to `concurrentRuns` at a time. Every request gets exactly one terminal reply.
 */
export class ServerConnection extends Endpoint {
  readonly #handler: ServerHandler;
  readonly #options: ServerOptions;
  readonly #declared: Capabilities;
  #clientHello: HelloMessage | undefined;
  #capabilities: Capabilities = {};
  readonly #active = new Map<string, Active>();
  /** Runs waiting for a slot; consumed from #runHead so that a long queue costs O(1) per Run. */
  #runQueue: Array<() => void> = [];
  #runHead = 0;
  #runsInFlight = 0;
  #stopping: ServerFinish['reason'] | undefined;
  #beatTimer: TimerHandle | undefined;
  #finishError: SubrunError | undefined;
  readonly #finished: Promise<ServerFinish>;
  #resolveFinished!: (f: ServerFinish) => void;

  constructor(stream: Duplex, handler: ServerHandler, options: ServerOptions = {}) {
    super(stream, options);
    this.#handler = handler;
    this.#options = options;
    this.#declared = { ...DEFAULT_SERVER_CAPABILITIES, ...options.capabilities };
    this.#finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
  }

  /** Settles when the connection is over and the server should exit (SPEC §6.1, §8.2). */
  get finished(): Promise<ServerFinish> {
    return this.#finished;
  }

  get version(): number | undefined {
    return this.negotiated;
  }

  /** Stop now (a signal, a fatal error): cancel everything and close. */
  destroy(error?: SubrunError): void {
    for (const a of this.#active.values()) a.controller.abort();
    this.#end(error === undefined ? 'goodbye' : 'error', error);
  }

  /** Begin an orderly stop, as on Goodbye (SIGTERM: drain the current test, then stop). */
  shutdown(): void {
    this.#beginStop('goodbye');
  }

  protected onMessage(message: RpcMessage): void {
    if (this.#stopping !== undefined) return; // SPEC §6.1: no more messages after Goodbye
    if (this.negotiated === undefined) {
      if (message.msg === 'Hello') this.#onHello(message);
      else this.#error('ERR_HANDSHAKE_REQUIRED', `${message.msg} before Hello`, 'nonce' in message ? message.nonce : undefined, true);
      return;
    }
    switch (message.msg) {
      case 'Hello':
        this.#error('ERR_UNEXPECTED_MESSAGE', 'Hello after the handshake');
        return;
      case 'Goodbye':
        this.#beginStop('goodbye');
        return;
      case 'List':
      case 'Run':
        this.#onRequest(message);
        return;
      case 'Cancel': {
        const a = this.#active.get(message.nonce);
        if (a === undefined) this.#error('ERR_UNKNOWN_NONCE', `no outstanding request with nonce ${JSON.stringify(message.nonce)}`, message.nonce);
        else this.#cancel(a);
        return;
      }
      case 'Heartbeat':
        if (message.nonce !== undefined) this.sendMessage({ msg: 'Heartbeat', nonce: message.nonce, running: this.#running() });
        return;
      default:
        this.#error('ERR_UNEXPECTED_MESSAGE', `${message.msg} is not a client message`);
    }
  }

  #onHello(hello: HelloMessage): void {
    this.#clientHello = hello;
    const mine = { min: this.#options.min ?? PROTOCOL_MIN, max: this.#options.max ?? PROTOCOL_MAX };
    const version = negotiateVersion(hello, mine);
    const reply: HelloMessage = { msg: 'Hello', min: mine.min, max: mine.max };
    if (mine.max >= 2) {
      reply.capabilities = this.#declared;
      reply.agent = this.#options.agent ?? 'subrun';
    }
    this.sendMessage(reply);
    if (version === undefined) {
      // SPEC §5.5: say Hello so the client can name both ranges, then leave.
      this.#end(
        'no-common-version',
        new SubrunError('ERR_NO_COMMON_VERSION', `no common protocol version: client speaks ${hello.min}..${hello.max}, server speaks ${mine.min}..${mine.max}`),
      );
      return;
    }
    this.negotiated = version;
    if (version >= 2) {
      this.#capabilities = commonCapabilities(hello.capabilities, this.#declared);
      if (this.#capabilities.encodings?.includes('msgpack') === true) this.outgoing = 'msgpack';
      if (hello.heartbeatMs !== undefined && this.#capabilities.heartbeat === true) this.#beat(hello.heartbeatMs);
    }
  }

  #onRequest(message: ListMessage | RunMessage): void {
    if (this.#active.has(message.nonce)) {
      // Version 1 has no Error: run it anyway so that the client is still answered.
      if (this.version! >= 2) {
        this.#error('ERR_DUPLICATE_NONCE', `nonce ${JSON.stringify(message.nonce)} is already outstanding`, message.nonce, false);
        return;
      }
    }
    const active: Active = {
      nonce: message.nonce,
      kind: message.msg,
      route: this.version! >= 2 ? (message.route ?? message.nonce) : undefined,
      controller: new AbortController(),
      cancelled: false,
      running: new Map(),
    };
    this.#active.set(message.nonce, active);
    if (message.msg === 'List') {
      void this.#execute(active, message);
      return;
    }
    const start = (): void => {
      this.#runsInFlight++;
      void this.#execute(active, message).finally(() => {
        this.#runsInFlight--;
        this.#nextRun();
      });
    };
    if (this.#runsInFlight < (this.#declared.concurrentRuns ?? 1)) start();
    else this.#runQueue.push(start);
  }

  #nextRun(): void {
    if (this.#runHead >= this.#runQueue.length) return;
    const start = this.#runQueue[this.#runHead++]!;
    if (this.#runHead > 1024 && this.#runHead * 2 > this.#runQueue.length) {
      this.#runQueue = this.#runQueue.slice(this.#runHead);
      this.#runHead = 0;
    }
    start();
  }

  async #execute(active: Active, message: ListMessage | RunMessage): Promise<void> {
    const ctx = this.#context(active);
    const done: DoneMessage = { msg: 'Done', nonce: active.nonce };
    try {
      if (active.controller.signal.aborted) {
        done.cancelled = true;
      } else if (message.msg === 'List') {
        const request = message.tests === undefined ? {} : { tests: message.tests };
        const result = await this.#handler.list(request, ctx);
        if (this.version! >= 2 && result.unknown !== undefined && result.unknown.length > 0) done.unknown = result.unknown;
      } else {
        let tests = message.tests;
        if (tests !== undefined && this.#handler.unknownTests !== undefined) {
          const unknown = await this.#handler.unknownTests(tests);
          if (unknown.length > 0) {
            if (this.version! >= 2) {
              this.#error('ERR_UNKNOWN_TEST', `${unknown.length} unknown test id(s): ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', ...' : ''}`, active.nonce, false, { tests: unknown });
              return;
            }
            this.#reportUnknown(unknown, ctx);
            const missing = new Set(unknown);
            tests = tests.filter((id) => !missing.has(id));
          }
        }
        const request: Parameters<ServerHandler['run']>[0] = tests === undefined ? {} : { tests };
        if (message.timeoutMs !== undefined) request.timeoutMs = message.timeoutMs;
        if (message.resources !== undefined) request.resources = message.resources;
        const result = tests !== undefined && tests.length === 0 ? { ran: 0 } : await this.#handler.run(request, ctx);
        if (this.version! >= 2) done.ran = result.ran;
      }
      if (active.cancelled && this.version! >= 2) done.cancelled = true;
      this.sendMessage(done);
    } catch (error) {
      this.#options.onHandlerError?.(error);
      if (this.version! >= 2) {
        const e = error instanceof SubrunError ? error : new SubrunError('ERR_INTERNAL', `the server failed: ${(error as Error)?.message ?? String(error)}`);
        this.#error(e.code, e.message, active.nonce, false, e.details === undefined ? undefined : { ...e.details });
      } else {
        this.sendMessage(done);
      }
    } finally {
      this.#active.delete(active.nonce);
      if (this.#stopping !== undefined && this.#active.size === 0) this.#end(this.#stopping);
    }
  }

  /** SPEC §6.3: in version 1 an unknown id becomes a failed test with a reason. */
  #reportUnknown(unknown: string[], ctx: RequestContext): void {
    const now = this.clock.now();
    const timestamp = { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 };
    for (const id of unknown) {
      ctx.emit({
        testId: id,
        status: 'fail',
        timestamp,
        fileName: 'reason',
        mimeType: 'text/plain;charset=utf8',
        fileBytes: new TextEncoder().encode(`unknown test id: ${id}\n`),
        eof: true,
      });
    }
  }

  #context(active: Active): RequestContext {
    return {
      nonce: active.nonce,
      version: this.version!,
      signal: active.controller.signal,
      emit: (event) => {
        if (event.testId !== undefined && event.status !== undefined) {
          if (event.status === 'inprogress') active.running.set(event.testId, this.clock.monotonic());
          else active.running.delete(event.testId);
        }
        let routed = event;
        if (active.route !== undefined) {
          routed = { ...event, routeCode: event.routeCode === undefined ? active.route : `${active.route}/${event.routeCode}` };
        }
        this.writeBytes(this.encodePacket(routed));
      },
      drain: () => this.drain(),
    };
  }

  #cancel(active: Active): void {
    active.cancelled = true;
    active.controller.abort();
  }

  #running(): RunningTest[] {
    const now = this.clock.monotonic();
    const out: RunningTest[] = [];
    for (const a of this.#active.values()) {
      for (const [test, since] of a.running) out.push({ nonce: a.nonce, test, elapsedMs: Math.round(now - since) });
    }
    return out;
  }

  #beat(intervalMs: number): void {
    const tick = (): void => {
      if (this.isClosed) return;
      this.sendMessage({ msg: 'Heartbeat', running: this.#running() });
      this.#beatTimer = this.clock.setTimeout(tick, intervalMs);
    };
    this.#beatTimer = this.clock.setTimeout(tick, intervalMs);
  }

  #error(code: string, message: string, nonce?: string, beforeHandshake = false, details?: Record<string, unknown>): void {
    // Version 1 defines no Error (SPEC §6.6); before the handshake we do not know yet.
    if (!beforeHandshake && (this.version ?? 0) < 2) return;
    const reply: RpcMessage = { msg: 'Error', code, message };
    if (nonce !== undefined) reply.nonce = nonce;
    if (details !== undefined) reply.details = details;
    this.sendMessage(reply);
  }

  #beginStop(reason: ServerFinish['reason']): void {
    if (this.#stopping !== undefined) return;
    this.#stopping = reason;
    // Queued Runs are cancelled too: when their turn comes they answer Done at once.
    for (const a of this.#active.values()) this.#cancel(a);
    if (this.#active.size === 0) {
      this.#end(reason);
      return;
    }
    const grace = this.#options.goodbyeGraceMs ?? 5000;
    this.clock.setTimeout(() => this.#end(reason), grace);
  }

  #end(reason: ServerFinish['reason'], error?: SubrunError): void {
    if (this.isClosed) return;
    this.#stopping = reason;
    this.#finishError = error;
    this.finish(reason === 'error' ? error : undefined);
  }

  protected onBadMessage(error: SubrunError, nonce: string | undefined): void {
    // SPEC §8.6: answer and go on. Before the handshake the client may not speak v2, but an Error is its best clue.
    this.#error(error.code, error.message, nonce, this.negotiated === undefined);
  }

  protected onResult(): void {
    // Result packets from the client have no meaning in this protocol (SPEC §4.1): ignored.
  }

  protected onOutput(bytes: Uint8Array): void {
    this.#options.onGarbage?.(bytes);
  }

  protected onDecodeError(): void {
    // A corrupt packet from the client is skipped; if it was a request, the client's timeout covers it.
  }

  protected onInputEnd(): void {
    this.#beginStop('eof');
  }

  protected onFinished(info: CloseInfo): void {
    this.#beatTimer?.cancel();
    for (const a of this.#active.values()) a.controller.abort();
    // No orderly stop began: the channel broke under us (SPEC §8.2).
    const reason = this.#stopping ?? 'error';
    const error = info.error ?? this.#finishError;
    this.#resolveFinished(error === undefined ? { reason } : { reason, error });
  }
}
