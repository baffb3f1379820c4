/**
 * Runs a selection of collected tests, one at a time, in declaration order, and
 * reports each result through a callback. Per-test cost is kept small on purpose
 * (the server runs 10,000 trivial tests in well under a second): no timer unless a
 * timeout applies, no promise wrapping for a synchronous body.
 *
 * Status mapping: pass → success; throw/reject/timeout → fail; `skip` → skip;
 * `todo` that fails → xfail, `todo` that passes → uxsuccess; a `todo` without a
 * body → skip (nothing ran). Hook failures are reported against the tests they
 * affect: `before` fails every selected test of its suite, `beforeEach`/`afterEach`
 * fail their test, `after` fails the suite's last test (whose result is held back
 * until the `after` hooks have run).
 */
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { TestContext, type SubtestHost } from './context.js';
import { formatFailure, TestTimeoutError } from './failure.js';
import { getRegistry, type FileTree } from './registry.js';
import type { RunningTest, TestResult } from './result.js';
import type { Hook, SuiteNode, TestFn, TestNode, TestOptions } from './tree.js';
import { ID_SEPARATOR } from './tree.js';

export interface RunnerOptions {
  /** Receives every result, in order, as soon as it is final. */
  onResult(result: TestResult): void;
  /** Called as each planned test (or subtest) starts: where output capture and watchdogs hook in. */
  onStart?(test: RunningTest): void;
  resources?: Readonly<Record<string, unknown>>;
  /** Timeout for tests and hooks that set none. @default Infinity */
  defaultTimeoutMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  /** Polled before each test starts, like `signal`: true means start no further test. */
  shouldStop?: () => boolean;
}

const NO_RESOURCES: Readonly<Record<string, unknown>> = Object.freeze({});

class HookError extends Error {
  constructor(readonly hook: string, readonly original: unknown) {
    super(`${hook} hook failed: ${original instanceof Error ? original.message : String(original)}`, { cause: original });
    this.name = 'HookError';
  }
}

interface Inherited {
  beforeEach: Hook[];
  afterEach: Hook[];
  skip: string | undefined;
  todo: string | undefined;
  timeout: number | undefined;
}

export class TestRunner implements SubtestHost {
  /** The test whose output is being captured now. */
  current: RunningTest | undefined;
  readonly #options: RunnerOptions;
  readonly #clock: Clock;
  readonly #resources: Readonly<Record<string, unknown>>;
  readonly #defaultTimeout: number;
  #plan: ReadonlyMap<string, number> = new Map();
  #interrupt: ((error: unknown) => void) | undefined;

  constructor(options: RunnerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#resources = options.resources ?? NO_RESOURCES;
    this.#defaultTimeout = options.defaultTimeoutMs ?? Infinity;
  }

