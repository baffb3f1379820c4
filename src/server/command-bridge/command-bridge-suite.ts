/**
 * A Suite over a legacy subunit-emitting command (testrepository's test_command):
 * List runs it with the list option and reads `exists` packets; Run writes the
 * chosen ids to a file and runs it with the id option, forwarding its subunit
 * stream. A requested test the command never reported is charged as a failure with
 * the command's exit status and stderr, so a crash loses nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../../core/clock.js';
import { abortError } from '../../core/abort.js';
import { InvalidArgumentError, SubrunError } from '../../core/errors.js';
import { StreamDecoder } from '../../subunit/decoder.js';
import { timestampFromMillis, type SubunitEvent } from '../../subunit/event.js';
import type { ListOutcome, ResultSink, RunOutcome, RunRequest, Suite } from '../suite.js';
import { TEXT_MIME } from '../suite.js';
import { listCommand, runCommand, validateTemplate, type CommandTemplate } from './command-template.js';

export interface CommandBridgeOptions extends CommandTemplate {
  /** Working directory of the command. */
  cwd: string;
  /** Environment of the command. @default inherited from the server */
  env?: Readonly<Record<string, string | undefined>>;
  /** The shell that runs the command (testr uses one too: commands use shell syntax). @default '/bin/sh' */
  shell?: string;
  /** Kill a command running longer than this. @default Infinity */
  timeoutMs?: number;
  /** Stderr kept for the report of a failed command. @default 65536 */
  maxStderrBytes?: number;
  clock?: Clock;
}

const FINAL = new Set(['success', 'fail', 'skip', 'xfail', 'uxsuccess']);
const encoder = new TextEncoder();

interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export class CommandBridgeSuite implements Suite {
  readonly #opts: CommandBridgeOptions;
  readonly #clock: Clock;
  #listed: string[] | undefined;
  #closed = false;
  readonly #children = new Set<ReturnType<typeof spawn>>();

  constructor(options: CommandBridgeOptions) {
    validateTemplate(options);
    if (typeof options.cwd !== 'string' || options.cwd === '') throw new InvalidArgumentError('cwd', 'a directory path', options.cwd);
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
  }

  async list(sink: ResultSink, filter?: string[]): Promise<ListOutcome> {
    this.#assertOpen();
    const ids: string[] = [];
    const seen = new Set<string>();
    const duplicates: string[] = [];
    const result = await this.#exec(listCommand(this.#opts), {
      packet: (e) => {
        if (e.status !== 'exists' || e.testId === undefined) return;
        if (seen.has(e.testId)) duplicates.push(e.testId);
        else {
          seen.add(e.testId);
          ids.push(e.testId);
        }
      },
      other: () => {},
    }, undefined);
    if (result.code !== 0) {
      throw new SubrunError('ERR_LIST_FAILED', `listing tests failed (${describeExit(result)}): ${result.stderr.trim().slice(-2000)}`, { details: { code: result.code } });
    }
    this.#listed = ids;
    const wanted = filter === undefined ? undefined : new Set(filter);
    const now = timestampFromMillis(this.#clock.now());
    for (const id of ids) if (wanted === undefined || wanted.has(id)) sink.emit({ testId: id, status: 'exists', timestamp: now });
    const unknown = filter === undefined ? [] : filter.filter((f) => !seen.has(f));
    return duplicates.length === 0 ? { unknown } : { unknown, duplicates };
  }

  async run(request: RunRequest, sink: ResultSink): Promise<RunOutcome> {
    this.#assertOpen();
    if (request.tests !== undefined && (!Array.isArray(request.tests) || request.tests.some((t) => typeof t !== 'string'))) {
      throw new InvalidArgumentError('request.tests', 'an array of test ids', request.tests);
    }
    let ids = request.tests;
    const unknown: string[] = [];
    if (ids !== undefined) {
      if (this.#listed === undefined) await this.list({ emit() {} });
      const known = new Set(this.#listed);
      for (const id of ids) if (!known.has(id)) unknown.push(id);
      ids = ids.filter((id) => known.has(id));
      if (ids.length === 0) return { unknown, ran: 0 };
    }
    const dir = ids === undefined ? undefined : mkdtempSync(path.join(tmpdir(), 'subrun-ids-'));
    try {
      const idFile = dir === undefined ? undefined : path.join(dir, 'ids');
      if (idFile !== undefined) writeFileSync(idFile, ids!.join('\n') + '\n');
      const finished = new Set<string>();
      const result = await this.#exec(runCommand(this.#opts, ids, idFile), {
        packet: (e) => {
          if (e.testId !== undefined && e.status !== undefined && FINAL.has(e.status)) finished.add(e.testId);
          sink.emit(e);
        },
        other: (bytes) => sink.emit({ fileName: 'stdout', mimeType: TEXT_MIME, fileBytes: bytes, eof: true, timestamp: timestampFromMillis(this.#clock.now()) }),
      }, request.signal);
      const missing = (ids ?? []).filter((id) => !finished.has(id));
      const stderr = result.stderr;
      if (missing.length > 0) {
        const reason = `the test command ${describeExit(result)} without reporting this test`;
        for (const id of missing) this.#emitFailure(sink, id, reason, stderr);
      } else if (stderr !== '') {
        sink.emit({ fileName: 'stderr', mimeType: TEXT_MIME, fileBytes: encoder.encode(stderr), eof: true, timestamp: timestampFromMillis(this.#clock.now()) });
      }
      return { unknown, ran: finished.size + missing.length };
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Kills any running command (the process group we started for it). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const child of this.#children) killGroup(child);
  }

  #assertOpen(): void {
    if (this.#closed) throw new SubrunError('ERR_SUITE_CLOSED', 'the suite is closed');
  }

  #emitFailure(sink: ResultSink, id: string, reason: string, stderr: string): void {
    const timestamp = timestampFromMillis(this.#clock.now());
    sink.emit({ testId: id, status: 'inprogress', timestamp });
    sink.emit({ testId: id, fileName: 'reason', mimeType: TEXT_MIME, fileBytes: encoder.encode(reason), eof: true, timestamp });
    if (stderr !== '') sink.emit({ testId: id, fileName: 'stderr', mimeType: TEXT_MIME, fileBytes: encoder.encode(stderr), eof: true, timestamp });
    sink.emit({ testId: id, status: 'fail', timestamp });
  }

  #exec(command: string, on: { packet(e: SubunitEvent): void; other(bytes: Uint8Array): void }, signal: AbortSignal | undefined): Promise<CommandResult> {
    if (signal?.aborted) return Promise.reject(abortError(signal, 'the test command'));
    const maxStderr = this.#opts.maxStderrBytes ?? 65536;
    return new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(this.#opts.shell ?? '/bin/sh', ['-c', command], {
        cwd: this.#opts.cwd,
        env: this.#opts.env as NodeJS.ProcessEnv | undefined,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so a kill reaches what the shell started too (and nothing else).
        detached: true,
      });
      this.#children.add(child);
      const decoder = new StreamDecoder({
        packet: (event) => on.packet(event),
        nonSubunit: (bytes) => on.other(bytes),
        // A corrupt packet's bytes follow as nonSubunit, so they reach the sink as stdout.
        error: () => {},
      });
      let stderr = '';
      let timer: { cancel(): void } | undefined;
      let killedFor: string | undefined;
      const kill = (why: string): void => {
        killedFor ??= why;
        killGroup(child);
      };
      const onAbort = (): void => kill('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      const timeoutMs = this.#opts.timeoutMs;
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) timer = this.#clock.setTimeout(() => kill(`timed out after ${timeoutMs} ms`), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => decoder.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < maxStderr) stderr += chunk.toString('utf8').slice(0, maxStderr - stderr.length);
      });
      child.on('error', (error) => {
        cleanup();
        reject(new SubrunError('ERR_COMMAND_SPAWN', `could not start the test command: ${error.message}`, { cause: error }));
      });
      child.on('close', (code, sig) => {
        cleanup();
        decoder.end();
        if (killedFor === 'aborted' && signal !== undefined) reject(abortError(signal, 'the test command'));
        else resolve({ code, signal: sig, stderr: killedFor === undefined ? stderr : `${stderr}\n[subrun] the command was killed: ${killedFor}\n` });
      });
      const cleanup = (): void => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        this.#children.delete(child);
      };
    });
  }
}

function describeExit(result: CommandResult): string {
  return result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
}

/** Kill the process group led by our child (its pid, negated): the shell and whatever it started. */
function killGroup(child: ReturnType<typeof spawn>): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
