import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/paths.js';

// SPEC §9.10 lists every code the transport layer raises, and nothing it does not.
t.test('the transport error codes in the code and in SPEC §9.10 are the same set', async (t) => {
  const dir = path.join(ROOT, 'src', 'transport');
  const inCode = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.ts')) continue;
    for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/'(ERR_TRANSPORT_[A-Z_]+)'/g)) inCode.add(m[1]!);
  }
  const spec = readFileSync(path.join(ROOT, 'SPEC.md'), 'utf8');
  const section = spec.slice(spec.indexOf('### 9.10.'), spec.indexOf('## 10.'));
  const inSpec = new Set([...section.matchAll(/^\| `(ERR_TRANSPORT_[A-Z_]+)`/gm)].map((m) => m[1]!));
  t.ok(inCode.size >= 8, `found ${inCode.size} codes in src/transport`);
  t.same([...inCode].sort(), [...inSpec].sort());
});
