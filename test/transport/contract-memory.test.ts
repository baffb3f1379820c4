import t from 'tap';
import { memoryPair } from '../../src/transport/memory.js';
import { runTransportContract } from './contract.js';
import { echoOn } from './echo-peer.js';

runTransportContract(t, {
  name: 'memory',
  detectsPeerDeath: true,
  child: false,
  async make(options) {
    const [client, server] = memoryPair({ clock: options.clock, closeTimeoutMs: options.closeTimeoutMs });
    echoOn(server, options.ignoreEof);
    return { client, killPeer: () => server.destroy(), cleanup: async () => server.destroy() };
  },
});
