import { InvalidArgumentError } from './errors.js';

/** Argument checks for our own callers; each throws InvalidArgumentError naming the argument. */
export function assertInteger(name: string, value: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new InvalidArgumentError(name, range, value);
  }
}

export function assertPositiveDuration(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(name, 'a positive finite number of milliseconds', value);
  }
}

export function assertString(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(name, 'a string', value);
}
