import { configError } from './config-error.js';

/** One INI section: lower-cased key → raw (uninterpolated) value, with the line each key is on. */
export interface IniSection {
  name: string;
  line: number;
  values: Map<string, { value: string; line: number }>;
}

const SECTION = /^\[([^\]]+)\]/;
const MAX_INTERPOLATION_DEPTH = 10;

/**
 * Parse INI text the way Python's `ConfigParser()` does with its defaults, which is
 * how testrepository reads `.testr.conf` (SPEC §14.2): `=` or `:` delimiters, full-line
 * `#`/`;` comments only, indented continuation lines, lower-cased keys, stripped
 * values, and strict duplicate checks. Anything ConfigParser would reject is ERR_CONFIG.
 */
export function parseIni(text: string, file: string): IniSection[] {
  const sections: IniSection[] = [];
  let current: IniSection | undefined;
  let last: { value: string; line: number; indent: number; blanks: number } | undefined;
  let lastKey: string | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const finish = (): void => {
    if (current !== undefined && lastKey !== undefined && last !== undefined) {
      current.values.set(lastKey, { value: last.value.replace(/\s+$/, ''), line: last.line });
    }
    last = undefined;
    lastKey = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    const stripped = raw.trim();
    const indent = raw.length - raw.trimStart().length;
    if (stripped === '') {
      if (last !== undefined) last.blanks++;
      continue;
    }
    if (stripped.startsWith('#') || stripped.startsWith(';')) continue;
    if (last !== undefined && indent > last.indent) {
      // A continuation line: ConfigParser keeps the blank lines inside a value.
      last.value += '\n'.repeat(last.blanks + 1) + stripped;
      last.blanks = 0;
      continue;
    }
    finish();
    const header = SECTION.exec(stripped);
    if (header !== null) {
      const name = header[1]!;
      if (sections.some((s) => s.name === name)) throw configError(file, `[${name}]`, 'the section appears twice', lineNo);
      current = { name, line: lineNo, values: new Map() };
      sections.push(current);
      continue;
    }
    if (current === undefined) throw configError(file, undefined, 'a line comes before any [section] header (start the file with [DEFAULT])', lineNo);
    const delim = stripped.search(/[=:]/);
    if (delim <= 0) throw configError(file, stripped.slice(0, 40), 'expected `key = value`', lineNo);
    const key = stripped.slice(0, delim).trim().toLowerCase();
    if (key === '') throw configError(file, undefined, 'a key is empty', lineNo);
    if (current.values.has(key)) throw configError(file, key, `the key appears twice in [${current.name}]`, lineNo);
    lastKey = key;
    last = { value: stripped.slice(delim + 1).trim(), line: lineNo, indent, blanks: 0 };
  }
  finish();
  return sections;
}

/**
 * Python's BasicInterpolation: `%(key)s` is another key's value (case-insensitive),
 * `%%` is `%`, and any other `%` is an error, as ConfigParser raises it.
 */
export function interpolate(section: IniSection, key: string, file: string, depth = 0): string {
  const entry = section.values.get(key);
  if (entry === undefined) throw configError(file, key, 'no such key to interpolate');
  if (depth > MAX_INTERPOLATION_DEPTH) throw configError(file, key, 'interpolation is nested too deeply (a key refers to itself?)', entry.line);
  const raw = entry.value;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const next = raw[i + 1];
    if (next === '%') {
      out += '%';
      i++;
      continue;
    }
    const ref = next === '(' ? /^\(([^)]*)\)s/.exec(raw.slice(i + 1)) : null;
    if (ref === null) throw configError(file, key, "'%' must be followed by '%' or '(name)s' (write %% for a literal %)", entry.line);
    const refKey = ref[1]!.toLowerCase();
    if (!section.values.has(refKey)) throw configError(file, key, `%(${ref[1]})s refers to a key that is not set`, entry.line);
    out += interpolate(section, refKey, file, depth + 1);
    i += ref[0].length;
  }
  return out;
}
