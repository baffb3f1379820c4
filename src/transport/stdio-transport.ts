import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError } from '../core/errors.js';
import { ClosedLatch } from './closed-latch.js';
import { closeGracefully, type CloseOptions } from './graceful-close.js';
import { JoinedStream } from './joined-stream.js';
import { PROTOCOL_FD_PREAMBLE, protocolFdFromEnv } from './protocol-fd.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, type Transport, type TransportClosed } from './transport.js';

export interface StdioTransportOptions extends CloseOptions {
  /**
   * Where to look for the protocol-fd offer (SPEC §9.5). A server started by subrun with
   * the offer speaks on that fd and leaves its stdout to test output.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Use this fd for the protocol regardless of the environment (mostly for tests). */
  protocolFd?: number;
}

class StdioTransport implements Transport {
  readonly stream: Duplex;
  readonly url: string;
  readonly #latch = new ClosedLatch();
  readonly #options: CloseOptions;

  constructor(stream: Duplex, url: string, options: CloseOptions) {
    this.stream = stream;
    this.url = url;
    this.#options = options;
    let readEnded = false;
    let writeFinished = false;
    const check = () => {
      if (readEnded && writeFinished) this.#latch.settle({});
    };
    stream.on('end', () => {
      readEnded = true;
      check();
    });
    stream.on('finish', () => {
      writeFinished = true;
      check();
    });
    stream.on('error', () => {});
    stream.on('close', () => this.#latch.settle({}));
  }

  get closed(): Promise<TransportClosed> {
    return this.#latch.promise;
  }

  close(): Promise<void> {
    return closeGracefully(this.#latch, () => this.stream.end(), () => this.destroy(), this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, this.#options.clock);
  }

  destroy(): void {
    this.#latch.settle({});
    this.stream.destroy();
  }
}

/**
 * The server side of a stdio transport: this process's stdin/stdout, or the protocol fd
 * when the client offered it (SPEC §9.5), in which case the preamble is written at once
 * and stdout stays free for test output. Call it once per process.
 */
export function stdioTransport(options: StdioTransportOptions = {}): Transport {
  const fd = options.protocolFd ?? protocolFdFromEnv(options.env ?? process.env);
  if (fd !== undefined) {
    if (!Number.isInteger(fd) || fd < 3) throw new InvalidArgumentError('options.protocolFd', 'an integer >= 3', fd);
    const socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    // SPEC §9.5: the preamble goes first, before any byte on stdout.
    socket.write(PROTOCOL_FD_PREAMBLE);
    return new StdioTransport(socket, `stdio:fd/${fd}`, options);
  }
  // process.stdout is never really ended (Node forbids closing it), so ending our side only
  // flushes; the client sees EOF when this process exits.
  const stream = new JoinedStream(process.stdin, process.stdout, { endOutput: false });
  return new StdioTransport(stream, 'stdio:', options);
}
