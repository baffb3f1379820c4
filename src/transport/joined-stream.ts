import { Duplex, type Readable, type Writable } from 'node:stream';

/**
 * One Duplex over a separate readable and writable (the server's own stdin and stdout),
 * passing backpressure through in both directions and never letting their errors escape
 * as exceptions: a broken pipe just stops the writes (SPEC §9.8).
 */
export class JoinedStream extends Duplex {
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #endOutput: boolean;
  #outputBroken = false;

  constructor(input: Readable, output: Writable, options: { endOutput: boolean }) {
    super({ allowHalfOpen: true });
    this.#input = input;
    this.#output = output;
    this.#endOutput = options.endOutput;
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    input.on('end', () => this.push(null));
    input.on('error', () => this.push(null));
    output.on('error', () => {
      this.#outputBroken = true;
    });
    input.pause();
  }

  override _read(): void {
    this.#input.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#outputBroken || this.#output.destroyed) {
      callback();
      return;
    }
    if (this.#output.write(chunk)) {
      callback();
      return;
    }
    const done = () => {
      this.#output.off('drain', done);
      this.#output.off('close', done);
      callback();
    };
    this.#output.on('drain', done);
    this.#output.on('close', done);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#endOutput && !this.#outputBroken && !this.#output.destroyed) this.#output.end(callback);
    else callback();
  }
}
