/** Messages between a TestApiSuite (main thread) and its worker. */
import type { MessagePort } from 'node:worker_threads';
import type { TestResult } from '../../testing/engine.js';

export interface WorkerInit {
  root: string;
  /** Absolute paths of the test files, in load order. */
  files: string[];
  typescript: boolean;
  nodeTestCompat: boolean;
  defaultTimeoutMs: number;
  /** Where the module hooks report every file they load (see module-hooks.ts). */
  hooksPort: MessagePort;
}

export interface LoadError {
  /** The file's relative path, which is also the id it is listed under. */
  id: string;
  traceback: string;
}

export interface RunMessage {
  type: 'run';
  ids: string[];
  resources: Readonly<Record<string, unknown>>;
  /** Set in the worker's process.env for this batch, then restored. */
  env: Readonly<Record<string, string>>;
  /** Progress shared with the main thread (see progress.ts). */
  progress: SharedArrayBuffer;
}

export type FromWorker =
  | { type: 'ready'; tests: string[]; duplicates: string[]; loadErrors: LoadError[]; stray: StrayOutput[] }
  | { type: 'results'; results: TestResult[] }
  | { type: 'done'; heapUsed: number; requiredFiles: string[]; stray: StrayOutput[] };

/** Output or an error that no running test can own (printed at load time, or after a test ended). */
export interface StrayOutput {
  fileName: 'stdout' | 'stderr' | 'uncaught-error';
  text: string;
  /** The test that was last current, when there was one. */
  testId?: string;
}

/** A record one loaded module: enough to tell later that it changed. */
export interface ModuleStamp {
  path: string;
  mtimeNs: string;
  size: number;
}
