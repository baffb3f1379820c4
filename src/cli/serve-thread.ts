/**
 * `subrun serve` runs its server in a worker thread of the same process: V8 fixes the
 * main thread's young generation when node starts (it grows to two 16 MiB semi-spaces
 * under any steady load), while a thread's can be capped when it starts. The main
 * thread starts the server thread, forwards signals and plain stdio, and returns its
 * exit code; it allocates next to nothing while the server runs, so its own heap stays
 * at its start-up size (README "Memory of a long-lived test server").
 */
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { SubrunError } from '../core/errors.js';
import type { CliContext } from './context.js';
import type { ServeOptions } from './serve.js';

/** Two 4 MiB semi-spaces, like the test worker's (DEFAULT_WORKER_YOUNG_GENERATION_MB). */
export const DEFAULT_SERVER_YOUNG_GENERATION_MB = 12;

export interface ServeThreadData {
  files: string[];
  options: ServeOptions;
  cwd: string;
}

/** What the server thread posts once, when `serve` returned or threw. */
export type ServeThreadOutcome =
  | { type: 'exit'; code: number }
  | { type: 'error'; code?: string; message: string; stack?: string; details?: Record<string, unknown> };

/** What the main thread posts to the server thread. */
export interface ServeThreadSignal {
  type: 'signal';
  name: 'SIGTERM' | 'SIGINT';
}

export interface ServerThreadOptions {
  youngGenerationMb: number;
  /** Relay this process's stdin to the server thread (plain stdio: no protocol fd, no --listen). */
  relayStdin: boolean;
  /** Signals the server thread handles; each is forwarded once, as `process.once` would see it. */
  signals: ServeThreadSignal['name'][];
}

const ENTRY = new URL('./serve-thread-entry.js', import.meta.url);

export async function runServerThread(data: ServeThreadData, ctx: CliContext, options: ServerThreadOptions): Promise<number> {
  const worker = new Worker(ENTRY, {
    workerData: data,
    // The same variables as the process (SUBRUN_PROTOCOL_FD, SUBRUN_POOL_URL...), unless a caller gave its own.
    env: ctx.env === process.env ? SHARE_ENV : { ...ctx.env },
    stdin: options.relayStdin,
    stdout: true,
    stderr: true,
    resourceLimits: { maxYoungGenerationSizeMb: options.youngGenerationMb },
  });
  worker.stdout.pipe(ctx.stdout, { end: false });
  worker.stderr.pipe(ctx.stderr, { end: false });
  const stdin = worker.stdin;
  // A read error on our stdin (a reset socket) is its end for the server, as it was for the transport on this thread.
  const onStdinError = (): void => {
    stdin?.end();
  };
  if (options.relayStdin && stdin !== null) {
    ctx.stdin.on('error', onStdinError);
    stdin.on('error', () => {}); // the server thread ended first: nothing is left to read it
    ctx.stdin.pipe(stdin);
  }
  const forwards = options.signals.map((name) => {
    const forward = (): void => worker.postMessage({ type: 'signal', name } satisfies ServeThreadSignal);
    process.once(name, forward);
    return [name, forward] as const;
  });
  let outcome: ServeThreadOutcome | undefined;
  let crash: unknown;
  try {
    const exitCode = await new Promise<number>((resolve) => {
      worker.on('message', (message: ServeThreadOutcome) => {
        outcome = message;
        // Whatever the server left running (a stuck test worker, a client socket) ends with it,
        // as it did when `serve` returned on the main thread and the process exited.
        void worker.terminate();
      });
      worker.on('error', (error) => {
        crash = error;
      });
      worker.on('exit', resolve);
    });
    if (outcome?.type === 'exit') return outcome.code;
    if (outcome?.type === 'error') throw rebuild(outcome);
    if (crash !== undefined) throw crash;
    throw new SubrunError('ERR_SERVER_THREAD', `the server thread exited with code ${exitCode} before reporting how the server ended`);
  } finally {
    for (const [name, forward] of forwards) process.off(name, forward);
    if (stdin !== null) {
      ctx.stdin.unpipe(stdin);
      ctx.stdin.off('error', onStdinError);
    }
    worker.stdout.unpipe(ctx.stdout);
    worker.stderr.unpipe(ctx.stderr);
  }
}

/** A SubrunError stays one (its code decides the exit status); anything else is an internal error with its stack. */
function rebuild(outcome: Extract<ServeThreadOutcome, { type: 'error' }>): Error {
  if (outcome.code !== undefined) return new SubrunError(outcome.code, outcome.message, outcome.details === undefined ? {} : { details: outcome.details });
  const error = new Error(outcome.message);
  if (outcome.stack !== undefined) error.stack = outcome.stack;
  return error;
}
