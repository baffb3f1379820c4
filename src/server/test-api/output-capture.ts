/**
 * Inside the worker: what tests print (process.stdout/stderr writes, and console.*,
 * which writes through them) goes to the running test's record, never to the real
 * output. Writes when no test runs are kept as stray output for the main thread.
 */
import type { RunningTest } from '../../testing/engine.js';
import type { StrayOutput } from './worker-protocol.js';

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

export class OutputCapture {
  readonly stray: StrayOutput[] = [];
  #lastId: string | undefined;

  constructor(readonly current: () => RunningTest | undefined) {}

  install(stdout: { write: Write }, stderr: { write: Write }): void {
    stdout.write = this.#writer('stdout');
    stderr.write = this.#writer('stderr');
  }

  /** Remember which test ran last, so stray output can name it. */
  noteTest(id: string): void {
    this.#lastId = id;
  }

  takeStray(): StrayOutput[] {
    return this.stray.splice(0, this.stray.length);
  }

  addStray(fileName: StrayOutput['fileName'], text: string): void {
    const entry: StrayOutput = { fileName, text };
    if (this.#lastId !== undefined) entry.testId = this.#lastId;
    this.stray.push(entry);
  }

  #writer(stream: 'stdout' | 'stderr'): Write {
    return (chunk, encoding, callback) => {
      const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8') : String(chunk);
      const rec = this.current();
      if (rec !== undefined) (rec[stream] ??= []).push(text);
      else this.addStray(stream, text);
      const cb = typeof encoding === 'function' ? encoding : callback;
      if (typeof cb === 'function') queueMicrotask(cb as () => void);
      return true;
    };
  }
}
