import t, { type Test } from 'tap';
import { connect } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { dial } from '../../src/transport/dial.js';
import { listen } from '../../src/transport/listen.js';
import type { Transport } from '../../src/transport/transport.js';
import { WS_MAX_MESSAGE_BYTES } from '../../src/transport/ws-transport.js';
import { readAll, within } from './contract.js';

/** Our listener, and a raw `ws` client that can misbehave in ways our transport never would. */
async function serverAndRawClient(t: Test) {
  const accepted: Transport[] = [];
  const listener = await listen('ws://127.0.0.1:0/subrun', (tr) => {
    accepted.push(tr);
    readAll(tr).catch(() => {});
  });
  const raw = new WebSocket(listener.url);
  raw.on('error', () => {});
  await new Promise((resolve, reject) => {
    raw.once('open', resolve);
    raw.once('error', reject);
  });
  while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
  const rawClosed = new Promise<number>((resolve) => raw.once('close', (code) => resolve(code)));
  t.teardown(async () => {
    raw.terminate();
    for (const a of accepted) a.destroy();
    await listener.close();
  });
  return { server: accepted[0]!, raw, rawClosed, listener };
}

t.test('a text message is a protocol error: close code 1003 and a coded error (SPEC §9.6)', async (t) => {
  const { server, raw, rawClosed } = await serverAndRawClient(t);
  raw.send('{"msg":"Hello"}');
  const info = await within(server.closed, 10_000, 'closed');
  t.equal(info.error?.code, 'ERR_TRANSPORT_WS_PROTOCOL');
  t.equal(info.error?.details?.closeCode, 1003);
  t.equal(await rawClosed, 1003);
});

t.test('a message over maxPayload closes with 1009 before it is buffered whole', async (t) => {
  const { server, raw, rawClosed } = await serverAndRawClient(t);
  raw.send(Buffer.alloc(WS_MAX_MESSAGE_BYTES + 1), { binary: true });
  const info = await within(server.closed, 10_000, 'closed');
  t.equal(info.error?.code, 'ERR_TRANSPORT_WS_PROTOCOL');
  t.equal(info.error?.details?.closeCode, 1009);
  t.equal(await rawClosed, 1009);
});

t.test('a message of exactly maxPayload is accepted', async (t) => {
  const { server, raw } = await serverAndRawClient(t);
  const got = new Promise<number>((resolve) => {
    let n = 0;
    server.stream.on('data', (c: Buffer) => {
      n += c.length;
      if (n >= WS_MAX_MESSAGE_BYTES) resolve(n);
    });
  });
  raw.send(Buffer.alloc(WS_MAX_MESSAGE_BYTES, 7), { binary: true });
  t.equal(await within(got, 10_000, 'the bytes'), WS_MAX_MESSAGE_BYTES);
});

t.test('data after the end-of-stream marker is a protocol error (1002)', async (t) => {
  const { server, raw, rawClosed } = await serverAndRawClient(t);
  raw.send(Buffer.alloc(0), { binary: true });
  raw.send(Buffer.from('late'), { binary: true });
  const info = await within(server.closed, 10_000, 'closed');
  t.equal(info.error?.code, 'ERR_TRANSPORT_WS_PROTOCOL');
  t.equal(await rawClosed, 1002);
});

t.test('a close frame without the end marker still ends the stream and keeps what arrived', async (t) => {
  const { server, raw } = await serverAndRawClient(t);
  const got = readAll(server);
  raw.send(Buffer.from('partial'), { binary: true });
  raw.close(1000);
  t.same(await within(got, 10_000, 'EOF'), Buffer.from('partial'));
  const info = await within(server.closed, 10_000, 'closed');
  t.equal(info.error, undefined, 'a normal close is not an error');
});

t.test('garbage on the port does not hurt the listener', async (t) => {
  const accepted: Transport[] = [];
  const listener = await listen('ws://127.0.0.1:0/subrun', (tr) => accepted.push(tr));
  t.teardown(async () => {
    for (const a of accepted) a.destroy();
    await listener.close();
  });
  const port = Number(new URL(listener.url).port);
  for (const junk of ['\u0000\u0001\u0002garbage\r\n\r\n', 'GET /subrun HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'x'.repeat(100_000)]) {
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.end(junk));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
  }
  const client = await dial(listener.url, { timeoutMs: 10_000 });
  t.teardown(() => client.destroy());
  t.equal(accepted.length, 1, 'only the real client became a transport');
});

t.test('our client side treats a text message from the server as a protocol error', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => ws.send('not bytes'));
  t.teardown(() => wss.close());
  const port = (wss.address() as { port: number }).port;
  const client = await dial(`ws://127.0.0.1:${port}/`, { timeoutMs: 10_000 });
  t.teardown(() => client.destroy());
  readAll(client).catch(() => {});
  const info = await within(client.closed, 10_000, 'closed');
  t.equal(info.error?.code, 'ERR_TRANSPORT_WS_PROTOCOL');
});
