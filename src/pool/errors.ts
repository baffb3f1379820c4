import { SubrunError } from '../core/errors.js';

/**
 * Error codes of the pool protocol and the HTTP status each maps to (SPEC §12.9).
 * The same `{status, code, message}` body answers HTTP calls and WebSocket messages.
 */
export const POOL_ERROR_STATUS = {
  ERR_POOL_BAD_REQUEST: 400,
  ERR_POOL_UNAUTHORIZED: 401,
  ERR_POOL_FORBIDDEN: 403,
  ERR_POOL_NOT_FOUND: 404,
  ERR_POOL_SESSION_EXPIRED: 404,
  ERR_POOL_CONFLICT: 409,
  ERR_POOL_TOO_LARGE: 413,
  ERR_POOL_IMPOSSIBLE: 422,
  ERR_POOL_INTERNAL: 500,
} as const;

export type PoolErrorCode = keyof typeof POOL_ERROR_STATUS;

/** Codes only the client raises locally (never on the wire). SPEC §12.9 */
export const POOL_CLIENT_ERRORS = ['ERR_POOL_CLOSED', 'ERR_POOL_CONNECT', 'ERR_POOL_LEASE_LOST', 'ERR_TIMEOUT', 'ERR_ABORTED'] as const;

export interface WireError {
  status: number;
  code: string;
  message: string;
}

export function poolError(code: PoolErrorCode, message: string, details?: Record<string, unknown>): SubrunError {
  return new SubrunError(code, message, details === undefined ? undefined : { details });
}

/** The wire form of any error; unknown errors become a 500 without leaking internals. */
export function toWireError(error: unknown): WireError {
  if (error instanceof SubrunError && error.code in POOL_ERROR_STATUS) {
    return { status: POOL_ERROR_STATUS[error.code as PoolErrorCode], code: error.code, message: error.message };
  }
  return { status: 500, code: 'ERR_POOL_INTERNAL', message: 'internal error' };
}