  /** Run the tests of `trees` whose ids are keys of `plan` (values are their batch indices). */
  async run(trees: readonly FileTree[], plan: ReadonlyMap<string, number>): Promise<void> {
    this.#plan = plan;
    const registry = getRegistry();
    registry.activeRun = { subtest: (name, options, fn) => this.#strayTest(name, options, fn) };
    try {
      // Which files the plan touches, so a one-test batch does not walk every file's tree.
      const files = new Set<string>();
      for (const id of plan.keys()) files.add(id.slice(0, id.indexOf(ID_SEPARATOR)));
      for (const tree of trees) {
        if (this.#stopped()) break;
        if (!files.has(tree.file) || !this.#hasSelected(tree.root)) continue;
        const held = await this.#runSuite(tree.root, { beforeEach: [], afterEach: [], skip: undefined, todo: undefined, timeout: undefined });
        if (held !== undefined) this.#options.onResult(held);
      }
    } finally {
      registry.activeRun = undefined;
      this.current = undefined;
    }
  }

  /**
   * Fail whatever is being awaited now (a test body, hook or subtest) with `error`:
   * how an uncaught exception or unhandled rejection is charged to the test that
   * caused it. Returns false when nothing was waiting.
   */
  interrupt(error: unknown): boolean {
    const interrupt = this.#interrupt;
    if (interrupt === undefined) return false;
    interrupt(error);
    return true;
  }

  #stopped(): boolean {
    return this.#options.signal?.aborted === true || this.#options.shouldStop?.() === true;
  }

  #hasSelected(suite: SuiteNode): boolean {
    for (const child of suite.children) {
      if (child.kind === 'test' ? this.#plan.has(child.id) : this.#hasSelected(child)) return true;
    }
    return false;
  }

  async #runSuite(suite: SuiteNode, outer: Inherited): Promise<TestResult | undefined> {
    const inherited: Inherited = {
      beforeEach: suite.hooks.beforeEach.length === 0 ? outer.beforeEach : [...outer.beforeEach, ...suite.hooks.beforeEach],
      afterEach: suite.hooks.afterEach.length === 0 ? outer.afterEach : [...suite.hooks.afterEach, ...outer.afterEach],
      skip: outer.skip ?? reasonOf(suite.options.skip, 'skipped'),
      todo: outer.todo ?? reasonOf(suite.options.todo, 'todo'),
      timeout: suite.options.timeout ?? outer.timeout,
    };
    const runHooks = inherited.skip === undefined;
    let beforeError: HookError | undefined;
    if (runHooks) {
      const ctx = new TestContext(suite.name, suite.id, this.#resources, this);
      for (const hook of suite.hooks.before) {
        try {
          await this.#call(hook.fn, ctx, hook.options.timeout ?? this.#defaultTimeout, 'before hook');
        } catch (error) {
          beforeError = new HookError('before', error);
          break;
        }
      }
    }
    let held: TestResult | undefined;
    for (const child of suite.children) {
      if (this.#stopped()) break;
      const index = child.kind === 'test' ? this.#plan.get(child.id) : undefined;
      if (child.kind === 'test' ? index === undefined : !this.#hasSelected(child)) continue;
      // Only the newest result is held (for the `after` hooks); report the previous one before anything else runs.
      if (held !== undefined) this.#options.onResult(held);
      if (child.kind === 'test') {
        held = beforeError === undefined ? await this.#runTest(child, index!, inherited) : this.#hookFailed(child, index!, beforeError);
      } else {
        held = await this.#runSuite(child, inherited);
      }
    }
    if (runHooks) {
      const ctx = new TestContext(suite.name, suite.id, this.#resources, this);
      for (const hook of suite.hooks.after) {
        try {
          await this.#call(hook.fn, ctx, hook.options.timeout ?? this.#defaultTimeout, 'after hook');
        } catch (error) {
          if (held !== undefined) held = failWith(held, new HookError('after', error), this.#clock.now());
        }
      }
    }
    return held;
  }

  #hookFailed(node: TestNode, index: number, error: HookError): TestResult {
    const now = this.#clock.now();
    return { id: node.id, index, status: node.options.todo ? 'xfail' : 'fail', startMs: now, endMs: now, traceback: formatFailure(error), ...tagsOf(node.options) };
  }

  async #runTest(node: TestNode, index: number, inherited: Inherited): Promise<TestResult> {
    const { options } = node;
    const timeout = options.timeout ?? inherited.timeout ?? this.#defaultTimeout;
    const startMs = this.#clock.now();
    const rec: RunningTest = { id: node.id, index, startMs, deadlineMs: startMs + timeout, stdout: undefined, stderr: undefined };
    this.current = rec;
    this.#options.onStart?.(rec);
    const skip = reasonOf(options.skip, 'skipped') ?? inherited.skip;
    const todo = reasonOf(options.todo, 'todo') ?? inherited.todo;
    if (skip !== undefined || (node.fn === undefined && todo !== undefined)) {
      return finish(rec, 'skip', this.#clock.now(), { reason: skip ?? todo, ...tagsOf(options) });
    }
    const ctx = new TestContext(node.name, node.id, this.#resources, this);
    if (todo !== undefined) ctx.todo(todo);
    let error: unknown;
    let failed = false;
    try {
      for (const hook of inherited.beforeEach) await this.#callHook(hook, ctx, 'beforeEach');
      if (node.fn !== undefined) await this.#call(node.fn, ctx, timeout, 'test');
      await ctx.settleSubtests();
    } catch (e) {
      error = e;
      failed = true;
    }
    this.current = rec;
    for (const hook of inherited.afterEach) {
      try {
        await this.#callHook(hook, ctx, 'afterEach');
      } catch (e) {
        if (!failed) {
          error = e;
          failed = true;
        }
      }
    }
    if (!failed && ctx.failedSubtests > 0) {
      error = new Error(`${ctx.failedSubtests} subtest${ctx.failedSubtests === 1 ? '' : 's'} failed`);
      failed = true;
    }
    if (failed && error instanceof TestTimeoutError) ctx.abort(error);
    return this.#result(rec, ctx, failed, error, options);
  }

  #result(rec: RunningTest, ctx: TestContext, failed: boolean, error: unknown, options: TestOptions): TestResult {
    const endMs = this.#clock.now();
    const extra: Partial<TestResult> = tagsOf(options);
    if (ctx.diagnostics !== undefined) extra.diagnostics = ctx.diagnostics;
    if (failed) {
      extra.traceback = formatFailure(error);
      if (error instanceof TestTimeoutError) extra.reason = error.message;
      else if (ctx.todoReason !== undefined) extra.reason = ctx.todoReason;
      return finish(rec, ctx.todoReason !== undefined ? 'xfail' : 'fail', endMs, extra);
    }
    if (ctx.skipReason !== undefined) return finish(rec, 'skip', endMs, { ...extra, reason: ctx.skipReason });
    if (ctx.todoReason !== undefined) return finish(rec, 'uxsuccess', endMs, { ...extra, reason: `passed, but was marked todo: ${ctx.todoReason}` });
    return finish(rec, 'success', endMs, extra);
  }

  async #callHook(hook: Hook, ctx: TestContext, kind: string): Promise<void> {
    try {
      await this.#call(hook.fn, ctx, hook.options.timeout ?? this.#defaultTimeout, `${kind} hook`);
    } catch (error) {
      throw new HookError(kind, error);
    }
  }

  /** SubtestHost: `t.test()` inside a running test. */
  async subtest(parent: TestContext, name: string, options: TestOptions, fn: TestFn | undefined): Promise<void> {
    const outer = this.current;
    const startMs = this.#clock.now();
    const timeout = options.timeout ?? this.#defaultTimeout;
    const rec: RunningTest = { id: parent.fullName + ID_SEPARATOR + name, index: undefined, startMs, deadlineMs: outer?.deadlineMs ?? startMs + timeout, stdout: undefined, stderr: undefined };
    this.current = rec;
    let result: TestResult;
    const skip = reasonOf(options.skip, 'skipped');
    const todo = reasonOf(options.todo, 'todo');
    if (skip !== undefined || (fn === undefined && todo !== undefined)) {
      result = finish(rec, 'skip', this.#clock.now(), { reason: skip ?? todo, ...tagsOf(options) });
    } else {
      const ctx = new TestContext(name, rec.id, this.#resources, this);
      if (todo !== undefined) ctx.todo(todo);
      let error: unknown;
      let failed = false;
      try {
        if (fn !== undefined) await this.#call(fn, ctx, timeout, 'subtest');
        await ctx.settleSubtests();
        if (ctx.failedSubtests > 0) throw new Error(`${ctx.failedSubtests} subtest(s) failed`);
      } catch (e) {
        error = e;
        failed = true;
      }
      result = this.#result(rec, ctx, failed, error, options);
    }
    if (result.status === 'fail' || result.status === 'uxsuccess') parent.failedSubtests++;
    this.current = outer;
    this.#options.onResult(result);
  }

  /** `test()` called while a test runs but outside `t.test`: run it as a subtest of the current test. */
  #strayTest(name: string, options: TestOptions, fn: TestFn | undefined): Promise<void> {
    const rec = this.current;
    const parent = new TestContext(rec?.id ?? name, rec?.id ?? '', this.#resources, this);
    return this.subtest(parent, name, options, fn);
  }

  /**
   * Call a test body or hook. A synchronous body that returns nothing costs no
   * promise and no timer; anything asynchronous is raced against its timeout (if
   * finite) and against `interrupt()`.
   */
  #call(fn: TestFn, ctx: TestContext, timeoutMs: number, what: string): void | Promise<void> {
    if (fn.length >= 2) {
      return this.#settle(new Promise<void>((resolve, reject) => {
        const done = (error?: unknown) => (error === undefined || error === null ? resolve() : reject(error));
        const r = fn(ctx, done) as { then?: unknown } | undefined;
        if (r !== null && typeof r === 'object' && typeof r.then === 'function') (r as Promise<unknown>).then(undefined, reject);
      }), timeoutMs, what);
    }
    const r = fn(ctx, noDone) as { then?: unknown } | undefined;
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') return this.#settle(r as Promise<unknown>, timeoutMs, what);
    return undefined;
  }

  #settle(p: PromiseLike<unknown>, timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const previous = this.#interrupt;
      let timer: TimerHandle | undefined;
      let settled = false;
      const done = (): boolean => {
        if (settled) return false;
        settled = true;
        timer?.cancel();
        this.#interrupt = previous;
        return true;
      };
      this.#interrupt = (error) => {
        if (done()) reject(error);
      };
      if (Number.isFinite(timeoutMs)) {
        timer = this.#clock.setTimeout(() => {
          if (done()) reject(new TestTimeoutError(what, timeoutMs));
        }, timeoutMs);
      }
      p.then(
        () => {
          if (done()) resolve();
        },
        (error: unknown) => {
          if (done()) reject(error);
        },
      );
    });
  }
}

function noDone(): void {}

function reasonOf(value: boolean | string | undefined, fallback: string): string | undefined {
  if (value === undefined || value === false) return undefined;
  return value === true ? fallback : value;
}

function tagsOf(options: TestOptions): Partial<TestResult> {
  return options.tags === undefined || options.tags.length === 0 ? {} : { tags: [...options.tags] };
}

function finish(rec: RunningTest, status: TestResult['status'], endMs: number, extra: Partial<TestResult>): TestResult {
  const result: TestResult = { id: rec.id, status, startMs: rec.startMs, endMs, ...extra };
  if (rec.index !== undefined) result.index = rec.index;
  if (rec.stdout !== undefined) result.stdout = rec.stdout.join('');
  if (rec.stderr !== undefined) result.stderr = rec.stderr.join('');
  return result;
}

function failWith(result: TestResult, error: HookError, endMs: number): TestResult {
  const traceback = (result.traceback === undefined ? '' : result.traceback + '\n') + formatFailure(error);
  return { ...result, status: 'fail', endMs, traceback };
}
