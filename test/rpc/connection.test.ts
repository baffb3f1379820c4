import t from 'tap';
import type { Duplex } from 'node:stream';
import { ClientConnection, type ClientOptions } from '../../src/rpc/client.js';
import { ServerConnection, type ServerOptions } from '../../src/rpc/server.js';
import { ManualClock } from '../../src/core/clock.js';
import { encodePacket } from '../../src/subunit/encoder.js';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import { RPC_TEST_ID, type SubunitEvent } from '../../src/subunit/event.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { TOY_TESTS, toyHandler } from '../fixtures/toy-handler.js';

async function pair(clientOptions: ClientOptions = {}, serverOptions: ServerOptions = {}, log: string[] = []) {
  const [c, s] = duplexPair();
  const server = new ServerConnection(s, toyHandler(log), serverOptions);
  const client = await ClientConnection.connect(c, clientOptions);
  return { client, server, c, s };
}

function rpcPacket(message: unknown, extra: Partial<SubunitEvent> = {}): Uint8Array {
  return encodePacket({
    testId: RPC_TEST_ID,
    fileName: 'rpc',
    mimeType: 'application/json',
    fileBytes: new TextEncoder().encode(typeof message === 'string' ? message : JSON.stringify(message)),
    eof: true,
    ...extra,
  });
}

/** Collect the RPC messages a raw peer receives. */
function readMessages(stream: Duplex): { messages: Record<string, unknown>[]; results: SubunitEvent[]; next(): Promise<Record<string, unknown>> } {
  const messages: Record<string, unknown>[] = [];
  const results: SubunitEvent[] = [];
  const waiters: Array<() => void> = [];
  const decoder = new StreamDecoder({
    packet(event) {
      if (event.testId === RPC_TEST_ID) {
        const bytes = event.fileBytes!;
        // Raw peers here always get JSON: they never offer msgpack.
        messages.push(JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>);
        waiters.shift()?.();
      } else results.push(event);
    },
    nonSubunit() {},
    error() {},
  });
  stream.on('data', (chunk: Buffer) => decoder.push(chunk));
  let seen = 0;
  return {
    messages,
    results,
    async next() {
      while (messages.length <= seen) await new Promise<void>((r) => waiters.push(r));
      return messages[seen++]!;
    },
  };
}

t.test('handshake negotiates version 2, capabilities and msgpack', async (t) => {
  const { client, server } = await pair();
  t.equal(client.version, 2);
  t.equal(server.version, 2);
  t.same(client.capabilities.encodings, ['json', 'msgpack']);
  t.equal(client.capabilities.heartbeat, true);
  t.equal(client.capabilities.cancel, true);
  t.equal(client.serverHello.agent, 'subrun');
  await client.goodbye();
  t.same(await server.finished, { reason: 'goodbye' });
});

t.test('List returns every test; a filtered List names the unknown ids (v2)', async (t) => {
  const { client } = await pair();
  const all = await client.list();
  t.same(all.tests, TOY_TESTS);
  const some = await client.list({ tests: ['b', 'nope', 'a'] });
  t.same(some.tests, ['a', 'b']);
  t.same(some.unknown, ['nope']);
  await client.goodbye();
});

t.test('Run streams results for exactly the requested tests, then Done', async (t) => {
  const log: string[] = [];
  const { client } = await pair({}, {}, log);
  const events: SubunitEvent[] = [];
  const done = await client.run({ tests: ['bad', 'a'], onResult: (e) => events.push(e) }).done;
  t.same(log, ['bad', 'a']);
  t.same(done, { msg: 'Done', nonce: 'r1', ran: 2 });
  t.same(
    events.filter((e) => e.status !== undefined).map((e) => [e.testId, e.status]),
    [['bad', 'inprogress'], ['bad', 'fail'], ['a', 'inprogress'], ['a', 'success']],
  );
  t.ok(events.every((e) => e.routeCode === undefined), 'our route code is stripped');
  const tb = events.find((e) => e.fileName === 'traceback');
  t.equal(new TextDecoder().decode(tb?.fileBytes), 'AssertionError: 1 != 2\n');
  await client.goodbye();
});

t.test('version 2 rejects a Run with unknown ids as a whole; nothing runs', async (t) => {
  const log: string[] = [];
  const { client } = await pair({}, {}, log);
  await t.rejects(client.run({ tests: ['a', 'ghost', 'spook'] }).done, {
    code: 'ERR_UNKNOWN_TEST',
    details: { tests: ['ghost', 'spook'] },
  });
  t.same(log, []);
  t.equal(client.outstanding, 0);
  await client.goodbye();
});

