import t from 'tap';
import net from 'node:net';
import { PoolClient } from '../../src/pool/client.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import { CLIENT_TOKEN, startPool, until } from './fixtures/pool-env.js';

/** A loopback TCP proxy whose connections can all be cut at once: a network blip. */
async function blipProxy(t: { teardown(fn: () => unknown): void }, targetPort: number) {
  const sockets = new Set<net.Socket>();
  let refusing = false;
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
    client.pipe(upstream).pipe(client);
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
