import t from 'tap';
import { encodeGranted, encodeGrantedShort, leaseOfShortGranted, parseClientMessage } from '../../src/pool/messages.js';
import { checkEventLog } from '../../src/pool/invariants.js';
import type { LeaseView } from '../../src/pool/types.js';
import { connect, rawHolder, startPool, until } from './fixtures/pool-env.js';

// SPEC §12.4.6: the short `granted` for a client that says protocol 2 in `hello`.

const odd = 'q"\\\n\u2028\u0000é😀</script>';
const lease: LeaseView = {
  id: 'L7', session: 'sess-1', client: odd, requestId: odd, fence: 7,
  resources: [
    { id: `port:${odd}`, type: 'port', value: odd, attrs: { [odd]: odd, os: 'ubuntu' } },
    { id: 'x:1:2', type: 'x', value: '1:2', attrs: {} },
  ],
  grantedAt: 1700000000123.5,
};

t.test('hello: protocol defaults to 1; 2 (and later) accepted; hostile values refused', async (t) => {
  t.equal((parseClientMessage('{"op":"hello"}') as { protocol: number }).protocol, 1);
  t.equal((parseClientMessage('{"op":"hello","protocol":null}') as { protocol: number }).protocol, 1);
  t.equal((parseClientMessage('{"op":"hello","protocol":2}') as { protocol: number }).protocol, 2);
  t.equal((parseClientMessage('{"op":"hello","protocol":9}') as { protocol: number }).protocol, 9);
  for (const bad of ['0', '-1', '1.5', '"2"', 'true', '{}', '[2]', '1e400']) {
    t.throws(() => parseClientMessage(`{"op":"hello","protocol":${bad}}`), { code: 'ERR_POOL_BAD_REQUEST' }, bad);
  }
});

t.test('the short granted reads back as the full lease, hostile strings and attributes included', async (t) => {
  const text = encodeGrantedShort(odd, lease);
  const msg = JSON.parse(text);
  t.same(Object.keys(msg), ['op', 'id', 'fence', 'resources', 'grantedAt'], 'no lease view: nothing the client already knows');
  t.same(msg.resources, [[`port:${odd}`, { [odd]: odd, os: 'ubuntu' }], 'x:1:2'], 'an id, or [id, attrs]');
  t.same(leaseOfShortGranted(msg, 'sess-1', odd), lease);
  t.ok(text.length < encodeGranted(odd, lease).length);
  const plain = { ...lease, requestId: 'r12', client: 'bench', session: '0b9c6a2e-4e7e-4f7c-9d1e-2a1f5c3b7d90', resources: [{ id: 'port:9001', type: 'port', value: '9001', attrs: {} }] };
  const short = encodeGrantedShort('r12', plain);
  t.same(leaseOfShortGranted(JSON.parse(short), plain.session, 'bench'), plain);
  t.ok(short.length * 2 < encodeGranted('r12', plain).length, `a typical grant is less than half the size (${short.length} vs ${encodeGranted('r12', plain).length} bytes)`);
  t.same(leaseOfShortGranted(JSON.parse(encodeGrantedShort('r1', { ...lease, requestId: 'r1', resources: [] })), 'sess-1', odd), { ...lease, requestId: 'r1', resources: [] });
});

t.test('a lease the short form cannot carry goes in full', async (t) => {
  t.equal(encodeGrantedShort(odd, { ...lease, id: 'X7' }), encodeGranted(odd, { ...lease, id: 'X7' }), 'a lease id that is not L<fence>');
  t.equal(encodeGrantedShort('other', lease), encodeGranted('other', lease), 'a request id that differs');
  const weird = { ...lease, resources: [{ id: 'a:b', type: 'a', value: 'c', attrs: {} }] };
  t.equal(encodeGrantedShort(odd, weird), encodeGranted(odd, weird), 'a resource id that is not TYPE:VALUE');
  const colon = { ...lease, resources: [{ id: 'a:b:c', type: 'a:b', value: 'c', attrs: {} }] };
  t.equal(encodeGrantedShort(odd, colon), encodeGranted(odd, colon), 'a type with a colon');
});

