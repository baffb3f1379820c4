import t from 'tap';
import path from 'node:path';
import WebSocket from 'ws';
import { PoolClient } from '../../src/pool/client.js';
import { createPoolServer } from '../../src/pool/server.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import { PoolStore } from '../../src/pool/store.js';
import { ADMIN_TOKEN, CLIENT_TOKEN, connect, http, startPool, tempDir, until } from './fixtures/pool-env.js';

const ports = (n: number, base = 7000) => Array.from({ length: n }, (_, i) => ({ type: 'port', value: String(base + i) }));

t.test('acquire, queue with position, grant on release, values and fences', async (t) => {
  const server = await startPool(t, { resources: [...ports(2), { type: 'compute', value: 'h1', attrs: { os: 'ubuntu' } }] });
  const a = await connect(t, server, { name: 'a' });
  const b = await connect(t, server, { name: 'b' });
  const lease = await a.acquire({ port: 2 });
  t.same(lease.values('port').sort(), ['7000', '7001']);
  t.equal(lease.fence, 1);
  t.same(lease.env().SUBRUN_POOL_PORT?.split(',').sort(), ['7000', '7001']);
  const positions: number[] = [];
  const waiting = b.acquire(['port', 'compute:os=ubuntu'], { onQueued: (p) => positions.push(p) });
  await until(() => positions.length === 1, 5000, 'queued');
  t.same(positions, [1], 'told its queue position');
  const q = await http(server, 'GET', '/v1/queues');
  t.equal(q.body.queue.length, 1);
  await lease.release();
  t.equal(lease.state, 'released');
  const second = await waiting;
  t.equal(second.fence, 2, 'fence increases');
  t.same(second.byType.compute, ['h1']);
  await t.rejects(b.acquire({ gpu: 1 }), { code: 'ERR_POOL_IMPOSSIBLE' }, 'impossible refused at once');
  await t.rejects(b.acquire({ port: 3 }), { code: 'ERR_POOL_IMPOSSIBLE' });
  await t.rejects(b.acquire({ port: 0 }), { code: 'ERR_INVALID_ARGUMENT', message: /Expected `needs` to be valid needs/ }, 'our caller gets an argument error');
  await t.rejects(b.acquire(['port:os']), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('a clean close releases at once; a timed-out acquire withdraws its request', async (t) => {
  const server = await startPool(t, { resources: ports(1) });
  const a = await connect(t, server);
  const b = await connect(t, server);
  await a.acquire({ port: 1 });
  await t.rejects(b.acquire({ port: 1 }, { timeoutMs: 100 }), { code: 'ERR_TIMEOUT' });
  await until(() => server.state.queue().length === 0, 2000, 'request withdrawn');
  const ac = new AbortController();
  const aborted = b.acquire({ port: 1 }, { signal: ac.signal });
  ac.abort();
  await t.rejects(aborted, { code: 'ERR_ABORTED' });
  const waiting = b.acquire({ port: 1 });
  await a.close();
  const lease = await waiting;
  t.equal(lease.value('port'), '7000');
  t.same(server.state.leases().map((l) => l.id), [lease.id]);
});

t.test('HTTP API: auth, roles, coded errors, size limits', async (t) => {
  const server = await startPool(t, { resources: ports(2) });
  t.same((await http(server, 'GET', '/v1/status', { token: null })).body.status, 'up', 'status needs no token');
  t.match(await http(server, 'GET', '/v1/resources', { token: null }), { status: 401, body: { status: 401, code: 'ERR_POOL_UNAUTHORIZED' } });
  t.match(await http(server, 'GET', '/v1/resources', { token: 'wrong' }), { status: 401, body: { code: 'ERR_POOL_UNAUTHORIZED' } });
  t.match(await http(server, 'GET', '/v1/resources', { headers: { authorization: 'Basic abc' }, token: null }), { status: 401 });
  t.equal((await http(server, 'GET', '/v1/resources')).body.resources.length, 2);
  t.match(await http(server, 'POST', '/v1/resources/port:7000/disable'), { status: 403, body: { code: 'ERR_POOL_FORBIDDEN' } }, 'client token cannot administer');
  t.match(await http(server, 'POST', '/v1/resources/port:7000/disable', { token: ADMIN_TOKEN, body: { note: 'flaky' } }), { status: 200, body: { resource: { state: 'maintenance', note: 'flaky' } } });
  t.match(await http(server, 'POST', '/v1/resources/port:9/enable', { token: ADMIN_TOKEN }), { status: 404, body: { code: 'ERR_POOL_NOT_FOUND' } });
  t.match(await http(server, 'POST', '/v1/resources', { token: ADMIN_TOKEN, body: { type: 'port', value: '7000' } }), { status: 409, body: { code: 'ERR_POOL_CONFLICT' } });
  t.match(await http(server, 'POST', '/v1/resources', { token: ADMIN_TOKEN, raw: '{"type":' }), { status: 400, body: { code: 'ERR_POOL_BAD_REQUEST' } });
  t.match(await http(server, 'POST', '/v1/resources', { token: ADMIN_TOKEN, body: { type: 'bad type!', value: 'x' } }), { status: 400 });
  t.match(await http(server, 'POST', '/v1/resources', { token: ADMIN_TOKEN, raw: JSON.stringify({ type: 'port', value: 'x'.repeat(100_000) }) }), { status: 413, body: { code: 'ERR_POOL_TOO_LARGE' } });
  t.match(await http(server, 'POST', '/v1/resources', { token: ADMIN_TOKEN, body: { type: 'host', value: 'h9', attrs: { os: 'debian' } } }), { status: 201, body: { resource: { id: 'host:h9', state: 'free' } } });
  t.match(await http(server, 'GET', '/v1/nothing'), { status: 404, body: { code: 'ERR_POOL_NOT_FOUND' } });
  t.match(await http(server, 'GET', '/v1/history?limit=abc'), { status: 400 });
  const c = await connect(t, server);
  await c.acquire({ port: 1 });
  t.match(await http(server, 'DELETE', '/v1/resources/port:7001', { token: ADMIN_TOKEN }), { status: 409, body: { code: 'ERR_POOL_CONFLICT' } }, 'cannot remove a held resource');
  const hist = await http(server, 'GET', '/v1/history?limit=50');
  const kinds = hist.body.events.map((e: { kind: string }) => e.kind);
  t.ok(kinds.includes('resource-disabled') && kinds.includes('granted'), 'admin actions and grants are in the log');
  const disabled = hist.body.events.find((e: { kind: string }) => e.kind === 'resource-disabled');
  t.equal(disabled.actor, 'admin@127.0.0.1', 'the log records who');
  t.equal((await http(server, 'GET', '/', { token: null })).status, 200, 'dashboard page is served');
});

t.test('WebSocket: hostile and malformed input gets coded errors and never crashes the pool', async (t) => {
  const server = await startPool(t, { resources: ports(1) });
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(server.wsUrl);
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });
  t.equal(refused, 401, 'upgrade without a token is refused with 401');
  await t.rejects(PoolClient.connect(server.wsUrl, { token: 'nope' }), { code: 'ERR_POOL_UNAUTHORIZED' });
  await t.rejects(PoolClient.connect(server.wsUrl.replace('/v1/ws', '/other'), { token: CLIENT_TOKEN }), { code: 'ERR_POOL_NOT_FOUND' });

  const ws = new WebSocket(server.wsUrl, { headers: { authorization: `Bearer ${CLIENT_TOKEN}` } });
  const replies: any[] = [];
  ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  const hostile = [
    'not json', '[]', 'null', '{"op":"acquire","id":"x","needs":[{"type":"port"}]}', '{"op":"nope"}',
    '{"op":"hello","graceMs":-1}', '{"op":"hello","resume":{"session":"s","token":"t"}}',
    '{"op":"hello","client":"evil"}', '{"op":"hello"}',
    '{"op":"acquire","id":"a","needs":[]}', '{"op":"acquire","id":"b","needs":[{"type":"port","count":1e9}]}',
    '{"op":"acquire","id":"c","needs":[{"type":"port","attrs":{"__proto__":"x"}}]}', '{"op":"acquire","id":"d","needs":"port"}',
    '{"op":"release","lease":"L999"}', '{"op":"cancel","id":"zz"}', '{"op":"verify","lease":"L1","fence":-3}',
    '{"op":"acquire","id":"' + 'i'.repeat(500) + '","needs":[{"type":"port"}]}',
  ];
  for (const m of hostile) ws.send(m);
  ws.send(Buffer.from([0xff, 0x00, 0x01]), { binary: true });
  ws.send('{"op":"acquire","id":"ok","needs":[{"type":"port"}]}');
  await until(() => replies.some((r) => r.op === 'granted'), 5000, 'grant after hostile input');
  const errors = replies.filter((r) => r.op === 'error');
  t.ok(errors.length >= hostile.length - 1, `every bad message answered (${errors.length})`);
  t.ok(errors.every((e) => typeof e.status === 'number' && /^ERR_POOL_/.test(e.code) && typeof e.message === 'string'), 'all are {status, code, message}');
  t.same(errors[0], { op: 'error', status: 400, code: 'ERR_POOL_BAD_REQUEST', message: 'message is not valid JSON' });
  t.match(errors.find((e) => e.id === undefined && e.status === 404), { code: 'ERR_POOL_SESSION_EXPIRED' }, 'a forged resume is refused');
  t.match(errors.find((e) => e.code === 'ERR_POOL_CONFLICT'), { status: 409 }, 'a second hello is a conflict');
  t.equal(replies.filter((r) => r.op === 'welcome').length, 1);
  // An oversized frame closes that connection (1009) without harming others.
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send('x'.repeat(70_000));
  t.equal(await closed, 1009);
  const c = await connect(t, server);
  await until(() => server.state.leases().length === 0, 5000, 'the hostile connection lease released');
  t.ok((await c.acquire({ port: 1 })).id, 'the pool still serves');
  t.same(checkEventLog(server.store.events()), []);
});

t.test('X-Forwarded-For is believed only from a trusted proxy', async (t) => {
  for (const trusted of [false, true]) {
    const server = await startPool(t, { resources: ports(1), trustedProxies: trusted ? ['127.0.0.1'] : [] });
    const r = await http(server, 'POST', '/v1/resources/port:7000/disable', { token: ADMIN_TOKEN, headers: { 'x-forwarded-for': '6.6.6.6, 10.0.0.7' } });
    t.equal(r.status, 200);
    const hist = await http(server, 'GET', '/v1/history?kind=resource-disabled');
    t.equal(hist.body.events[0].actor, trusted ? 'admin@10.0.0.7' : 'admin@127.0.0.1', trusted ? 'trusted proxy: the right-most hop' : 'spoofed header ignored');
    const ws = new WebSocket(server.wsUrl, { headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'x-forwarded-for': '6.6.6.6' } });
    await new Promise((res) => ws.once('open', res));
    ws.send('{"op":"hello","client":"spoofer"}');
    await until(() => server.state.sessions().length === 1, 5000, 'session');
    const s = await http(server, 'GET', '/v1/sessions');
    t.equal(s.body.sessions[0].remote, trusted ? '6.6.6.6' : '127.0.0.1');
    ws.terminate();
  }
});

