import { Duplex } from 'node:stream';
import { SubrunError } from '../core/errors.js';
import { ClosedLatch } from './closed-latch.js';
import { closeGracefully, type CloseOptions } from './graceful-close.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, type Transport, type TransportClosed } from './transport.js';

/**
 * One end of an in-memory pipe. Writes are pushed into the peer's readable side; a write
 * whose chunk the peer cannot take yet (push() returned false) is not acknowledged until
 * the peer reads, so backpressure crosses the pair exactly as it would a socket.
 */
class MemoryEnd extends Duplex {
  peer!: MemoryEnd;
  #pendingCallback: ((error?: Error | null) => void) | undefined;
  #peerGone = false;

  constructor(highWaterMark: number) {
    super({ allowHalfOpen: true, highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#peerGone) {
      // SPEC §9.8: bytes for a peer that is gone are dropped; `closed` reports why.
      callback();
      return;
    }
    if (this.peer.push(chunk)) callback();
    else this.#pendingCallback = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#peerGone) this.peer.push(null);
    callback();
  }

  override _read(): void {
    this.peer.#release();
  }

  #release(): void {
    const cb = this.#pendingCallback;
    this.#pendingCallback = undefined;
    cb?.();
  }

  /** The peer was destroyed: we see EOF, and our writes go nowhere. */
  peerDestroyed(): void {
    this.#peerGone = true;
    this.#release();
    if (!this.readableEnded) this.push(null);
  }
}

class MemoryTransport implements Transport {
  readonly stream: MemoryEnd;
  readonly url: string;
  readonly #latch = new ClosedLatch();
  #other!: MemoryTransport;
  #readEnded = false;
  #writeFinished = false;

  readonly #options: CloseOptions;

  constructor(stream: MemoryEnd, url: string, options: CloseOptions) {
    this.#options = options;
    this.stream = stream;
    this.url = url;
    stream.on('end', () => {
      this.#readEnded = true;
      this.#maybeClosed();
    });
    stream.on('finish', () => {
      this.#writeFinished = true;
      this.#maybeClosed();
    });
    // Errors are reported through `closed`; the listener keeps them from crashing the process.
    stream.on('error', (error) => this.#latch.settle({ error: new SubrunError('ERR_TRANSPORT_BROKEN', `memory transport failed: ${error.message}`, { cause: error }) }));
    stream.on('close', () => this.#latch.settle({}));
  }

  link(other: MemoryTransport): void {
    this.#other = other;
  }

  get closed(): Promise<TransportClosed> {
    return this.#latch.promise;
  }

  #maybeClosed(): void {
    if (this.#readEnded && this.#writeFinished) this.#latch.settle({});
  }

  close(): Promise<void> {
    return closeGracefully(this.#latch, () => this.stream.end(), () => this.destroy(), this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, this.#options.clock);
  }

  destroy(): void {
    if (this.#latch.settled && this.stream.destroyed) return;
    this.#latch.settle({});
    this.stream.destroy();
    this.#other.peerGone();
  }

  peerGone(): void {
    this.stream.peerDestroyed();
    this.#latch.settle({ error: new SubrunError('ERR_TRANSPORT_BROKEN', 'the other end of the memory pair was destroyed') });
  }
}

/**
 * Two connected in-memory transports (SPEC §9.7), for tests and for embedding a server
 * in the runner's process. `highWaterMark` bounds the bytes buffered per direction.
 */
export function memoryPair(options: CloseOptions & { highWaterMark?: number } = {}): [Transport, Transport] {
  const hwm = options.highWaterMark ?? 64 * 1024;
  const a = new MemoryEnd(hwm);
  const b = new MemoryEnd(hwm);
  a.peer = b;
  b.peer = a;
  const ta = new MemoryTransport(a, 'memory:a', options);
  const tb = new MemoryTransport(b, 'memory:b', options);
  ta.link(tb);
  tb.link(ta);
  return [ta, tb];
}