t.test('version 1: no route codes, unknown ids are reported as failed tests', async (t) => {
  const log: string[] = [];
  const { client, server } = await pair({}, { max: 1 }, log);
  t.equal(client.version, 1);
  t.same(client.capabilities, { encodings: ['json'] });
  const events: SubunitEvent[] = [];
  const done = await client.run({ tests: ['a', 'ghost'], onResult: (e) => events.push(e) }).done;
  t.same(done, { msg: 'Done', nonce: 'r1' });
  t.same(log, ['a']);
  const ghost = events.find((e) => e.testId === 'ghost');
  t.equal(ghost?.status, 'fail');
  t.match(new TextDecoder().decode(ghost?.fileBytes), /unknown test id: ghost/);
  t.ok(events.every((e) => e.routeCode === undefined));
  await t.rejects(client.ping(), { code: 'ERR_UNSUPPORTED' });
  await client.goodbye();
  t.equal((await server.finished).reason, 'goodbye');
});

t.test('a version-1-only client works with our server', async (t) => {
  const { client } = await pair({ max: 1 });
  t.equal(client.version, 1);
  t.same((await client.list()).tests, TOY_TESTS);
  await client.goodbye();
});

t.test('no common version: a clear error naming both ranges, on both sides', async (t) => {
  const [c, s] = duplexPair();
  const server = new ServerConnection(s, toyHandler(), { min: 1, max: 2 });
  await t.rejects(ClientConnection.connect(c, { min: 3, max: 4 }), {
    code: 'ERR_NO_COMMON_VERSION',
    message: 'no common protocol version: client speaks 3..4, server speaks 1..2',
  });
  const finish = await server.finished;
  t.equal(finish.reason, 'no-common-version');
  t.match(finish.error?.message, /client speaks 3\.\.4, server speaks 1\.\.2/);
});

t.test('concurrent Runs are demultiplexed by route code', async (t) => {
  const { client } = await pair({}, { capabilities: { concurrentRuns: 2 } });
  t.equal(client.capabilities.concurrentRuns, 2);
  const one: string[] = [];
  const two: string[] = [];
  const r1 = client.run({ tests: ['slow', 'a'], onResult: (e) => e.status && one.push(`${e.testId}:${e.status}`) });
  const r2 = client.run({ tests: ['b', 'c'], onResult: (e) => e.status && two.push(`${e.testId}:${e.status}`) });
  await Promise.all([r1.done, r2.done]);
  t.same(one, ['slow:inprogress', 'slow:success', 'a:inprogress', 'a:success']);
  t.same(two, ['b:inprogress', 'b:success', 'c:inprogress', 'c:success']);
  await client.goodbye();
});

t.test('Cancel stops a Run after the current test; the Done still comes', async (t) => {
  const log: string[] = [];
  const { client } = await pair({}, {}, log);
  const run = client.run({ tests: ['slow', 'a', 'b'] });
  setTimeout(() => run.cancel(), 50);
  const done = await run.done;
  t.equal(done.cancelled, true);
  t.same(log, ['slow']);
  await client.goodbye();
});

t.test('an AbortSignal cancels a Run', async (t) => {
  const { client } = await pair();
  const ac = new AbortController();
  const run = client.run({ tests: ['slow', 'a'], signal: ac.signal });
  ac.abort();
  t.equal((await run.done).cancelled, true);
  await client.goodbye();
});

t.test('ping gets an answer while a test runs; beats list the running test', async (t) => {
  const beats: unknown[] = [];
  const { client } = await pair({ heartbeatMs: 50, onHeartbeat: (m) => beats.push(m.running) });
  const run = client.run({ tests: ['slow'] });
  await new Promise((r) => setTimeout(r, 120));
  const rtt = await client.ping({ timeoutMs: 1000 });
  t.ok(rtt >= 0 && rtt < 1000);
  await run.done;
  t.ok(beats.length >= 1, 'unsolicited heartbeats arrived');
  t.ok(
    beats.some((r) => Array.isArray(r) && r.some((x: { test: string; nonce: string }) => x.test === 'slow' && x.nonce === run.nonce)),
    'a beat named the slow test as running',
  );
  await client.goodbye();
});

