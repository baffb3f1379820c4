import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClientConnection } from '../../src/rpc/client.js';
import { spawnTransport, type ChildTransport } from '../../src/transport/index.js';
import { timestampToMillis, type SubunitEvent } from '../../src/subunit/event.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { spawnNode } from '../pool/fixtures/proc.js';

// SPEC §7.8 end to end with real processes: `subrun pool serve` with one port, and
// `subrun serve --pool` servers that acquire it before each batch and release it after.
const dir = mkdtempSync(path.join(tmpdir(), 'subrun-serve-pool-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const TEST_API = JSON.stringify(path.join(ROOT, 'dist', 'src', 'testing', 'index.js'));
const PORT = '7123';

writeFileSync(
  path.join(dir, 'batch.test.js'),
  `import { test } from ${TEST_API};
const hold = () => new Promise((r) => setTimeout(r, 250));
test('first', async (t) => { console.log('RESOURCES ' + JSON.stringify(t.resources)); console.log('ENV ' + process.env.SUBRUN_POOL_PORT); await hold(); });
test('second', async (t) => { console.log('RESOURCES ' + JSON.stringify(t.resources)); await hold(); });
`,
);
writeFileSync(
  path.join(dir, 'slow.test.js'),
  `import { test } from ${TEST_API};
import { writeFileSync } from 'node:fs';
// Results reach the client when a test ends; a marker file says this one has begun.
test('holds the port for a long time', async (t) => {
  writeFileSync(${JSON.stringify(path.join(dir, 'started-'))} + process.pid, JSON.stringify(t.resources));
  await new Promise((r) => setTimeout(r, 60_000));
});
`,
);

async function startPool(t: Test): Promise<{ url: string; ws: string }> {
  const db = path.join(dir, `pool-${Math.random().toString(36).slice(2)}.sqlite`);
  const pool = spawnNode(t, BIN, ['pool', 'serve', '--insecure-local', '--port', '0', '--db', db, '--ping-timeout', '30s', '--resource', `port=${PORT}`]);
  const line = await pool.waitFor((l) => typeof l.text === 'string' && l.text.includes('listening on'), 30_000);
  const url = /listening on (http:\/\/[^\s]+)/.exec(String(line.text))![1]!;
  return { url, ws: url.replace(/^http/, 'ws') + '/v1/ws' };
}

async function startServer(t: Test, poolUrl: string): Promise<{ transport: ChildTransport; client: ClientConnection }> {
  const transport = await spawnTransport([process.execPath, BIN, 'serve', '--root', dir, '--pool', poolUrl, 'batch.test.js', 'slow.test.js'], { protocolFd: true });
  t.teardown(() => transport.destroy());
  const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 30_000 });
  return { transport, client };
}

async function leases(poolUrl: string): Promise<unknown[]> {
  const r = await fetch(`${poolUrl}/v1/leases`);
  return ((await r.json()) as { leases: unknown[] }).leases;
}

async function history(poolUrl: string, kind: string): Promise<Array<{ event: Record<string, unknown> }>> {
  const r = await fetch(`${poolUrl}/v1/history?kind=${kind}`);
  return ((await r.json()) as { events: Array<{ event: Record<string, unknown> }> }).events;
}

