/** The runner-side entry points of the testing layer, for the server's worker. */
export { getRegistry, type FileTree } from './registry.js';
export { TestRunner, type RunnerOptions } from './runner.js';
export type { TestResult, RunningTest, FinalStatus } from './result.js';
export { formatFailure, timeoutMessage } from './failure.js';
export { ID_SEPARATOR, walkTests } from './tree.js';
