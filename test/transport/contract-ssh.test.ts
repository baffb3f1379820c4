import t from 'tap';
import type { ChildTransport } from '../../src/transport/child-transport.js';
import { dial } from '../../src/transport/dial.js';
import { startSshd, sshdUnavailable, type Sshd } from '../helpers/sshd.js';
import { runTransportContract } from './contract.js';
import { ECHO } from './echo-peer.js';

// Interop with the real OpenSSH: fails (never skips) in CI when sshd cannot run here.
const why = sshdUnavailable();
if (why !== undefined && process.env.CI !== 'true') {
  t.test('ssh transport', { skip: why }, () => {});
} else {
  let sshd: Sshd;
  t.before(async () => {
    sshd = await startSshd();
  });
  t.teardown(async () => {
    await sshd?.stop();
  });

  runTransportContract(t, {
    name: 'ssh',
    detectsPeerDeath: true,
    child: true,
    largeBytes: 4 * 1024 * 1024,
    async make(options) {
      const command = [process.execPath, ECHO, ...(options.ignoreEof === true ? ['--ignore-eof'] : [])].join(' ');
      const client = (await dial(sshd.url(command), {
        sshArgs: sshd.sshArgs,
        timeoutMs: 20_000,
        clock: options.clock,
        closeTimeoutMs: options.closeTimeoutMs,
      })) as ChildTransport;
      // Peer death, as the transport sees it: the ssh client process is killed.
      return { client, killPeer: () => process.kill(client.pid, 'SIGKILL'), cleanup: async () => {} };
    },
  });
}
