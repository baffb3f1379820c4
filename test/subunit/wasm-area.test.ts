import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { PacketEncoder } from '../../src/subunit/encoder.js';
import { crc32 } from '../../src/subunit/crc32.js';
import type { SubunitEvent } from '../../src/subunit/event.js';
import { AREA_BASE, acquireArea, releaseArea, retainedAreaBytes } from '../../src/subunit/wasm-area.js';
import { ROOT } from '../helpers/paths.js';

// encodeBatch writes into a WebAssembly area (src/subunit/wasm-area.ts). The
// encoder's other tests compare its batches with encode() and with a plain
// SPEC §2 writer; these cover what is the area's own: its CRC, growth in the
// middle of a batch, being kept or dropped, a batch inside a batch, and the
// JavaScript fallback in an engine without WebAssembly.

const fresh = (e: SubunitEvent): Buffer => Buffer.from(new PacketEncoder().encode(e));
const concat = (events: SubunitEvent[]): Buffer => Buffer.concat(events.map(fresh));

t.test("the area's CRC equals crc32 at every length and alignment", async (t) => {
  const area = acquireArea();
  if (area === undefined) throw new Error('this Node has WebAssembly: the area must be there');
  try {
    const bytes = new Uint8Array(600);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    area.grow(AREA_BASE + 1024);
    area.bytes.set(bytes, AREA_BASE);
    let checked = 0;
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= 300; end++) {
        if (area.crc(AREA_BASE + start, AREA_BASE + end) !== crc32(bytes, start, end)) t.fail(`crc of [${start}, ${end})`);
        checked++;
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(300), (data, at) => {
        area.bytes.set(data, AREA_BASE + at);
        return area.crc(AREA_BASE + at, AREA_BASE + at + data.length) === crc32(data);
      }),
      { numRuns: 300 },
    );
    t.pass(`${checked} ranges and 300 random ones`);
  } finally {
    releaseArea(area);
  }
});

t.test('a batch that grows the area many times, repeating ids across each growth', async (t) => {
  const events: SubunitEvent[] = [];
  for (let i = 0; i < 20_000; i++) {
    const testId = `pkg.module_${i % 7}.TestCase.test_${'x'.repeat(i % 90)}${i}`;
    events.push({ testId, status: 'inprogress', timestamp: { seconds: i, nanos: i * 977 } });
    if (i % 100 === 0) events.push({ testId, fileName: 'log', mimeType: 'text/plain', fileBytes: new Uint8Array(i % 3000), tags: ['a', 'b'] });
    events.push({ testId, status: i % 13 === 0 ? 'fail' : 'success', timestamp: { seconds: i + 1, nanos: 999_999_999 - i } });
  }
  // A generator: no length to reserve the area from, so it grows packet by packet.
  const generated = function* (): Generator<SubunitEvent> {
    yield* events;
  };
  const want = concat(events);
  const enc = new PacketEncoder();
  t.ok(want.equals(enc.encodeBatch(generated())), 'growing as it goes (an iterable)');
  t.ok(want.equals(enc.encodeBatch(events)), 'reserving from its first packets (an array)');
  t.ok(fresh(events[1]!).equals(enc.encode(events[1]!)), 'and encode() goes on in its own slab');
});

t.test('an area that grew past 16 MiB is dropped after its batch; a smaller one is kept', async (t) => {
  const enc = new PacketEncoder();
  const big: SubunitEvent[] = [{ testId: 'big', fileName: 'f', fileBytes: new Uint8Array(4_000_000) }];
  for (let i = 0; i < 4; i++) big.push(big[0]!, { testId: `t${i}`, status: 'success' });
  const out = enc.encodeBatch(big);
  t.ok(out.length > 16 << 20, `the batch is ${out.length} bytes`);
  t.equal(retainedAreaBytes(), 0, 'the big area is not kept');
  t.ok(concat(big).equals(out), 'and its bytes are right');
  enc.encodeBatch([{ testId: 'small', status: 'success' }]);
  const kept = retainedAreaBytes();
  t.ok(kept > 0 && kept <= 1 << 20, `the next batch makes a small one, which is kept (${kept} bytes)`);
});

