import { InvalidArgumentError } from './errors.js';

/** Characters that need no quoting in a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_.\-/:=,+@%]+$/;

/** One POSIX shell word whose value is exactly `value` (SPEC §14.4). */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new InvalidArgumentError('value', 'a string without NUL bytes (the shell cannot pass them)', value);
  if (SAFE_WORD.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A variable's value: shell text pasted as is, or data quoted for where it stands. */
export type TemplateValue = { text: string } | { word: string } | { words: readonly string[] };

/**
 * Substitute `$NAME` variables (matched as testrepository matches them: `\$(A|B|C)`,
 * no word boundary) into a shell command line. Data values are quoted for the shell
 * context the variable stands in: unquoted, inside "..." or inside '...' (SPEC §14.4),
 * so that a test id with quotes, spaces or `$` reaches the command as itself.
 * Names in `names` missing from `values` become the empty string, as in testrepository.
 */
export function substituteShell(template: string, names: readonly string[], values: Readonly<Record<string, TemplateValue>>): string {
  const pattern = new RegExp(`\\$(${names.join('|')})`, 'y');
  let out = '';
  let state: 'none' | 'single' | 'double' = 'none';
  for (let i = 0; i < template.length; ) {
    const c = template[i]!;
    if (c === '$') {
      pattern.lastIndex = i;
      const m = pattern.exec(template);
      if (m !== null) {
        const value = values[m[1]!];
        if (value !== undefined) out += render(value, state);
        i += m[0].length;
        continue;
      }
    }
    if (state === 'single') {
      if (c === "'") state = 'none';
    } else if (c === '\\' && i + 1 < template.length) {
      out += c + template[i + 1]!;
      i += 2;
      continue;
    } else if (state === 'none' && c === "'") {
      state = 'single';
    } else if (c === '"') {
      state = state === 'double' ? 'none' : 'double';
    }
    out += c;
    i++;
  }
  return out;
}

function render(value: TemplateValue, state: 'none' | 'single' | 'double'): string {
  if ('text' in value) return value.text;
  const words = 'word' in value ? [value.word] : value.words;
  for (const w of words) if (w.includes('\0')) throw new InvalidArgumentError('value', 'strings without NUL bytes (the shell cannot pass them)', w);
  if (state === 'none') return words.map(shellQuote).join(' ');
  const joined = words.join(' ');
  if (state === 'single') return joined.replace(/'/g, `'\\''`);
  return joined.replace(/[\\"$`]/g, (ch) => `\\${ch}`);
}
