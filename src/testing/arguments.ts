/** Normalizes node:test-style overloads: `(name?, options?, fn?)` in any of their accepted shapes. */
import { InvalidArgumentError } from '../core/errors.js';
import type { TestOptions } from './tree.js';

export type TestArgs = [unknown?, unknown?, unknown?];

export interface NormalizedArgs<F> {
  name: string;
  options: TestOptions;
  fn: F | undefined;
}

export function normalizeTestArgs<F = never>(args: TestArgs, what = 'test'): NormalizedArgs<F> {
  let [name, options, fn] = args;
  if (typeof name === 'function') {
    fn = name;
    options = undefined;
    name = (name as { name?: string }).name || '<anonymous>';
  } else if (typeof name === 'object' && name !== null) {
    fn = options;
    options = name;
    name = '<anonymous>';
  }
  if (typeof options === 'function') {
    fn = options;
    options = undefined;
  }
  if (name === undefined) name = '<anonymous>';
  if (typeof name !== 'string') throw new InvalidArgumentError(`${what} name`, 'a string', name);
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidArgumentError(`${what} options`, 'an object', options);
  }
  if (fn !== undefined && typeof fn !== 'function') throw new InvalidArgumentError(`${what} fn`, 'a function', fn);
  const opts = (options ?? {}) as TestOptions;
  if (opts.timeout !== undefined && (typeof opts.timeout !== 'number' || !(opts.timeout > 0))) {
    throw new InvalidArgumentError(`${what} options.timeout`, 'a positive number of milliseconds', opts.timeout);
  }
  return { name, options: opts, fn: fn as F | undefined };
}
