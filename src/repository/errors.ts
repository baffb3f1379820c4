import { SubrunError } from '../core/errors.js';

/** Codes of the history repository (SPEC §13.9). */
export const RepositoryErrorCode = {
  NOT_FOUND: 'ERR_REPO_NOT_FOUND',
  VERSION: 'ERR_REPO_VERSION',
  NO_RUN: 'ERR_REPO_NO_RUN',
  CLOSED: 'ERR_REPO_CLOSED',
  IO: 'ERR_REPO_IO',
} as const;
export type RepositoryErrorCode = (typeof RepositoryErrorCode)[keyof typeof RepositoryErrorCode];

export class RepositoryError extends SubrunError {
  declare readonly code: RepositoryErrorCode;

  constructor(code: RepositoryErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options);
    this.name = 'RepositoryError';
  }
}

export function noSuchRun(id: number): RepositoryError {
  return new RepositoryError(RepositoryErrorCode.NO_RUN, `no run with id ${id} in the repository`, { details: { runId: id } });
}