t.test('configuration errors: insecure-local off loopback, no tokens', async (t) => {
  const dbPath = path.join(tempDir(t), 'p.sqlite');
  await t.rejects(createPoolServer({ dbPath, port: 0, host: '0.0.0.0', insecureLocal: true }), { code: 'ERR_CONFIG' });
  await t.rejects(createPoolServer({ dbPath, port: 0 }), { code: 'ERR_CONFIG' });
  const open = await createPoolServer({ dbPath, port: 0, insecureLocal: true, resources: ports(1) });
  t.teardown(() => open.destroy());
  t.equal((await http(open, 'GET', '/v1/resources', { token: null })).status, 200, 'loopback + --insecure-local needs no token');
  const c = await PoolClient.connect(open.wsUrl);
  t.teardown(() => c.destroy());
  t.ok(await c.acquire({ port: 1 }));
});

t.test('a pool restart loses no lease, grants none twice, and continues the fences', async (t) => {
  const dbPath = path.join(tempDir(t), 'pool.sqlite');
  const first = await createPoolServer({ dbPath, port: 0, clientTokens: [CLIENT_TOKEN], adminTokens: [ADMIN_TOKEN], resources: ports(1) });
  const port = first.port;
  const a = await connect(t, first, { name: 'a' });
  const b = await connect(t, first, { name: 'b' });
  const lease = await a.acquire({ port: 1 });
  const waiting = b.acquire({ port: 1 });
  await until(() => first.state.queue().length === 1, 5000, 'b queued');
  const lost: unknown[] = [];
  a.on('lost', (l) => lost.push(l));
  const reconnected = new Promise((r) => a.once('reconnected', r));
  await first.destroy();
  const second = await createPoolServer({ dbPath, port, clientTokens: [CLIENT_TOKEN], adminTokens: [ADMIN_TOKEN], resources: ports(1), restartGraceMs: 5000 });
  t.teardown(() => second.destroy());
  await reconnected;
  t.same(lost, [], 'the live holder kept its lease');
  t.same(second.state.leases().map((l) => l.id), [lease.id]);
  t.equal(lease.state, 'held');
  await lease.release();
  const next = await waiting;
  t.equal(next.fence, 2, 'the waiter re-queued after the restart and got fence 2');
  t.same(checkEventLog(second.store.events()), []);
});

