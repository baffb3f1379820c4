// The public API of subrun. Each area adds its exports here.
export { SubrunError, InvalidArgumentError, isSubrunError } from './core/errors.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { withTimeout, parseDuration, type WaitOptions } from './core/abort.js';
export * from './subunit/index.js';
export type { Suite, ResultSink, RunRequest, RunOutcome, ListOutcome } from './server/suite.js';
export { TestApiSuite, type TestApiSuiteOptions, type SuiteStats } from './server/test-api/test-api-suite.js';
export { CommandBridgeSuite, type CommandBridgeOptions } from './server/command-bridge/command-bridge-suite.js';
export { shellQuote, type CommandTemplate } from './server/command-bridge/command-template.js';
