import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SubrunError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { StreamDecoder } from '../../subunit/decoder.js';
import { PacketEncoder } from '../../subunit/encoder.js';
import { timestampFromMillis, type SubunitEvent } from '../../subunit/event.js';
import type { RunnerConfig } from '../config/runner-config.js';
import { instanceCommand, runCommand } from './commands.js';
import type { InstancePool } from './instance-pool.js';
import { runShell, type ShellResult } from './shell-process.js';

/** testrepository's synthetic test for a command that exits non-zero (SPEC §14.7). */
export const RETURNCODE_TEST_ID = 'process-returncode';
const STDOUT_MIME = 'text/plain; charset=utf8';
/** Stray output is passed on in attachments of at most this many bytes. */
const STDOUT_CHUNK = 65536;

export interface PartitionOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Every packet of the process's stream, after tagging; `raw` is its encoding. */
  onPacket: (event: SubunitEvent, raw: Uint8Array) => void;
  /** The process's stderr, as it arrives. */
  onStderr?: (chunk: Buffer) => void;
  onCommand?: (command: string) => void;
  /** The partition's index: events get the tag `worker-N` and route code `N` (as testr's load). */
  worker?: number;
  extraArgs?: readonly string[];
  instances?: InstancePool;
  concurrency?: number;
  /** Append testrepository's `process-returncode` failure on a non-zero exit. @default true */
  reportReturnCode?: boolean;
  /** Where to create the `$IDFILE`. @default os.tmpdir() */
  tmpDir?: string;
  clock?: Clock;
}

export interface PartitionResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  /** Whether it was stopped through `signal`. */
  aborted: boolean;
  /** The command line that ran. */
  command: string;
  /** Corrupt packets skipped in its output (their bytes became `stdout`). */
  decodeErrors: number;
}

/**
 * Run one partition's process (SPEC §14.7): `ids` through `$IDFILE`/`$IDLIST`/
 * `$IDOPTION` (or every test when `ids` is null), its stdout decoded as subunit v2
 * and passed on packet by packet, tagged for its worker. An exception thrown by
 * `onPacket` stops the process and rejects, after the process has exited.
 */
export async function runPartition(config: RunnerConfig, ids: readonly string[] | null, options: PartitionOptions): Promise<PartitionResult> {
  const clock = options.clock ?? systemClock;
  let dir: string | undefined;
  let instance: string | undefined;
  const inner = new AbortController();
  const onOuterAbort = (): void => inner.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) inner.abort(options.signal.reason);
  try {
    let idFile: string | null = null;
    if (ids !== null) {
      dir = await mkdtemp(path.join(options.tmpDir ?? tmpdir(), 'subrun-ids-'));
      idFile = path.join(dir, 'ids.list');
      // testrepository's write_list: ids joined by newlines, with a trailing one.
      await writeFile(idFile, ids.length === 0 ? '\n' : ids.join('\n') + '\n');
    }
    let command = runCommand(config, ids, idFile, options.extraArgs);
    if (options.instances !== undefined) {
      instance = await options.instances.obtain(options.concurrency ?? 1);
      if (options.instances.execute !== undefined) command = instanceCommand(options.instances.execute, instance, command, idFile);
    }
    options.onCommand?.(command);
    const tagger = new PacketTagger(options.worker, clock, options.onPacket);
    const decoder = new StreamDecoder(tagger);
    let callbackError: unknown;
    const guard = (fn: () => void): void => {
      if (callbackError !== undefined) return;
      try {
        fn();
      } catch (error) {
        callbackError = error;
        inner.abort(error);
      }
    };
    const result: ShellResult = await runShell(command, {
      cwd: options.cwd,
      env: options.env,
      signal: inner.signal,
      onStdout: (chunk) => guard(() => decoder.push(chunk)),
      ...(options.onStderr === undefined ? {} : { onStderr: options.onStderr }),
    });
    guard(() => decoder.end());
    if (callbackError !== undefined) throw callbackError;
    const aborted = result.killed === 'abort';
    if (result.exitCode !== 0 && !aborted && (options.reportReturnCode ?? true)) {
      // testrepository's ReturnCodeToSubunit; a death by signal is reported as its negative number, as Popen does.
      const code = result.exitCode ?? -signalNumber(result.signal);
      guard(() => tagger.emitReturnCode(code));
      if (callbackError !== undefined) throw callbackError;
    }
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      stderrTail: result.stderrTail,
      aborted,
      command,
      decodeErrors: tagger.decodeErrors,
    };
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (instance !== undefined) options.instances!.release(instance);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 1 : (SIGNALS[sig] ?? 1);
}

/** Tags, timestamps and re-encodes each packet of one worker's stream (testr's StreamTagger + TimestampingStreamResult). */
class PacketTagger {
  decodeErrors = 0;
  private readonly encoder = new PacketEncoder();
  private readonly tag: string | undefined;
  private readonly route: string | undefined;

  constructor(
    worker: number | undefined,
    private readonly clock: Clock,
    private readonly onPacket: (event: SubunitEvent, raw: Uint8Array) => void,
  ) {
    if (worker !== undefined) {
      if (!Number.isInteger(worker) || worker < 0) throw new SubrunError('ERR_INVALID_ARGUMENT', `Expected \`worker\` to be a non-negative integer, got \`${worker}\``);
      this.tag = `worker-${worker}`;
      this.route = String(worker);
    }
  }

  packet(event: SubunitEvent): void {
    this.emit(this.decorate({ ...event }));
  }

  nonSubunit(bytes: Uint8Array): void {
    // python-subunit's non_subunit_name='stdout': stray bytes become a stdout attachment of no test.
    const event = this.decorate({ fileName: 'stdout', mimeType: STDOUT_MIME });
    for (let i = 0; i < bytes.length; i += STDOUT_CHUNK) this.emit({ ...event, fileBytes: bytes.subarray(i, i + STDOUT_CHUNK) });
  }

  error(): void {
    this.decodeErrors++;
  }

  emitReturnCode(code: number): void {
    this.emit(
      this.decorate({
        testId: RETURNCODE_TEST_ID,
        status: 'fail',
        fileName: 'traceback',
        mimeType: 'text/plain;charset=utf8',
        fileBytes: Buffer.from(`returncode ${code}`, 'utf8'),
        eof: true,
      }),
    );
  }

  private decorate(event: SubunitEvent): SubunitEvent {
    if (this.tag !== undefined) {
      const tags = event.tags === undefined ? [] : event.tags.filter((t) => t !== this.tag);
      tags.push(this.tag);
      event.tags = tags;
      event.routeCode = event.routeCode === undefined ? this.route! : `${this.route}/${event.routeCode}`;
    }
    event.timestamp ??= timestampFromMillis(this.clock.now());
    return event;
  }

  private emit(event: SubunitEvent): void {
    this.onPacket(event, this.encoder.encode(event));
  }
}