t.test('a malformed short granted is not a lease (null), and never throws', async (t) => {
  const good = { op: 'granted', id: 'r1', fence: 3, resources: ['port:1'], grantedAt: 5 };
  t.ok(leaseOfShortGranted(good, 's', 'c'));
  const bad: Array<Record<string, unknown>> = [
    {}, { ...good, id: 5 }, { ...good, fence: '3' }, { ...good, grantedAt: null }, { ...good, resources: 'port:1' },
    { ...good, resources: [5] }, { ...good, resources: ['noColon'] }, { ...good, resources: [':x'] }, { ...good, resources: [['port:1', 'attrs']] },
    { ...good, resources: [['port:1', null]] }, { ...good, resources: [[]] }, { ...good, resources: [null] }, { ...good, resources: [{ id: 'port:1' }] },
  ];
  for (const m of bad) t.equal(leaseOfShortGranted(m, 's', 'c'), null, JSON.stringify(m));
});


t.test('the pool sends the full granted to a protocol 1 client and the short one to a protocol 2 client, at once and after a wait', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000', attrs: { zone: 'a' } }] });
  const v1 = await rawHolder(t, server.wsUrl);
  const v2 = await rawHolder(t, server.wsUrl, 2);

  v1.send({ op: 'acquire', id: 'one', needs: [{ type: 'port' }] });
  const full = await v1.next((m) => m.op === 'granted', 'v1 granted at once');
  t.same(full.lease, server.state.leases()[0], 'protocol 1: the full lease view, as before');
  v2.send({ op: 'acquire', id: 'two', needs: [{ type: 'port' }], quiet: true });
  await until(() => server.state.queue().length === 1, 5000, 'v2 waiting');
  v1.send({ op: 'release', lease: full.lease.id });
  const short = await v2.next((m) => m.op === 'granted', 'v2 granted after the wait');
  const held = server.state.leases()[0]!;
  t.notOk('lease' in short, 'protocol 2: no lease view');
  t.same(short, { op: 'granted', id: 'two', fence: held.fence, resources: [['port:7000', { zone: 'a' }]], grantedAt: held.grantedAt });
  t.same(leaseOfShortGranted(short, v2.welcome.session, 'raw'), held, 'it reads back as the lease the pool holds');

  v2.send({ op: 'acquire', id: 'two', needs: [{ type: 'port' }], quiet: true });
  await until(() => v2.got.filter((m) => m.op === 'granted').length === 2, 5000, 'the repeat answered');
  t.same(v2.got.filter((m) => m.op === 'granted')[1], short, 'a repeated acquire (SPEC §12.4.1) gets the same short grant');
  v2.send({ op: 'acquire', id: 'three', needs: [{ type: 'port' }], quiet: true, release: held.id });
  const again = await v2.next((m) => m.op === 'granted' && m.id === 'three', 'v2 granted at once, carrying its release');
  t.equal(again.fence, held.fence + 1);
  t.same(Object.keys(again), ['op', 'id', 'fence', 'resources', 'grantedAt']);
  t.same(checkEventLog(server.store.events()), []);
});

t.test('PoolClient says protocol 2 and builds the same Lease from the short granted', async (t) => {
  const server = await startPool(t, { resources: [{ type: 'port', value: '7000' }, { type: 'compute', value: 'h1', attrs: { os: 'ubuntu' } }] });
  const c = await connect(t, server, { name: 'fixture' });
  const lease = await c.acquire(['port', { type: 'compute', attrs: { os: 'ubuntu' } }]);
  const view = server.state.leases()[0]!;
  t.equal(server.state.sessions().find((s) => s.id === c.session)?.client, 'fixture');
  t.same({ id: lease.id, fence: lease.fence, requestId: lease.requestId, resources: lease.resources, grantedAt: lease.grantedAt },
    { id: view.id, fence: view.fence, requestId: view.requestId, resources: view.resources, grantedAt: view.grantedAt });
  t.same(lease.env(), { SUBRUN_POOL_LEASE: view.id, SUBRUN_POOL_FENCE: String(view.fence), SUBRUN_POOL_PORT: '7000', SUBRUN_POOL_PORT_0: '7000', SUBRUN_POOL_COMPUTE: 'h1', SUBRUN_POOL_COMPUTE_0: 'h1' });
  let l = lease;
  for (let i = 0; i < 5; i++) l = await c.acquire({ port: 1 }, { release: l });
  t.equal(l.value('port'), '7000');
  await l.release();
  t.same(server.state.leases(), []);
});
