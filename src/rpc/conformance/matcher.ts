/**
 * The pattern language of conformance scenarios (SPEC §11.4): a pattern is JSON that
 * an observed value must contain. Objects match when every member of the pattern
 * matches (extra members are allowed); other values must be equal, unless the pattern
 * is an operator object (`$in`, `$not`, `$contains`, `$type`, `$exists`).
 */

export type Bindings = Record<string, unknown>;

const VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** Replace every string `"${name}"` by its binding; an unbound variable is left as it is. */
export function substitute(value: unknown, bindings: Bindings): unknown {
  if (typeof value === 'string') {
    const m = VARIABLE.exec(value);
    return m !== null && m[1]! in bindings ? bindings[m[1]!] : value;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, bindings));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, bindings);
    return out;
  }
  return value;
}

/** The names of `"${name}"` variables used in `value`. */
export function variablesIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    const m = VARIABLE.exec(value);
    if (m !== null) into.add(m[1]!);
  } else if (Array.isArray(value)) {
    for (const v of value) variablesIn(v, into);
  } else if (isObject(value)) {
    for (const v of Object.values(value)) variablesIn(v, into);
  }
  return into;
}

/** Whether `actual` matches `pattern` (variables already substituted). */
export function matches(pattern: unknown, actual: unknown): boolean {
  if (isObject(pattern)) {
    const ops = Object.keys(pattern).filter((k) => k.startsWith('$'));
    if (ops.length > 0) return ops.every((op) => matchOperator(op, pattern[op], actual));
    if (!isObject(actual)) return false;
    for (const [k, p] of Object.entries(pattern)) {
      // An operator sees an absent member as undefined, so `{"$exists": false}` and `{"$not": x}` can match it.
      const operator = isObject(p) && Object.keys(p).some((o) => o.startsWith('$'));
      if (!operator && !(k in actual)) return false;
      if (!matches(p, actual[k])) return false;
    }
    return true;
  }
  if (Array.isArray(pattern)) {
    return Array.isArray(actual) && actual.length === pattern.length && pattern.every((p, i) => matches(p, actual[i]));
  }
  return pattern === actual;
}

function matchOperator(op: string, arg: unknown, actual: unknown): boolean {
  switch (op) {
    case '$in':
      return Array.isArray(arg) && arg.some((p) => matches(p, actual));
    case '$not':
      return !matches(arg, actual);
    case '$contains':
      return Array.isArray(actual) && actual.some((v) => matches(arg, v));
    case '$type':
      return typeOf(actual) === arg || (arg === 'number' && typeof actual === 'number');
    case '$exists':
      return (actual !== undefined) === arg;
    default:
      return false;
  }
}

export const OPERATORS = ['$in', '$not', '$contains', '$type', '$exists'];

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
