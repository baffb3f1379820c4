import type { Readable, Writable } from 'node:stream';

/**
 * Everything a command may touch of the outside world. Only src/cli reads argv,
 * env or sets the exit code (STYLE §7); tests build a CliContext over in-memory
 * streams and run commands in-process.
 */
export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Whether stdout is an interactive terminal (progress lines, colour). */
  isTTY: boolean;
}

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  OK: 0,
  /** Tests failed, or a checked condition did not hold. */
  FAILURES: 1,
  /** Bad command line or configuration. */
  USAGE: 2,
  /** The machinery failed: I/O, a peer, a server, the pool. */
  ERROR: 3,
  /** Interrupted (SIGINT). */
  INTERRUPTED: 130,
} as const;

export interface CliContext extends CliIO {
  exitCode: number;
  /**
   * Set by long-running commands (serve): once the command returns, the process exits
   * with exitCode even if handles (workers, stdin) would keep it alive.
   */
  exitWhenDone: boolean;
  /** Raise the exit code; a worse outcome is never overwritten by a better one. */
  fail(code: number): void;
}

export function createContext(io: CliIO): CliContext {
  const ctx: CliContext = {
    ...io,
    exitCode: ExitCode.OK,
    exitWhenDone: false,
    fail(code: number) {
      if (code > ctx.exitCode) ctx.exitCode = code;
    },
  };
  return ctx;
}
