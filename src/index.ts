// The public API of subrun. Each area adds its exports here.
export { SubrunError, InvalidArgumentError, isSubrunError } from './core/errors.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { withTimeout, parseDuration, type WaitOptions } from './core/abort.js';
export * from './subunit/index.js';
export { TestRecordCollector, durationSeconds, type TestRecord, type TestRecordOptions } from './report/test-records.js';
export { StreamStats } from './report/stats.js';
export { junitXml, xmlText, xmlAttr, splitTestId, type JunitOptions } from './report/junit.js';
