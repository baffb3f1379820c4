import type { Duplex } from 'node:stream';
import { concatBytes } from '../../core/bytes.js';
import { StreamDecoder } from '../../subunit/decoder.js';
import { RPC_TEST_ID, type SubunitEvent } from '../../subunit/event.js';
import { decodeMessage, encodingOf, isCompleteJsonObject, type Encoding } from '../attachment-codec.js';

/** How a peer's process ended, when the transport knows. */
export interface PeerExit {
  exitCode: number | null;
  signal: string | null;
}

/** One thing the kit observed from the server, in arrival order (SPEC §11.2). */
export type Item =
  | { kind: 'message'; index: number; atMs: number; message: Record<string, unknown> }
  | { kind: 'packet'; index: number; atMs: number; packet: Record<string, unknown> }
  | { kind: 'output'; index: number; atMs: number; output: { text: string; bytes: number } }
  | { kind: 'bad-message'; index: number; atMs: number; error: string }
  | { kind: 'decode-error'; index: number; atMs: number; error: string }
  | { kind: 'close'; index: number; atMs: number; close: Record<string, never> }
  | { kind: 'exit'; index: number; atMs: number; exit: { code: number | null; signal: string | null } };

type NewItem = Item extends infer I ? (I extends Item ? Omit<I, 'index' | 'atMs'> : never) : never;

const TAIL_BYTES = 256;
const textDecoder = new TextDecoder();

/**
 * Reads the server's side of the channel into a list of items: RPC messages (reassembled
 * across packets, SPEC §4.3), result packets, non-packet output, decoding errors, and the
 * end of the channel and of the process. Keeps the last bytes for failure reports.
 * Peer bytes never throw out of here.
 */
export class Recorder {
  readonly items: Item[] = [];
  /** The last bytes received, for hex in failure reports. */
  tail: Uint8Array = new Uint8Array(0);
  bytesReceived = 0;
  readonly #now: () => number;
  readonly #decoder: StreamDecoder;
  readonly #listeners = new Set<() => void>();
  #assembly: { encoding: Encoding | undefined; chunks: Uint8Array[] } | undefined;
  #closed = false;

  constructor(stream: Duplex, now: () => number, exit?: Promise<PeerExit>) {
    this.#now = now;
    this.#decoder = new StreamDecoder({
      packet: (event) => this.#onPacket(event),
      nonSubunit: (bytes) => this.#add({ kind: 'output', output: { text: textDecoder.decode(bytes), bytes: bytes.length } }),
      error: (error) => this.#add({ kind: 'decode-error', error: `${error.code}: ${error.message}` }),
    });
    stream.on('data', (chunk: Uint8Array) => {
      this.bytesReceived += chunk.length;
      this.#keepTail(chunk);
      this.#decoder.push(chunk);
    });
    const onClose = (): void => {
      if (this.#closed) return;
      this.#closed = true;
      this.#decoder.end();
      this.#add({ kind: 'close', close: {} });
    };
    stream.once('end', onClose);
    stream.once('close', onClose);
    stream.on('error', onClose);
    void exit?.then((e) => this.#add({ kind: 'exit', exit: { code: e.exitCode, signal: e.signal } }));
  }

  get channelClosed(): boolean {
    return this.#closed;
  }

  /** Calls `fn` after every new item until the returned function is called. */
  onItem(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #add(item: NewItem): void {
    const full = { ...item, index: this.items.length, atMs: Math.round(this.#now()) } as Item;
    this.items.push(full);
    for (const fn of [...this.#listeners]) fn();
  }

  #keepTail(chunk: Uint8Array): void {
    if (chunk.length >= TAIL_BYTES) {
      this.tail = chunk.slice(chunk.length - TAIL_BYTES);
      return;
    }
    const keep = Math.min(this.tail.length, TAIL_BYTES - chunk.length);
    const next = new Uint8Array(keep + chunk.length);
    next.set(this.tail.subarray(this.tail.length - keep));
    next.set(chunk, keep);
    this.tail = next;
  }

  #onPacket(event: SubunitEvent): void {
    if (event.testId !== RPC_TEST_ID) {
      this.#add({ kind: 'packet', packet: packetView(event) });
      return;
    }
    if (event.fileBytes === undefined) return; // SPEC §4.2: an RPC packet without content carries nothing
    const a = (this.#assembly ??= { encoding: encodingOf(event.mimeType), chunks: [] });
    a.chunks.push(event.fileBytes.slice());
    const body = concatBytes(a.chunks);
    // SPEC §4.3: EOF ends a message; so does a complete JSON object from senders that omit EOF.
    if (event.eof !== true && !(a.encoding === 'json' && isCompleteJsonObject(body))) return;
    this.#assembly = undefined;
    if (a.encoding === undefined) {
      this.#add({ kind: 'bad-message', error: `unsupported RPC attachment type ${JSON.stringify(event.mimeType)}` });
      return;
    }
    try {
      const value = decodeMessage(body, a.encoding);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        this.#add({ kind: 'bad-message', error: `an RPC message must be an object, got ${textDecoder.decode(body).slice(0, 80)}` });
      } else {
        this.#add({ kind: 'message', message: value as Record<string, unknown> });
      }
    } catch (error) {
      this.#add({ kind: 'bad-message', error: (error as Error).message });
    }
  }
}

/** The JSON form of a result packet that patterns match against (SPEC §11.4). */
function packetView(e: SubunitEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (e.testId !== undefined) out.testId = e.testId;
  out.status = e.status ?? 'undefined';
  if (e.timestamp !== undefined) out.timestamp = { seconds: e.timestamp.seconds, nanos: e.timestamp.nanos };
  if (e.tags !== undefined) out.tags = e.tags;
  if (e.routeCode !== undefined) out.routeCode = e.routeCode;
  out.runnable = e.runnable !== false;
  if (e.mimeType !== undefined) out.mimeType = e.mimeType;
  if (e.fileName !== undefined) {
    out.fileName = e.fileName;
    out.fileText = textDecoder.decode(e.fileBytes ?? new Uint8Array(0));
  }
  out.eof = e.eof === true;
  return out;
}