t.test('a silent server is declared hung; the outstanding request fails', async (t) => {
  const clock = new ManualClock();
  const [c, s] = duplexPair();
  const peer = readMessages(s);
  const connecting = ClientConnection.connect(c, { clock, heartbeatMs: 100, hangTimeoutMs: 1000 });
  const hello = await peer.next();
  t.equal(hello.msg, 'Hello');
  t.equal(hello.heartbeatMs, 100);
  s.write(rpcPacket({ msg: 'Hello', min: 1, max: 2, capabilities: { heartbeat: true } }));
  const client = await connecting;
  const run = client.run({ tests: ['a'] });
  clock.advance(999);
  t.equal(client.isClosed, false);
  clock.advance(2);
  await t.rejects(run.done, { code: 'ERR_SERVER_HUNG' });
  t.equal((await client.closed).error?.code, 'ERR_SERVER_HUNG');
});

t.test('a server that never says Hello times out the handshake', async (t) => {
  const clock = new ManualClock();
  const [c] = duplexPair();
  const connecting = ClientConnection.connect(c, { clock, handshakeTimeoutMs: 500 });
  clock.advance(500);
  await t.rejects(connecting, { code: 'ERR_HANDSHAKE_TIMEOUT' });
});

t.test('a banner and stray output are passed on, never fatal', async (t) => {
  const [c, s] = duplexPair();
  const output: string[] = [];
  s.write('Starting test server v9...\n');
  const server = new ServerConnection(s, toyHandler());
  const connecting = ClientConnection.connect(c, { onOutput: (b) => output.push(new TextDecoder().decode(b)) });
  const client = await connecting;
  s.write('a stray print\n');
  t.same((await client.list({ tests: ['a'] })).tests, ['a']);
  t.match(output.join(''), /Starting test server v9\.\.\.\n/);
  t.match(output.join(''), /a stray print/);
  await client.goodbye();
  await server.finished;
});

t.test('the server dying mid-run rejects the request and keeps earlier results', async (t) => {
  const { client, s } = await pair();
  const events: SubunitEvent[] = [];
  const run = client.run({ tests: ['a', 'slow', 'b'], onResult: (e) => events.push(e) });
  await new Promise((r) => setTimeout(r, 50));
  s.destroy();
  await t.rejects(run.done, { code: 'ERR_CONNECTION_CLOSED' });
  t.same(events.filter((e) => e.status).map((e) => `${e.testId}:${e.status}`).slice(0, 3), ['a:inprogress', 'a:success', 'slow:inprogress']);
  t.equal(client.isClosed, true);
  await t.rejects(client.run({ tests: ['a'] }).done, { code: 'ERR_CONNECTION_CLOSED' });
});

t.test('Goodbye during a Run: the running test finishes, no other starts, Done arrives', async (t) => {
  const log: string[] = [];
  const { client, server } = await pair({}, {}, log);
  const run = client.run({ tests: ['slow', 'a', 'b'] });
  await new Promise((r) => setTimeout(r, 30));
  await client.goodbye({ timeoutMs: 2000 });
  const done = await run.done;
  t.equal(done.cancelled, true);
  t.same(log, ['slow']);
  t.equal((await server.finished).reason, 'goodbye');
});

t.test('EOF on the server input ends it cleanly', async (t) => {
  const { c, server } = await pair();
  c.end();
  t.same(await server.finished, { reason: 'eof' });
});

t.test('hostile and malformed client messages get coded Errors, and the server goes on', async (t) => {
  const [c, s] = duplexPair();
  const server = new ServerConnection(s, toyHandler(), { maxMessageBytes: 1000 });
  const peer = readMessages(c);
  c.write(rpcPacket({ msg: 'Run', nonce: 'early' }));
  t.same(await peer.next(), { msg: 'Error', code: 'ERR_HANDSHAKE_REQUIRED', message: 'Run before Hello', nonce: 'early' });
  c.write(rpcPacket({ msg: 'Hello', min: 1, max: 2 }));
  t.equal((await peer.next()).msg, 'Hello');
  const cases: Array<[string | object, string]> = [
    ['{"msg": "Run", "nonce": ', 'ERR_BAD_MESSAGE'],
    ['[1,2,3]', 'ERR_BAD_MESSAGE'],
    [{ nonce: 'x' }, 'ERR_BAD_MESSAGE'],
    [{ msg: 'Run', nonce: 'has space' }, 'ERR_BAD_MESSAGE'],
    [{ msg: 'Run', nonce: 'n1', tests: [1, 2] }, 'ERR_BAD_MESSAGE'],
    [{ msg: 'Run', nonce: 'n1', resources: { port: -1 } }, 'ERR_BAD_MESSAGE'],
    [{ msg: 'Launch', nonce: 'n2' }, 'ERR_UNKNOWN_MESSAGE'],
    [{ msg: 'Hello', min: 1, max: 2 }, 'ERR_UNEXPECTED_MESSAGE'],
    [{ msg: 'Cancel', nonce: 'nothing' }, 'ERR_UNKNOWN_NONCE'],
    [{ msg: 'List', nonce: 'big', tests: ['x'.repeat(2000)] }, 'ERR_MESSAGE_TOO_LARGE'],
  ];
  for (const [message, code] of cases) {
    c.write(rpcPacket(message));
    const reply = await peer.next();
    t.equal(reply.msg, 'Error');
    t.equal(reply.code, code, `${JSON.stringify(message).slice(0, 60)} -> ${code}`);
  }
  c.write(encodePacket({ testId: RPC_TEST_ID, fileName: 'rpc', mimeType: 'image/png', fileBytes: new Uint8Array([1]), eof: true }));
  t.equal((await peer.next()).code, 'ERR_BAD_MESSAGE');
  c.write(new Uint8Array([0xb3, 0x29, 0x01, 0xff, 0xff, 0xff, 0x00]));
  c.write('garbage that is not a packet');
  // After all that, the server still works.
  c.write(rpcPacket({ msg: 'List', nonce: 'ok', tests: ['a'] }));
  t.same(await peer.next(), { msg: 'Done', nonce: 'ok' });
  t.same(peer.results.map((e) => [e.testId, e.status, e.routeCode]), [['a', 'exists', 'ok']]);
  c.end();
  t.equal((await server.finished).reason, 'eof');
});

