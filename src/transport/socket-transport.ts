import type { Socket } from 'node:net';
import { SubrunError } from '../core/errors.js';
import { ClosedLatch } from './closed-latch.js';
import { closeGracefully, type CloseOptions } from './graceful-close.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, type Transport, type TransportClosed } from './transport.js';

/**
 * A TCP or Unix-domain socket as a transport (SPEC §9.3). The socket itself is the stream;
 * it must have been made with `allowHalfOpen: true` so that ending our side leaves the
 * peer free to finish (SPEC §9.1).
 */
export class SocketTransport implements Transport {
  readonly stream: Socket;
  readonly url: string;
  readonly #latch = new ClosedLatch();
  readonly #options: CloseOptions;
  #error: SubrunError | undefined;

  constructor(socket: Socket, url: string, options: CloseOptions = {}) {
    this.stream = socket;
    this.url = url;
    this.#options = options;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#error ??= new SubrunError('ERR_TRANSPORT_BROKEN', `${url}: ${error.message}`, { cause: error, details: { errno: error.code } });
    });
    socket.on('close', () => this.#latch.settle(this.#error === undefined ? {} : { error: this.#error }));
    if (socket.destroyed) this.#latch.settle({});
  }

  get closed(): Promise<TransportClosed> {
    return this.#latch.promise;
  }

  close(): Promise<void> {
    return closeGracefully(this.#latch, () => this.stream.end(), () => this.stream.destroy(), this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, this.#options.clock);
  }

  destroy(): void {
    this.stream.destroy();
  }
}
