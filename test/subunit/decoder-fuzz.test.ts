import t from 'tap';
import fc from 'fast-check';
import { encodePacket } from '../../src/subunit/encoder.js';
import { arbitraryEvent } from '../helpers/arbitrary-event.js';
import { decodeChunks, reassemble } from '../helpers/decode-all.js';

// SPEC §2.7, fuzzed: arbitrary bytes in arbitrary chunkings never throw or hang,
// every byte comes out exactly once and in order, and a valid packet after any
// garbage is recovered.

/** Splits `bytes` at the given cut points (any numbers; taken modulo the length). */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Garbage that looks like subunit: signature bytes, version-2 flags, plausible lengths. */
const nearPacket = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.array(fc.oneof(fc.constant(0xb3), fc.constant(0x20), fc.constant(0x3f), fc.constant(0x40), fc.constant(0x80), fc.integer({ min: 0, max: 255 })), { maxLength: 200 }).map((a) => Uint8Array.from(a)),
  arbitraryEvent().map((e) => {
    const p = encodePacket(e);
    // A real packet cut inside its body. (Cut inside its CRC, the packet after it
    // could complete it with a matching CRC: the bytes would then truly be a packet.)
    return p.subarray(0, Math.max(1, p.length - 5));
  }),
);
const garbage = fc.array(nearPacket, { maxLength: 4 }).map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));
const cuts = fc.array(fc.nat(), { maxLength: 12 });

t.test('arbitrary bytes and chunkings: no throw, no loss, offsets contiguous', async (t) => {
  fc.assert(
    fc.property(garbage, cuts, (bytes, c) => {
      const d = decodeChunks(chunk(bytes, c));
      if (!reassemble(d).equals(Buffer.from(bytes))) return false;
      let at = 0;
      for (const o of d.order) {
        if (o.offset !== at) return false;
        at += o.bytes.length;
      }
      return at === bytes.length;
    }),
    { numRuns: 2000 },
  );
  t.pass('2000 runs');
});

t.test('valid packets after any garbage are always recovered', async (t) => {
  fc.assert(
    fc.property(garbage, fc.array(arbitraryEvent(), { minLength: 1, maxLength: 3 }), cuts, (junk, events, c) => {
      const packets = events.map((e) => encodePacket(e));
      const input = Buffer.concat([junk, ...packets]);
      const d = decodeChunks(chunk(input, c));
      const tail = d.raws.slice(-packets.length);
      return tail.length === packets.length && tail.every((r, i) => r.equals(packets[i]!)) && reassemble(d).equals(input);
    }),
    { numRuns: 1500 },
  );
  t.pass('1500 runs');
});

t.test('one byte at a time decodes what one chunk decodes', async (t) => {
  fc.assert(
    fc.property(garbage, fc.array(arbitraryEvent(), { maxLength: 3 }), (junk, events) => {
      const input = Buffer.concat([...events.map((e) => encodePacket(e)), junk]);
      const whole = decodeChunks([input]);
      const bytewise = decodeChunks(chunk(input, Array.from({ length: input.length }, (_, i) => i)));
      return JSON.stringify(whole.errors) === JSON.stringify(bytewise.errors) && Buffer.concat(whole.raws).equals(Buffer.concat(bytewise.raws));
    }),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('encode then decode is the identity on any encodable event', async (t) => {
  fc.assert(
    fc.property(arbitraryEvent(), (e) => {
      const d = decodeChunks([encodePacket(e)]);
      const got = d.events[0]!;
      const want = { ...e, runnable: e.runnable !== false };
      if (want.eof === undefined) delete want.eof;
      return d.events.length === 1 && JSON.stringify(normal(got)) === JSON.stringify(normal(want));
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 runs');
});

function normal(e: object): unknown {
  return Object.fromEntries(
    Object.entries(e)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
