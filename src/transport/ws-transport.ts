import { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { systemClock } from '../core/clock.js';
import { SubrunError } from '../core/errors.js';
import { ClosedLatch } from './closed-latch.js';
import { closeGracefully, type CloseOptions } from './graceful-close.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, type Transport, type TransportClosed } from './transport.js';

/** SPEC §9.6: receivers accept binary messages up to this size; senders split below it. */
export const WS_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Our writes are split into messages of at most this many bytes. */
export const WS_SEND_CHUNK_BYTES = 256 * 1024;

/** Close codes (RFC 6455 §7.4.1) used by SPEC §9.6. */
const CLOSE_NORMAL = 1000;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_TOO_BIG = 1009;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * The byte stream over a WebSocket (SPEC §9.6): binary messages carry the bytes, an empty
 * binary message marks the end of one direction (half-close), and the connection is closed
 * with 1000 once both directions have ended. A text message is a protocol error.
 */
class WebSocketStream extends Duplex {
  readonly #ws: WebSocket;
  readonly #onViolation: (error: SubrunError, closeCode: number) => void;
  #peerEnded = false;
  #weEnded = false;

  constructor(ws: WebSocket, onViolation: (error: SubrunError, closeCode: number) => void) {
    // Room for one whole message, so a full-size message does not pause the socket at once.
    super({ allowHalfOpen: true, readableHighWaterMark: WS_MAX_MESSAGE_BYTES });
    this.#ws = ws;
    this.#onViolation = onViolation;
    ws.on('message', (data, isBinary) => this.#onMessage(toBuffer(data), isBinary));
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.#onViolation(new SubrunError('ERR_TRANSPORT_WS_PROTOCOL', 'the peer sent a text message; the byte stream travels only in binary messages', { details: { closeCode: CLOSE_UNSUPPORTED_DATA } }), CLOSE_UNSUPPORTED_DATA);
      return;
    }
    if (this.#peerEnded) {
      this.#onViolation(new SubrunError('ERR_TRANSPORT_WS_PROTOCOL', 'the peer sent data after ending its stream', { details: { closeCode: CLOSE_PROTOCOL_ERROR } }), CLOSE_PROTOCOL_ERROR);
      return;
    }
    if (data.length === 0) {
      this.#peerEnded = true;
      this.push(null);
      this.#maybeFinish();
      return;
    }
    if (!this.push(data)) this.#ws.pause();
  }

  #maybeFinish(): void {
    if (this.#peerEnded && this.#weEnded && this.#ws.readyState === this.#ws.OPEN) this.#ws.close(CLOSE_NORMAL);
  }

  override _read(): void {
    if (this.#ws.isPaused) this.#ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#ws.readyState !== this.#ws.OPEN) {
      callback(); // SPEC §9.8: bytes for a peer that is gone are dropped; `closed` says why
      return;
    }
    // The callback of the last piece fires when it reaches the socket: that is our backpressure.
    for (let offset = 0; offset < chunk.length; offset += WS_SEND_CHUNK_BYTES) {
      const piece = chunk.subarray(offset, offset + WS_SEND_CHUNK_BYTES);
      const last = offset + WS_SEND_CHUNK_BYTES >= chunk.length;
      this.#ws.send(piece, { binary: true }, last ? () => callback() : undefined);
    }
    if (chunk.length === 0) callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#weEnded = true;
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(Buffer.alloc(0), { binary: true });
    this.#maybeFinish();
    callback();
  }

  peerClosed(): void {
    if (!this.#peerEnded) {
      this.#peerEnded = true;
      this.push(null);
    }
  }
}

export class WebSocketTransport implements Transport {
  readonly stream: Duplex;
  readonly url: string;
  readonly #ws: WebSocket;
  readonly #latch = new ClosedLatch();
  readonly #options: CloseOptions;
  #error: SubrunError | undefined;
  #destroyedByUs = false;

  constructor(ws: WebSocket, url: string, options: CloseOptions = {}) {
    this.#ws = ws;
    this.url = url;
    this.#options = options;
    const stream = new WebSocketStream(ws, (error, code) => {
      this.#error ??= error;
      ws.close(code);
      // A peer that ignores our close frame must not hold us open.
      (options.clock ?? systemClock).setTimeout(() => ws.terminate(), 1000);
    });
    this.stream = stream;
    stream.on('error', () => {});
    ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.#error ??= new SubrunError('ERR_TRANSPORT_WS_PROTOCOL', `the peer sent a message larger than ${WS_MAX_MESSAGE_BYTES} bytes`, { cause: error, details: { closeCode: CLOSE_TOO_BIG } });
      } else {
        this.#error ??= new SubrunError('ERR_TRANSPORT_BROKEN', `${url}: ${error.message}`, { cause: error, details: { errno: error.code } });
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      // Not destroyed: bytes that arrived before the close stay readable.
      stream.peerClosed();
      if (this.#error === undefined && code !== CLOSE_NORMAL && !this.#destroyedByUs) {
        const closeCodeError = code === CLOSE_TOO_BIG || code === CLOSE_UNSUPPORTED_DATA || code === CLOSE_PROTOCOL_ERROR;
        this.#error = new SubrunError(closeCodeError ? 'ERR_TRANSPORT_WS_PROTOCOL' : 'ERR_TRANSPORT_BROKEN', `${url}: WebSocket closed with code ${code}${reason.length > 0 ? ` (${reason.toString('utf8')})` : ''}`, {
          details: { closeCode: code },
        });
      }
      this.#latch.settle(this.#error === undefined ? {} : { error: this.#error });
    });
  }

  get closed(): Promise<TransportClosed> {
    return this.#latch.promise;
  }

  close(): Promise<void> {
    return closeGracefully(this.#latch, () => this.stream.end(), () => this.destroy(), this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, this.#options.clock);
  }

  destroy(): void {
    if (this.#latch.settled) return;
    this.#destroyedByUs = true;
    this.#ws.terminate();
  }
}

export { CLOSE_NORMAL, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED_DATA, CLOSE_PROTOCOL_ERROR };
