import t from 'tap';
import { spawnTransport } from '../../src/transport/child-transport.js';
import { runTransportContract, type HarnessOptions } from './contract.js';
import { ECHO } from './echo-peer.js';

function childHarness(flags: string[], protocolFd: boolean, expectMode: 'stdio' | 'fd') {
  return async (options: HarnessOptions) => {
    const client = await spawnTransport([process.execPath, ECHO, ...flags, ...(options.ignoreEof === true ? ['--ignore-eof'] : [])], {
      protocolFd,
      clock: options.clock,
      closeTimeoutMs: options.closeTimeoutMs,
    });
    // A child killed before it chose has no mode to check; one that echoed must have chosen right.
    let echoed = false;
    client.stream.once('data', () => {
      echoed = true;
    });
    return {
      client,
      killPeer: () => process.kill(client.pid, 'SIGKILL'),
      cleanup: async () => {
        const mode = await client.mode;
        if (echoed && mode !== expectMode) throw new Error(`the child chose ${mode}, expected ${expectMode}`);
      },
    };
  };
}

runTransportContract(t, { name: 'stdio child', detectsPeerDeath: true, child: true, make: childHarness([], false, 'stdio') });
runTransportContract(t, { name: 'stdio child taking the protocol fd', detectsPeerDeath: true, child: true, make: childHarness(['--noise'], true, 'fd') });
runTransportContract(t, { name: 'stdio child ignoring the protocol fd', detectsPeerDeath: true, child: true, make: childHarness(['--unaware'], true, 'stdio') });
