import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { abortError } from '../core/abort.js';
import { systemClock, type Clock } from '../core/clock.js';
import { InvalidArgumentError, SubrunError } from '../core/errors.js';
import { ChildStream, type ChannelMode } from './child-stream.js';
import { ClosedLatch } from './closed-latch.js';
import { PROTOCOL_FD, PROTOCOL_FD_ENV } from './protocol-fd.js';
import { TailBuffer } from './tail-buffer.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, type Transport, type TransportClosed } from './transport.js';

export interface SpawnOptions {
  /** Environment of the child. @default the parent's environment */
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Run a string command through /bin/sh (default for a string; an array is always argv). */
  shell?: boolean;
  /**
   * Offer the protocol on a dedicated fd (SPEC §9.5). The child chooses; `transport.mode`
   * settles to what it chose. @default false
   */
  protocolFd?: boolean;
  /** Called with child stdout bytes that are not protocol (protocol-fd mode). */
  onOutput?: (chunk: Buffer) => void;
  /** Called with every chunk of the child's stderr (the last 8 KiB are also kept for `closed`). */
  onStderr?: (chunk: Buffer) => void;
  /** How long close() waits after ending our side before SIGTERM, and again before SIGKILL. @default 5000 */
  closeTimeoutMs?: number;
  /** After the child exits, how long to wait for its pipes to close (a grandchild may hold them). @default 1000 */
  exitDrainMs?: number;
  /** Bound on starting the child. */
  timeoutMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
  /** Turns a failed exit into an error; ssh uses this to explain exit 255. @internal */
  describeExit?: (exitCode: number | null, signal: string | null, stderrTail: string) => SubrunError | undefined;
  /** Overrides the `stdio:pid/N` URL (ssh shows the ssh:// URL). @internal */
  url?: string;
}

/** A transport to a local child process, as returned by spawnTransport (SPEC §9.4). */
export interface ChildTransport extends Transport {
  readonly pid: number;
  /** Which channel the child speaks the protocol on; settles when it is known (SPEC §9.5). */
  readonly mode: Promise<ChannelMode>;
  /** Bytes written to stderr so far: the last ~8 KiB. */
  stderrTail(): string;
}

class ChildProcessTransport implements ChildTransport {
  readonly stream: ChildStream;
  readonly url: string;
  readonly pid: number;
  readonly mode: Promise<ChannelMode>;
  readonly #child: ChildProcess;
  readonly #latch = new ClosedLatch();
  readonly #stderr = new TailBuffer();
  readonly #stdout = new TailBuffer();
  readonly #options: SpawnOptions;
  readonly #clock: Clock;
  #protocolError: SubrunError | undefined;
  #destroyedByUs = false;
  #usedFd = false;
  #closing: Promise<void> | undefined;

  constructor(child: ChildProcess, options: SpawnOptions) {
    this.#child = child;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.pid = child.pid!;
    this.url = options.url ?? `stdio:pid/${this.pid}`;
    let resolveMode!: (mode: ChannelMode) => void;
    this.mode = new Promise((resolve) => {
      resolveMode = resolve;
    });
    const fd = options.protocolFd === true ? (child.stdio[PROTOCOL_FD] as Socket) : undefined;
    // SPEC §9.1: the child may finish its output after we end ours.
    if (fd !== undefined) fd.allowHalfOpen = true;
    this.stream = new ChildStream(child.stdin as Writable, child.stdout as Readable, fd as Duplex | undefined, {
      onOutput: (chunk) => {
        this.#stdout.push(chunk);
        options.onOutput?.(chunk);
      },
      onModeChosen: (mode) => {
        this.#usedFd = mode === 'fd';
        resolveMode(mode);
      },
      onProtocolError: (error) => {
        this.#protocolError ??= error;
        this.destroy();
      },
    });
    this.stream.on('error', () => {});
    (child.stderr as Readable).on('data', (chunk: Buffer) => {
      this.#stderr.push(chunk);
      options.onStderr?.(chunk);
    });
    let drainTimer: { cancel(): void } | undefined;
    child.on('exit', () => {
      // Our half of the protocol fd keeps the child's 'close' from firing until we end it,
      // and nobody is left to read it.
      if (fd !== undefined && !fd.destroyed) fd.end();
      // A grandchild can hold our pipes open after the child is gone; do not wait for it forever.
      drainTimer = this.#clock.setTimeout(() => {
        for (const s of child.stdio) s?.destroy();
      }, options.exitDrainMs ?? 1000);
    });
    child.on('close', (code, signal) => {
      drainTimer?.cancel();
      // Closing can happen before the child chose (it died first): the mode is then plain stdio.
      resolveMode(this.stream.mode ?? 'stdio');
      this.#latch.settle(this.#closedInfo(code, signal));
    });
  }

  #closedInfo(exitCode: number | null, signal: NodeJS.Signals | null): TransportClosed {
    const stderrTail = this.#stderr.toString();
    const info: TransportClosed = { exitCode, signal, stderrTail };
    if (this.#usedFd) info.stdoutTail = this.#stdout.toString();
    const error =
      this.#protocolError ??
      (this.#destroyedByUs || (exitCode === 0 && signal === null)
        ? undefined
        : this.#options.describeExit?.(exitCode, signal, stderrTail) ?? new SubrunError('ERR_TRANSPORT_EXIT', `${this.url} exited with ${signal === null ? `code ${exitCode}` : `signal ${signal}`}${stderrTail === '' ? '' : `; stderr ends: ${stderrTail.slice(-500)}`}`, {
            details: { exitCode, signal },
          }));
    if (error !== undefined) info.error = error;
    return info;
  }

  get closed(): Promise<TransportClosed> {
    return this.#latch.promise;
  }

  stderrTail(): string {
    return this.#stderr.toString();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#latch.settled) return;
    this.stream.end();
    const limit = this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    if (await this.#settlesWithin(limit)) return;
    this.#destroyedByUs = true;
    this.#child.kill('SIGTERM');
    if (await this.#settlesWithin(limit)) return;
    this.destroy();
    await this.#latch.promise;
  }

  #settlesWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => resolve(false), ms);
      void this.#latch.promise.then(() => {
        timer.cancel();
        resolve(true);
      });
    });
  }

  destroy(): void {
    if (this.#latch.settled) return;
    this.#destroyedByUs = true;
    // By pid, never by name: only the process we started.
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    this.stream.destroy();
  }
}

