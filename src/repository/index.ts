// The history repository's public API (SPEC §13).
export type {
  BeginRunOptions,
  FailingTest,
  FinalStatus,
  HistoryStats,
  Repository,
  RunState,
  RunSummary,
  RunWriter,
  StatusCounts,
  TestResult,
  TestTime,
} from './types.js';
export { FINAL_STATUSES } from './types.js';
export { RepositoryError, RepositoryErrorCode } from './errors.js';
export { FileRepository, LAYOUT_VERSION, type OpenOptions, type OpenReport } from './file-repository.js';
export { MemoryRepository } from './memory-repository.js';
export { SCHEMA_VERSION } from './sqlite-index.js';
