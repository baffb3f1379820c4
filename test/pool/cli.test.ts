import t from 'tap';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { runSubrun } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';
import { spawnNode } from './fixtures/proc.js';
import { ADMIN_TOKEN, CLIENT_TOKEN, startPool, tempDir } from './fixtures/pool-env.js';

t.test('subrun pool list|status|disable|enable|add|remove|history against a real server', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }] });
  const env = { SUBRUN_POOL_URL: server.url, SUBRUN_POOL_TOKEN: CLIENT_TOKEN, SUBRUN_POOL_ADMIN_TOKEN: ADMIN_TOKEN };
  const list = await runSubrun(['pool', 'list'], { env });
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /port:7000\s+free/);
  t.match((await runSubrun(['pool', 'add', 'compute=h1,os=ubuntu'], { env })).stdout, 'added compute:h1');
  t.match((await runSubrun(['pool', 'disable', 'compute:h1', '--note', 'repair'], { env })).stdout, 'compute:h1: maintenance');
  const status = await runSubrun(['pool', 'status', '--json'], { env });
  t.match(JSON.parse(status.stdout), { status: 'up', pools: [{ type: 'port', total: 1 }, { type: 'compute', outOfService: 1 }] });
  t.match((await runSubrun(['pool', 'enable', 'compute:h1'], { env })).stdout, 'compute:h1: free');
  t.match((await runSubrun(['pool', 'remove', 'compute:h1'], { env })).stdout, 'removed compute:h1');
  const missing = await runSubrun(['pool', 'enable', 'nope:1'], { env });
  t.equal(missing.code, 3);
  t.match(missing.stderr, /ERR_POOL_NOT_FOUND/);
  const forbidden = await runSubrun(['pool', 'add', 'port=1'], { env: { ...env, SUBRUN_POOL_ADMIN_TOKEN: undefined } });
  t.match(forbidden.stderr, /ERR_POOL_FORBIDDEN/);
  const hist = await runSubrun(['pool', 'history', '--json'], { env });
  const kinds = hist.stdout.trim().split('\n').map((l) => JSON.parse(l).kind);
  t.same(kinds, ['resource-added', 'resource-added', 'resource-disabled', 'resource-enabled', 'resource-removed']);
  const unreachable = await runSubrun(['pool', 'list', '--url', 'http://127.0.0.1:1'], { env });
  t.equal(unreachable.code, 3);
  t.match(unreachable.stderr, /ERR_POOL_CONNECT/);
  t.equal((await runSubrun(['pool', 'list', '--url', 'ftp://x'], { env })).code, 2, 'a bad URL is a usage error');
});

t.test('subrun pool run holds the lease while CMD runs, passes values, releases after', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }, { type: 'port', value: '7001' }, { type: 'compute', value: 'h1', attrs: { os: 'ubuntu' } }] });
  const env = { SUBRUN_POOL_URL: server.wsUrl, SUBRUN_POOL_TOKEN: CLIENT_TOKEN, PATH: process.env.PATH };
  const script = `node -e "process.stdout.write(JSON.stringify({p: process.env.SUBRUN_POOL_PORT, c: process.env.SUBRUN_POOL_COMPUTE, f: process.env.SUBRUN_POOL_FENCE}))"; exit 7`;
  const r = await runSubrun(['pool', 'run', '--need', 'port=2', '--need', 'compute:os=ubuntu', '--', 'sh', '-c', script], { env });
  t.equal(r.code, 7, `the command's exit status (${r.stderr})`);
  const seen = JSON.parse(r.stdout);
  t.same(seen.p.split(',').sort(), ['7000', '7001']);
  t.equal(seen.c, 'h1');
  t.equal(seen.f, '1');
  t.match(r.stderr, /granted (?=.*port:7000)(?=.*port:7001)(?=.*compute:h1).* \(lease L1, fence 1\)/);
  t.same(server.state.leases(), [], 'released when CMD exited');
  const impossible = await runSubrun(['pool', 'run', '--need', 'gpu', '--', 'true'], { env });
  t.equal(impossible.code, 3);
  t.match(impossible.stderr, /ERR_POOL_IMPOSSIBLE/);
  const usage = await runSubrun(['pool', 'run', '--need', 'port=x', '--', 'true'], { env });
  t.equal(usage.code, 2, 'a malformed --need is a usage error');
  t.match(usage.stderr, /--need: a need looks like/);
});

t.test('subrun pool history --check replays a database against the invariants', async (t) => {
  const dbPath = path.join(tempDir(t), 'pool.sqlite');
  const server = await startPool(t, { dbPath, resources: [{ type: 'port', value: '1' }] });
  await server.close();
  const r = await runSubrun(['pool', 'history', '--db', dbPath, '--check']);
  t.equal(r.code, 0);
  t.match(r.stdout, 'event log OK');
});

t.test('subrun pool serve refuses --insecure-local off loopback (exit 2)', async (t) => {
  const r = await runSubrun(['pool', 'serve', '--insecure-local', '--host', '0.0.0.0', '--port', '0', '--db', path.join(tempDir(t), 'x.sqlite')]);
  t.equal(r.code, 2);
  t.match(r.stderr, /only allowed when bound to loopback/);
});

t.test('subrun pool serve as a process: --config with resources, hooks and tokens; SIGTERM stops it cleanly', async (t) => {
  const dir = tempDir(t);
  const config = path.join(dir, 'pool.json');
  writeFileSync(config, JSON.stringify({
    resources: [{ type: 'dev', value: 'd1', attrs: { kind: 'usb' } }],
    hooks: { dev: { release: 'exit 3', timeoutMs: 5000 } },
    tokens: { client: ['cfg-client'], admin: ['cfg-admin'] },
  }));
  const serve = spawnNode(t, BIN, ['pool', 'serve', '--config', config, '--resource', 'port=7000', '--port', '0', '--db', path.join(dir, 'p.sqlite')]);
  const line = await serve.waitFor((l) => typeof l.text === 'string' && l.text.includes('listening on'));
  const url = /listening on (http:\/\/[^ ]+)/.exec(line.text)![1]!;
  const env = { SUBRUN_POOL_URL: url, SUBRUN_POOL_TOKEN: 'cfg-client' };
  const list = await runSubrun(['pool', 'list', '--json'], { env });
  t.same(JSON.parse(list.stdout).map((r: { id: string }) => r.id).sort(), ['dev:d1', 'port:7000']);
  t.equal((await runSubrun(['pool', 'list'], { env: { ...env, SUBRUN_POOL_TOKEN: 'wrong' } })).code, 3, 'a wrong token is refused');
  const run = await runSubrun(['pool', 'run', '--need', 'dev:kind=usb', '--', 'true'], { env });
  t.equal(run.code, 0, run.stderr);
  let state = '';
  for (let i = 0; i < 200 && state !== 'quarantined'; i++) {
    state = JSON.parse((await runSubrun(['pool', 'list', '--json'], { env })).stdout).find((r: { id: string }) => r.id === 'dev:d1').state;
    await new Promise((r) => setTimeout(r, 25));
  }
  t.equal(state, 'quarantined', 'the configured release hook failed and quarantined the device');
  serve.child.kill('SIGTERM');
  t.equal(await serve.exited, 0, 'SIGTERM: a clean exit');
});
