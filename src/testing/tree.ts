/**
 * The collected shape of a test file: suites (the file itself, each `describe`) holding
 * tests and hooks in declaration order. Built while a file is imported, then read by
 * the runner; nothing here runs a test body.
 */
import type { TestContext } from './context.js';

export interface TestOptions {
  /** Milliseconds before the test fails with a timeout reason. @default Infinity (or the suite's) */
  timeout?: number;
  /** Skip the test; a string is the reason. */
  skip?: boolean | string;
  /** The test is expected to fail (xfail); if it passes it is an unexpected success. A string is the reason. */
  todo?: boolean | string;
  /** Accepted for node:test compatibility; every selected test runs. */
  only?: boolean;
  /** Subunit tags attached to the test's results. */
  tags?: string[];
  /** Accepted for node:test compatibility; tests in a file always run one at a time. */
  concurrency?: number | boolean;
}

export type DoneCallback = (error?: unknown) => void;
export type TestFn = (t: TestContext, done: DoneCallback) => unknown;
export type SuiteFn = (s: SuiteContext) => unknown;
export type HookFn = (t: TestContext, done: DoneCallback) => unknown;

export interface SuiteContext {
  readonly name: string;
}

export interface HookOptions {
  timeout?: number;
}

export interface Hook {
  fn: HookFn;
  options: HookOptions;
}

export interface TestNode {
  readonly kind: 'test';
  readonly name: string;
  readonly id: string;
  readonly fn: TestFn | undefined;
  readonly options: TestOptions;
  readonly parent: SuiteNode;
}

export interface SuiteHooks {
  before: Hook[];
  after: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
}

export interface SuiteNode {
  readonly kind: 'suite';
  readonly name: string;
  /** The file's relative path for a file root; `file > describe > ...` otherwise. */
  readonly id: string;
  readonly options: TestOptions;
  readonly parent: SuiteNode | undefined;
  readonly children: (TestNode | SuiteNode)[];
  readonly hooks: SuiteHooks;
}

/** Separates the parts of a test id: `path/to/file.test.ts > describe > name`. */
export const ID_SEPARATOR = ' > ';

export function newSuite(name: string, id: string, options: TestOptions, parent: SuiteNode | undefined): SuiteNode {
  return { kind: 'suite', name, id, options, parent, children: [], hooks: { before: [], after: [], beforeEach: [], afterEach: [] } };
}

/** Every test under `suite`, depth first in declaration order (= list order = run order). */
export function* walkTests(suite: SuiteNode): Generator<TestNode> {
  for (const child of suite.children) {
    if (child.kind === 'test') yield child;
    else yield* walkTests(child);
  }
}
