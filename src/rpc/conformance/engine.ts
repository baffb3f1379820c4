import type { Duplex } from 'node:stream';
import { SubrunError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { encodePacket } from '../../subunit/encoder.js';
import { RPC_TEST_ID } from '../../subunit/event.js';
import { negotiateVersion } from '../messages.js';
import { describeItem, hexDump } from './describe.js';
import { matches, substitute, variablesIn, type Bindings } from './matcher.js';
import { Recorder, type Item, type PeerExit } from './recorder.js';
import type { ClauseInfo, ExpectStep, OrderStep, Pattern, Scenario, SendSpec, Step, When } from './scenario.js';

/** A fresh connection to the server under test, one per scenario (SPEC §11.1). */
export interface KitPeer {
  stream: Duplex;
  /** How the server process ended, when the transport knows (a spawned child). */
  exit?: Promise<PeerExit>;
}

export interface KitOptions {
  /** @default systemClock */
  clock?: Clock;
  /** Multiplies every deadline and settle time of the scenarios (slow machines). @default 1 */
  timeScale?: number;
  /** Stops the scenario: remaining clauses are skipped. */
  signal?: AbortSignal;
}

export type ClauseStatus = 'pass' | 'fail' | 'skip';

export interface ClauseResult extends ClauseInfo {
  status: ClauseStatus;
  /** Why it failed or was skipped. */
  reason?: string;
  /** For failures: the items observed (a readable line each), most recent last. */
  seen?: string[];
  /** For failures: the last bytes received from the server, as a hex dump. */
  lastBytesHex?: string;
}

export interface ScenarioResult {
  name: string;
  title: string;
  spec: string;
  /** The negotiated version, once both Hellos were seen and their ranges met. */
  version?: number;
  serverHello?: Record<string, unknown>;
  passed: boolean;
  clauses: ClauseResult[];
  bytesReceived: number;
  durationMs: number;
}

const DEFAULT_WITHIN_MS = 5000;
const SEEN_LINES = 12;

/**
 * Drives one server connection through one scenario (SPEC §11). Pure: it only reads and
 * writes the given stream. Never throws for anything the peer does.
 */
export async function runScenario(scenario: Scenario, peer: KitPeer, options: KitOptions = {}): Promise<ScenarioResult> {
  const run = new ScenarioRun(scenario, peer, options);
  // The clock's timers are unref'd and an in-memory peer holds no handle: without this the
  // process could exit in the middle of a deadline with the scenario's promise unsettled.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    return await run.execute();
  } finally {
    clearInterval(keepAlive);
  }
}

class ScenarioRun {
  readonly #scenario: Scenario;
  readonly #peer: KitPeer;
  readonly #clock: Clock;
  readonly #scale: number;
  readonly #signal: AbortSignal | undefined;
  readonly #recorder: Recorder;
  readonly #start: number;
  readonly #bindings: Bindings = {};
  readonly #labels = new Map<string, Item>();
  readonly #consumed = new Set<number>();
  readonly #clauses: ClauseResult[] = [];
  #clientHello: { min: number; max: number } | undefined;
  #serverHello: Record<string, unknown> | undefined;
  #version: number | undefined;
  #noCommon = false;
  #aborted: string | undefined;

  constructor(scenario: Scenario, peer: KitPeer, options: KitOptions) {
    this.#scenario = scenario;
    this.#peer = peer;
    this.#clock = options.clock ?? systemClock;
    this.#scale = options.timeScale ?? 1;
    this.#signal = options.signal;
    this.#start = this.#clock.monotonic();
    this.#recorder = new Recorder(peer.stream, () => this.#clock.monotonic() - this.#start, peer.exit);
  }

