import t from 'tap';
import { ManualClock } from '../../src/core/clock.js';
import { getRegistry, TestRunner, walkTests, type FileTree, type TestResult } from '../../src/testing/engine.js';
import { after, afterEach, before, beforeEach, describe, it, test } from '../../src/testing/index.js';

async function collect(file: string, declare: () => void): Promise<FileTree> {
  return getRegistry().collect(file, async () => declare());
}

async function runAll(trees: FileTree[], options: { clock?: ManualClock; only?: string[]; resources?: Record<string, unknown> } = {}): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const ids = trees.flatMap((tree) => [...walkTests(tree.root)].map((n) => n.id)).filter((id) => options.only === undefined || options.only.includes(id));
  const runner = new TestRunner({ onResult: (r) => results.push(r), clock: options.clock, resources: options.resources });
  await runner.run(trees, new Map(ids.map((id, i) => [id, i])));
  return results;
}

const statuses = (results: TestResult[]): Record<string, string> => Object.fromEntries(results.map((r) => [r.id, r.status]));

t.test('ids are file > describe > name, in declaration order, duplicates kept apart', async (t) => {
  const tree = await collect('dir/a.test.js', () => {
    test('top', () => {});
    describe('outer', () => {
      it('one', () => {});
      describe('inner', () => {
        it('two', () => {});
      });
    });
    test('top', () => {});
  });
  t.same([...walkTests(tree.root)].map((n) => n.id), ['dir/a.test.js > top', 'dir/a.test.js > outer > one', 'dir/a.test.js > outer > inner > two', 'dir/a.test.js > top #2']);
  t.same([...tree.duplicates], [['dir/a.test.js > top', 2]]);
});

t.test('status mapping: success, fail, skip, xfail, uxsuccess', async (t) => {
  const tree = await collect('s.js', () => {
    test('pass', () => {});
    test('fail', () => {
      throw new Error('nope');
    });
    test('rejects', async () => {
      throw new Error('async nope');
    });
    test('skip option', { skip: 'why' }, () => {
      throw new Error('must not run');
    });
    test('skip at run time', (t) => t.skip('later'));
    test('todo failing', { todo: true }, () => {
      throw new Error('x');
    });
    test('todo passing', { todo: 'soon' }, () => {});
    test('todo at run time', (t) => {
      t.todo('flaky');
      throw new Error('y');
    });
    test.todo('todo without body');
    test.skip('skip variant', () => {});
    test('done callback error', (_t, done) => setImmediate(() => done(new Error('cb'))));
  });
  const results = await runAll([tree]);
  t.same(statuses(results), {
    's.js > pass': 'success',
    's.js > fail': 'fail',
    's.js > rejects': 'fail',
    's.js > skip option': 'skip',
    's.js > skip at run time': 'skip',
    's.js > todo failing': 'xfail',
    's.js > todo passing': 'uxsuccess',
    's.js > todo at run time': 'xfail',
    's.js > todo without body': 'skip',
    's.js > skip variant': 'skip',
    's.js > done callback error': 'fail',
  });
  const byId = new Map(results.map((r) => [r.id, r]));
  t.match(byId.get('s.js > fail')!.traceback, /Error: nope\n\s+at /);
  t.equal(byId.get('s.js > skip option')!.reason, 'why');
  t.equal(byId.get('s.js > skip at run time')!.reason, 'later');
  t.match(byId.get('s.js > todo passing')!.reason, /soon/);
  t.match(byId.get('s.js > done callback error')!.traceback, /Error: cb/);
  t.same(results.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'results carry their plan index, in order');
});

t.test('assertion failures carry expected and actual', async (t) => {
  const { deepStrictEqual } = await import('node:assert');
  const tree = await collect('a.js', () => {
    test('diff', () => deepStrictEqual({ a: [1, 2] }, { a: [1, 3] }));
  });
  const [r] = await runAll([tree]);
  t.match(r!.traceback, /expected: \{ a: \[ 1, 3 \] \}\nactual: {3}\{ a: \[ 1, 2 \] \}\noperator: deepStrictEqual/);
  t.match(r!.traceback, /a\.js|runner\.test/, 'the stack is there');
});

