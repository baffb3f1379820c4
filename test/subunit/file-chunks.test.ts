import t from 'tap';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import { encodeFileChunks, encodePacket, MAX_PACKET_BYTES } from '../../src/subunit/encoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';

function decodeAll(packets: Uint8Array[]): SubunitEvent[] {
  const events: SubunitEvent[] = [];
  const errors: string[] = [];
  const d = new StreamDecoder({ packet: (e) => events.push(e), nonSubunit: () => errors.push('nonSubunit'), error: (e) => errors.push(e.code) });
  for (const p of packets) d.push(p);
  d.end();
  if (errors.length > 0) throw new Error(errors.join(', '));
  return events;
}

// SPEC §2.6: maxChunk is clamped to the attachment bytes that fit in one packet beside the event's other fields.
t.test('encodeFileChunks clamps maxChunk to what fits in a packet', async (t) => {
  const big = new Uint8Array(MAX_PACKET_BYTES + 1000).map((_, i) => (i * 7) & 0xff);
  const events: [string, SubunitEvent, Uint8Array][] = [
    ['a short test id', { testId: 'x', fileName: 'log', status: 'success' }, big],
    ['every field', { testId: 'pkg.T.test_ä', routeCode: '0/1', timestamp: { seconds: 1, nanos: 999_999_999 }, tags: ['a', 'b'], mimeType: 'text/plain', fileName: 'log', status: 'fail' }, big],
    // Other fields so long that the room left needs a 2-byte count for the content.
    ['a 4,180,000-byte test id', { testId: 'i'.repeat(4_180_000), fileName: 'log' }, big.subarray(0, 30_000)],
  ];
  for (const [name, event, bytes] of events) {
    // 4,194,285: just above the room beside the shortest fields here (4,194,284).
    for (const maxChunk of [MAX_PACKET_BYTES, 4_194_285]) {
      const packets = encodeFileChunks(event, bytes, maxChunk);
      const first = packets[0]!;
      t.ok(first.length <= MAX_PACKET_BYTES && first.length >= MAX_PACKET_BYTES - 2, `${name}, maxChunk ${maxChunk}: the first packet is full (${first.length} bytes)`);
      const decoded = decodeAll(packets);
      const room = decoded[0]!.fileBytes!.length;
      t.ok(room <= maxChunk, 'never more than maxChunk');
      // The boundary: one byte more beside the same fields does not fit.
      const { status: _s, ...common } = event;
      t.throws(() => encodePacket({ ...common, fileBytes: bytes.subarray(0, room + 1) }), { code: 'ERR_SUBUNIT_ENCODE' }, `${name}: ${room + 1} bytes would not fit`);
      t.doesNotThrow(() => encodePacket({ ...common, fileBytes: bytes.subarray(0, room) }));
      t.ok(Buffer.concat(decoded.map((e) => e.fileBytes!)).equals(bytes), 'the attachment comes back whole');
      t.equal(decoded.at(-1)!.eof, true);
      t.equal(decoded.at(-1)!.status, event.status);
    }
  }
});

t.test('encodeFileChunks: a chunk below the room is kept as given', async (t) => {
  const bytes = new Uint8Array(10_000);
  const sizes = decodeAll(encodeFileChunks({ testId: 'x', fileName: 'log' }, bytes, 4096)).map((e) => e.fileBytes!.length);
  t.same(sizes, [4096, 4096, 1808]);
});

t.test('encodeFileChunks refuses an event whose other fields leave no room', async (t) => {
  // Signature, flags, a 3-byte length, the id's 3-byte count, the file name "log" with its count, CRC: 17 bytes besides the id.
  const id = (n: number): SubunitEvent => ({ testId: 'i'.repeat(n), fileName: 'log' });
  const one = encodeFileChunks(id(MAX_PACKET_BYTES - 19), new Uint8Array(3));
  t.same(one.map((p) => p.length), [MAX_PACKET_BYTES, MAX_PACKET_BYTES, MAX_PACKET_BYTES], 'room for one byte: one per packet');
  t.throws(() => encodeFileChunks(id(MAX_PACKET_BYTES - 18), new Uint8Array(1)), { code: 'ERR_SUBUNIT_ENCODE', message: /no room/ });
  t.equal(encodeFileChunks(id(MAX_PACKET_BYTES - 18), new Uint8Array(0))[0]!.length, MAX_PACKET_BYTES, 'zero bytes still fit');
  t.throws(() => encodeFileChunks(id(MAX_PACKET_BYTES - 17), new Uint8Array(1)), { code: 'ERR_SUBUNIT_ENCODE' });
  t.throws(() => encodeFileChunks({ testId: 'x', fileName: 'log' }, new Uint8Array(1), 0), { code: 'ERR_INVALID_ARGUMENT', message: /maxChunk/ });
});