  async execute(): Promise<ScenarioResult> {
    for (const step of this.#scenario.steps) {
      if (this.#signal?.aborted === true && this.#aborted === undefined) this.#aborted = 'the kit was stopped';
      const info = clauseOf(step);
      if (this.#aborted !== undefined) {
        if (info !== undefined) this.#record(info, 'skip', this.#aborted);
        continue;
      }
      const inapplicable = this.#inapplicable(step.when);
      if (inapplicable !== undefined) {
        if (info !== undefined) this.#record(info, 'skip', inapplicable);
        continue;
      }
      await this.#step(step);
    }
    const result: ScenarioResult = {
      name: this.#scenario.name,
      title: this.#scenario.title,
      spec: this.#scenario.spec,
      passed: this.#clauses.every((c) => c.status !== 'fail'),
      clauses: this.#clauses,
      bytesReceived: this.#recorder.bytesReceived,
      durationMs: Math.round(this.#clock.monotonic() - this.#start),
    };
    if (this.#version !== undefined) result.version = this.#version;
    if (this.#serverHello !== undefined) result.serverHello = this.#serverHello;
    return result;
  }

  /** Why a step does not apply to this server, or undefined if it does (SPEC §11.5). */
  #inapplicable(when: When | undefined): string | undefined {
    if (when === undefined) return undefined;
    if (when.noCommonVersion !== undefined) {
      if (this.#serverHello === undefined) return 'no server Hello was seen';
      if (when.noCommonVersion !== this.#noCommon) return when.noCommonVersion ? 'the versions have a common version' : 'the versions have no common version';
    }
    if (when.versions !== undefined) {
      if (this.#version === undefined) return 'no version was negotiated';
      if (!when.versions.includes(this.#version)) return `applies to version ${when.versions.join(', ')}; negotiated ${this.#version}`;
    }
    if (when.capabilities !== undefined) {
      const caps = this.#serverHello?.capabilities ?? {};
      if (!matches(when.capabilities, caps)) return `the server does not declare ${JSON.stringify(when.capabilities)}`;
    }
    return undefined;
  }

  async #step(step: Step): Promise<void> {
    if ('send' in step) return this.#send(step.send);
    if ('wait' in step) return this.#sleep(step.wait * this.#scale);
    const info = clauseOf(step)!;
    const unbound = [...variablesIn(step)].filter((v) => !(v in this.#bindings));
    if (unbound.length > 0) {
      this.#record(info, 'skip', `needs \${${unbound.join('}, ${')}}, which no earlier clause captured`);
      return;
    }
    if ('expect' in step) return this.#expect(step, info);
    if ('count' in step) {
      if (step.settleMs !== undefined) await this.#sleep(step.settleMs * this.#scale);
      const pattern = substitute(step.count, this.#bindings) as Pattern;
      const found = this.#recorder.items.filter((i) => this.#matchItem(pattern, i));
      if (found.length === step.exactly) this.#record(info, 'pass');
      else this.#fail(info, `expected exactly ${step.exactly} of ${JSON.stringify(pattern)}, saw ${found.length}`, found);
      return;
    }
    if ('assert' in step) return this.#assert(step.assert, step.label, info);
    return this.#order(step, info);
  }

  async #expect(step: ExpectStep, info: ClauseInfo): Promise<void> {
    const pattern = substitute(step.expect, this.#bindings) as Pattern;
    const within = (step.within ?? DEFAULT_WITHIN_MS) * this.#scale;
    const since = this.#recorder.items.length;
    const item = await this.#waitFor(pattern, within);
    if (item === undefined) {
      const closed = this.#recorder.channelClosed && !('exit' in pattern) && !('close' in pattern);
      const why = closed ? 'the server closed the channel first' : `nothing matched within ${Math.round(within)} ms`;
      this.#fail(info, `expected ${JSON.stringify(pattern)}: ${why}`, this.#recorder.items.slice(Math.max(0, since - 4)));
      this.#aborted = `skipped after the failure of ${info.clause}`;
      return;
    }
    this.#consumed.add(item.index);
    if (step.as !== undefined) this.#labels.set(step.as, item);
    if (item.kind === 'message' && item.message.msg === 'Hello') this.#onServerHello(item.message);
    if (step.capture !== undefined && !this.#capture(step.capture, item, info)) return;
    this.#record(info, 'pass');
  }

  async #order(step: OrderStep, info: ClauseInfo): Promise<void> {
    if (step.settleMs !== undefined) await this.#sleep(step.settleMs * this.#scale);
    const some = step.some !== undefined;
    const pattern = substitute(step.some ?? step.none, this.#bindings) as Pattern;
    const label = step.before ?? step.after;
    const anchor = label === undefined ? undefined : this.#labels.get(label);
    if (label !== undefined && anchor === undefined) {
      this.#record(info, 'skip', `the item labelled ${label} was not seen`);
      return;
    }
    const inRange = (i: Item): boolean =>
      anchor === undefined ? true : step.before !== undefined ? i.index < anchor.index : i.index > anchor.index;
    const found = this.#recorder.items.filter((i) => inRange(i) && this.#matchItem(pattern, i));
    const where = label === undefined ? '' : step.before !== undefined ? ` before ${label} (#${anchor!.index})` : ` after ${label} (#${anchor!.index})`;
    if (some && found.length === 0) {
      this.#fail(info, `expected ${JSON.stringify(pattern)}${where}, saw none`, this.#recorder.items.slice(0, anchor === undefined ? undefined : anchor.index + 1));
      return;
    }
    if (!some && found.length > 0) {
      this.#fail(info, `expected no ${JSON.stringify(pattern)}${where}, saw ${found.length}`, found);
      return;
    }
    if (some && step.capture !== undefined && !this.#capture(step.capture, found[0]!, info)) return;
    this.#record(info, 'pass');
  }

  #assert(kind: 'hello-range' | 'common-version', label: string, info: ClauseInfo): void {
    const item = this.#labels.get(label);
    const hello = item?.kind === 'message' ? item.message : undefined;
    if (hello === undefined) {
      this.#record(info, 'skip', `no message labelled ${label}`);
      return;
    }
    const { min, max } = hello;
    if (!isPositiveInt(min) || !isPositiveInt(max) || min > max) {
      this.#fail(info, `the server's Hello range ${JSON.stringify({ min, max })} is not positive integers with min <= max (SPEC §5.3, §5.6)`, [item!]);
      this.#aborted = `skipped after the failure of ${info.clause}: no version can be negotiated`;
      return;
    }
    if (kind === 'common-version' && this.#version === undefined) {
      const c = this.#clientHello;
      this.#fail(info, `no common version: the kit speaks ${c?.min}..${c?.max}, the server ${min}..${max}`, [item!]);
      this.#aborted = `skipped after the failure of ${info.clause}`;
      return;
    }
    this.#record(info, 'pass');
  }

  #onServerHello(hello: Record<string, unknown>): void {
    this.#serverHello = hello;
    const { min, max } = hello;
    if (this.#clientHello === undefined || !isPositiveInt(min) || !isPositiveInt(max) || min > max) return;
    const v = negotiateVersion(this.#clientHello, { min, max });
    this.#version = v;
    this.#noCommon = v === undefined;
  }

  #capture(capture: Record<string, string>, item: Item, info: ClauseInfo): boolean {
    const body = (item as unknown as Record<string, unknown>)[item.kind];
    for (const [name, path] of Object.entries(capture)) {
      let v: unknown = body;
      for (const part of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      if (v === undefined) {
        this.#fail(info, `the matched item has no ${path} to capture as \${${name}}`, [item]);
        return false;
      }
      this.#bindings[name] = v;
    }
    return true;
  }

  #matchItem(pattern: Pattern, item: Item): boolean {
    const [kind, body] = Object.entries(pattern)[0]!;
    // SPEC §11.4: over a transport that cannot see the process, `exit` is the channel's close.
    if (kind === 'exit' && this.#peer.exit === undefined) return item.kind === 'close';
    if (item.kind !== kind) return false;
    return matches(body, (item as unknown as Record<string, unknown>)[kind]);
  }

  /** The first item not taken by an earlier expect that matches, waiting up to `ms`. */
  #waitFor(pattern: Pattern, ms: number): Promise<Item | undefined> {
    // An `exit` that stands for the channel's close may share that item with a `close` expectation.
    const shared = 'exit' in pattern && this.#peer.exit === undefined;
    const find = (): Item | undefined =>
      this.#recorder.items.find((i) => (shared || !this.#consumed.has(i.index)) && this.#matchItem(pattern, i));
    const hopeless = (): boolean => {
      // After the channel closed only the process's exit can still arrive.
      if (!this.#recorder.channelClosed) return false;
      if ('exit' in pattern) return this.#peer.exit === undefined || this.#recorder.items.some((i) => i.kind === 'exit');
      return true;
    };
    const now = find();
    if (now !== undefined || hopeless()) return Promise.resolve(now);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (item: Item | undefined): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        unsubscribe();
        this.#signal?.removeEventListener('abort', onAbort);
        resolve(item);
      };
      const onAbort = (): void => finish(undefined);
      const unsubscribe = this.#recorder.onItem(() => {
        const item = find();
        if (item !== undefined || hopeless()) finish(item);
      });
      const timer = this.#clock.setTimeout(() => finish(undefined), ms);
      this.#signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = (): void => {
        timer.cancel();
        resolve();
      };
      const timer = this.#clock.setTimeout(() => {
        this.#signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.#signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #send(spec: SendSpec): void {
    const unbound = [...variablesIn(spec)].filter((v) => !(v in this.#bindings));
    if (unbound.length > 0) {
      this.#aborted = `skipped: a message needs \${${unbound.join('}, ${')}}, which no earlier clause captured`;
      return;
    }
    const s = substitute(spec, this.#bindings) as SendSpec;
    const stream = this.#peer.stream;
    if (stream.destroyed || stream.writableEnded) return;
    if (s.eof === true) {
      stream.end();
      return;
    }
    if (s.message?.msg === 'Hello' && isPositiveInt(s.message.min) && isPositiveInt(s.message.max)) {
      this.#clientHello = { min: s.message.min, max: s.message.max };
    }
    stream.write(encodeSend(s));
  }

  #record(info: ClauseInfo, status: ClauseStatus, reason?: string): void {
    const r: ClauseResult = { clause: info.clause, spec: info.spec, title: info.title, status };
    if (reason !== undefined) r.reason = reason;
    this.#clauses.push(r);
  }

  #fail(info: ClauseInfo, reason: string, relevant: Item[]): void {
    const all = this.#recorder.items;
    const lines = (relevant.length > 0 ? relevant : all).slice(-SEEN_LINES).map(describeItem);
    if (relevant.length > 0 && all.length > 0 && relevant[relevant.length - 1] !== all[all.length - 1]) {
      lines.push(`(last item) ${describeItem(all[all.length - 1]!)}`);
    }
    if (all.length === 0) lines.push('(nothing received from the server)');
    this.#clauses.push({
      clause: info.clause,
      spec: info.spec,
      title: info.title,
      status: 'fail',
      reason,
      seen: lines,
      lastBytesHex: hexDump(this.#recorder.tail),
    });
  }
}

/** The bytes one `send` step writes (SPEC §11.3). */
export function encodeSend(s: SendSpec): Uint8Array {
  if (s.hex !== undefined) return Uint8Array.from(Buffer.from(s.hex, 'hex'));
  if (s.text !== undefined) return new TextEncoder().encode(s.text);
  const rpc = (body: Uint8Array): Uint8Array =>
    encodePacket({ testId: RPC_TEST_ID, fileName: 'rpc', mimeType: 'application/json', fileBytes: body, eof: true, runnable: false });
  if (s.message !== undefined) return rpc(new TextEncoder().encode(JSON.stringify(s.message)));
  if (s.split !== undefined) {
    const body = new TextEncoder().encode(JSON.stringify(s.split.message));
    const size = Math.ceil(body.length / s.split.parts);
    const packets: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += size) {
      const last = at + size >= body.length;
      packets.push(encodePacket({ testId: RPC_TEST_ID, fileName: 'rpc', mimeType: 'application/json', fileBytes: body.subarray(at, at + size), eof: last, runnable: false }));
    }
    return Buffer.concat(packets);
  }
  if (s.rpcText !== undefined) return rpc(new TextEncoder().encode(s.rpcText));
  if (s.corrupt !== undefined) {
    const packet = rpc(new TextEncoder().encode(JSON.stringify(s.corrupt)));
    packet[packet.length - 1] = packet[packet.length - 1]! ^ 0xff;
    return packet;
  }
  throw new SubrunError('ERR_CONFORMANCE_SCENARIO', `nothing to send in ${JSON.stringify(s)}`);
}

function clauseOf(step: Step): ClauseInfo | undefined {
  return 'clause' in step ? { clause: step.clause, spec: step.spec, title: step.title } : undefined;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}