t.test('a duplicate outstanding nonce is refused in version 2', async (t) => {
  const [c, s] = duplexPair();
  new ServerConnection(s, toyHandler());
  const peer = readMessages(c);
  c.write(rpcPacket({ msg: 'Hello', min: 2, max: 2 }));
  await peer.next();
  c.write(rpcPacket({ msg: 'Run', nonce: 'same', tests: ['slow'] }));
  c.write(rpcPacket({ msg: 'Run', nonce: 'same', tests: ['a'] }));
  t.match(await peer.next(), { msg: 'Error', code: 'ERR_DUPLICATE_NONCE', nonce: 'same' });
  t.match(await peer.next(), { msg: 'Done', nonce: 'same', ran: 1 });
  c.end();
});

t.test('a message larger than one packet is split and reassembled (SPEC §4.3)', async (t) => {
  const { client } = await pair({ capabilities: { encodings: ['json'] } });
  // ~6 MB of test ids: more than a 4 MiB packet can hold.
  const ids = Array.from({ length: 200_000 }, (_, i) => `tests.module_${i}.TestCase.test_${'x'.repeat(10)}`);
  ids.push('b');
  const listed = await client.list({ tests: ids });
  t.same(listed.tests, ['b']);
  t.equal(listed.unknown.length, 200_000);
  await client.goodbye();
});

t.test('a sender that omits EOF still gets through (SPEC §4.3 compatibility)', async (t) => {
  const [c, s] = duplexPair();
  new ServerConnection(s, toyHandler());
  const peer = readMessages(c);
  c.write(rpcPacket({ msg: 'Hello', min: 1, max: 1 }, { eof: false }));
  t.match(await peer.next(), { msg: 'Hello', min: 1, max: 2 });
  c.write(rpcPacket({ msg: 'List', nonce: 'x' }, { eof: false }));
  t.same(await peer.next(), { msg: 'Done', nonce: 'x' });
  c.end();
});

t.test('an unreadable message from the server is fatal for the client (SPEC §8.6)', async (t) => {
  const [c, s] = duplexPair();
  const peer = readMessages(s);
  const connecting = ClientConnection.connect(c);
  await peer.next();
  s.write(rpcPacket({ msg: 'Hello', min: 1, max: 2 }));
  const client = await connecting;
  const run = client.run({ tests: ['a'] });
  s.write(rpcPacket('{not json'));
  await t.rejects(run.done, { code: 'ERR_PROTOCOL' });
});

t.test('Goodbye with a Run queued behind a running one: both still get their Done', async (t) => {
  const log: string[] = [];
  const { client, server } = await pair({}, {}, log);
  const first = client.run({ tests: ['slow'] });
  const queued = client.run({ tests: ['a'] });
  await new Promise((r) => setTimeout(r, 30));
  await client.goodbye({ timeoutMs: 2000 });
  t.equal((await first.done).cancelled, true);
  t.same(await queued.done, { msg: 'Done', nonce: queued.nonce, cancelled: true });
  t.same(log, ['slow']);
  t.equal((await server.finished).reason, 'goodbye');
});
