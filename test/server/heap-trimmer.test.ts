import t from 'tap';
import { getHeapStatistics } from 'node:v8';
import { HeapTrimmer } from '../../src/server/test-api/heap-trimmer.js';

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
