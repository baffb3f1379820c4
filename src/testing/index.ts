/**
 * `subrun/test`: the test API suites import. node:test-shaped, so moving a file over
 * means changing its import line. Pure: it declares and runs tests, it does no I/O;
 * the server (src/server/test-api) loads files, captures output and reports.
 */
export { test, it, describe, suite, before, after, beforeEach, afterEach, type TestFunction, type DescribeFunction } from './api.js';
export { TestContext } from './context.js';
export type { TestOptions, TestFn, HookFn, HookOptions, SuiteFn, SuiteContext, DoneCallback } from './tree.js';
export { test as default } from './api.js';
