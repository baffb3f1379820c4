/**
 * The functions suites call: `test`, `it`, `describe`/`suite`, hooks. At import
 * time they declare; called inside a running test, `test()` runs a subtest (as in
 * node:test).
 */
import { normalizeTestArgs, type TestArgs } from './arguments.js';
import { getRegistry } from './registry.js';
import type { HookFn, HookOptions, SuiteFn, TestFn, TestOptions } from './tree.js';

export interface TestFunction {
  (name: string, fn?: TestFn): Promise<void>;
  (name: string, options: TestOptions, fn?: TestFn): Promise<void>;
  (fn: TestFn): Promise<void>;
  (options: TestOptions, fn?: TestFn): Promise<void>;
  skip: TestFunction;
  todo: TestFunction;
  only: TestFunction;
}

export interface DescribeFunction {
  (name: string, fn?: SuiteFn): Promise<void>;
  (name: string, options: TestOptions, fn?: SuiteFn): Promise<void>;
  (fn: SuiteFn): Promise<void>;
  skip: DescribeFunction;
  todo: DescribeFunction;
  only: DescribeFunction;
}

const RESOLVED = Promise.resolve();

function declareTest(args: TestArgs, extra: TestOptions | undefined): Promise<void> {
  const { name, options, fn } = normalizeTestArgs<TestFn>(args);
  const opts = extra === undefined ? options : { ...options, ...extra };
  const registry = getRegistry();
  if (!registry.collecting && registry.activeRun !== undefined) return registry.activeRun.subtest(name, opts, fn);
  registry.addTest(name, opts, fn);
  return RESOLVED;
}

function declareSuite(args: TestArgs, extra: TestOptions | undefined): Promise<void> {
  const { name, options, fn } = normalizeTestArgs<SuiteFn>(args, 'describe');
  const opts = extra === undefined ? options : { ...options, ...extra };
  getRegistry().addSuite(name, opts, fn === undefined ? undefined : () => fn({ name }));
  return RESOLVED;
}

function variants<F>(declare: (args: TestArgs, extra: TestOptions | undefined) => Promise<void>): F {
  const make = (extra: TestOptions | undefined) => (...args: TestArgs) => declare(args, extra);
  const f = make(undefined) as unknown as Record<string, unknown>;
  f.skip = make({ skip: true });
  f.todo = make({ todo: true });
  f.only = make({ only: true });
  return f as F;
}

export const test: TestFunction = variants<TestFunction>(declareTest);
export const it: TestFunction = test;
export const describe: DescribeFunction = variants<DescribeFunction>(declareSuite);
export const suite: DescribeFunction = describe;

function hook(kind: 'before' | 'after' | 'beforeEach' | 'afterEach') {
  return (fn: HookFn, options: HookOptions = {}): void => {
    getRegistry().addHook(kind, { fn, options });
  };
}

/** Runs once before the tests of the enclosing describe (or file) that are selected. */
export const before = hook('before');
/** Runs once after them; a failure is charged to the last of them. */
export const after = hook('after');
export const beforeEach = hook('beforeEach');
export const afterEach = hook('afterEach');
