import type { Clock } from '../core/clock.js';
import type { SubunitEvent } from '../subunit/event.js';
import { RepositoryError, RepositoryErrorCode } from './errors.js';
import { RunRecorder, type RecordSink } from './run-recorder.js';
import type { RunState, RunSummary, RunWriter, TestResult } from './types.js';

/** What a store provides to the shared writer: where bytes go and how a finished run is indexed. */
export interface WriterBackend {
  sink: RecordSink;
  /** Make everything appended durable (SPEC §13.4) and release the stream; may throw ERR_REPO_IO. */
  seal(): void;
  /** Record the finished run (one transaction for the file store). */
  complete(summary: RunSummary, results: readonly TestResult[], failingAsPartial: boolean): void;
}

export interface WriterInit {
  id: number;
  partial: boolean;
  source: string | null;
  startedAt: number;
}

/** Reason written into the closing `fail` packet of a test left in progress (SPEC §13.3). */
export const IN_PROGRESS_AT_FINISH = 'the test was still in progress when its run finished (its server stopped reporting)';

/** The RunWriter of every store: a RunRecorder over the store's backend. */
export class RecordingRunWriter implements RunWriter {
  readonly id: number;
  readonly #init: WriterInit;
  readonly #backend: WriterBackend;
  readonly #clock: Clock;
  readonly #recorder: RunRecorder;
  #ended: Promise<RunSummary> | undefined;

  constructor(init: WriterInit, backend: WriterBackend, clock: Clock) {
    this.id = init.id;
    this.#init = init;
    this.#backend = backend;
    this.#clock = clock;
    this.#recorder = new RunRecorder(backend.sink, () => clock.now());
  }

  write(chunk: Uint8Array): void {
    this.#check();
    this.#recorder.write(chunk);
  }

  packet(event: SubunitEvent, raw: Uint8Array): void {
    this.#check();
    this.#recorder.packet(event, raw);
  }

  nonSubunit(bytes: Uint8Array): void {
    this.#check();
    this.#recorder.nonSubunit(bytes);
  }

  finish(): Promise<RunSummary> {
    this.#ended ??= this.#end('complete', IN_PROGRESS_AT_FINISH);
    return this.#ended;
  }

  abort(reason = 'the run was interrupted'): Promise<RunSummary> {
    this.#ended ??= this.#end('interrupted', `the test was still in progress when ${reason}`);
    return this.#ended;
  }

  async #end(state: RunState, reason: string): Promise<RunSummary> {
    const recorder = this.#recorder;
    recorder.close(reason);
    this.#backend.seal();
    const summary = summarize(this.#init, state, this.#clock.now(), recorder);
    this.#backend.complete(summary, recorder.results(), this.#init.partial || state !== 'complete');
    return summary;
  }

  #check(): void {
    if (this.#ended !== undefined) {
      throw new RepositoryError(RepositoryErrorCode.CLOSED, `run ${this.id} has already ended; no more results can be written`);
    }
  }
}

export function summarize(init: WriterInit, state: RunState, endedAt: number, recorder: RunRecorder): RunSummary {
  const counts = recorder.counts();
  return {
    id: init.id,
    state,
    partial: init.partial,
    source: init.source,
    startedAt: init.startedAt,
    endedAt,
    tests: counts.success + counts.fail + counts.skip + counts.xfail + counts.uxsuccess,
    counts,
    failures: counts.fail + counts.uxsuccess,
    durationMs: recorder.durationMs(),
    bytes: recorder.bytes,
  };
}
