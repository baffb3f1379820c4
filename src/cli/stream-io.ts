import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SubrunError } from '../core/errors.js';
import { StreamDecoder, type DecoderHandler } from '../subunit/decoder.js';
import type { CliContext } from './context.js';

/** The input named by a FILE argument: stdin when absent or `-`. */
export function openInput(ctx: CliContext, file: string | undefined): Readable {
  if (file === undefined || file === '-') return ctx.stdin;
  return createReadStream(path.resolve(ctx.cwd, file));
}

function ioError(file: string | undefined, error: unknown): SubrunError {
  const reason = error instanceof Error ? error.message : String(error);
  return new SubrunError('ERR_IO', `cannot read ${file === undefined || file === '-' ? 'stdin' : file}: ${reason}`, { cause: error });
}

/**
 * Feeds a subunit input through a StreamDecoder, then ends it. `afterChunk` may
 * write out (with backpressure); `idle` says that no more input is buffered, so
 * what the chunk produced should go out now (a live stream: `tail -f | subrun
 * stream ls`) rather than wait for more.
 */
export async function decodeInput(
  ctx: CliContext,
  file: string | undefined,
  handler: DecoderHandler,
  afterChunk?: (idle: boolean) => Promise<void>,
): Promise<void> {
  const decoder = new StreamDecoder(handler);
  const input = openInput(ctx, file);
  try {
    for await (const chunk of input) {
      decoder.push(chunk as Buffer);
      if (afterChunk !== undefined) await afterChunk(input.readableLength === 0);
    }
  } catch (error) {
    if (error instanceof SubrunError) throw error;
    throw ioError(file, error);
  }
  decoder.end();
}

/** Buffers output and writes it out in large pieces, waiting for the stream to drain. */
export class Output {
  private parts: (string | Uint8Array)[] = [];
  private size = 0;

  constructor(private readonly out: Writable) {}

  write(part: string | Uint8Array): void {
    this.parts.push(part);
    this.size += part.length;
  }

  /** Writes what is buffered once it is large enough, or whatever there is with `force` (the input is idle, or ended). */
  async flush(force = false): Promise<void> {
    if (this.parts.length === 0 || (!force && this.size < 65536)) return;
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    const data = parts.every((p) => typeof p === 'string')
      ? (parts as string[]).join('')
      : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    if (!this.out.write(data)) {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          this.out.off('drain', done);
          this.out.off('error', done);
          if (error) reject(error);
          else resolve();
        };
        this.out.on('drain', done);
        this.out.on('error', done);
      });
    }
  }
}
