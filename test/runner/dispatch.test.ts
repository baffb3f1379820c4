import t from 'tap';
import { BatchQueue, dispatch, makeUnits, type Batch } from '../../src/runner/scheduler/index.js';

const ids = Array.from({ length: 50 }, (_, i) => `t${String(i).padStart(2, '0')}`);
const units = () => makeUnits(ids, new Map(ids.map((id) => [id, 1])));
const tick = () => new Promise<void>((r) => setImmediate(r));

t.test('a stuck worker does not hold the run: the others drain the queue', async (t) => {
  const queue = new BatchQueue(units(), 3);
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  const ran: string[] = [];
  const result = await dispatch({
    workers: ['slow', 'a', 'b'],
    queue,
    run: async (batch, worker) => {
      if (worker === 'slow') await stuck;
      else await tick();
      ran.push(...batch.tests);
      if (worker !== 'slow' && queue.isEmpty) release();
    },
  });
  t.same(ran.sort(), ids, 'every test ran exactly once');
  t.equal(result.batchesPerWorker[0], 1, 'the stuck worker ran only its first batch');
  t.ok(result.batchesPerWorker[1]! + result.batchesPerWorker[2]! > 4, 'the others took the rest');
  t.same(result.undispatched, []);
});

t.test('a worker that dies gives its batch back and leaves the rotation', async (t) => {
  const queue = new BatchQueue(units(), 2);
  const done: string[] = [];
  const result = await dispatch({
    workers: [0, 1],
    queue,
    run: async (batch: Batch, w) => {
      await tick();
      if (w === 0) throw new Error('server crashed');
      done.push(...batch.tests);
    },
  });
  t.same(done.sort(), ids, 'the crashed batch ran on the other worker');
  t.equal(result.errors.length, 1);
  t.match(result.errors[0], { worker: 0, error: { message: 'server crashed' } });
  t.equal(result.batchesPerWorker[0], 1);
});

t.test('unfinished units are requeued; a retiring worker stops taking batches', async (t) => {
  const queue = new BatchQueue(units(), 2);
  const done: string[] = [];
  let first = true;
  const result = await dispatch({
    workers: ['x', 'y'],
    queue,
    run: async (batch, w) => {
      await tick();
      if (w === 'x' && first) {
        first = false;
        done.push(batch.tests[0]!);
        return { unfinished: batch.units.slice(1), retire: true };
      }
      done.push(...batch.tests);
      return undefined;
    },
  });
  t.same(done.sort(), ids, 'the finished test is not run again, the rest are');
  t.equal(result.batchesPerWorker[0], 1);
});

t.test('no live worker left, or aborted: the rest is reported undispatched', async (t) => {
  const q1 = new BatchQueue(units(), 2);
  const r1 = await dispatch({ workers: [0, 1], queue: q1, run: async () => Promise.reject(new Error('down')) });
  t.equal(r1.errors.length, 2);
  t.same(r1.undispatched.flatMap((u) => u.tests).sort(), ids, 'nothing lost');
  const ac = new AbortController();
  const q2 = new BatchQueue(units(), 1);
  const seen: string[] = [];
  const r2 = await dispatch({
    workers: [0],
    queue: q2,
    signal: ac.signal,
    run: async (b) => {
      seen.push(...b.tests);
      ac.abort();
    },
  });
  t.equal(r2.batchesPerWorker[0], 1);
  t.same([...seen, ...r2.undispatched.flatMap((u) => u.tests)].sort(), ids);
  await t.rejects(dispatch({ workers: [], queue: q2, run: async () => {} }), { code: 'ERR_INVALID_ARGUMENT' });
});
