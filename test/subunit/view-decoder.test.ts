import t from 'tap';
import { PacketEncoder, encodePacket } from '../../src/subunit/encoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import type { PacketView } from '../../src/subunit/packet-view.js';
import { PacketViewDecoder } from '../../src/subunit/view-decoder.js';
import { decodeBytes } from '../helpers/decode-all.js';

// PacketViewDecoder is StreamDecoder's core with another hand-out (SPEC §2.7):
// test/helpers/decode-all.ts runs every vector, split, fuzz and hostile case
// through both and fails when they differ. Here: what is particular to views.

function viewsOf(bytes: Uint8Array, read: (v: PacketView) => void, step = bytes.length): void {
  const d = new PacketViewDecoder({
    packet: read,
    nonSubunit: () => {
      throw new Error('unexpected non-subunit bytes');
    },
    error: (e) => {
      throw e;
    },
  });
  for (let i = 0; i < bytes.length; i += step) d.push(bytes.subarray(i, i + step));
  d.end();
}

t.test('one view is reused, and what the handler copies out stays right', async (t) => {
  const enc = new PacketEncoder();
  const events: SubunitEvent[] = [
    { testId: 'a.test_one', status: 'inprogress', timestamp: { seconds: 1, nanos: 2 } },
    { testId: 'a.test_one', status: 'success', timestamp: { seconds: 3, nanos: 4 }, tags: ['x', 'y'] },
    { testId: 'b.test_two', status: 'fail', fileName: 'traceback', fileBytes: Buffer.from('boom'), mimeType: 'text/plain', eof: true, routeCode: '0' },
  ];
  const stream = enc.encodeBatch(events);
  const views = new Set<PacketView>();
  const kept: { id: string | undefined; event: SubunitEvent; file: Uint8Array | undefined; offset: number }[] = [];
  viewsOf(stream, (v) => {
    views.add(v);
    kept.push({ id: v.testId, event: v.toEvent(), file: v.fileBytes(), offset: v.offset });
  });
  t.equal(views.size, 1, 'the same view object for every packet');
  t.same(
    kept.map((k) => k.id),
    ['a.test_one', 'a.test_one', 'b.test_two'],
  );
  t.same(
    kept.map((k) => k.event),
    events.map((e) => ({ ...e, runnable: true })),
  );
  t.equal(Buffer.from(kept[2]!.file!).toString(), 'boom', 'fileBytes() is a copy that outlives the call');
  const first = encodePacket(events[0]!).length;
  t.same(
    kept.map((k) => k.offset),
    [0, first, first + encodePacket(events[1]!).length],
  );
});

t.test('strings read lazily, in any order, or not at all', async (t) => {
  const ev: SubunitEvent = { testId: 'pkg.Test.test_ä', status: 'skip', tags: ['ünï', 'b'], mimeType: 'text/plain; charset=utf8', fileName: 'réason', fileBytes: Buffer.from('why'), routeCode: 'r/ø' };
  const bytes = encodePacket(ev);
  let seen = 0;
  viewsOf(bytes, (v) => {
    seen++;
    t.equal(v.routeCode, 'r/ø');
    t.equal(v.fileName, 'réason');
    t.same(v.tags, ['ünï', 'b']);
    t.equal(v.testId, 'pkg.Test.test_ä');
    t.equal(v.testId, 'pkg.Test.test_ä', 'read twice');
    t.equal(v.mimeType, 'text/plain; charset=utf8');
    t.equal(v.status, 'skip');
    t.equal(v.statusCode, 5);
    t.equal(v.hasTimestamp, false);
    t.equal(v.timestamp, undefined);
    t.equal(v.length, bytes.length);
  });
  viewsOf(bytes, (v) => {
    seen++;
    t.equal(v.statusCode, 5, 'only the status read');
  });
  t.equal(seen, 2);
});

t.test('the string cache never confuses strings that share a slot', async (t) => {
  // Same length, same last bytes (the slot's key), different elsewhere; plus the cache's edge lengths.
  const ids: string[] = [];
  for (let i = 0; i < 2000; i++) ids.push(`${String(i).padStart(5, '0')}.shared_end`);
  for (const n of [1, 2, 3, 4, 5, 7, 8, 127, 128, 129, 300]) {
    ids.push('x'.repeat(n), 'y'.repeat(n), `${'x'.repeat(n - 1)}z`, `z${'x'.repeat(n - 1)}`);
  }
  ids.push('é', 'aé', 'éa', '日本語のテスト', 'a\u0001b');
  // Each id twice in a row (the cache's hit), then all again in reverse (the cache's misses and collisions).
  const events = [...ids.flatMap((id) => [id, id]), ...[...ids].reverse()].map((testId) => ({ testId }));
  const stream = new PacketEncoder().encodeBatch(events);
  for (const step of [stream.length, 4096, 57]) {
    const got: (string | undefined)[] = [];
    viewsOf(stream, (v) => got.push(v.testId), step);
    t.same(got, events.map((e) => e.testId), `chunks of ${step}`);
    t.same(decodeBytes(stream, step).events.map((e) => e.testId), got, 'StreamDecoder agrees');
  }
});
