import t from 'tap';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ClientConnection } from '../../src/rpc/client.js';
import { ServerConnection } from '../../src/rpc/server.js';
import { dial, listen, memoryPair, spawnTransport, type Transport } from '../../src/transport/index.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { TOY_TESTS, toyHandler } from '../fixtures/toy-handler.js';
import { ROOT } from '../helpers/paths.js';
import { startSshd, sshdUnavailable, type Sshd } from '../helpers/sshd.js';

// One RPC contract, run over every transport (ARCHITECTURE: transport ← rpc).
const TOY_SERVER = path.join(ROOT, 'dist', 'test', 'fixtures', 'toy-server.js');
const dir = mkdtempSync(path.join(tmpdir(), 'subrun-rpc-contract-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Opened {
  transport: Transport;
  cleanup: () => Promise<void> | void;
}
type Opener = (extraArgs?: string[]) => Promise<Opened>;

function viaListener(url: string): Opener {
  return async () => {
    const listener = await listen(url, (peer) => {
      new ServerConnection(peer.stream, toyHandler(), { capabilities: { concurrentRuns: 2 } });
    });
    const transport = await dial(listener.url, { timeoutMs: 5000 });
    return { transport, cleanup: () => listener.close() };
  };
}

let sshd: Sshd | undefined;
const openers: Array<[string, Opener, { child: boolean }]> = [
  ['memory', async () => {
    const [a, b] = memoryPair();
    new ServerConnection(b.stream, toyHandler(), { capabilities: { concurrentRuns: 2 } });
    return { transport: a, cleanup: () => {} };
  }, { child: false }],
  ['stdio', async (extra = []) => ({ transport: await spawnTransport([process.execPath, TOY_SERVER, ...extra]), cleanup: () => {} }), { child: true }],
  ['stdio+fd', async (extra = []) => ({ transport: await spawnTransport([process.execPath, TOY_SERVER, ...extra], { protocolFd: true }), cleanup: () => {} }), { child: true }],
  ['unix', viaListener(`unix:${path.join(dir, 'toy.sock')}`), { child: false }],
  ['tcp', viaListener('tcp://127.0.0.1:0'), { child: false }],
  ['tcp6', viaListener('tcp://[::1]:0'), { child: false }],
  ['ws', viaListener('ws://127.0.0.1:0/rpc'), { child: false }],
  ['ssh', async (extra = []) => {
    if (sshd === undefined) {
      const why = sshdUnavailable();
      if (why !== undefined) throw new Error(`ssh contract cannot run: ${why}`);
      sshd = await startSshd();
    }
    const command = [process.execPath, TOY_SERVER, ...extra].join(' ');
    return { transport: await dial(sshd.url(command), { sshArgs: sshd.sshArgs, timeoutMs: 20_000 }), cleanup: () => {} };
  }, { child: true }],
];
t.teardown(async () => sshd?.stop());

for (const [name, open, { child }] of openers) {
  t.test(`RPC contract over ${name}`, async (t) => {
    t.test('handshake, List, Run with attachments, Goodbye', async (t) => {
      const { transport, cleanup } = await open();
      const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 20_000 });
      t.equal(client.version, 2);
      t.same(client.capabilities.encodings, ['json', 'msgpack']);
      t.same((await client.list()).tests, TOY_TESTS);
      const events: SubunitEvent[] = [];
      const done = await client.run({ tests: ['bad', 'loud', 'a'], onResult: (e) => events.push(e) }).done;
      t.equal(done.ran, 3);
      t.same(events.filter((e) => e.status === 'fail' || e.status === 'success').map((e) => e.testId), ['bad', 'loud', 'a']);
      t.equal(new TextDecoder().decode(events.find((e) => e.fileName === 'stdout')?.fileBytes), 'hello\n');
      await client.goodbye({ timeoutMs: 5000 });
      const closed = await transport.closed;
      if (child) t.equal(closed.exitCode, 0, 'the server exited cleanly after Goodbye');
      await transport.close();
      await cleanup();
    });

    t.test('concurrent Runs, Cancel, ping, and a message split across packets', async (t) => {
      const { transport, cleanup } = await open();
      const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 20_000 });
      const a: string[] = [];
      const b: string[] = [];
      const slow = client.run({ tests: ['slow', 'a', 'b'], onResult: (e) => e.status && a.push(`${e.testId}:${e.status}`) });
      const quick = client.run({ tests: ['c'], onResult: (e) => e.status && b.push(`${e.testId}:${e.status}`) });
      t.ok((await client.ping({ timeoutMs: 5000 })) >= 0);
      await quick.done;
      slow.cancel();
      t.equal((await slow.done).cancelled, true);
      t.same(a, ['slow:inprogress', 'slow:success']);
      t.same(b, ['c:inprogress', 'c:success']);
      const ids = Array.from({ length: 150_000 }, (_, i) => `pkg.module_${i}.Case.test_something_long`);
      ids.push('c');
      const listed = await client.list({ tests: ids });
      t.same(listed.tests, ['c']);
      t.equal(listed.unknown.length, 150_000);
      await client.goodbye({ timeoutMs: 5000 });
      await transport.close();
      await cleanup();
    });

    if (child) {
      t.test('a banner before Hello is passed on as output', async (t) => {
        const { transport, cleanup } = await open(['--banner']);
        const output: string[] = [];
        const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 20_000, onOutput: (b) => output.push(Buffer.from(b).toString()) });
        t.equal(client.version, 2);
        await client.goodbye();
        await transport.close();
        await cleanup();
        // With the protocol fd the banner is plain stdout, captured by the transport instead.
        if (name !== 'stdio+fd') t.match(output.join(''), /toy server 1\.0 starting/);
      });

      t.test('a server that dies mid-run: the request fails, with exit status and stderr', async (t) => {
        const { transport, cleanup } = await open(['--die-after-ms', '150']);
        const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 20_000 });
        const events: SubunitEvent[] = [];
        const run = client.run({ tests: ['a', 'slow', 'b'], onResult: (e) => events.push(e) });
        await t.rejects(run.done, { code: 'ERR_CONNECTION_CLOSED' });
        t.ok(events.some((e) => e.testId === 'a' && e.status === 'success'), 'results before the crash are kept');
        const closed = await transport.closed;
        t.equal(closed.exitCode, 7);
        t.match(closed.stderrTail, /simulated crash/);
        await cleanup();
      });

      t.test('a version-1-only server is spoken to in version 1', async (t) => {
        const { transport, cleanup } = await open(['--max', '1']);
        const client = await ClientConnection.connect(transport.stream, { handshakeTimeoutMs: 20_000 });
        t.equal(client.version, 1);
        const events: SubunitEvent[] = [];
        await client.run({ tests: ['a'], onResult: (e) => events.push(e) }).done;
        t.same(events.map((e) => e.status), ['inprogress', 'success']);
        await client.goodbye();
        await transport.close();
        await cleanup();
      });
    }
  });
}
