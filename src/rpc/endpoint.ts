import type { Duplex } from 'node:stream';
import { SubrunError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { concatBytes } from '../core/bytes.js';
import { StreamDecoder, type DecoderHandler } from '../subunit/decoder.js';
import { PacketEncoder, encodeFileChunks, MAX_PACKET_BYTES } from '../subunit/encoder.js';
import { RPC_TEST_ID, type SubunitEvent } from '../subunit/event.js';
import {
  decodeMessage,
  encodeMessage,
  encodingOf,
  isCompleteJsonObject,
  mimeTypeOf,
  type Encoding,
} from './attachment-codec.js';
import { PROTOCOL_MAX, validateMessage, type RpcMessage } from './messages.js';

export interface EndpointOptions {
  /** @default systemClock */
  clock?: Clock;
  /** Largest RPC message accepted (SPEC §4.4). @default 16 MiB */
  maxMessageBytes?: number;
}

/** How a connection ended. `error` is absent for an orderly end. */
export interface CloseInfo {
  error?: SubrunError;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Room left in a packet for the RPC packet's own header fields. */
const RPC_CHUNK_BYTES = MAX_PACKET_BYTES - 1024;

interface Assembly {
  encoding: Encoding | undefined;
  mimeType: string | undefined;
  chunks: Uint8Array[];
  size: number;
  /** Over the limit: bytes are dropped as they arrive until EOF (SPEC §4.4). */
  discarding: boolean;
}

/**
 * The half of a connection that client and server share: decoding the byte stream into
 * result packets, output and RPC messages (SPEC §4), and writing messages and packets.
 * Subclasses give the protocol its meaning.
 */
export abstract class Endpoint {
  protected readonly stream: Duplex;
  protected readonly clock: Clock;
  protected readonly maxMessageBytes: number;
  /** The negotiated version, once the handshake is done (SPEC §5.4). */
  protected negotiated: number | undefined;
  /** Encoding for outgoing messages; msgpack once both sides agree (SPEC §7.2). */
  protected outgoing: Encoding = 'json';
  /** Monotonic time of the last byte received: a hung peer is one that stays silent. */
  protected lastReceived: number;

  readonly #decoder: StreamDecoder;
  readonly #encoder = new PacketEncoder();
  #assembly: Assembly | undefined;
  #ended = false;
  #corked = false;
  readonly #closed: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;

  constructor(stream: Duplex, options: EndpointOptions = {}) {
    this.stream = stream;
    this.clock = options.clock ?? systemClock;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.lastReceived = this.clock.monotonic();
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const handler: DecoderHandler = {
      packet: (event, raw) => this.#onPacket(event, raw),
      nonSubunit: (bytes) => this.onOutput(bytes),
      error: (error) => this.onDecodeError(error),
    };
    this.#decoder = new StreamDecoder(handler);
    stream.on('data', this.#onData);
    stream.once('end', this.#onEnd);
    stream.once('error', this.#onError);
    stream.once('close', this.#onClose);
  }

  /** Settles once, when the connection is over; never rejects. */
  get closed(): Promise<CloseInfo> {
    return this.#closed;
  }

  get isClosed(): boolean {
    return this.#ended;
  }

  /** Send one RPC message, split across packets when it is large (SPEC §4.3). */
  protected sendMessage(message: RpcMessage): boolean {
    if (this.#ended) return false;
    const encoding = message.msg === 'Hello' ? 'json' : this.outgoing;
    const body = encodeMessage(message, encoding);
    const base: SubunitEvent = { testId: RPC_TEST_ID, fileName: 'rpc', mimeType: mimeTypeOf(encoding), runnable: false };
    if (body.length <= RPC_CHUNK_BYTES) {
      base.fileBytes = body;
      base.eof = true;
      return this.#write(this.#encoder.encode(base));
    }
    let ok = true;
    for (const packet of encodeFileChunks(base, body, RPC_CHUNK_BYTES)) ok = this.#write(packet);
    return ok;
  }

  /** Write one already-encoded packet (or any bytes) to the peer. */
  protected writeBytes(bytes: Uint8Array): boolean {
    return this.#ended ? false : this.#write(bytes);
  }

  /**
   * Packets written in one turn of the event loop (a test's results and its Done) go
   * out in one write: corked now, uncorked on the next tick.
   */
  #write(bytes: Uint8Array): boolean {
    if (!this.#corked) {
      this.#corked = true;
      this.stream.cork();
      process.nextTick(this.#uncork);
    }
    return this.stream.write(bytes);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.stream.uncork();
  };

  protected encodePacket(event: SubunitEvent): Uint8Array {
    return this.#encoder.encode(event);
  }

  /** Resolves when the stream can take more bytes (backpressure). */
  protected drain(): Promise<void> {
    if (this.#ended || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  /** A complete, valid message arrived. */
  protected abstract onMessage(message: RpcMessage): void;
  /** A message arrived that could not be decoded or validated (SPEC §8.6). */
  protected abstract onBadMessage(error: SubrunError, nonce: string | undefined): void;
  /** A result packet (any packet that is not RPC). `raw` is valid only during the call. */
  protected abstract onResult(event: SubunitEvent, raw: Uint8Array): void;
  /** Bytes that are not packets (SPEC §4.7). */
  protected abstract onOutput(bytes: Uint8Array): void;
  /** A corrupt packet was skipped. */
  protected abstract onDecodeError(error: SubrunError): void;
  /** The input side ended (EOF); the endpoint is still able to write. */
  protected abstract onInputEnd(): void;
  /** Called once when the connection is finished, before `closed` settles. */
  protected abstract onFinished(info: CloseInfo): void;

  /**
   * End the connection: stop reading, let subclasses settle what is pending, and end
   * (graceful) or destroy (with an error) the stream. Idempotent.
   */
  protected finish(error?: SubrunError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.stream.off('data', this.#onData);
    this.#decoder.end();
    const info: CloseInfo = error === undefined ? {} : { error };
    try {
      this.onFinished(info);
    } finally {
      if (error === undefined) this.stream.end();
      else this.stream.destroy();
      this.#resolveClosed(info);
    }
  }

  readonly #onData = (chunk: Buffer): void => {
    this.lastReceived = this.clock.monotonic();
    this.#decoder.push(chunk);
  };

  readonly #onEnd = (): void => {
    this.#decoder.end();
    if (!this.#ended) this.onInputEnd();
  };

  readonly #onError = (error: Error): void => {
    this.finish(new SubrunError('ERR_CONNECTION_CLOSED', `connection failed: ${error.message}`, { cause: error }));
  };

  readonly #onClose = (): void => {
    this.finish(new SubrunError('ERR_CONNECTION_CLOSED', 'connection closed by peer'));
  };

  #onPacket(event: SubunitEvent, raw: Uint8Array): void {
    if (event.testId !== RPC_TEST_ID) {
      this.onResult(event, raw);
      return;
    }
    if (event.fileBytes === undefined) return; // an RPC packet with no content carries nothing (§4.2)
    let a = this.#assembly;
    if (a === undefined) {
      a = { encoding: encodingOf(event.mimeType), mimeType: event.mimeType, chunks: [], size: 0, discarding: false };
      this.#assembly = a;
    }
    if (!a.discarding) {
      a.size += event.fileBytes.length;
      if (a.size > this.maxMessageBytes) {
        a.discarding = true;
        a.chunks = [];
      } else {
        // The decoder's bytes are only ours during this call unless the message ends here.
        a.chunks.push(event.eof === true ? event.fileBytes : event.fileBytes.slice());
      }
    }
    if (event.eof !== true) {
      // SPEC §4.3: senders that never set EOF end a message with a complete JSON object.
      if (a.discarding || a.encoding !== 'json' || !isCompleteJsonObject(concatBytes(a.chunks, a.size))) return;
    }
    this.#assembly = undefined;
    if (a.discarding) {
      this.onBadMessage(
        new SubrunError('ERR_MESSAGE_TOO_LARGE', `RPC message of ${a.size} bytes exceeds the limit of ${this.maxMessageBytes}`),
        undefined,
      );
      return;
    }
    if (a.encoding === undefined) {
      this.onBadMessage(new SubrunError('ERR_BAD_MESSAGE', `unsupported RPC attachment type ${JSON.stringify(a.mimeType)}`), undefined);
      return;
    }
    let value: unknown;
    try {
      value = decodeMessage(concatBytes(a.chunks, a.size), a.encoding);
    } catch (error) {
      this.onBadMessage(error as SubrunError, undefined);
      return;
    }
    const result = validateMessage(value, this.negotiated ?? PROTOCOL_MAX);
    if (result.ok) this.onMessage(result.message);
    else this.onBadMessage(new SubrunError(result.code, result.message), result.nonce);
  }
}
