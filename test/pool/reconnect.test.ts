import t from 'tap';
import net from 'node:net';
import { PoolClient } from '../../src/pool/client.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import { CLIENT_TOKEN, startPool, until } from './fixtures/pool-env.js';

/** A loopback TCP proxy whose connections can all be cut at once: a network blip. */
async function blipProxy(t: { teardown(fn: () => unknown): void }, targetPort: number) {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  let dropping = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    // Client to pool by hand, so that `dropping` can lose what the client sends.
    client.on('data', (d: Buffer) => {
      if (!dropping) upstream.write(d);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Reset every connection in both directions, as a broken network path would. */
    cut() {
      for (const s of sockets) s.resetAndDestroy();
    },
    /** While set, new connections are reset: the path stays broken. */
    set refusing(v: boolean) {
      refusing = v;
    },
    /** While set, what clients send is lost on the way (the pool never sees it). */
    set dropping(v: boolean) {
      dropping = v;
    },
  };
}

t.test('a network blip: a holder with a grace period resumes and keeps its lease', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }] });
  const proxy = await blipProxy(t, server.port);
  const client = await PoolClient.connect(`ws://127.0.0.1:${proxy.port}/v1/ws`, { token: CLIENT_TOKEN, graceMs: 5000 });
  t.teardown(() => client.destroy());
  const lease = await client.acquire({ port: 1 });
  const lost: unknown[] = [];
  client.on('lost', (l) => lost.push(l));
  const reconnected = new Promise((r) => client.once('reconnected', r));
  proxy.cut();
  await reconnected;
  t.same(lost, []);
  t.equal(lease.state, 'held');
  t.same(server.state.leases().map((l) => l.id), [lease.id], 'the pool kept it through the blip');
  const kinds = server.store.history({ limit: 20 }).map((r) => r.kind);
  t.ok(kinds.includes('session-disconnected') && kinds.includes('session-resumed'), 'the blip is in the log');
  await lease.release();
  t.same(server.state.leases(), []);
});

t.test('a network blip without a grace period: the lease goes at once and the holder is told', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }] });
  const proxy = await blipProxy(t, server.port);
  const client = await PoolClient.connect(`ws://127.0.0.1:${proxy.port}/v1/ws`, { token: CLIENT_TOKEN });
  t.teardown(() => client.destroy());
  const lease = await client.acquire({ port: 1 });
  const lost = new Promise<Error>((r) => client.once('lost', (_l, e: Error) => r(e)));
  proxy.refusing = true;
  proxy.cut();
  await until(() => server.state.sessions().length === 0, 5000, 'the pool noticed the drop');
  t.same(server.state.leases(), [], 'released at once');
  proxy.refusing = false;
  t.match(await lost, { code: 'ERR_POOL_LEASE_LOST' });
  t.equal(lease.state, 'lost');
  t.same(await client.verify(lease), { valid: false, currentFence: 1 }, 'verify works on the fresh session');
  const again = await client.acquire({ port: 1 });
  t.equal(again.fence, 2);
  await until(() => server.state.sessions().length === 1, 5000, 'old session closed');
  t.same(checkEventLog(server.store.events()), []);
});

t.test('a release carried by an acquire that the pool never got is sent again after the resume (SPEC §12.4.5)', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }] });
  const proxy = await blipProxy(t, server.port);
  const client = await PoolClient.connect(`ws://127.0.0.1:${proxy.port}/v1/ws`, { token: CLIENT_TOKEN, graceMs: 5000 });
  t.teardown(() => client.destroy());
  const first = await client.acquire({ port: 1 });
  proxy.dropping = true;
  const next = client.acquire({ port: 1 }, { release: first });
  t.equal(first.state, 'released', 'released on our side at once');
  await new Promise((r) => setTimeout(r, 50));
  t.same(server.state.leases().map((l) => l.id), [first.id], 'the pool never heard of it');
  const reconnected = new Promise((r) => client.once('reconnected', r));
  proxy.dropping = false;
  proxy.cut();
  await reconnected;
  const second = await next;
  t.equal(second.fence, first.fence + 1, 'the release was sent again, then the request: the only port came back');
  t.same(server.state.leases().map((l) => l.id), [second.id], 'one lease, not two');
  await second.release();
  t.same(server.state.leases(), []);
  t.same(checkEventLog(server.store.events()), []);
});
