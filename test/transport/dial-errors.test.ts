import t, { type Test } from 'tap';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import { dial } from '../../src/transport/dial.js';
import { listen } from '../../src/transport/listen.js';

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-dial-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback TCP server that accepts and then says nothing (or what `onSocket` says). */
async function rawServer(t: Test, onSocket: (s: Socket) => void = () => {}) {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return address.port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no address');
  return address.port;
}

const waitForTimer = async (clock: ManualClock) => {
  for (let i = 0; i < 1000 && clock.pendingTimers === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
};

t.test('a closed TCP port is ERR_TRANSPORT_CONNECT', async (t) => {
  const port = await closedPort();
  await t.rejects(dial(`tcp://127.0.0.1:${port}`), { code: 'ERR_TRANSPORT_CONNECT', details: { errno: 'ECONNREFUSED' } });
});

t.test('a missing unix socket is ERR_TRANSPORT_CONNECT', async (t) => {
  await t.rejects(dial(`unix:${path.join(dir, 'nope.sock')}`), { code: 'ERR_TRANSPORT_CONNECT', details: { errno: 'ENOENT' } });
});

t.test('bad URLs and unknown schemes are ERR_TRANSPORT_URL, from dial and listen', async (t) => {
  await t.rejects(dial('gopher://x:70/'), { code: 'ERR_TRANSPORT_URL' });
  await t.rejects(dial('tcp://127.0.0.1'), { code: 'ERR_TRANSPORT_URL' });
  await t.rejects(listen('ssh://h/c', () => {}), { code: 'ERR_TRANSPORT_URL' });
});

t.test('a WebSocket path the server does not serve is ERR_TRANSPORT_CONNECT with the HTTP status', async (t) => {
  const listener = await listen('ws://127.0.0.1:0/subrun', (tr) => tr.destroy());
  t.teardown(() => listener.close());
  await t.rejects(dial(listener.url.replace('/subrun', '/other')), { code: 'ERR_TRANSPORT_CONNECT', details: { status: 404 } });
  const res = await fetch(listener.url.replace('ws:', 'http:'));
  t.equal(res.status, 426, 'a plain GET is told to upgrade');
});

t.test('a WebSocket dial to something that is not HTTP is ERR_TRANSPORT_CONNECT', async (t) => {
  const port = await rawServer(t, (s) => s.end('SSH-2.0-not-http\r\n'));
  await t.rejects(dial(`ws://127.0.0.1:${port}/`), { code: 'ERR_TRANSPORT_CONNECT' });
});

t.test('a WebSocket server that never answers the upgrade: ERR_TRANSPORT_TIMEOUT (manual clock)', async (t) => {
  const port = await rawServer(t);
  const clock = new ManualClock();
  const dialling = dial(`ws://127.0.0.1:${port}/`, { timeoutMs: 3000, clock });
  await waitForTimer(clock);
  clock.advance(2999);
  let settled = false;
  dialling.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(settled, false, 'still waiting just before the deadline');
  clock.advance(1);
  await t.rejects(dialling, { code: 'ERR_TRANSPORT_TIMEOUT' });
  t.equal(clock.pendingTimers, 0);
});

t.test('an AbortSignal stops a dial, before or during', async (t) => {
  const port = await rawServer(t);
  await t.rejects(dial(`tcp://127.0.0.1:${port}`, { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
  const controller = new AbortController();
  const dialling = dial(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await t.rejects(dialling, { code: 'ERR_ABORTED' });
});

t.test('listen: port 0 gives the real port; a port in use is ERR_TRANSPORT_LISTEN; close is idempotent', async (t) => {
  const listener = await listen('tcp://127.0.0.1:0', (tr) => tr.destroy());
  t.match(listener.url, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
  await t.rejects(listen(listener.url, () => {}), { code: 'ERR_TRANSPORT_LISTEN', details: { errno: 'EADDRINUSE' } });
  await listener.close();
  await listener.close();
  await t.rejects(dial(listener.url), { code: 'ERR_TRANSPORT_CONNECT' }, 'nothing listens after close()');
  const ws = await listen('ws://127.0.0.1:0/x', () => {});
  t.match(ws.url, /^ws:\/\/127\.0\.0\.1:[1-9]\d*\/x$/);
  await ws.close();
  await ws.close();
});
