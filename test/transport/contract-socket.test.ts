import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dial } from '../../src/transport/dial.js';
import { listen } from '../../src/transport/listen.js';
import type { Transport } from '../../src/transport/transport.js';
import { runTransportContract, type HarnessOptions } from './contract.js';
import { echoOn } from './echo-peer.js';

const dir = mkdtempSync(path.join(tmpdir(), 'subrun-sock-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function socketHarness(url: string, options: HarnessOptions) {
  const servers: Transport[] = [];
  const listener = await listen(url, (server) => {
    servers.push(server);
    echoOn(server, options.ignoreEof);
  });
  const client = await dial(listener.url, { clock: options.clock, closeTimeoutMs: options.closeTimeoutMs, timeoutMs: 10_000 });
  // The accept callback may run a moment after connect resolves.
  while (servers.length === 0) await new Promise((resolve) => setImmediate(resolve));
  return {
    client,
    killPeer: () => servers[0]!.destroy(),
    cleanup: async () => {
      for (const s of servers) s.destroy();
      await listener.close();
    },
  };
}

for (const [name, url] of [
  ['tcp', () => 'tcp://127.0.0.1:0'],
  ['tcp over IPv6 loopback', () => 'tcp://[::1]:0'],
  ['unix', () => `unix:${path.join(dir, `s${n++}.sock`)}`],
] as const) {
  runTransportContract(t, { name, detectsPeerDeath: false, child: false, make: (options) => socketHarness(url(), options) });
}
