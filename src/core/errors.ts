/**
 * One base error class with stable codes (STYLE §2). Callers branch on `.code`,
 * never on message text. Codes that can cross the wire are listed in SPEC.md and
 * protocol/errors.json; a test keeps the three in step.
 */
export class SubrunError extends Error {
  readonly code: string;
  /** Structured context (byte offsets, nonces, paths) for logs and JSON output. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SubrunError';
    this.code = code;
    this.details = options?.details;
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: { ...this.details } };
  }
}

/** Thrown when our own caller passes a bad argument (STYLE §3): names the argument, the expectation and the value. */
export class InvalidArgumentError extends SubrunError {
  constructor(name: string, expected: string, value: unknown) {
    super('ERR_INVALID_ARGUMENT', `Expected \`${name}\` to be ${expected}, got \`${describeValue(value)}\``, {
      details: { argument: name },
    });
    this.name = 'InvalidArgumentError';
  }
}

export function isSubrunError(error: unknown, code?: string): error is SubrunError {
  return error instanceof SubrunError && (code === undefined || error.code === code);
}

/** Render a value for an error message: short, unambiguous, never throws. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 60 ? JSON.stringify(value.slice(0, 57) + '...') : JSON.stringify(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  return Object.prototype.toString.call(value);
}
