import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, ROOT } from '../helpers/paths.js';
import { spawnNode } from '../pool/fixtures/proc.js';

// issue 6, end to end: `subrun run` with two test servers that each need a `port`, on a
// pool holding one port: the pool serialises the batches, every test runs, and no lease
// is left behind.
const dir = mkdtempSync(path.join(tmpdir(), 'subrun-run-pool-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const TEST_API = JSON.stringify(path.join(ROOT, 'dist', 'src', 'testing', 'index.js'));
const LOG = path.join(dir, 'spans.log');

for (const name of ['a', 'b', 'c', 'd']) {
  writeFileSync(
    path.join(dir, `${name}.test.js`),
    `import { test } from ${TEST_API};
import { appendFileSync } from 'node:fs';
test('holds the port', async (t) => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 150));
  appendFileSync(${JSON.stringify(LOG)}, JSON.stringify({ pid: process.pid, port: t.resources.port, env: process.env.SUBRUN_POOL_PORT, start, end: Date.now() }) + '\\n');
});
`,
  );
}

t.test('two servers, one port: serialised by the pool, no lease left', async (t) => {
  const db = path.join(dir, 'pool.sqlite');
  const pool = spawnNode(t, BIN, ['pool', 'serve', '--insecure-local', '--port', '0', '--db', db, '--resource', 'port=7311']);
  const line = await pool.waitFor((l) => typeof l.text === 'string' && l.text.includes('listening on'), 30_000);
  const url = /listening on (http:\/\/[^\s]+)/.exec(String(line.text))![1]!;
  writeFileSync(
    path.join(dir, 'subrun.config.json'),
    JSON.stringify({
      testServerCommand: `${process.execPath} ${BIN} serve --root ${dir} '*.test.js'`,
      concurrency: 2,
      resources: { pool: `${url.replace(/^http/, 'ws')}/v1/ws`, perBatch: { port: 1 } },
    }),
  );
  const child = spawn(process.execPath, [BIN, 'run'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 0, out);
  t.match(out, /Ran 4 tests/);
  const spans = readFileSync(LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; port: string[]; env: string; start: number; end: number });
  t.equal(spans.length, 4, 'every test ran once');
  t.ok(spans.every((s) => s.port?.[0] === '7311' && s.env === '7311'), 'each test saw the granted port in t.resources and SUBRUN_POOL_PORT');
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.pid !== spans[i - 1]!.pid) t.ok(spans[i]!.start >= spans[i - 1]!.end, `a batch on another server starts only after the port came back (${spans[i]!.start - spans[i - 1]!.end} ms)`);
  }
  const leases = (await (await fetch(`${url}/v1/leases`)).json()) as { leases: unknown[] };
  t.same(leases.leases, [], 'the pool holds no lease afterwards');
});
