import t from 'tap';
import { stdioTransport } from '../../src/transport/stdio-transport.js';
import { protocolFdFromEnv } from '../../src/transport/protocol-fd.js';

// The server side over real stdio is exercised by every child-based contract run (the echo
// fixture is a stdioTransport() server); here, only what can be checked in-process.
t.test('protocolFdFromEnv accepts only a decimal fd >= 3 (SPEC §9.5.1)', async (t) => {
  t.equal(protocolFdFromEnv({ SUBRUN_PROTOCOL_FD: '3' }), 3);
  t.equal(protocolFdFromEnv({ SUBRUN_PROTOCOL_FD: '17' }), 17);
  for (const bad of [undefined, '', '2', '0', '-3', '3x', ' 3', '0x3', '99999', '3.0']) {
    t.equal(protocolFdFromEnv({ SUBRUN_PROTOCOL_FD: bad }), undefined, JSON.stringify(bad));
  }
});

t.test('an explicit protocolFd below 3 is a bad argument', async (t) => {
  t.throws(() => stdioTransport({ protocolFd: 1 }), { code: 'ERR_INVALID_ARGUMENT', message: /options\.protocolFd/ });
  t.throws(() => stdioTransport({ protocolFd: 3.5 }), { code: 'ERR_INVALID_ARGUMENT' });
});
