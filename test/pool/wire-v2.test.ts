import t from 'tap';
import { WebSocketServer } from 'ws';
import { PoolClient } from '../../src/pool/client.js';
import { encodeGranted, parseClientMessage } from '../../src/pool/messages.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import type { LeaseView } from '../../src/pool/types.js';
import { connect, rawHolder, startPool, until } from './fixtures/pool-env.js';

// SPEC §12.4.4 (quiet requests) and §12.4.5 (a release carried by the next acquire).

const ports = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'port', value: String(7000 + i) }));


t.test('quiet and release parse with limits; hostile values are refused', async (t) => {
  const m = parseClientMessage('{"op":"acquire","id":"a","needs":[{"type":"port"}],"quiet":true,"release":"L3"}');
  t.match(m, { op: 'acquire', quiet: true, release: 'L3' });
  t.match(parseClientMessage('{"op":"acquire","id":"a","needs":[{"type":"port"}]}'), { quiet: false, release: null }, 'both default off');
  t.match(parseClientMessage('{"op":"acquire","id":"a","needs":[{"type":"port"}],"release":null}'), { release: null });
  for (const bad of ['"quiet":1', '"quiet":"yes"', '"release":5', '"release":""', `"release":"${'L'.repeat(200)}"`, '"release":{}']) {
    t.throws(() => parseClientMessage(`{"op":"acquire","id":"a","needs":[{"type":"port"}],${bad}}`), { code: 'ERR_POOL_BAD_REQUEST' }, bad);
  }
});

t.test('encodeGranted writes exactly what JSON.stringify writes, hostile strings included', async (t) => {
  const odd = 'q"\\\n\u2028\u0000é😀</script>';
  const lease: LeaseView = {
    // In the order leaseView() builds it, which is the order on the wire.
    id: 'L7', session: odd, client: odd, requestId: odd, fence: 7,
    resources: [{ id: `port:${odd}`, type: 'port', value: odd, attrs: { [odd]: odd, os: 'ubuntu' } }, { id: 'x:1', type: 'x', value: '1', attrs: {} }],
    grantedAt: 1700000000123.5,
  };
  t.equal(encodeGranted(odd, lease), JSON.stringify({ op: 'granted', id: odd, lease }));
  t.equal(encodeGranted('r1', { ...lease, resources: [] }), JSON.stringify({ op: 'granted', id: 'r1', lease: { ...lease, resources: [] } }));
});

t.test('a quiet request is not told its queue position; a loud one is', async (t) => {
  const server = await startPool(t, { resources: ports(1) });
  const a = await rawHolder(t, server.wsUrl);
  const b = await rawHolder(t, server.wsUrl);
  t.equal(a.welcome.protocol, 2, 'the pool speaks protocol 2');
  a.send({ op: 'acquire', id: 'a1', needs: [{ type: 'port' }] });
  const granted = await a.next((m) => m.op === 'granted', 'a granted');
  b.send({ op: 'acquire', id: 'q', needs: [{ type: 'port' }], quiet: true });
  b.send({ op: 'acquire', id: 'q', needs: [{ type: 'port' }], quiet: true });
  b.send({ op: 'acquire', id: 'loud', needs: [{ type: 'port' }] });
  const loud = await b.next((m) => m.op === 'queued', 'the loud request queued');
  t.same(loud, { op: 'queued', id: 'loud', position: 2 });
  t.equal(server.state.queue().length, 2, 'the quiet request waits too, once');
  a.send({ op: 'release', lease: granted.lease.id });
  const q = await b.next((m) => m.op === 'granted', 'the quiet request granted');
  t.equal(q.id, 'q', 'first in the queue, first served');
  t.same(b.got.filter((m) => m.op === 'queued').map((m) => m.id), ['loud'], 'no queued message for the quiet request, nor for its repeat');
  t.same(b.got.filter((m) => m.op === 'error'), []);
});

