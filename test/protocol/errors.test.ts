import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/paths.js';

// SPEC §10, protocol/errors.json and the code must name the same error codes.
const registry = JSON.parse(readFileSync(path.join(ROOT, 'protocol/errors.json'), 'utf8')) as { codes: Array<{ code: string; wire: boolean }> };
const registered = new Set(registry.codes.map((c) => c.code));

function specCodes(): Set<string> {
  const spec = readFileSync(path.join(ROOT, 'SPEC.md'), 'utf8');
  const start = spec.indexOf('## 10. Error codes');
  const end = spec.indexOf('\n## ', start + 1);
  const section = spec.slice(start, end);
  return new Set([...section.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

t.test('protocol/errors.json and SPEC §10 list the same codes', async (t) => {
  t.equal(registry.codes.length, registered.size, 'no code is listed twice');
  t.same([...specCodes()].sort(), [...registered].sort());
});

t.test('every error code the source raises is registered', async (t) => {
  const used = new Map<string, string>();
  for (const file of walk(path.join(ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)) used.set(m[1]!, path.relative(ROOT, file));
  }
  t.ok(used.size > 10, 'found the codes in the source');
  const missing = [...used].filter(([code]) => !registered.has(code)).map(([code, file]) => `${code} (${file})`);
  t.same(missing, [], 'codes raised in src/ but missing from protocol/errors.json');
});
