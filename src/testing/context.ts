/**
 * The `t` a test body receives. It records what the body asks for (skip, todo,
 * diagnostics, subtests) and leaves deciding the result to the runner.
 */
import { normalizeTestArgs, type TestArgs } from './arguments.js';
import type { TestFn, TestOptions } from './tree.js';

/** What a context needs from the runner that owns it. */
export interface SubtestHost {
  subtest(parent: TestContext, name: string, options: TestOptions, fn: TestFn | undefined): Promise<void>;
}

export class TestContext {
  readonly name: string;
  /** The full test id: `path/to/file.test.ts > describe > name`. */
  readonly fullName: string;
  /** What the resource pool granted this batch (read-only; empty when nothing was granted). */
  readonly resources: Readonly<Record<string, unknown>>;
  skipReason: string | undefined;
  todoReason: string | undefined;
  diagnostics: string[] | undefined;
  failedSubtests = 0;
  #pending: Promise<void>[] | undefined;
  #subtestNames: Map<string, number> | undefined;
  #controller: AbortController | undefined;
  readonly #host: SubtestHost;

  constructor(name: string, fullName: string, resources: Readonly<Record<string, unknown>>, host: SubtestHost) {
    this.name = name;
    this.fullName = fullName;
    this.resources = resources;
    this.#host = host;
  }

  /** Aborted when the test times out or the run is cancelled. Created on first use. */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** Mark the test skipped; the body keeps running (as in node:test) and its result is `skip` unless it then fails. */
  skip(message?: string): void {
    this.skipReason = message ?? 'skipped';
  }

  /** Mark the test as expected to fail: a failure becomes `xfail`, a pass `uxsuccess`. */
  todo(message?: string): void {
    this.todoReason = message ?? 'todo';
  }

  diagnostic(message: string): void {
    (this.diagnostics ??= []).push(String(message));
  }

  /** Run a subtest now; its id is this test's id `> name`. Its failure fails this test. */
  test(...args: TestArgs): Promise<void> {
    const { name, options, fn } = normalizeTestArgs(args);
    const seen = (this.#subtestNames ??= new Map());
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    const p = this.#host.subtest(this, n === 1 ? name : `${name} #${n}`, options, fn);
    (this.#pending ??= []).push(p);
    return p;
  }

  /** Wait for subtests the body started but did not await (node:test does the same). */
  async settleSubtests(): Promise<void> {
    if (this.#pending !== undefined) await Promise.all(this.#pending);
  }

  abort(reason: unknown): void {
    this.#controller?.abort(reason);
  }
}
