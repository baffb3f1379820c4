import t from 'tap';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import { encodePacket } from '../../src/subunit/encoder.js';
import { decodeBytes, decodeChunks, reassemble } from '../helpers/decode-all.js';
import { requirePythonSubunit, runPythonScript } from '../helpers/python.js';
import { rawPacket } from '../helpers/raw-packet.js';

// SPEC §2.7: corrupt, truncated, oversized and hostile input. Each case is followed
// by a valid packet that must still be found, and no byte may be lost.
const GOOD = Buffer.from(encodePacket({ testId: 'after', status: 'success' }));
const TEST_ID = 0x2800; // version 2 + test id flag

function withCrcFlipped(p: Buffer): Buffer {
  const c = Buffer.from(p);
  c[c.length - 1]! ^= 0xff;
  return c;
}

const cases: [string, Buffer, string][] = [
  ['bad CRC', withCrcFlipped(Buffer.from(encodePacket({ testId: 'x', status: 'fail' }))), 'ERR_SUBUNIT_CRC'],
  ['bad version', Buffer.from([0xb3, 0x30, 0x00, 0x08, 1, 2, 3, 4]), 'ERR_SUBUNIT_VERSION'],
  ['4-byte length', Buffer.from([0xb3, 0x20, 0x00, 0xc0, 0, 0, 9, 1, 2, 3, 4]), 'ERR_SUBUNIT_LENGTH'],
  ['length shorter than the header', Buffer.from([0xb3, 0x20, 0x00, 0x03, 1, 2, 3]), 'ERR_SUBUNIT_LENGTH'],
  ['length 0', Buffer.from([0xb3, 0x20, 0x00, 0x00]), 'ERR_SUBUNIT_LENGTH'],
  ['string runs past the packet', rawPacket(TEST_ID, [10, 0x61, 0x62]), 'ERR_SUBUNIT_FIELD'],
  ['number runs past the packet', rawPacket(TEST_ID, [0x80, 1]), 'ERR_SUBUNIT_FIELD'],
  ['timestamp runs past the packet', rawPacket(0x2200, [0, 0, 1]), 'ERR_SUBUNIT_FIELD'],
  ['file content runs past the packet', rawPacket(0x2040, [1, 0x66, 20, 1, 2]), 'ERR_SUBUNIT_FIELD'],
  ['tag count larger than the packet', rawPacket(0x2080, [0x7f, 0xff]), 'ERR_SUBUNIT_FIELD'],
  ['bytes after the last field', rawPacket(TEST_ID, [1, 0x61, 0x62]), 'ERR_SUBUNIT_FIELD'],
  ['invalid UTF-8', rawPacket(TEST_ID, [2, 0xc3, 0x28]), 'ERR_SUBUNIT_UTF8'],
  ['NUL in a string', rawPacket(TEST_ID, [3, 0x61, 0x00, 0x62]), 'ERR_SUBUNIT_UTF8'],
  ['NUL in a long string', rawPacket(TEST_ID, [0x40, 60, ...Buffer.alloc(59, 0x61), 0]), 'ERR_SUBUNIT_UTF8'],
];

for (const [name, bad, code] of cases) {
  t.test(name, async (t) => {
    const input = Buffer.concat([Buffer.from('pre'), bad, GOOD]);
    for (const step of [1, 2, 5, input.length]) {
      const d = decodeBytes(input, step);
      t.same(d.errors, [{ code, offset: 3 }], `step ${step}: the error says where`);
      t.same(d.events.map((e) => e.testId), ['after'], `step ${step}: the next packet is found`);
      t.ok(reassemble(d).equals(input), `step ${step}: no byte lost`);
      t.ok(Buffer.concat(d.text).equals(Buffer.concat([Buffer.from('pre'), bad])), `step ${step}: rejected bytes come out as text`);
    }
  });
}

t.test('truncated packets at the end of the stream', async (t) => {
  for (let cut = 1; cut < GOOD.length; cut++) {
    const input = Buffer.concat([GOOD, GOOD.subarray(0, cut)]);
    const d = decodeBytes(input, 3);
    t.same(d.events.length, 1);
    t.same(d.errors, [{ code: 'ERR_SUBUNIT_TRUNCATED', offset: GOOD.length }], `cut ${cut}`);
    t.ok(reassemble(d).equals(input));
  }
});

t.test('a corrupt packet whose length covers the next packet does not swallow it', async (t) => {
  // The length claims 40 bytes: the valid packet starts inside them.
  const bogus = Buffer.from([0xb3, 0x20, 0x00, 40, 1, 2]);
  const input = Buffer.concat([bogus, GOOD, Buffer.alloc(40, 0x2e)]);
  const d = decodeBytes(input);
  t.same(d.events.map((e) => e.testId), ['after']);
  t.same(d.errors, [{ code: 'ERR_SUBUNIT_CRC', offset: 0 }]);
  t.ok(reassemble(d).equals(input));
});

