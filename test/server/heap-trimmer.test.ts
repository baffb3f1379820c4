import t from 'tap';
import { getHeapStatistics } from 'node:v8';
import { HeapTrimmer, oldGenerationBytes, usedHeapBytes } from '../../src/server/test-api/heap-trimmer.js';

const MiB = 2 ** 20;

t.test('collects only once the heap passes growth × floor + slack, then takes a new floor', async (t) => {
  let collections = 0;
  const trimmer = new HeapTrimmer({ growth: 1.5, slackBytes: 8 * MiB, gc: () => collections++ });
  const floor = getHeapStatistics().used_heap_size;
  t.equal(trimmer.trim(floor), false, 'no growth: no collection');
  t.equal(trimmer.trim(floor * 1.5 + 7 * MiB), false, 'below the threshold');
  t.equal(collections, 0);
  t.equal(trimmer.trim(floor * 1.5 + 9 * MiB), true, 'above it');
  t.equal(collections, 1);
  // The new floor is what the heap holds now, so the same figure again is below the next threshold.
  t.equal(trimmer.trim(getHeapStatistics().used_heap_size + MiB), false);
  t.equal(collections, 1);
});

t.test('without a collector it never collects', async (t) => {
  const trimmer = new HeapTrimmer({ gc: undefined });
  t.equal(trimmer.available, false);
  t.equal(trimmer.trim(Number.MAX_SAFE_INTEGER), false);
});

t.test('by default it exposes V8\'s collector at run time, and a collection frees garbage', async (t) => {
  const trimmer = new HeapTrimmer({ growth: 1, slackBytes: 0 });
  t.equal(trimmer.available, true);
  let garbage: unknown[] | undefined = Array.from({ length: 300_000 }, (_, i) => ({ i }));
  const before = getHeapStatistics().used_heap_size;
  t.ok(garbage.length > 0);
  garbage = undefined;
  t.equal(trimmer.trim(before), true);
  t.ok(getHeapStatistics().used_heap_size < before - 4 * MiB, 'the dropped array is gone');
});

t.test('measured on the old generation, young garbage alone does not buy a full collection', async (t) => {
  let collections = 0;
  let level = 10 * MiB;
  const trimmer = new HeapTrimmer({ growth: 1, slackBytes: 4 * MiB, measure: () => level, gc: () => collections++ });
  level = 13 * MiB;
  t.equal(trimmer.trim(), false, 'within the slack');
  level = 15 * MiB;
  t.equal(trimmer.trim(), true, 'past it');
  t.equal(collections, 1);
  t.equal(trimmer.trim(), false, 'the floor is now 15 MiB');

  const old = oldGenerationBytes();
  t.ok(old > 0 && old <= usedHeapBytes(), 'the old generation is part of the used heap');
  // Short-lived garbage lands in the young generation, so it moves the whole heap, not the old part.
  const young: unknown[] = [];
  for (let i = 0; i < 20_000; i++) young.push({ i });
  t.ok(oldGenerationBytes() - old < MiB, 'a burst of young objects barely moves the old generation');
  t.ok(young.length > 0);
});
