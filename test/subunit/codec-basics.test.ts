import t from 'tap';
import { StreamDecoder, type DecoderHandler } from '../../src/subunit/decoder.js';
import { encodeFileChunks, encodePacket, PacketEncoder } from '../../src/subunit/encoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';

interface Out {
  events: SubunitEvent[];
  text: Buffer[];
  errors: string[];
}

function decode(bytes: Uint8Array, step = bytes.length || 1): Out {
  const out: Out = { events: [], text: [], errors: [] };
  const h: DecoderHandler = {
    packet: (e) => out.events.push(e),
    nonSubunit: (b) => out.text.push(Buffer.from(b)),
    error: (e) => out.errors.push(e.code),
  };
  const d = new StreamDecoder(h);
  for (let i = 0; i < bytes.length; i += step) d.push(bytes.subarray(i, i + step));
  d.end();
  return out;
}

t.test('round trip of a full event, in any chunking', async (t) => {
  const ev: SubunitEvent = {
    testId: 'pkg.Test.test_ä',
    status: 'fail',
    tags: ['worker-0', 'slow'],
    timestamp: { seconds: 1_700_000_000, nanos: 123_456_000 },
    routeCode: '0',
    runnable: false,
    mimeType: 'text/plain; charset=utf8',
    fileName: 'traceback',
    fileBytes: new TextEncoder().encode('boom\n'),
    eof: true,
  };
  const bytes = encodePacket(ev);
  for (const step of [1, 2, 3, 5, bytes.length]) {
    const out = decode(bytes, step);
    t.same(out.errors, []);
    t.same(out.text, []);
    t.same(out.events, [ev], `step ${step}`);
  }
});

t.test('runnable defaults to true and encode returns a fresh copy', async (t) => {
  const enc = new PacketEncoder();
  const a = enc.encode({ testId: 'a', status: 'success' });
  const copy = Uint8Array.from(a);
  enc.encode({ testId: 'b', status: 'fail' });
  t.same(a, copy);
  t.same(decode(a).events, [{ testId: 'a', status: 'success', runnable: true }]);
});

t.test('encoder refusals carry ERR_SUBUNIT_ENCODE', async (t) => {
  const bad: SubunitEvent[] = [
    { testId: 'a\0b' },
    { timestamp: { seconds: -1, nanos: 0 } },
    { timestamp: { seconds: 2 ** 32, nanos: 0 } },
    { timestamp: { seconds: 0, nanos: 1e9 } },
    { status: 'bogus' as never },
    { fileName: 'f', fileBytes: new Uint8Array(4194303) },
    { testId: '\ud800' },
    { fileBytes: new Uint8Array(1) },
  ];
  bad.forEach((ev, i) => t.throws(() => encodePacket(ev), { code: 'ERR_SUBUNIT_ENCODE', name: 'SubunitError' }, `case ${i}`));
});

t.test('encodeFileChunks splits with eof and status on the last packet', async (t) => {
  const bytes = new Uint8Array(2500).map((_, i) => i & 0xff);
  const packets = encodeFileChunks({ testId: 'x', fileName: 'log', status: 'success' }, bytes, 1000);
  t.equal(packets.length, 3);
  const out = decode(Buffer.concat(packets));
  t.same(out.events.map((e) => [e.fileBytes?.length, e.eof, e.status]), [
    [1000, undefined, undefined],
    [1000, undefined, undefined],
    [500, true, 'success'],
  ]);
  t.same(Buffer.concat(out.events.map((e) => e.fileBytes!)), Buffer.from(bytes));
  t.equal(encodeFileChunks({ fileName: 'empty' }, new Uint8Array(0)).length, 1);
});

t.test('stray bytes come out as text and the next packet is still found', async (t) => {
  const p = encodePacket({ testId: 't', status: 'success' });
  const input = Buffer.concat([Buffer.from('hello \xb3 world\n', 'latin1'), p]);
  for (const step of [1, 4, input.length]) {
    const out = decode(input, step);
    t.same(out.events.length, 1, `step ${step}`);
    t.same(Buffer.concat(out.text).toString('latin1'), 'hello \xb3 world\n');
  }
});

t.test('a bad CRC is an error event and its bytes are not lost', async (t) => {
  const p = Buffer.from(encodePacket({ testId: 't', status: 'success' }));
  p[p.length - 1]! ^= 1;
  const good = encodePacket({ testId: 'u', status: 'fail' });
  const out = decode(Buffer.concat([p, good]));
  t.same(out.errors, ['ERR_SUBUNIT_CRC']);
  t.same(Buffer.concat(out.text), p);
  t.same(out.events.map((e) => e.testId), ['u']);
});

t.test('a truncated packet at end is reported, bytes flushed', async (t) => {
  const p = encodePacket({ testId: 'truncated', status: 'success' });
  const cut = p.subarray(0, p.length - 3);
  const out = decode(cut, 1);
  t.same(out.errors, ['ERR_SUBUNIT_TRUNCATED']);
  t.same(Buffer.concat(out.text), Buffer.from(cut));
});

t.test('kept packets stay intact across slabs, and encodeBatch equals encode back to back', async (t) => {
  const enc = new PacketEncoder();
  const events: SubunitEvent[] = [];
  for (let i = 0; i < 3000; i++) events.push({ testId: `t${i}`, status: 'success', ...(i % 500 === 7 ? { fileName: 'big', fileBytes: new Uint8Array(70_000).fill(i & 0xff) } : {}) });
  const kept = events.map((e) => enc.encode(e));
  const copies = kept.map((k) => Buffer.from(k));
  for (let i = 0; i < 3000; i++) enc.encode({ testId: `other${i}`, status: 'fail' });
  t.ok(kept.every((k, i) => copies[i]!.equals(k)), 'no kept packet was overwritten');
  const batch = enc.encodeBatch(events);
  t.ok(Buffer.from(batch).equals(Buffer.concat(copies)), 'encodeBatch writes the same bytes');
  const after = enc.encode({ testId: 'after' });
  t.ok(Buffer.from(batch).equals(Buffer.concat(copies)), 'the batch is not overwritten by the next packet');
  t.ok(Buffer.from(after).equals(Buffer.from(encodePacket({ testId: 'after' }))));
  t.throws(() => enc.encodeBatch([{ testId: 'ok' }, { testId: 'a\0' }]), { code: 'ERR_SUBUNIT_ENCODE' });
  t.ok(Buffer.from(enc.encodeBatch([{ testId: 'x' }])).equals(Buffer.from(encodePacket({ testId: 'x' }))), 'a refused batch leaves nothing behind');
  const late = [...events.slice(0, 200), { testId: 'bad\0' }];
  t.throws(() => enc.encodeBatch(late), { code: 'ERR_SUBUNIT_ENCODE' }, 'refused after the batch reserved its room');
  t.ok(Buffer.from(enc.encodeBatch(events)).equals(Buffer.concat(copies)), 'and the next batch is still right');
});
