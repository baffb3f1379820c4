import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/paths.js';

// ARCHITECTURE.md: the pool's state machine is pure. These files, and everything they
// import transitively, may import no module at all other than our own pure code, and
// may not read ambient time, randomness, timers or the process.
const PURE_POOL = ['types.ts', 'errors.ts', 'messages.ts', 'allocate.ts', 'records.ts', 'pool-state.ts', 'invariants.ts', 'event-row.ts'];
const importRe = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
const AMBIENT = /(?<![.\w#])(Date\.now|new Date\(|Math\.random|setTimeout|setInterval|setImmediate|process\.|performance\.now|require\()/;

t.test('the state-machine files import no I/O module, transitively', async (t) => {
  const seen = new Set<string>();
  const external: string[] = [];
  const ambient: string[] = [];
  const stack = PURE_POOL.map((f) => path.join(ROOT, 'src', 'pool', f));
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    const m = AMBIENT.exec(code);
    // core/clock.ts is where the injectable system clock lives; it is only referenced as a type.
    if (m !== null && !file.endsWith(path.join('core', 'clock.ts'))) ambient.push(`${path.relative(ROOT, file)} uses ${m[1]}`);
    for (const im of text.matchAll(importRe)) {
      const spec = im[1] ?? im[2] ?? im[3]!;
      const isTypeOnly = /^\s*import\s+type\s/.test(im[0]);
      if (!spec.startsWith('.')) {
        external.push(`${path.relative(ROOT, file)} imports ${spec}`);
        continue;
      }
      if (isTypeOnly) continue;
      stack.push(path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'));
    }
  }
  t.ok(seen.size >= PURE_POOL.length, `checked ${seen.size} files`);
  t.same(external, [], 'no package or node: module is imported');
  t.same(ambient, [], 'no ambient time, randomness, timers or process');
  const state = readFileSync(path.join(ROOT, 'src', 'pool', 'pool-state.ts'), 'utf8');
  t.match(state, /import type \{ Clock/, 'time comes from an injected Clock');
});

t.test('the checker catches an I/O import (it can fail)', async (t) => {
  const sample = "import { readFileSync } from 'node:fs';\n";
  const found = [...sample.matchAll(importRe)].map((m) => m[1]);
  t.same(found, ['node:fs']);
  t.ok(AMBIENT.test('const x = Date.now();'));
  t.ok(AMBIENT.test('setTimeout(f, 1)'));
  t.notOk(AMBIENT.test('this.#clock.setTimeout(f, 1)'));
});