t.test('a small area grows while the general path copies a repeated id', async (t) => {
  t.ok(retainedAreaBytes() <= 1 << 20, 'the test before left a small area');
  // Packets that copy their id by the general path, one after another: the area grows while copying one.
  const id = `pkg.${'long_name_'.repeat(20)}`;
  const tagged: SubunitEvent[] = [{ testId: id, status: 'inprogress' }];
  for (let i = 0; i < 3000; i++) tagged.push({ testId: id, tags: [`t${i % 5}`], timestamp: { seconds: i, nanos: 0 } });
  t.ok(concat(tagged).equals(new PacketEncoder().encodeBatch(tagged.values())), 'the same bytes');
});

t.test("a batch encoded inside another batch (an event's getter) uses JavaScript, and both are right", async (t) => {
  const inner: SubunitEvent[] = [
    { testId: 'inner.a', status: 'inprogress' },
    { testId: 'inner.a', status: 'success' },
  ];
  let innerOut: Uint8Array | undefined;
  const outerEvents: SubunitEvent[] = [{ testId: 'outer.a', status: 'inprogress' }];
  const tricky = {
    status: 'success' as const,
    get testId(): string {
      innerOut = new PacketEncoder().encodeBatch(inner);
      return 'outer.a';
    },
  };
  outerEvents.push(tricky, { testId: 'outer.a', status: 'fail' });
  const out = new PacketEncoder().encodeBatch(outerEvents);
  t.ok(concat(inner).equals(innerOut!), 'the inner batch');
  t.ok(concat([outerEvents[0]!, { testId: 'outer.a', status: 'success' }, outerEvents[2]!]).equals(out), 'the outer batch');
});

t.test('an id that is not ASCII, or holds NUL, leaves the area for the general path, which encodes or refuses it', async (t) => {
  const enc = new PacketEncoder();
  const events: SubunitEvent[] = [
    { testId: 'plain', status: 'inprogress' },
    { testId: 'café.test', status: 'success', timestamp: { seconds: 5, nanos: 70 } },
    { testId: 'plain', status: 'success' },
  ];
  t.ok(concat(events).equals(enc.encodeBatch(events)), 'UTF-8 id');
  t.throws(() => enc.encodeBatch([...events, { testId: 'nul\0here', status: 'success' }]), { code: 'ERR_SUBUNIT_ENCODE' }, 'NUL refused');
  t.ok(concat(events).equals(enc.encodeBatch(events)), 'and the next batch is right');
  t.ok(fresh({ testId: 'plain', status: 'skip' }).equals(enc.encode({ testId: 'plain', status: 'skip' })), 'and so is encode()');
});

t.test('without WebAssembly (node --no-expose-wasm) encodeBatch writes the same bytes in JavaScript', async (t) => {
  const script = `
    import { PacketEncoder } from ${JSON.stringify(path.join(ROOT, 'dist/src/subunit/encoder.js'))};
    import { retainedAreaBytes } from ${JSON.stringify(path.join(ROOT, 'dist/src/subunit/wasm-area.js'))};
    const events = [];
    for (let i = 0; i < 3000; i++) {
      const testId = 'pkg.T.test_' + i;
      events.push({ testId, status: 'inprogress', timestamp: { seconds: i, nanos: i * 1000 } }, { testId, status: 'success' });
    }
    const enc = new PacketEncoder();
    const batch = Buffer.from(enc.encodeBatch(events));
    const each = Buffer.concat(events.map((e) => new PacketEncoder().encode(e)));
    console.log(JSON.stringify({ wasm: typeof WebAssembly, same: batch.equals(each), area: retainedAreaBytes(), batch: batch.toString('base64') }));
  `;
  const run = (flags: string[]): { wasm: string; same: boolean; area: number; batch: string } => {
    const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 30_000 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as { wasm: string; same: boolean; area: number; batch: string };
  };
  const without = run(['--no-expose-wasm']);
  const withWasm = run([]);
  t.equal(without.wasm, 'undefined', 'the child has no WebAssembly');
  t.equal(without.area, 0, 'and no area');
  t.ok(without.same, 'its batch equals encode() back to back');
  t.ok(withWasm.area > 0, 'a plain child uses the area');
  t.equal(without.batch, withWasm.batch, 'and both write the same bytes');
});
