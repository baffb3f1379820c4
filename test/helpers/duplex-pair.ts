import { Duplex } from 'node:stream';

/**
 * Two connected in-process Duplex streams (what one writes, the other reads), for unit
 * tests of the RPC layer. The contract suites also run over every real transport.
 */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  // Like a socket: one side destroyed means the other sees the connection go.
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  return [a, b];
}
