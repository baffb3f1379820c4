import t from 'tap';
import { select } from '../../src/server/test-api/selection.js';
import { Progress } from '../../src/server/test-api/progress.js';

const LISTED = ['a.js > x', 'a.js > d > y', 'a.js > d > z', 'a.js > dd > w', 'b.js > x', 'broken.js'];

t.test('select: exact ids, file and describe prefixes, unknown entries', async (t) => {
  t.same(select(LISTED, undefined), { ids: LISTED, unknown: [] });
  t.same(select(LISTED, ['b.js > x', 'a.js > x']), { ids: ['a.js > x', 'b.js > x'], unknown: [] }, 'list order, not request order');
  t.same(select(LISTED, ['a.js > d']), { ids: ['a.js > d > y', 'a.js > d > z'], unknown: [] }, 'a prefix ends at a separator: `d` does not select `dd`');
  t.same(select(LISTED, ['a.js', 'a.js > d']), { ids: ['a.js > x', 'a.js > d > y', 'a.js > d > z', 'a.js > dd > w'], unknown: [] }, 'overlapping prefixes both count as known');
  t.same(select(LISTED, ['broken.js', 'c.js', 'a.js > nope', 'a.js >']), { ids: ['broken.js'], unknown: ['c.js', 'a.js > nope', 'a.js >'] });
  t.same(select(LISTED, []), { ids: [], unknown: [] });
});

t.test('progress: shared between views of one buffer', async (t) => {
  const writer = new Progress(3);
  const reader = new Progress(writer.buffer);
  t.equal(reader.current, -1, 'nothing started');
  writer.start(1, 1234.5, 100);
  t.equal(reader.current, 1);
  t.equal(reader.deadlineMs, 1234.5);
  t.equal(reader.timeoutMs, 100);
  t.equal(reader.status(1), undefined);
  writer.finish(1, 'xfail');
  writer.finish(2, 'success');
  t.equal(reader.status(1), 'xfail');
  t.equal(reader.status(2), 'success');
  t.equal(reader.status(0), undefined);
  writer.start(2, Infinity, Infinity);
  t.equal(reader.deadlineMs, Infinity);
});