/**
 * Start a local child and speak the protocol over its stdin/stdout (SPEC §9.4), or over a
 * dedicated fd when `protocolFd` is set and the child takes the offer (SPEC §9.5).
 * Resolves once the child is running; rejects with ERR_TRANSPORT_SPAWN if it cannot start.
 */
export async function spawnTransport(command: string | readonly string[], options: SpawnOptions = {}): Promise<ChildTransport> {
  let file: string;
  let args: string[];
  let shell = false;
  if (typeof command === 'string') {
    if (command.trim() === '') throw new InvalidArgumentError('command', 'a non-empty command line', command);
    file = command;
    args = [];
    shell = options.shell !== false;
    if (!shell) throw new InvalidArgumentError('options.shell', 'true (or omitted) for a string command; pass an argv array to run without a shell', options.shell);
  } else {
    if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) {
      throw new InvalidArgumentError('command', 'a non-empty array of strings', command);
    }
    [file, ...args] = command as [string, ...string[]];
    shell = options.shell === true;
  }
  const signal = options.signal;
  if (signal?.aborted) throw abortError(signal, 'spawning the test server');
  // SPEC §9.5.1: the variable is set exactly when we offer; an inherited one (subrun running
  // inside a server that was offered the fd) must not leak into a child we did not offer it to.
  const env: Record<string, string | undefined> = { ...(options.env ?? process.env) };
  if (options.protocolFd === true) env[PROTOCOL_FD_ENV] = String(PROTOCOL_FD);
  else delete env[PROTOCOL_FD_ENV];
  const stdio: ('pipe' | 'ignore')[] = options.protocolFd === true ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'];
  const child = spawn(file, args, { env, cwd: options.cwd, shell, stdio, windowsHide: true });
  const clock = options.clock ?? systemClock;
  await new Promise<void>((resolve, reject) => {
    let timer: { cancel(): void } | undefined;
    const cleanup = () => {
      timer?.cancel();
      child.off('spawn', onSpawn);
      child.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onSpawn = () => {
      cleanup();
      resolve();
    };
    const onError = (error: NodeJS.ErrnoException) => {
      cleanup();
      reject(new SubrunError('ERR_TRANSPORT_SPAWN', `Could not start ${JSON.stringify([file, ...args].join(' '))}: ${error.message}`, { cause: error, details: { errno: error.code } }));
    };
    const onAbort = () => {
      cleanup();
      child.kill('SIGKILL');
      reject(abortError(signal!, 'spawning the test server'));
    };
    child.once('spawn', onSpawn);
    child.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      timer = clock.setTimeout(() => {
        cleanup();
        child.kill('SIGKILL');
        reject(new SubrunError('ERR_TRANSPORT_TIMEOUT', `Starting ${file} timed out after ${options.timeoutMs} ms`, { details: { timeoutMs: options.timeoutMs } }));
      }, options.timeoutMs);
    }
  });
  // Later errors (a kill of an already-dead pid) are reported through `closed`, not thrown.
  child.on('error', () => {});
  return new ChildProcessTransport(child, options);
}
