import { InvalidArgumentError, isSubrunError } from '../core/errors.js';
import { parseNeedText, parseNeeds } from './messages.js';
import type { Need } from './types.js';

/** `{port: 2}`, `['port=2', 'compute:os=ubuntu']` or full `Need` objects. */
export type NeedsInput = Record<string, number> | ReadonlyArray<string | { type: string; count?: number; attrs?: Record<string, string> }>;

/** Our caller's needs in any accepted form; throws InvalidArgumentError naming what is wrong. */
export function normalizeNeeds(input: NeedsInput): Need[] {
  try {
    return parse(input);
  } catch (error) {
    if (isSubrunError(error, 'ERR_POOL_BAD_REQUEST')) throw new InvalidArgumentError('needs', `valid needs (${error.message})`, input);
    throw error;
  }
}

function parse(input: NeedsInput): Need[] {
  if (Array.isArray(input)) {
    return input.flatMap((n: string | { type: string; count?: number; attrs?: Record<string, string> }) => (typeof n === 'string' ? [parseNeedText(n)] : parseNeeds([n])));
  }
  if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('needs', 'an object {type: count} or an array of needs', input);
  return parseNeeds(Object.entries(input).map(([type, count]) => ({ type, count })));
}