t.test('hooks run in order around selected tests only, and failures are charged to affected tests', async (t) => {
  const log: string[] = [];
  const tree = await collect('h.js', () => {
    before(() => void log.push('file before'));
    describe('d', () => {
      before(() => void log.push('before'));
      beforeEach(() => void log.push('beforeEach'));
      afterEach(() => void log.push('afterEach'));
      after(() => void log.push('after'));
      it('a', () => void log.push('a'));
      it('b', () => void log.push('b'));
      describe('inner', () => {
        beforeEach(() => void log.push('inner beforeEach'));
        afterEach(() => void log.push('inner afterEach'));
        it('c', () => void log.push('c'));
      });
    });
    describe('unselected', () => {
      before(() => void log.push('must not run'));
      it('z', () => {});
    });
  });
  const results = await runAll([tree], { only: ['h.js > d > b', 'h.js > d > inner > c'] });
  t.same(results.map((r) => r.id), ['h.js > d > b', 'h.js > d > inner > c']);
  t.same(log, ['file before', 'before', 'beforeEach', 'b', 'afterEach', 'beforeEach', 'inner beforeEach', 'c', 'inner afterEach', 'afterEach', 'after']);
});

t.test('failing hooks', async (t) => {
  const ran: string[] = [];
  const tree = await collect('f.js', () => {
    describe('before fails', () => {
      before(() => {
        throw new Error('no db');
      });
      after(() => void ran.push('after still runs'));
      it('x', () => void ran.push('x'));
      it('y', () => void ran.push('y'));
    });
    describe('beforeEach fails', () => {
      beforeEach(() => {
        throw new Error('no fixture');
      });
      afterEach(() => void ran.push('afterEach still runs'));
      it('z', () => void ran.push('z'));
    });
    describe('afterEach fails', () => {
      afterEach(() => {
        throw new Error('dirty');
      });
      it('w', () => {});
    });
    describe('after fails', () => {
      after(() => {
        throw new Error('teardown');
      });
      it('first', () => {});
      it('last', () => {});
    });
  });
  const results = await runAll([tree]);
  t.same(statuses(results), {
    'f.js > before fails > x': 'fail',
    'f.js > before fails > y': 'fail',
    'f.js > beforeEach fails > z': 'fail',
    'f.js > afterEach fails > w': 'fail',
    'f.js > after fails > first': 'success',
    'f.js > after fails > last': 'fail',
  });
  t.same(ran, ['after still runs', 'afterEach still runs'], 'bodies behind failed hooks never run; teardown hooks do');
  const byId = new Map(results.map((r) => [r.id, r]));
  t.match(byId.get('f.js > before fails > y')!.traceback, /before hook failed: no db/);
  t.match(byId.get('f.js > beforeEach fails > z')!.traceback, /beforeEach hook failed: no fixture/);
  t.match(byId.get('f.js > afterEach fails > w')!.traceback, /afterEach hook failed: dirty/);
  t.match(byId.get('f.js > after fails > last')!.traceback, /after hook failed: teardown/);
});

t.test('describe options are inherited: skip and todo', async (t) => {
  const tree = await collect('o.js', () => {
    describe.skip('skipped group', () => {
      before(() => {
        throw new Error('hooks of a skipped group do not run');
      });
      it('a', () => {
        throw new Error('never');
      });
    });
    describe('todo group', { todo: true }, () => {
      it('b', () => {
        throw new Error('expected');
      });
    });
  });
  t.same(statuses(await runAll([tree])), { 'o.js > skipped group > a': 'skip', 'o.js > todo group > b': 'xfail' });
});