async function until(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stdoutOf = (events: SubunitEvent[]): string =>
  Buffer.concat(events.filter((e) => e.fileName === 'stdout' && e.fileBytes !== undefined).map((e) => Buffer.from(e.fileBytes!))).toString();

t.test('two servers that each need the only port run one after the other and leave the pool empty', async (t) => {
  const pool = await startPool(t);
  const a = await startServer(t, pool.ws);
  const b = await startServer(t, pool.url);
  t.equal(a.client.capabilities.resources, true, 'a server started with --pool declares the resources capability');
  const eventsA: SubunitEvent[] = [];
  const eventsB: SubunitEvent[] = [];
  const tests = ['batch.test.js > first', 'batch.test.js > second'];
  const [doneA, doneB] = await Promise.all([
    a.client.run({ tests, resources: { port: 1 }, onResult: (e) => eventsA.push(e) }).done,
    b.client.run({ tests, resources: { port: 1 }, onResult: (e) => eventsB.push(e) }).done,
  ]);
  t.equal(doneA.ran, 2);
  t.equal(doneB.ran, 2);
  const statuses = (events: SubunitEvent[]) => events.filter((e) => e.status !== undefined && e.status !== 'inprogress').map((e) => e.status);
  t.same(statuses(eventsA), ['success', 'success']);
  t.same(statuses(eventsB), ['success', 'success']);
  for (const events of [eventsA, eventsB]) {
    const seen = [...stdoutOf(events).matchAll(/RESOURCES (.*)/g)].map((m) => JSON.parse(m[1]!) as unknown);
    t.same(seen, [{ port: [PORT] }, { port: [PORT] }], 'each test saw the granted port as t.resources');
    t.same([...stdoutOf(events).matchAll(/ENV (.*)/g)].map((m) => m[1]), [PORT], 'and as SUBRUN_POOL_PORT in its environment');
  }
  // Serialised by the pool: one batch's first test starts after the other's last test ended.
  const span = (events: SubunitEvent[]) => {
    const times = events.filter((e) => e.status !== undefined && e.timestamp !== undefined).map((e) => timestampToMillis(e.timestamp!));
    return { start: Math.min(...times), end: Math.max(...times) };
  };
  const [first, second] = [span(eventsA), span(eventsB)].sort((x, y) => x.start - y.start);
  t.ok(second!.start >= first!.end, `the second batch started ${(second!.start - first!.end).toFixed(1)} ms after the first ended`);
  t.same(await leases(pool.url), [], 'released before Done: the pool holds no lease');
  const grants = await history(pool.url, 'granted');
  t.equal(grants.length, 2, 'two grants, one per batch');
  t.not(grants[0]!.event.session, grants[1]!.event.session, 'one pool session per server process');
  await Promise.all([a.client.goodbye(), b.client.goodbye()]);
  t.same(await Promise.all([a.transport.closed, b.transport.closed]).then((c) => c.map((x) => x.exitCode)), [0, 0]);
});

t.test('a server killed with SIGKILL mid-batch has its lease reclaimed, and the next server gets the port', async (t) => {
  const pool = await startPool(t);
  const victim = await startServer(t, pool.ws);
  const doomed = victim.client.run({ tests: ['slow.test.js > holds the port for a long time'], resources: { port: 1 } });
  doomed.done.catch(() => {});
  const marker = path.join(dir, `started-${victim.transport.pid}`);
  await until(async () => existsSync(marker), 30_000, 'the slow test to start');
  t.same(JSON.parse(readFileSync(marker, 'utf8')), { port: [PORT] }, 'the running test holds the port');
  t.equal((await leases(pool.url)).length, 1, 'the batch holds the port');
  const killedAt = performance.now();
  process.kill(victim.transport.pid, 'SIGKILL');
  await until(async () => (await leases(pool.url)).length === 0, 10_000, 'the lease to come back');
  const ms = performance.now() - killedAt;
  t.ok(ms < 5000, `reclaimed ${ms.toFixed(0)} ms after SIGKILL, without waiting for the 30 s ping timeout`);
  t.match((await history(pool.url, 'released'))[0]!.event, { reason: 'disconnect' });
  const next = await startServer(t, pool.ws);
  const events: SubunitEvent[] = [];
  const done = await next.client.run({ tests: ['batch.test.js > first'], resources: { port: 1 }, onResult: (e) => events.push(e) }).done;
  t.equal(done.ran, 1);
  t.match(stdoutOf(events), `RESOURCES {"port":["${PORT}"]}`);
  await next.client.goodbye();
});

t.test('a request the pool can never meet is Error ERR_RESOURCES, and nothing runs', async (t) => {
  const pool = await startPool(t);
  const s = await startServer(t, pool.ws);
  const events: SubunitEvent[] = [];
  await t.rejects(s.client.run({ tests: ['batch.test.js > first'], resources: { port: 2 }, onResult: (e) => events.push(e) }).done, { code: 'ERR_RESOURCES' });
  await t.rejects(s.client.run({ tests: ['batch.test.js > first'], resources: { gpu: 1 }, onResult: (e) => events.push(e) }).done, { code: 'ERR_RESOURCES' });
  t.same(events.filter((e) => e.status !== undefined), [], 'no test started');
  await s.client.goodbye();
});

t.test('a Run cancelled while it waits for its grant ends cancelled, and its request leaves the queue', async (t) => {
  const pool = await startPool(t);
  const holder = await startServer(t, pool.ws);
  const waiter = await startServer(t, pool.ws);
  const slow = holder.client.run({ tests: ['slow.test.js > holds the port for a long time'], resources: { port: 1 } });
  slow.done.catch(() => {});
  await until(async () => existsSync(path.join(dir, `started-${holder.transport.pid}`)), 30_000, 'the slow test to start');
  const events: SubunitEvent[] = [];
  const run = waiter.client.run({ tests: ['batch.test.js > first'], resources: { port: 1 }, onResult: (e) => events.push(e) });
  await until(async () => ((await (await fetch(`${pool.url}/v1/queues`)).json()) as { queue: unknown[] }).queue.length === 1, 10_000, 'the request to queue');
  run.cancel();
  const done = await run.done;
  t.equal(done.cancelled, true);
  t.equal(done.ran, 0);
  await until(async () => ((await (await fetch(`${pool.url}/v1/queues`)).json()) as { queue: unknown[] }).queue.length === 0, 10_000, 'the queue to empty');
  t.same(events.filter((e) => e.status !== undefined), [], 'no test started');
});