t.test('a holder that does not come back within the restart grace loses its lease to the next waiter', async (t) => {
  const dbPath = path.join(tempDir(t), 'pool.sqlite');
  const opts = { dbPath, port: 0, clientTokens: [CLIENT_TOKEN], adminTokens: [ADMIN_TOKEN], resources: ports(1) };
  const first = await createPoolServer(opts);
  const a = await connect(t, first, { reconnectForMs: 10_000 });
  const lease = await a.acquire({ port: 1 });
  const port = first.port;
  await first.destroy();
  const second = await createPoolServer({ ...opts, port: 0, restartGraceMs: 50 });
  t.teardown(() => second.destroy());
  const other = await connect(t, second);
  const stolen = await other.acquire({ port: 1 }, { timeoutMs: 3000 });
  t.equal(stolen.fence, 2);
  t.equal(lease.state, 'held', 'a cannot know yet: its pool is gone');
  t.ok(port > 0);
});

t.test('release hooks: success frees, failure quarantines until enabled', async (t) => {
  const server = await startPool(t, {
    resources: [{ type: 'dev', value: 'good' }, { type: 'dev', value: 'bad' }],
    hooks: { dev: { release: 'test "$SUBRUN_RESOURCE_VALUE" = good' } },
  });
  const c = await connect(t, server);
  const lease = await c.acquire({ dev: 2 });
  await lease.release();
  await until(() => server.state.resources().every((r) => r.state !== 'resetting'), 5000, 'hooks done');
  const states = Object.fromEntries(server.state.resources().map((r) => [r.value, r.state]));
  t.same(states, { good: 'free', bad: 'quarantined' });
  t.match(server.state.resource('dev:bad').note, /exited 1/);
  await t.rejects(c.acquire({ dev: 2 }, { timeoutMs: 200 }), { code: 'ERR_TIMEOUT' }, 'a quarantined resource is not granted');
  await http(server, 'POST', '/v1/resources/dev:bad/enable', { token: ADMIN_TOKEN });
  t.equal((await c.acquire({ dev: 2 })).resources.length, 2);
});

t.test('the event log is append-only and survives reopening', async (t) => {
  const dbPath = path.join(tempDir(t), 'pool.sqlite');
  const server = await createPoolServer({ dbPath, port: 0, clientTokens: [CLIENT_TOKEN], resources: ports(1) });
  const c = await PoolClient.connect(server.wsUrl, { token: CLIENT_TOKEN });
  await (await c.acquire({ port: 1 })).release();
  await c.close();
  await until(() => server.state.sessions().length === 0, 5000, 'session closed');
  await server.close();
  const store = new PoolStore(dbPath);
  t.teardown(() => store.close());
  const kinds = [...store.events()].map((e) => e.kind);
  t.same(kinds, ['resource-added', 'session-opened', 'granted', 'released', 'session-closed']);
  t.same(checkEventLog(store.events()), []);
  t.equal(store.load().fence, 1, 'the fence counter is persisted');
});
