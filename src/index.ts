// The public API of subrun. Each area adds its exports here.
export { SubrunError, InvalidArgumentError, isSubrunError } from './core/errors.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { withTimeout, parseDuration, type WaitOptions } from './core/abort.js';
export * from './subunit/index.js';
export * from './runner/config/index.js';
export * from './runner/legacy/index.js';
export * from './runner/scheduler/index.js';
export { runLegacy, type LegacyRunOptions, type LegacyRunResult, type LegacyPartitionOutcome } from './runner/run-legacy.js';
