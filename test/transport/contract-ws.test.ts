import t from 'tap';
import { dial } from '../../src/transport/dial.js';
import { listen } from '../../src/transport/listen.js';
import type { Transport } from '../../src/transport/transport.js';
import { runTransportContract } from './contract.js';
import { echoOn } from './echo-peer.js';

runTransportContract(t, {
  name: 'ws',
  detectsPeerDeath: true,
  child: false,
  async make(options) {
    const servers: Transport[] = [];
    const listener = await listen('ws://127.0.0.1:0/subrun', (server) => {
      servers.push(server);
      echoOn(server, options.ignoreEof);
    });
    const client = await dial(listener.url, { clock: options.clock, closeTimeoutMs: options.closeTimeoutMs, timeoutMs: 10_000 });
    while (servers.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return {
      client,
      killPeer: () => servers[0]!.destroy(),
      cleanup: async () => {
        for (const s of servers) s.destroy();
        await listener.close();
      },
    };
  },
});
