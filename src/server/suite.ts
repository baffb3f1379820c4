/**
 * What a test server serves: something that can list its tests and run a selection
 * of them, streaming subunit events. Adapters: the test API (./test-api) and the
 * command bridge (./command-bridge).
 */
import type { SubunitEvent } from '../subunit/event.js';

/**
 * Receives subunit events. For List: one `exists` per test. For Run, per test:
 * `inprogress`, then attachments (fileName `stdout`/`stderr`/`traceback`/`reason`/
 * `diagnostic`, mimeType `text/plain;charset=utf8`, eof set), then the final status;
 * all with timestamps and testId.
 */
export interface ResultSink {
  emit(event: SubunitEvent): void;
}

export interface RunRequest {
  /** Test ids to run (a file path or `file > describe` prefix selects everything under it); all tests when absent. */
  tests?: string[];
  /** What the resource pool granted this batch; tests see it as `t.resources`. */
  resources?: Readonly<Record<string, unknown>>;
  /** Environment variables describing the grant (SUBRUN_POOL_*), set for the batch's tests only. */
  env?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
}

export interface RunOutcome {
  /** Requested ids that name no test: reported back, never silently dropped. */
  unknown: string[];
  /** How many planned tests reported a final status. */
  ran: number;
}

export interface ListOutcome {
  unknown: string[];
  /** Ids declared more than once (each later copy is listed as `id #2`, `id #3`...). */
  duplicates?: string[];
}

export interface Suite {
  /** Emit `exists` for every test (or those `filter` selects) without running any test body. */
  list(sink: ResultSink, filter?: string[]): Promise<ListOutcome>;
  run(request: RunRequest, sink: ResultSink): Promise<RunOutcome>;
  /** Stop workers or children once the current run is over; idempotent. */
  close(): Promise<void>;
  /**
   * Stop now, whatever is running (a test that never yields included); idempotent.
   * TestServer.close() prefers it: by then no connection is left to read a result.
   */
  destroy?(): Promise<void>;
}

export const TEXT_MIME = 'text/plain;charset=utf8';
