import t from 'tap';
import { createServer } from 'node:net';
import { PoolResources, toPoolNeeds } from '../../src/server/pool-resources.js';
import { poolWsUrl } from '../../src/cli/serve.js';
import { CLIENT_TOKEN, startPool, until } from '../pool/fixtures/pool-env.js';

// PoolResources against a real pool server (SPEC §7.8 over §12).

t.test('a grant becomes values, env and release; one pool session serves every batch', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }, { type: 'host', value: 'h1', attrs: { os: 'ubuntu' } }] });
  const provider = new PoolResources(server.wsUrl, { token: CLIENT_TOKEN, name: 'serve-test' });
  t.teardown(() => provider.close());
  const grant = await provider.acquire({ port: 1, host: { count: 1, match: { os: 'ubuntu' } } }, new AbortController().signal);
  t.same(grant.values, { port: ['7000'], host: ['h1'] });
  t.match(grant.env, { SUBRUN_POOL_PORT: '7000', SUBRUN_POOL_PORT_0: '7000', SUBRUN_POOL_HOST: 'h1', SUBRUN_POOL_LEASE: 'L1', SUBRUN_POOL_FENCE: '1' });
  t.equal(server.state.leases().length, 1);
  await grant.release();
  t.same(server.state.leases(), [], 'released when the batch is done');
  const again = await provider.acquire({ port: 1 }, new AbortController().signal);
  await again.release();
  t.equal(server.state.sessions().length, 1, 'the second batch reused the session');
  await provider.close();
  await until(() => server.state.sessions().length === 0, 5000, 'the session to end');
  await t.rejects(provider.acquire({ port: 1 }, new AbortController().signal), { code: 'ERR_RESOURCES' }, 'closed: no more acquisitions');
});

t.test('what the pool cannot give is ERR_RESOURCES naming the pool code; an abort withdraws the request', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }] });
  const provider = new PoolResources(server.wsUrl, { token: CLIENT_TOKEN });
  t.teardown(() => provider.close());
  await t.rejects(provider.acquire({ port: 2 }, new AbortController().signal), { code: 'ERR_RESOURCES', details: { poolCode: 'ERR_POOL_IMPOSSIBLE' } });
  await t.rejects(provider.acquire({ 'no such/type': 1 }, new AbortController().signal), { code: 'ERR_RESOURCES' }, 'a hostile type name from the peer');
  await t.rejects(provider.acquire({ port: { count: 0 } }, new AbortController().signal), { code: 'ERR_RESOURCES' });
  const held = await provider.acquire({ port: 1 }, new AbortController().signal);
  const ac = new AbortController();
  const waiting = provider.acquire({ port: 1 }, ac.signal);
  await until(() => server.state.queue().length === 1, 5000, 'the second request to queue');
  ac.abort();
  await t.rejects(waiting, { code: 'ERR_ABORTED' });
  await until(() => server.state.queue().length === 0, 5000, 'the request to be withdrawn');
  await held.release();
  const timed = new PoolResources(server.wsUrl, { token: CLIENT_TOKEN, acquireTimeoutMs: 50 });
  t.teardown(() => timed.close());
  const blocker = await timed.acquire({ port: 1 }, new AbortController().signal);
  await t.rejects(timed.acquire({ port: 1 }, new AbortController().signal), { code: 'ERR_RESOURCES', details: { poolCode: 'ERR_TIMEOUT' } });
  await blocker.release();
});

t.test('an unreachable pool or a wrong token is ERR_RESOURCES, and a later Run tries again', async (t) => {
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as { port: number }).port;
  await new Promise<void>((r) => free.close(() => r()));
  const down = new PoolResources(`ws://127.0.0.1:${port}/v1/ws`, { connectTimeoutMs: 2000 });
  await t.rejects(down.acquire({ port: 1 }, new AbortController().signal), { code: 'ERR_RESOURCES', details: { poolCode: 'ERR_POOL_CONNECT' } });
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }] });
  const wrong = new PoolResources(server.wsUrl, { token: 'nope' });
  await t.rejects(wrong.acquire({ port: 1 }, new AbortController().signal), { code: 'ERR_RESOURCES', details: { poolCode: 'ERR_POOL_UNAUTHORIZED' } });
  await down.close();
  await wrong.close();
});

t.test('needs and URLs', async (t) => {
  t.same(toPoolNeeds({ port: 2, host: { count: 1, match: { os: 'ubuntu' } } }), [
    { type: 'port', count: 2, attrs: {} },
    { type: 'host', count: 1, attrs: { os: 'ubuntu' } },
  ]);
  t.throws(() => toPoolNeeds({ port: 1.5 }), { code: 'ERR_RESOURCES' });
  t.throws(() => new PoolResources('http://x'), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(poolWsUrl('http://127.0.0.1:8000'), 'ws://127.0.0.1:8000/v1/ws');
  t.equal(poolWsUrl('https://pool.example:443/'), 'wss://pool.example/v1/ws');
  t.equal(poolWsUrl('ws://127.0.0.1:8000/v1/ws'), 'ws://127.0.0.1:8000/v1/ws');
  t.throws(() => poolWsUrl('ftp://x'), { code: 'ERR_USAGE' });
  t.throws(() => poolWsUrl('not a url'), { code: 'ERR_USAGE' });
});
