// The public API of subrun. Each area adds its exports here.
export { SubrunError, InvalidArgumentError, isSubrunError } from './core/errors.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './core/clock.js';
export { withTimeout, parseDuration, type WaitOptions } from './core/abort.js';
export * from './subunit/index.js';
export * from './repository/index.js';
export { FailureCollector, SummaryPrinter, formatFailure, formatTotals, type FailureDetail, type RunTotals, type TextSink, type Attachment } from './report/summary.js';
export { ProgressLine, formatDuration, type ProgressOptions } from './report/progress.js';