t.test('python-subunit loses data where we do not', async (t) => {
  requirePythonSubunit();
  const read = (b: Buffer) => runPythonScript('subunit_json.py', b).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { testId?: string });
  // A stray signature byte in text (not inside a UTF-8 character) followed by a packet.
  const stray = Buffer.concat([Buffer.from('x \xb3 y\n', 'latin1'), GOOD, Buffer.alloc(64, 0x2e)]);
  t.notOk(read(stray).some((e) => e.testId === 'after'), 'python-subunit swallows the packet after a stray signature byte');
  t.same(decodeBytes(stray).events.map((e) => e.testId), ['after'], 'we find it');
  // A corrupt packet whose claimed length covers the next one.
  const covering = Buffer.concat([Buffer.from([0xb3, 0x20, 0x00, 40, 1, 2]), GOOD, Buffer.alloc(40, 0x2e)]);
  t.notOk(read(covering).some((e) => e.testId === 'after'), 'python-subunit swallows a packet inside a corrupt one');
  t.same(decodeBytes(covering).events.map((e) => e.testId), ['after'], 'we find it');
  // A length shorter than the header.
  const short = Buffer.concat([Buffer.from([0xb3, 0x20, 0x00, 0x02]), GOOD]);
  t.throws(() => read(short), /ValueError/, 'python-subunit crashes on a length shorter than the header');
  t.same(decodeBytes(short).events.map((e) => e.testId), ['after'], 'we find it');
});

t.test('UTF-8 text holding the signature byte is text, without an error', async (t) => {
  const input = Buffer.concat([Buffer.from('café ó señor ó\n'), GOOD, Buffer.from('ó')]);
  for (const step of [1, 3, input.length]) {
    const d = decodeBytes(input, step);
    t.same(d.errors, [], `step ${step}`);
    t.same(d.events.map((e) => e.testId), ['after']);
    t.ok(reassemble(d).equals(input));
  }
});

t.test('a length claiming 4 MiB does not allocate 4 MiB before the bytes arrive', async (t) => {
  const d = new StreamDecoder({ packet() {}, nonSubunit() {}, error() {} });
  const before = process.memoryUsage().arrayBuffers;
  d.push(Buffer.from([0xb3, 0x20, 0x00, 0xbf, 0xff, 0xff]));
  for (let i = 0; i < 100; i++) d.push(Buffer.alloc(100, 1));
  t.equal(d.bytesSeen, 6 + 100 * 100);
  const grown = process.memoryUsage().arrayBuffers - before;
  t.ok(grown < 256 * 1024, `array buffers grew by ${grown} bytes`);
  d.end();
});

t.test('memory stays flat over a long stream and after one big packet', async (t) => {
  const big = Buffer.from(encodePacket({ fileName: 'f', fileBytes: new Uint8Array(3_000_000) }));
  const small = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodePacket({ testId: `t${i}`, status: 'success' })));
  let packets = 0;
  const d = new StreamDecoder({ packet: () => void packets++, nonSubunit() {}, error() {} });
  for (let i = 0; i < big.length; i += 65536) d.push(big.subarray(i, i + 65536));
  // 1000 rounds of split packets: the pending buffer holds at most one packet at a time.
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < small.length; i += 777) d.push(small.subarray(i, i + 777));
  }
  d.end();
  t.equal(packets, 1 + 200 * 1000);
  t.equal(d.bytesSeen, big.length + 200 * small.length);
});

