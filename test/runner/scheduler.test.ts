import t from 'tap';
import fc from 'fast-check';
import { BatchQueue, lptPartition, makeUnits, simulate } from '../../src/runner/scheduler/index.js';
import { makeGroupKey } from '../../src/runner/config/index.js';

const map = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));

t.test('makeUnits: groups, unknown tests get the mean of the known', async (t) => {
  const units = makeUnits(['a.x', 'a.y', 'b.z', 'c.w'], map({ 'a.x': 1, 'a.y': 3, 'b.z': 2 }), makeGroupKey('[^.]+\\.'));
  t.same(
    units.map((u) => [u.key, u.tests, u.estimate, u.known]),
    [
      ['a.', ['a.x', 'a.y'], 4, true],
      ['b.', ['b.z'], 2, true],
      ['c.', ['c.w'], 2, false],
    ],
  );
  t.same(makeUnits(['p', 'q'], new Map()).map((u) => u.estimate), [1, 1], 'no records at all: 1 s each');
  t.throws(() => makeUnits(['p'], map({ p: -1 })), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => makeUnits(['p'], map({ p: NaN })), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('lptPartition: longest first onto the least loaded', async (t) => {
  const units = makeUnits(['a', 'b', 'c', 'd', 'e'], map({ a: 5, b: 4, c: 3, d: 3, e: 3 }));
  const parts = lptPartition(units, 2);
  t.same(parts.map((p) => p.tests), [['a', 'd'], ['b', 'c', 'e']]);
  t.same(parts.map((p) => p.load), [8, 10]);
  t.same(lptPartition(units, 7).filter((p) => p.tests.length === 0).length, 2, 'more partitions than units leaves some empty');
  t.throws(() => lptPartition(units, 0), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('BatchQueue: an LPT first round, then shrinking batches, every unit once', async (t) => {
  const ids = Array.from({ length: 100 }, (_, i) => `t${String(i).padStart(3, '0')}`);
  const units = makeUnits(ids, new Map(ids.map((id, i) => [id, 100 - i])));
  const q = new BatchQueue(units, 4);
  const batches = [];
  for (let b = q.next(); b !== undefined; b = q.next()) batches.push(b);
  t.ok(q.isEmpty);
  t.same(batches.flatMap((b) => b.tests).sort(), [...ids].sort(), 'each test exactly once');
  const total = units.reduce((s, u) => s + u.estimate, 0);
  const first = batches.slice(0, 4);
  t.ok(first.reduce((s, b) => s + b.estimate, 0) >= 0.5 * total, 'the first round covers half the work');
  const spread = Math.max(...first.map((b) => b.estimate)) - Math.min(...first.map((b) => b.estimate));
  t.ok(spread <= 100, 'the first round is balanced within one test');
  const later = batches.slice(4).map((b) => b.estimate);
  t.ok(later.length > 4, 'the rest is cut into several batches');
  t.ok(later.at(-1)! < later[0]!, 'batches shrink');
  t.same(batches.map((b) => b.id), batches.map((_, i) => i + 1));
});

t.test('BatchQueue: requeued units go out next', async (t) => {
  const units = makeUnits(['a', 'b', 'c', 'd', 'e', 'f'], map({ a: 1, b: 1, c: 1, d: 1, e: 1, f: 1 }));
  const q = new BatchQueue(units, 2);
  const b1 = q.next()!;
  q.requeue(b1.units);
  const seen = [];
  for (let b = q.next(); b !== undefined; b = q.next()) seen.push(...b.tests);
  t.same(seen.sort(), ['a', 'b', 'c', 'd', 'e', 'f'], 'the requeued work is handed out again, nothing lost');
  t.throws(() => new BatchQueue(units, 0), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new BatchQueue(units, 2, { initialShare: 2 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new BatchQueue(units, 2, { shrink: 0.5 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(new BatchQueue([], 3).next(), undefined);
  t.throws(() => new BatchQueue(units, 2, { minBatch: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('BatchQueue: minBatch keeps later batches from shrinking below it', async (t) => {
  const ids = Array.from({ length: 100 }, (_, i) => `t${i}`);
  const units = makeUnits(ids, new Map(ids.map((id) => [id, 1])));
  const count = (q: BatchQueue): number[] => {
    const sizes = [];
    for (let b = q.next(); b !== undefined; b = q.next()) sizes.push(b.tests.length);
    return sizes;
  };
  const plain = count(new BatchQueue(units, 2));
  const floored = count(new BatchQueue(units, 2, { minBatch: 10 }));
  t.ok(floored.length < plain.length, `${floored.length} batches instead of ${plain.length}`);
  t.ok(floored.slice(2, -1).every((n) => n >= 10), 'every later batch but the last holds at least minBatch');
  t.equal(floored.reduce((a, b) => a + b, 0), 100);
});

t.test('property: every policy runs every test once and never beats the lower bound', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0.001, max: 100, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 9 }), fc.double({ min: 0.5, max: 2, noNaN: true }), (ds, servers, skew) => {
      const actual = new Map(ds.map((d, i) => [`t${i}`, d]));
      const recorded = new Map(ds.map((d, i) => [`t${i}`, i % 2 === 0 ? d * skew : d]));
      const units = makeUnits([...actual.keys()], recorded);
      const q = new BatchQueue(units, servers);
      const handed: string[] = [];
      for (let b = q.next(); b !== undefined; b = q.next()) handed.push(...b.tests);
      if (handed.length !== ds.length || new Set(handed).size !== ds.length) return false;
      for (const policy of ['work-stealing', 'static-lpt'] as const) {
        const r = simulate({ actual, recorded, servers, policy });
        if (r.makespan < r.lowerBound * (1 - 1e-9)) return false;
        if (Math.abs(r.busy.reduce((s, x) => s + x, 0) - ds.reduce((s, x) => s + x, 0)) > 1e-6) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('held for 300 random suites');
});

t.test('simulate: a test slower than recorded stretches static partitions, not work stealing', async (t) => {
  const ids = Array.from({ length: 40 }, (_, i) => `t${i}`);
  const recorded = new Map(ids.map((id) => [id, 1]));
  // The longest-looking test is in fact 10x slower: static LPT gave its server a full share besides.
  const actual = new Map(ids.map((id) => [id, id === 't0' ? 10 : 1]));
  const ws = simulate({ actual, recorded, servers: 4, policy: 'work-stealing' });
  const st = simulate({ actual, recorded, servers: 4, policy: 'static-lpt' });
  t.equal(ws.lowerBound, 49 / 4);
  t.equal(st.makespan, 19, 'static: 9 more tests behind the slow one');
  t.ok(ws.makespan < st.makespan, `work stealing ${ws.makespan} < static ${st.makespan}`);
  t.ok(ws.makespan <= 15, `work stealing finishes near the bound (${ws.makespan})`);
  t.ok(ws.batches > 4);
  t.throws(() => simulate({ actual, recorded, servers: 2, policy: 'random' as 'static-lpt' }), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('simulate: within 5% of the lower bound on a skewed suite with exact records', async (t) => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const actual = new Map<string, number>();
  for (let i = 0; i < 1000; i++) actual.set(`t${i}`, Math.exp(-4 + 3 * rand()) * (rand() < 0.01 ? 50 : 1));
  const r = simulate({ actual, recorded: actual, servers: 8, policy: 'work-stealing', batchOverhead: 0.002 });
  t.ok(r.makespan <= 1.05 * r.lowerBound, `makespan ${r.makespan.toFixed(3)} vs bound ${r.lowerBound.toFixed(3)}`);
});
