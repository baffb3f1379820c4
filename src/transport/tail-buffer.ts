import { TAIL_BYTES } from './transport.js';

/** Keeps the last `limit` bytes written to it: a child's stderr, for error reports. */
export class TailBuffer {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(limit = TAIL_BYTES) {
    this.#limit = limit;
  }

  push(chunk: Buffer): void {
    if (chunk.length >= this.#limit) {
      this.#chunks = [chunk.subarray(chunk.length - this.#limit)];
      this.#size = this.#limit;
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0]!.length >= this.#limit) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }

  /** The kept bytes as text (invalid UTF-8, e.g. a multibyte character cut at the edge, becomes U+FFFD). */
  toString(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.#limit)).toString('utf8');
  }
}