t.test('a truncated header at end, and end() twice, are harmless', async (t) => {
  const d = decodeChunks([Buffer.from([0xb3]), Buffer.from([0x20])]);
  t.same(d.errors, [{ code: 'ERR_SUBUNIT_TRUNCATED', offset: 0 }]);
  t.ok(reassemble(d).equals(Buffer.from([0xb3, 0x20])));
  const dec = new StreamDecoder({ packet() {}, nonSubunit() {}, error() {} });
  dec.end();
  dec.end();
  t.throws(() => dec.push(Buffer.from('x')), { code: 'ERR_INVALID_STATE' });
  t.throws(() => new StreamDecoder({ packet() {}, nonSubunit() {}, error() {} }, { maxPacketBytes: 5 }), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('maxPacketBytes rejects longer candidates as soon as their length arrives', async (t) => {
  const big = Buffer.from(encodePacket({ fileName: 'f', fileBytes: new Uint8Array(1000) }));
  const errors: string[] = [];
  const d = new StreamDecoder({ packet() {}, nonSubunit() {}, error: (e) => errors.push(e.code) }, { maxPacketBytes: 500 });
  d.push(big.subarray(0, 6));
  t.same(errors, ['ERR_SUBUNIT_LENGTH'], 'judged from the header alone');
  d.end();
});

t.test('text and file bytes from a Buffer chunk are copies the handler may keep', async (t) => {
  const chunk = Buffer.concat([Buffer.from('stray'), Buffer.from(encodePacket({ testId: 'a', fileName: 'f', fileBytes: Buffer.from('abc') }))]);
  const text: Uint8Array[] = [];
  const files: Uint8Array[] = [];
  const d = new StreamDecoder({ packet: (e) => files.push(e.fileBytes!), nonSubunit: (b) => text.push(b), error() {} });
  d.push(chunk);
  d.end();
  chunk.fill(0x7a);
  t.same(Buffer.from(text[0]!).toString(), 'stray', 'text survives the chunk being reused');
  t.same(Buffer.from(files[0]!).toString(), 'abc', 'file bytes survive the chunk being reused');
});

t.test('one corrupt packet is one error, however many signature bytes it holds', async (t) => {
  // An attachment of signature bytes under a bad CRC: every 0xB3 inside is a candidate, and each fails.
  const corrupt = withCrcFlipped(Buffer.from(encodePacket({ testId: 'x', fileName: 'f', fileBytes: new Uint8Array(3000).fill(0xb3), eof: true })));
  const input = Buffer.concat([corrupt, GOOD, Buffer.from('tail \xb3\x20\x00\x08 text', 'latin1')]);
  for (const step of [1, 7, 4096, input.length]) {
    const d = decodeBytes(input, step);
    t.same(d.errors, [{ code: 'ERR_SUBUNIT_CRC', offset: 0 }, { code: 'ERR_SUBUNIT_CRC', offset: corrupt.length + GOOD.length + 5 }], `step ${step}: one error for the packet, one for the later candidate`);
    t.same(d.events.map((e) => e.testId), ['after'], `step ${step}: the next packet is found`);
    t.ok(reassemble(d).equals(input), `step ${step}: no byte lost`);
  }
});

t.test('a valid packet inside a corrupt one is found, and a corrupt one after it is reported', async (t) => {
  // The bogus candidate claims 200 bytes: a valid packet, then a corrupt one, lie inside them.
  const bogus = Buffer.from([0xb3, 0x20, 0x00, 0x40, 200, 1, 2]);
  const bad = withCrcFlipped(Buffer.from(encodePacket({ testId: 'bad', status: 'fail' })));
  const input = Buffer.concat([bogus, GOOD, bad, Buffer.alloc(200, 0x2e)]);
  const d = decodeBytes(input, 3);
  t.same(d.events.map((e) => e.testId), ['after']);
  t.same(d.errors, [{ code: 'ERR_SUBUNIT_CRC', offset: 0 }, { code: 'ERR_SUBUNIT_CRC', offset: bogus.length + GOOD.length }]);
  t.ok(reassemble(d).equals(input));
});

t.test('a corrupt packet ending in a UTF-8 lead byte does not hide the next one', async (t) => {
  // The first packet's stored CRC ends in 0xC3: followed by 0xB3 that reads as "ó", but it is no text.
  const first = Buffer.from(encodePacket({ testId: 'one', status: 'fail' }));
  first[first.length - 1] = first[first.length - 1] === 0xc3 ? 0xc4 : 0xc3;
  const second = withCrcFlipped(Buffer.from(encodePacket({ testId: 'two', status: 'fail' })));
  const input = Buffer.concat([first, second, GOOD]);
  for (const step of [1, 5, input.length]) {
    const d = decodeBytes(input, step);
    t.same(d.errors, [{ code: 'ERR_SUBUNIT_CRC', offset: 0 }, { code: 'ERR_SUBUNIT_CRC', offset: first.length }], `step ${step}`);
    t.same(d.events.map((e) => e.testId), ['after']);
  }
  // Real text before a real corrupt packet still makes it text: "ó" then a bogus candidate is silent.
  const text = Buffer.concat([Buffer.from('\xc3', 'latin1'), second.subarray(0, 12), GOOD]);
  t.same(decodeBytes(text).errors, [], 'a signature continuing a UTF-8 character of text is text');
});

t.test('signatures each claiming 4 MiB: bounded work, every byte reported', async (t) => {
  // 3 MiB of 6-byte candidates, each claiming the maximum length: checking each over its
  // claimed bytes would read terabytes. Candidates inside a rejected one are checked only
  // while the work stays within a budget per byte (SPEC §2.7); the rest are rejected unread.
  const unit = Buffer.from([0xb3, 0x20, 0x00, 0xbf, 0xff, 0xff]);
  const input = Buffer.concat([Buffer.concat(Array.from({ length: (3 << 20) / 6 }, () => unit)), GOOD]);
  let nonSubunit = 0;
  const errors: string[] = [];
  const packets: string[] = [];
  const d = new StreamDecoder({ packet: (e) => void packets.push(e.testId!), nonSubunit: (b) => void (nonSubunit += b.length), error: (e) => void errors.push(e.code) });
  for (let i = 0; i < input.length; i += 65536) d.push(input.subarray(i, i + 65536));
  d.end();
  t.same(packets, ['after'], 'the packet at the end is found');
  t.equal(nonSubunit, input.length - GOOD.length, 'every other byte is reported');
  t.ok(errors.length <= 2, `${errors.length} errors: the first candidate's, and the truncation of the last one outside its span`);
  // The budget is counted in stream bytes, not per push: any split decides alike.
  const wanted = decodeChunks([input]);
  for (const size of [1000, 4096, 65536]) {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < input.length; i += size) parts.push(input.subarray(i, i + size));
    const d = decodeChunks(parts);
    t.same(d.errors, wanted.errors, `chunks of ${size}: the same errors`);
    t.same(d.events.map((e) => e.testId), ['after'], `chunks of ${size}: the same packets`);
  }
});