t.test('an acquire carrying a release: released first (FIFO kept), no released message, the answer confirms', async (t) => {
  const server = await startPool(t, { resources: ports(1) });
  const a = await rawHolder(t, server.wsUrl);
  const b = await rawHolder(t, server.wsUrl);
  a.send({ op: 'acquire', id: 'a1', needs: [{ type: 'port' }] });
  const first = (await a.next((m) => m.op === 'granted', 'a granted')).lease;
  b.send({ op: 'acquire', id: 'b1', needs: [{ type: 'port' }], quiet: true });
  await until(() => server.state.queue().length === 1, 5000, 'b waiting');
  a.send({ op: 'acquire', id: 'a2', needs: [{ type: 'port' }], release: first.id });
  const toB = (await b.next((m) => m.op === 'granted', 'b granted')).lease;
  t.equal(toB.fence, first.fence + 1, 'the waiter got the released port: the releaser does not overtake it');
  const queued = await a.next((m) => m.op === 'queued', 'a2 queued');
  t.same(queued, { op: 'queued', id: 'a2', position: 1 }, 'the answer to the acquire is what confirms the release');
  t.same(a.got.filter((m) => m.op === 'released'), [], 'no released message for a carried release');
  // b swaps too, quietly: one message each way.
  b.send({ op: 'acquire', id: 'b2', needs: [{ type: 'port' }], quiet: true, release: toB.id });
  const third = (await a.next((m) => m.op === 'granted' && m.id === 'a2', 'a2 granted')).lease;
  t.equal(third.fence, toB.fence + 1);
  // A lease the session does not hold is ignored; the request is still answered.
  a.send({ op: 'acquire', id: 'a3', needs: [{ type: 'port' }], quiet: true, release: 'L999' });
  a.send({ op: 'acquire', id: 'a4', needs: [{ type: 'port' }], quiet: true, release: toB.id });
  a.send({ op: 'ping' });
  await a.next((m) => m.op === 'pong', 'pong after the ignored releases');
  t.same(server.state.leases().map((l) => l.id), [third.id], 'a foreign or unknown lease id released nothing');
  t.same(a.got.filter((m) => m.op === 'error'), [], 'and raised no error');
  // A malformed carried release is refused whole: nothing is released.
  a.send({ op: 'acquire', id: 'a5', needs: [{ type: 'port' }], release: 7 });
  const err = await a.next((m) => m.op === 'error', 'a5 refused');
  t.match(err, { id: 'a5', status: 400, code: 'ERR_POOL_BAD_REQUEST' });
  t.same(server.state.leases().map((l) => l.id), [third.id], 'the held lease stays held');
  const kinds = [...server.store.events()].filter((e) => e.kind === 'granted' || e.kind === 'released').map((e) => (e.kind === 'granted' ? `g${e.lease.fence}` : `r${e.fence}:${e.reason}`));
  t.same(kinds, ['g1', 'r1:release', 'g2', 'r2:release', 'g3'], 'the log holds the same durable release records as a plain release');
  t.same(checkEventLog(server.store.events()), []);
});

t.test('PoolClient: acquire({release}) swaps in one message; the old lease is released at once', async (t) => {
  const server = await startPool(t, { resources: ports(1) });
  const c = await connect(t, server);
  const other = await connect(t, server);
  let lease = await c.acquire({ port: 1 });
  const waiting = other.acquire({ port: 1 });
  await until(() => server.state.queue().length === 1, 5000, 'other waiting');
  const next = c.acquire({ port: 1 }, { release: lease });
  t.equal(lease.state, 'released', 'released as soon as the message is sent');
  t.same(c.leases, [], 'the client no longer lists it');
  const theirs = await waiting;
  t.equal(theirs.fence, lease.fence + 1, 'FIFO: the waiter gets the port first');
  await theirs.release();
  lease = await next;
  t.equal(lease.fence, theirs.fence + 1);
  for (let i = 0; i < 20; i++) lease = await c.acquire({ port: 1 }, { release: lease });
  await lease.release();
  t.same(server.state.leases(), [], 'nothing leaks');
  t.same(checkEventLog(server.store.events()), []);
  await t.rejects(c.acquire({ port: 1 }, { release: { id: 'L1' } as never }), { code: 'ERR_INVALID_ARGUMENT' }, 'release must be a Lease');
});

t.test('PoolClient against a protocol 1 pool: release first, then acquire (the old pool would ignore the field)', async (t) => {
  // A protocol 1 peer: answers hello, grants every acquire, confirms every release, and records what it got.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.teardown(() => new Promise((r) => wss.close(r)));
  await new Promise((r) => wss.once('listening', r));
  const got: any[] = [];
  let fence = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      got.push(m);
      if (m.op === 'hello') ws.send(JSON.stringify({ op: 'welcome', protocol: 1, session: 's1', token: 'tok', resumed: false, graceMs: 0, pingTimeoutMs: 10_000, leases: [], queued: [] }));
      if (m.op === 'acquire') {
        fence++;
        ws.send(JSON.stringify({ op: 'granted', id: m.id, lease: { id: `L${fence}`, session: 's1', client: 'c', requestId: m.id, fence, resources: [{ id: 'port:1', type: 'port', value: '1', attrs: {} }], grantedAt: Date.now() } }));
      }
      if (m.op === 'release') ws.send(JSON.stringify({ op: 'released', lease: m.lease, reason: 'release' }));
    });
  });
  const port = (wss.address() as { port: number }).port;
  const c = await PoolClient.connect(`ws://127.0.0.1:${port}/v1/ws`);
  t.teardown(() => c.destroy());
  const first = await c.acquire({ port: 1 });
  const second = await c.acquire({ port: 1 }, { release: first });
  t.equal(first.state, 'released');
  t.equal(second.fence, 2);
  t.same(got.map((m) => m.op), ['hello', 'acquire', 'release', 'acquire'], 'a separate release, confirmed before the acquire');
  t.equal(got[2].lease, first.id);
  t.notOk('release' in got[3], 'no release field sent to a protocol 1 pool');
  t.equal(got[1].quiet, true, 'quiet needs no version: an old pool ignores it');
});
