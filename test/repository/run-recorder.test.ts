import t from 'tap';
import fc from 'fast-check';
import { RunRecorder } from '../../src/repository/run-recorder.js';
import { encodePacket } from '../../src/subunit/encoder.js';
import { concat, decodeAll, rpcPacket, sequential } from './fixtures/streams.js';

function record(pieces: Uint8Array[]): { stored: Buffer; recorder: RunRecorder } {
  const out: Buffer[] = [];
  const recorder = new RunRecorder({ append: (b) => out.push(Buffer.from(b)) }, () => 0);
  for (const p of pieces) recorder.write(p);
  recorder.close('test ended');
  return { stored: Buffer.concat(out), recorder };
}

/** What the history must hold for an input: its non-RPC packets, and every other byte as stdout attachments. */
function expected(input: Uint8Array): { packets: Buffer[]; stray: Buffer } {
  const d = decodeAll(input);
  const packets = d.events
    .filter((e) => e.testId !== 'testrepository-rpc')
    .map((e) => Buffer.from(encodePacket(e)));
  return { packets, stray: d.stray };
}

function splitStored(stored: Buffer): { packets: Buffer[]; stray: Buffer; strayPackets: number; errors: number; left: number } {
  const d = decodeAll(stored);
  const stray = d.events.filter((e) => e.testId === undefined && e.fileName === 'stdout');
  return {
    packets: d.events.filter((e) => !(e.testId === undefined && e.fileName === 'stdout')).map((e) => Buffer.from(encodePacket(e))),
    stray: Buffer.concat(stray.map((e) => Buffer.from(e.fileBytes!))),
    strayPackets: stray.length,
    errors: d.errors,
    left: d.stray.length,
  };
}

t.test('hostile input: any bytes, split anywhere, are stored as whole packets and lose nothing', async (t) => {
  const valid = [
    ...sequential([
      ['a', 'success', 5],
      ['b', 'fail', 5],
    ]),
    rpcPacket({ msg: 'run', nonce: 'r1' }),
  ];
  const piece = fc.oneof(
    fc.constantFrom(...valid),
    fc.uint8Array({ minLength: 0, maxLength: 40 }),
    fc.constant(new Uint8Array([0xb3])), // a lone signature byte
    fc.constant(new Uint8Array([0xb3, 0x20, 0x00, 0x7f])), // a header promising more than follows
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), (pieces, cuts) => {
      const input = concat(pieces);
      const chunks: Uint8Array[] = [];
      for (let off = 0, i = 0; off < input.length; i++) {
        const n = cuts[i % cuts.length]!;
        chunks.push(input.subarray(off, off + n));
        off += n;
      }
      const { stored } = record(chunks);
      const got = splitStored(stored);
      const want = expected(input);
      if (got.errors !== 0 || got.left !== 0) return false; // the history is all valid packets
      // Tests left in progress get a closing fail packet at the end; compare the prefix.
      const prefix = got.packets.slice(0, want.packets.length);
      return prefix.every((p, i) => p.equals(want.packets[i]!)) && got.stray.equals(want.stray);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random streams stored without loss');
});

t.test('stray output larger than a packet is split across stdout packets of 64 KiB', async (t) => {
  const big = Buffer.alloc(200_000, 0x41);
  const { stored } = record([big]);
  const got = splitStored(stored);
  t.equal(got.strayPackets, 4);
  t.ok(got.stray.equals(big));
});

t.test('durations come from the first inprogress to the final status; a test without timestamps has none', async (t) => {
  const { recorder } = record([
    ...sequential([['timed', 'success', 42]]),
    encodePacket({ testId: 'untimed', status: 'inprogress' }),
    encodePacket({ testId: 'untimed', status: 'success' }),
    encodePacket({ testId: 'no-start', status: 'success' }),
  ]);
  t.same(
    recorder.results().map((r) => [r.testId, r.durationMs]),
    [
      ['timed', 42],
      ['untimed', null],
      ['no-start', null],
    ],
  );
  t.same(recorder.counts(), { success: 3, fail: 0, skip: 0, xfail: 0, uxsuccess: 0 });
});

t.test('replay reports where the last whole packet ends and appends nothing', async (t) => {
  const good = concat(sequential([['a', 'success', 1]]));
  const appended: Uint8Array[] = [];
  const r = new RunRecorder({ append: (b) => appended.push(b) }, () => 0);
  const end = r.replay([good, Buffer.from([0xb3, 0x20, 0x00])]);
  t.equal(end, good.length);
  t.equal(appended.length, 0);
  t.equal(r.results().length, 1);
});