t.test('subtests report under the parent id and fail the parent', async (t) => {
  const tree = await collect('sub.js', () => {
    test('parent', async (t) => {
      await t.test('ok', () => {});
      await t.test('bad', () => {
        throw new Error('sub failed');
      });
      void t.test('not awaited', async () => {
        await new Promise((r) => setTimeout(r, 5));
      });
    });
  });
  const results = await runAll([tree]);
  t.same(
    results.map((r) => [r.id, r.status, r.index]),
    [
      ['sub.js > parent > ok', 'success', undefined],
      ['sub.js > parent > bad', 'fail', undefined],
      ['sub.js > parent > not awaited', 'success', undefined],
      ['sub.js > parent', 'fail', 0],
    ],
  );
  t.match(results[3]!.traceback, /1 subtest failed/);
});

t.test('timeouts fail the test with a timeout reason (ManualClock, no sleeping)', async (t) => {
  const clock = new ManualClock();
  let signalAborted = false;
  const tree = await collect('t.js', () => {
    test('hangs', { timeout: 100 }, (t) => {
      t.signal.addEventListener('abort', () => (signalAborted = true));
      return new Promise(() => {});
    });
    test('next', () => {});
  });
  const done = runAll([tree], { clock });
  await new Promise((r) => setImmediate(r));
  t.equal(clock.pendingTimers, 1, 'one timer for the test with a timeout');
  clock.advance(99);
  await new Promise((r) => setImmediate(r));
  clock.advance(1);
  const results = await done;
  t.same(statuses(results), { 't.js > hangs': 'fail', 't.js > next': 'success' });
  t.equal(results[0]!.reason, 'test timed out after 100 ms');
  t.ok(signalAborted, 't.signal aborts on timeout');
  t.equal(clock.pendingTimers, 0, 'no timer left behind');
});

t.test('no timer is created for tests without a timeout', async (t) => {
  const clock = new ManualClock();
  const tree = await collect('n.js', () => {
    for (let i = 0; i < 10; i++) test(`t${i}`, async () => {});
  });
  const results = await runAll([tree], { clock });
  t.equal(results.length, 10);
  t.equal(clock.pendingTimers, 0);
});

t.test('interrupt() charges an asynchronous crash to the awaiting test', async (t) => {
  const tree = await collect('i.js', () => {
    test('victim', () => new Promise(() => {}));
    test('after', () => {});
  });
  const results: TestResult[] = [];
  const runner = new TestRunner({ onResult: (r) => results.push(r) });
  t.notOk(runner.interrupt(new Error('nobody')), 'nothing to interrupt before the run');
  const done = runner.run([tree], new Map([['i.js > victim', 0], ['i.js > after', 1]]));
  await new Promise((r) => setImmediate(r));
  t.ok(runner.interrupt(new Error('uncaught boom')));
  await done;
  t.same(statuses(results), { 'i.js > victim': 'fail', 'i.js > after': 'success' });
  t.match(results[0]!.traceback, /uncaught boom/);
});

t.test('resources reach t.resources, frozen', async (t) => {
  let seen: unknown;
  const tree = await collect('r.js', () => {
    test('r', (t) => {
      seen = t.resources;
    });
  });
  await runAll([tree], { resources: Object.freeze({ port: 4000 }) });
  t.same(seen, { port: 4000 });
  t.ok(Object.isFrozen(seen));
});

t.test('misuse is reported with coded errors', async (t) => {
  t.throws(() => test('outside', () => {}), { code: 'ERR_NOT_COLLECTING' });
  t.throws(() => before(() => {}), { code: 'ERR_NOT_COLLECTING' });
  await t.rejects(
    collect('bad.js', () => {
      test('x', { timeout: -1 }, () => {});
    }),
    { code: 'ERR_INVALID_ARGUMENT', message: /options\.timeout/ },
  );
  await t.rejects(
    collect('bad.js', () => {
      describe('async', async () => {});
    }),
    { code: 'ERR_ASYNC_DESCRIBE' },
  );
  await t.rejects(
    collect('bad.js', () => {
      test('x', 'not options' as never, () => {});
    }),
    { code: 'ERR_INVALID_ARGUMENT' },
  );
});
