/**
 * Renders what a test threw into the text of its `traceback` attachment: the stack,
 * then, for an assertion, the expected and actual values (node:assert's
 * AssertionError carries them) so a reader need not rerun the test to see them.
 */
import { inspect } from 'node:util';

interface AssertionLike {
  actual?: unknown;
  expected?: unknown;
  operator?: unknown;
  code?: unknown;
}

export function formatFailure(error: unknown): string {
  if (!(error instanceof Error)) return `thrown value (not an Error): ${safeInspect(error)}\n`;
  let text = error.stack ?? `${error.name}: ${error.message}`;
  const a = error as Error & AssertionLike;
  if (a.code === 'ERR_ASSERTION' || ('expected' in a && 'actual' in a)) {
    text += `\n\nexpected: ${safeInspect(a.expected)}\nactual:   ${safeInspect(a.actual)}`;
    if (typeof a.operator === 'string') text += `\noperator: ${a.operator}`;
  }
  if (error.cause !== undefined) text += `\n\ncaused by: ${formatFailure(error.cause)}`;
  return text.endsWith('\n') ? text : text + '\n';
}

function safeInspect(value: unknown): string {
  try {
    return inspect(value, { depth: 6, breakLength: 100 });
  } catch {
    return '<value could not be inspected>';
  }
}

/** The reason text of a timeout, shared by the in-worker timer and the watchdog. */
export function timeoutMessage(what: string, ms: number): string {
  return `${what} timed out after ${ms} ms`;
}

export class TestTimeoutError extends Error {
  readonly code = 'ERR_TEST_TIMEOUT';
  constructor(what: string, readonly timeoutMs: number) {
    super(timeoutMessage(what, timeoutMs));
    this.name = 'TestTimeoutError';
  }
}
