import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/paths.js';

// ARCHITECTURE.md: the pure layers never touch I/O, and imports follow the layer arrows.
const PURE = ['core', 'subunit', 'rpc', 'testing'];
const IO_MODULES = /^(node:)?(net|fs|fs\/promises|child_process|tls|http|https|dgram|worker_threads)$|^ws$|^better-sqlite3$/;
const ALLOWED: Record<string, string[]> = {
  core: ['core'],
  subunit: ['core', 'subunit'],
  rpc: ['core', 'subunit', 'rpc'],
  transport: ['core', 'transport'],
  testing: ['core', 'testing'],
  repository: ['core', 'subunit', 'repository'],
  pool: ['core', 'pool'],
  report: ['core', 'subunit', 'report'],
  server: ['core', 'subunit', 'rpc', 'transport', 'testing', 'pool', 'report', 'server'],
  runner: ['core', 'subunit', 'rpc', 'transport', 'repository', 'pool', 'report', 'server', 'runner'],
  cli: ['core', 'subunit', 'rpc', 'transport', 'repository', 'pool', 'report', 'server', 'runner', 'testing', 'cli'],
};

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const src = path.join(ROOT, 'src');
const importRe = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

t.test('layers import only along the arrows, and pure layers do no I/O', async (t) => {
  let checked = 0;
  const violations: string[] = [];
  for (const file of walk(src)) {
    const rel = path.relative(src, file);
    const layer = rel.split(path.sep)[0]!;
    if (!(layer in ALLOWED)) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.')) {
        const target = path.relative(src, path.resolve(path.dirname(file), spec)).split(path.sep)[0]!;
        if (!ALLOWED[layer]!.includes(target)) violations.push(`${rel} imports ${spec}: ${layer} may not import ${target}`);
      } else if (PURE.includes(layer) && IO_MODULES.test(spec)) {
        violations.push(`${rel} is in the pure layer ${layer} and must not import ${spec}`);
      }
      checked++;
    }
  }
  t.ok(checked > 0, 'found imports to check');
  t.same(violations, [], 'no import crosses a layer arrow');
});
