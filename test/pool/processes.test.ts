import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PoolClient } from '../../src/pool/client.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import { PoolStore } from '../../src/pool/store.js';
import { BIN } from '../helpers/paths.js';
import { CLIENT_TOKEN, connect, startPool, tempDir, until } from './fixtures/pool-env.js';
import { spawnNode } from './fixtures/proc.js';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'holder.js');

t.test('a holder killed with SIGKILL: the lease comes back on the TCP close, not the ping timeout', async (t) => {
  // A 30 s ping timeout: only the dead connection itself can explain a fast reclaim.
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }], pingTimeoutMs: 30_000 });
  const holder = spawnNode(t, HOLDER, [server.wsUrl, CLIENT_TOKEN, 'port']);
  const granted = await holder.waitFor((l) => l.event === 'granted');
  t.equal(granted.fence, 1);
  const waiter = await connect(t, server);
  const next = waiter.acquire({ port: 1 });
  await until(() => server.state.queue().length === 1, 5000, 'waiter queued');
  const killedAt = performance.now();
  holder.child.kill('SIGKILL');
  const lease = await next;
  const ms = performance.now() - killedAt;
  t.equal(lease.fence, 2);
  t.ok(ms < 5000, `reclaimed ${ms.toFixed(1)} ms after SIGKILL (bench/pool.js measures this precisely)`);
  const released = server.store.history({ kind: 'released' })[0]!.event;
  t.match(released, { reason: 'disconnect', lease: granted.lease });
});

t.test('a holder frozen with SIGSTOP loses its lease after the ping timeout and learns it by fence on SIGCONT', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }], pingTimeoutMs: 400 });
  const holder = spawnNode(t, HOLDER, [server.wsUrl, CLIENT_TOKEN, 'port']);
  const granted = await holder.waitFor((l) => l.event === 'granted');
  const waiter = await connect(t, server);
  const next = waiter.acquire({ port: 1 });
  const stoppedAt = performance.now();
  process.kill(holder.child.pid!, 'SIGSTOP');
  const lease = await next;
  const ms = performance.now() - stoppedAt;
  // The timeout runs from the holder's last pong, which may be up to one ping interval
  // (a quarter of the timeout) before the SIGSTOP.
  t.ok(ms >= 300, `not reclaimed before the ping timeout (${ms.toFixed(0)} ms after SIGSTOP)`);
  t.equal(lease.fence, granted.fence + 1);
  t.match(server.store.history({ kind: 'released' })[0]!.event, { reason: 'ping-timeout' });
  process.kill(holder.child.pid!, 'SIGCONT');
  const lost = await holder.waitFor((l) => l.event === 'lost');
  t.match(lost, { lease: granted.lease, code: 'ERR_POOL_LEASE_LOST' });
  const verified = await holder.waitFor((l) => l.event === 'verified');
  t.same(verified, { event: 'verified', lease: granted.lease, fence: granted.fence, valid: false, currentFence: lease.fence }, 'the newer fence tells it');
});

t.test('the pool server killed and restarted under load: no lease lost, none granted twice', async (t) => {
  const dir = tempDir(t);
  const db = path.join(dir, 'pool.sqlite');
  const serveArgs = (port: string) => [BIN, 'pool', 'serve', '--port', port, '--db', db, '--token', CLIENT_TOKEN, '--admin-token', 'admin', '--ping-timeout', '3s', '--restart-grace', '10s', ...[0, 1, 2, 3, 4].map((i) => `--resource=port=${7000 + i}`)];
  const start = async (port: string) => {
    const p = spawnNode(t, serveArgs(port)[0]!, serveArgs(port).slice(1));
    const line = await p.waitFor((l) => typeof l.text === 'string' && l.text.includes('listening on'));
    return { proc: p, port: /:(\d+) \(WebSocket/.exec(line.text)![1]! };
  };
  const first = await start('0');
  const url = `ws://127.0.0.1:${first.port}/v1/ws`;
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => PoolClient.connect(url, { token: CLIENT_TOKEN, name: `load-${i}`, reconnectForMs: 20_000 })));
  t.teardown(() => clients.forEach((c) => c.destroy()));
  const lost: string[] = [];
  const errors: string[] = [];
  let stop = false;
  let grants = 0;
  let grantsAfterRestart = 0;
  let restarted = false;
  for (const c of clients) c.on('lost', (l) => lost.push(l.id));
  const loops = clients.map(async (c) => {
    while (!stop) {
      try {
        const lease = await c.acquire({ port: 1 }, { timeoutMs: 15_000 });
        grants++;
        if (restarted) grantsAfterRestart++;
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
        await lease.release();
      } catch (error) {
        errors.push(String(error));
        return;
      }
    }
  });
  await until(() => grants >= 100, 20_000, 'load before the kill');
  first.proc.child.kill('SIGKILL');
  await first.proc.exited;
  const atKill = new PoolStore(db);
  const heldAtKill = atKill.load().leases.length;
  atKill.close();
  t.ok(heldAtKill > 0, `${heldAtKill} lease(s) were held when the pool was killed`);
  const second = await start(first.port);
  restarted = true;
  await until(() => grantsAfterRestart >= 100, 30_000, 'load after the restart');
  stop = true;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.close()));
  second.proc.child.kill('SIGTERM');
  await second.proc.exited;
  t.same(errors, [], 'every acquire and release succeeded across the restart');
  t.same(lost, [], 'no live holder lost a lease');
  const store = new PoolStore(db);
  t.teardown(() => store.close());
  const events = [...store.events()];
  t.same(checkEventLog(events), [], `replayed ${events.length} events: every invariant holds`);
  t.equal(events.filter((e) => e.kind === 'granted').length, grants, 'every grant a client saw is in the log, once');
  t.same(store.load().leases, [], 'no lease left behind');
});

t.test('1,000 concurrent clients on 100 resources', async (t) => {
  const resources = Array.from({ length: 100 }, (_, i) => ({ type: 'port', value: String(10_000 + i) }));
  const server = await startPool(t, { resources, pingTimeoutMs: 30_000 });
  const clients: PoolClient[] = [];
  for (let i = 0; i < 1000; i += 100) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, (_, j) => PoolClient.connect(server.wsUrl, { token: CLIENT_TOKEN, name: `c${i + j}` })))));
  }
  t.teardown(() => clients.forEach((c) => c.destroy()));
  t.equal(server.state.sessions().length, 1000, '1,000 sessions connected');
  let held = 0;
  let maxHeld = 0;
  await Promise.all(
    clients.map(async (c) => {
      for (let round = 0; round < 3; round++) {
        const lease = await c.acquire({ port: 1 });
        held++;
        maxHeld = Math.max(maxHeld, held);
        await new Promise((r) => setImmediate(r));
        held--;
        await lease.release();
      }
    }),
  );
  t.equal(maxHeld <= 100, true, `never more holders than resources (max ${maxHeld})`);
  const events = [...server.store.events()];
  t.equal(events.filter((e) => e.kind === 'granted').length, 3000, '3,000 grants');
  t.same(checkEventLog(events), []);
  t.same(server.state.leases(), []);
  await Promise.all(clients.map((c) => c.close()));
  await until(() => server.state.sessions().length === 0, 10_000, 'all sessions closed');
});
