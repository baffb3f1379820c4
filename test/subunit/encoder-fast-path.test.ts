import t from 'tap';
import fc from 'fast-check';
import { PacketEncoder } from '../../src/subunit/encoder.js';
import { crc32 } from '../../src/subunit/crc32.js';
import { STATUSES, type SubunitEvent, type TestStatus } from '../../src/subunit/event.js';

// The encoder writes the common packet (test id, status, timestamp, runnable,
// eof) by a one-pass path with precomputed widths. Its bytes are checked here
// against a plain field-by-field writing of SPEC §2 kept in this test (sizes
// measured after writing, the length widened afterwards, as python-subunit
// does), at every width boundary of the id's length, the nanoseconds and the
// packet's length; events the path must hand back (non-ASCII or NUL ids, bad
// timestamps, unknown statuses) must encode or be refused exactly as before.

function number(v: number): number[] {
  if (v < 0x40) return [v];
  if (v < 0x4000) return [0x40 | (v >>> 8), v & 0xff];
  if (v < 0x400000) return [0x80 | (v >>> 16), (v >>> 8) & 0xff, v & 0xff];
  return [0xc0 | (v >>> 24), (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** SPEC §2 for events with a test id and no other string field; undefined where the encoder must refuse. */
function reference(e: SubunitEvent): Buffer | undefined {
  const body: number[] = [];
  let flags = 0x2000 | 0x0800;
  if (e.timestamp !== undefined) {
    const { seconds, nanos } = e.timestamp;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffffffff) return undefined;
    if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
    flags |= 0x0200;
    body.push(seconds >>> 24, (seconds >>> 16) & 0xff, (seconds >>> 8) & 0xff, seconds & 0xff, ...number(nanos));
  }
  const id = e.testId!;
  if (id.includes('\0') || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(id)) return undefined;
  const utf8 = Buffer.from(id, 'utf8');
  body.push(...number(utf8.length), ...utf8);
  if (e.runnable !== false) flags |= 0x0100;
  if (e.eof === true) flags |= 0x0010;
  const status = STATUSES.indexOf((e.status ?? 'undefined') as TestStatus);
  if (status < 0) return undefined;
  flags |= status;
  const base = 3 + body.length + 4;
  const width = base <= 62 ? 1 : base <= 16381 ? 2 : 3;
  const head = Buffer.from([0xb3, flags >>> 8, flags & 0xff, ...number(base + width)]);
  const packet = Buffer.concat([head, Buffer.from(body)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(packet));
  return Buffer.concat([packet, crc]);
}

/** Ids at each length boundary (1/2-byte id length, 1/2-byte packet length, the fast path's 4,000 limit). */
const lengths = [0, 1, 40, 41, 42, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 63, 64, 200, 3999, 4000, 4001, 4100, 16383, 16384];
const testId = fc.oneof(
  fc.constantFrom(...lengths).map((n) => 'i'.repeat(n)),
  fc.tuple(fc.constantFrom(...lengths), fc.constantFrom('é', '\0', '\uD800', '€', 'x')).map(([n, c]) => 'a'.repeat(Math.max(0, n - 1)) + c),
  fc.string({ maxLength: 70 }),
  fc.constantFrom('pkg.mod.Test.test_a', 'pkg.mod.Test.test_b'),
);
const nanos = fc.oneof(
  fc.constantFrom(0, 63, 64, 16383, 16384, 4194303, 4194304, 999_999_999, 1_000_000_000, -1, 1.5, NaN),
  fc.integer({ min: 0, max: 999_999_999 }),
);
const seconds = fc.oneof(fc.constantFrom(0, 0xffffffff, 0x100000000, -1, 2.5), fc.integer({ min: 0, max: 0xffffffff }));
const simpleEvent = fc
  .record(
    {
      testId,
      status: fc.constantFrom<TestStatus | 'bogus'>(...STATUSES, 'bogus'),
      timestamp: fc.record({ seconds, nanos }),
      runnable: fc.boolean(),
      eof: fc.boolean(),
    },
    { requiredKeys: ['testId'] },
  )
  .map((e) => e as SubunitEvent);

function encodeOrRefuse(enc: PacketEncoder, e: SubunitEvent): Buffer | 'refused' {
  try {
    return Buffer.from(enc.encode(e));
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_SUBUNIT_ENCODE') throw error;
    return 'refused';
  }
}

t.test('the common packet is byte for byte the plain SPEC §2 writing, or refused where that refuses', async (t) => {
  fc.assert(
    fc.property(fc.array(simpleEvent, { minLength: 1, maxLength: 30 }), (events) => {
      // One encoder across the sequence: repeated ids are copied from the previous packet.
      const enc = new PacketEncoder();
      for (const e of events) {
        const want = reference(e);
        const got = encodeOrRefuse(enc, e);
        if (want === undefined ? got !== 'refused' : got === 'refused' || !want.equals(got)) return false;
      }
      return true;
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 sequences');
});

t.test('encodeBatch of common packets equals the plain writing back to back', async (t) => {
  fc.assert(
    fc.property(fc.array(simpleEvent, { maxLength: 200 }), (events) => {
      const wants = events.map(reference);
      const enc = new PacketEncoder();
      if (wants.some((w) => w === undefined)) {
        try {
          enc.encodeBatch(events);
          return false;
        } catch (error) {
          return (error as { code?: string }).code === 'ERR_SUBUNIT_ENCODE';
        }
      }
      return Buffer.concat(wants as Buffer[]).equals(enc.encodeBatch(events));
    }),
    { numRuns: 300 },
  );
  t.pass('300 batches');
});

t.test('a common packet whose id repeats across a slab change, and after a refused one', async (t) => {
  const enc = new PacketEncoder();
  const id = 'pkg.module.TestCase.test_repeated';
  const kept: [Uint8Array, Buffer][] = [];
  // 65,536-byte slabs: ~1,500 packets of ~45 bytes cross several.
  for (let i = 0; i < 5000; i++) {
    const e: SubunitEvent = { testId: i % 7 === 6 ? `${id}_${i}` : id, status: i % 2 ? 'success' : 'inprogress', timestamp: { seconds: i, nanos: i * 1000 } };
    if (i % 500 === 499) t.throws(() => enc.encode({ ...e, status: 'bogus' as TestStatus }), { code: 'ERR_SUBUNIT_ENCODE' });
    const got = enc.encode(e);
    kept.push([got, reference(e)!]);
  }
  t.ok(kept.every(([got, want]) => want.equals(got)), 'every kept packet is intact and correct');
});
