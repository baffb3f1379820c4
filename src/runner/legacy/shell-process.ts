import { spawn, type ChildProcess } from 'node:child_process';
import { SubrunError } from '../../core/errors.js';

/** Bytes of stderr kept for error reports. */
export const STDERR_TAIL_BYTES = 8192;

export interface ShellOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  /** Called with each stdout chunk; when absent stdout is collected and returned. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Largest stdout collected when onStdout is absent. @default 64 MiB */
  maxStdoutBytes?: number;
}

export interface ShellResult {
  /** The exit status, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  /** Collected stdout (empty when onStdout was given). */
  stdout: Buffer;
  /** The last STDERR_TAIL_BYTES of stderr, as text. */
  stderrTail: string;
  /** Why subrun killed it: 'abort', 'timeout' or 'output' (too much stdout). */
  killed?: 'abort' | 'timeout' | 'output';
}

/** Milliseconds between SIGTERM and SIGKILL when subrun stops a command. */
const KILL_GRACE_MS = 2000;

/**
 * Run a command line with `/bin/sh -c` (as testrepository's `shell=True` does) in its
 * own process group, with stdin closed. Aborting or timing out kills that group (only
 * the processes this call started): SIGTERM, then SIGKILL after a grace period. The
 * promise always settles once the process has exited and its pipes have closed.
 */
export function runShell(command: string, options: ShellOptions): Promise<ShellResult> {
  const { cwd, env, signal, timeoutMs, onStdout, onStderr } = options;
  const maxStdout = options.maxStdoutBytes ?? 64 * 1024 * 1024;
  if (signal?.aborted) return Promise.reject(new SubrunError('ERR_ABORTED', `not started, aborted: ${command}`, { cause: signal.reason }));
  return new Promise<ShellResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', command], {
        cwd,
        env: env === undefined ? undefined : (Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (error) {
      reject(error);
      return;
    }
    const out: Buffer[] = [];
    let outBytes = 0;
    let tail = Buffer.alloc(0);
    let killed: ShellResult['killed'];
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: Error | undefined;
    const kill = (why: NonNullable<ShellResult['killed']>): void => {
      if (killed !== undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      killed = why;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const onAbort = (): void => kill('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => kill('timeout'), timeoutMs);
    child.stdin!.on('error', () => {});
    child.stdin!.end();
    child.stdout!.on('data', (chunk: Buffer) => {
      if (onStdout !== undefined) {
        onStdout(chunk);
        return;
      }
      outBytes += chunk.length;
      if (outBytes > maxStdout) kill('output');
      else out.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > STDERR_TAIL_BYTES) tail = tail.subarray(tail.length - STDERR_TAIL_BYTES);
      onStderr?.(chunk);
    });
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, sig) => {
      if (timer !== undefined) clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (spawnError !== undefined && code === null && sig === null) {
        reject(new SubrunError('ERR_COMMAND_FAILED', `cannot start /bin/sh: ${spawnError.message}`, { cause: spawnError }));
        return;
      }
      resolve({
        exitCode: code,
        signal: sig,
        stdout: Buffer.concat(out),
        stderrTail: tail.toString('utf8'),
        ...(killed === undefined ? {} : { killed }),
      });
    });
  });
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // The group is already gone.
  }
}

/** A one-line description of how a command ended, for error messages. */
export function describeExit(result: ShellResult): string {
  if (result.killed === 'timeout') return 'was killed after its timeout';
  if (result.killed === 'abort') return 'was stopped (aborted)';
  if (result.killed === 'output') return 'was killed: it printed too much';
  return result.signal !== null ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
}
