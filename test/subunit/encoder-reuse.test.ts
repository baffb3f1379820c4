import t from 'tap';
import fc from 'fast-check';
import { PacketEncoder } from '../../src/subunit/encoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { arbitraryEvent } from '../helpers/arbitrary-event.js';

// The encoder copies a repeated test id from its previous packet and writes
// into shared slabs: whatever the sequence (repeats, refusals, wide lengths,
// slab changes), each packet must be the bytes a fresh encoder writes.

const fresh = (e: SubunitEvent): Buffer => Buffer.from(new PacketEncoder().encode(e));

/** Events reusing a few test ids, with refused events (bad status, NUL) mixed in. */
const sequence = fc.array(
  fc.tuple(arbitraryEvent(), fc.constantFrom('t.a', 't.b', 'pkg.module.TestCase.test_long_name_0001', 'é.test', ''), fc.integer({ min: 0, max: 9 })).map(([e, id, k]) => {
    const ev: SubunitEvent = { ...e, testId: k < 7 ? id : (e.testId ?? id) };
    if (k === 8) ev.status = 'bogus' as never;
    if (k === 9 && ev.fileName === undefined) ev.tags = ['bad\0tag'];
    return ev;
  }),
  { maxLength: 40 },
);

t.test('encode(): every packet equals a fresh encoding, refusals change nothing', async (t) => {
  fc.assert(
    fc.property(sequence, (events) => {
      const enc = new PacketEncoder();
      const kept: [Uint8Array, Buffer][] = [];
      for (const e of events) {
        let want: Buffer | undefined;
        try {
          want = fresh(e);
        } catch {
          want = undefined;
        }
        if (want === undefined) {
          if (!throwsEncode(() => enc.encode(e))) return false;
          continue;
        }
        const got = enc.encode(e);
        if (!want.equals(got)) return false;
        kept.push([got, want]);
      }
      return kept.every(([got, want]) => want.equals(got));
    }),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('encodeBatch(): equals fresh encodings back to back; a refused batch leaves nothing behind', async (t) => {
  fc.assert(
    fc.property(fc.array(sequence, { maxLength: 4 }), (batches) => {
      const enc = new PacketEncoder();
      for (const events of batches) {
        let want: Buffer | undefined;
        try {
          want = Buffer.concat(events.map(fresh));
        } catch {
          want = undefined;
        }
        if (want === undefined) {
          if (!throwsEncode(() => enc.encodeBatch(events))) return false;
          continue;
        }
        if (!want.equals(enc.encodeBatch(events))) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 runs');
});

t.test('a repeated test id after a packet with a wide length field, and across slabs', async (t) => {
  const enc = new PacketEncoder();
  const id = 'pkg.module.TestCase.test_x';
  const seq: SubunitEvent[] = [
    { testId: id, status: 'inprogress' },
    { testId: id, fileName: 'f', fileBytes: new Uint8Array(100) },
    { testId: id, fileName: 'g', fileBytes: new Uint8Array(20_000) },
    { testId: id, status: 'success' },
  ];
  for (let i = 0; i < 3000; i++) seq.push({ testId: id, fileName: 'h', fileBytes: new Uint8Array(i % 97) }, { testId: `${id}${i % 3}` });
  const out = seq.map((e) => enc.encode(e));
  t.ok(out.every((p, i) => fresh(seq[i]!).equals(p)));
  t.ok(Buffer.from(enc.encodeBatch(seq)).equals(Buffer.concat(seq.map(fresh))));
  t.ok(Buffer.from(enc.encodeBatch(new Set(seq))).equals(Buffer.concat(seq.map(fresh))), 'any iterable, not only arrays');
});

t.test('a caller writing over a packet it holds does not change the next packet of the same test', async (t) => {
  const id = 'pkg.module.TestCase.test_scribbled';
  const scribble = (p: Uint8Array): void => void p.fill(0x41, 0, p.length);
  const enc = new PacketEncoder();
  scribble(enc.encode({ testId: id, status: 'inprogress' }));
  t.ok(fresh({ testId: id, status: 'success' }).equals(enc.encode({ testId: id, status: 'success' })), 'encode() after encode()');
  scribble(enc.encodeBatch([{ testId: 't.a', status: 'inprogress' }, { testId: id, status: 'inprogress' }]));
  t.ok(fresh({ testId: id, status: 'fail' }).equals(enc.encode({ testId: id, status: 'fail' })), 'encode() after encodeBatch()');
  scribble(enc.encode({ testId: id, tags: ['x'] }));
  const want = Buffer.concat([fresh({ testId: id, status: 'skip' }), fresh({ testId: id, tags: ['y'] })]);
  t.ok(want.equals(enc.encodeBatch([{ testId: id, status: 'skip' }, { testId: id, tags: ['y'] }])), 'encodeBatch() after a general packet');
});

function throwsEncode(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'ERR_SUBUNIT_ENCODE';
  }
}
