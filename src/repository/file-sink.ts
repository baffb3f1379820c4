import { closeSync, fsyncSync, writeSync } from 'node:fs';
import { RepositoryError, RepositoryErrorCode } from './errors.js';
import type { RecordSink } from './run-recorder.js';

const BATCH_BYTES = 65536;

/**
 * Appends a run's packets to its stream file (SPEC §13.4). Packets are copied
 * into one reused batch buffer and written with write(2) when it fills or, at
 * the latest, in a microtask: before the caller returns to the event loop. So a
 * SIGKILL loses nothing that was handed over, without a syscall per packet.
 */
export class FileSink implements RecordSink {
  readonly #path: string;
  #fd: number | undefined;
  #batch = new Uint8Array(BATCH_BYTES);
  #used = 0;
  #scheduled = false;
  #error: RepositoryError | undefined;

  constructor(fd: number, path: string) {
    this.#fd = fd;
    this.#path = path;
  }

  append(bytes: Uint8Array): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#used + bytes.length > this.#batch.length) {
      this.flush();
      if (bytes.length > this.#batch.length) {
        this.#writeAll(bytes);
        return;
      }
    }
    this.#batch.set(bytes, this.#used);
    this.#used += bytes.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        // A write error here is kept and thrown by the next append or by seal().
        try {
          this.flush();
        } catch {
          /* recorded in #error */
        }
      });
    }
  }

  flush(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#used === 0) return;
    const n = this.#used;
    this.#used = 0;
    this.#writeAll(this.#batch.subarray(0, n));
  }

  /** Flush, fsync and close (SPEC §13.4: a finished run survives a power failure). Idempotent; the descriptor is closed even on error. */
  seal(): void {
    const fd = this.#fd;
    if (fd === undefined) {
      if (this.#error !== undefined) throw this.#error;
      return;
    }
    try {
      this.flush();
      try {
        fsyncSync(fd);
      } catch (cause) {
        throw this.#fail(cause);
      }
    } finally {
      this.#fd = undefined;
      closeSync(fd);
    }
  }

  #writeAll(bytes: Uint8Array): void {
    const fd = this.#fd;
    if (fd === undefined) throw this.#fail(new Error('stream already closed'));
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (cause) {
      throw this.#fail(cause);
    }
  }

  #fail(cause: unknown): RepositoryError {
    this.#error ??= new RepositoryError(RepositoryErrorCode.IO, `cannot write run stream ${this.#path}: ${String((cause as Error)?.message ?? cause)}`, {
      cause,
      details: { path: this.#path },
    });
    return this.#error;
  }
}
