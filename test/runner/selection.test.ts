import t from 'tap';
import { MemoryRepository } from '../../src/repository/memory-repository.js';
import { encodePacket } from '../../src/subunit/encoder.js';
import { ManualClock } from '../../src/core/clock.js';
import { selectTests } from '../../src/runner/selection.js';
import { WorkerTagger } from '../../src/runner/fleet/worker-tag.js';
import { execPrefixed } from '../../src/runner/fleet/test-server-process.js';
import { outcomeExitCode, type RunOutcome } from '../../src/runner/run.js';
import { StreamDecoder } from '../../src/subunit/decoder.js';
import type { SubunitEvent } from '../../src/subunit/event.js';

async function repoFailing(ids: string[]): Promise<MemoryRepository> {
  const repo = new MemoryRepository();
  const w = repo.beginRun();
  for (const id of ids) {
    const e: SubunitEvent = { testId: id, status: 'fail' };
    w.packet(e, encodePacket(e));
  }
  await w.finish();
  return repo;
}

t.test('selection: listing, --failing, --load-list and filters', async (t) => {
  const repo = await repoFailing(['b', 'gone']);
  const notices: string[] = [];
  const listed = ['a', 'b', 'c d', "it's $x"];
  t.same(selectTests(listed, {}, repo, (n) => notices.push(n)), listed);
  t.same(selectTests(listed, { failing: true }, repo, (n) => notices.push(n)), ['b']);
  t.match(notices.pop(), /1 test of the failing set no longer exists and will not run: gone/);
  t.same(selectTests(listed, { loadList: ["it's $x", 'a'] }, repo, () => {}), ['a', "it's $x"], 'listing order');
  t.same(selectTests(listed, { filters: ['^c', "\\$x"] }, repo, () => {}), ['c d', "it's $x"]);
  t.same(selectTests(null, { loadList: ['z', 'y'] }, repo, () => {}), ['z', 'y'], 'no listing: the ids as given');
  t.throws(() => selectTests(listed, { filters: ['nope'] }, repo, () => {}), { code: 'ERR_NO_TESTS' });
  t.throws(() => selectTests(listed, { filters: ['('] }, repo, () => {}), { code: 'ERR_USAGE' });
  t.throws(() => selectTests(listed, { failing: true }, new MemoryRepository(), () => {}), { code: 'ERR_NO_TESTS', details: { reason: 'no-failing' } });
});

t.test('worker tags and route codes, as testr marks partitions', async (t) => {
  const tagger = new WorkerTagger(new ManualClock(5000));
  const { event, raw } = tagger.tag({ testId: 'x', status: 'success', tags: ['worker-1', 'slow'], routeCode: '7' }, 1);
  t.same(event.tags, ['slow', 'worker-1']);
  t.equal(event.routeCode, '1/7');
  t.same(event.timestamp, { seconds: 5, nanos: 0 });
  const decoded: SubunitEvent[] = [];
  const d = new StreamDecoder({ packet: (e) => decoded.push(e), nonSubunit: () => t.fail('stray'), error: () => t.fail('corrupt') });
  d.push(raw);
  d.end();
  t.equal(decoded[0]!.routeCode, '1/7');
  t.equal(tagger.tag({ testId: 'y' }, 0).event.routeCode, '0');
});

t.test('local servers are exec\'d so a kill by pid reaches them; compound commands are left alone', async (t) => {
  t.equal(execPrefixed('node serve'), 'exec node serve');
  t.equal(execPrefixed('exec node serve'), 'exec node serve');
  t.equal(execPrefixed('cd x && node serve'), 'cd x && node serve');
  t.equal(execPrefixed('a | b'), 'a | b');
  t.equal(execPrefixed('echo $(x)'), 'echo $(x)');
});

t.test('exit codes: interrupted, unrun tests, failures, nothing ran, success', async (t) => {
  const base = { mode: 'server', notRun: [], interrupted: false, problems: [], crashes: 0 } as unknown as RunOutcome;
  const summary = (tests: number, failures: number) => ({ tests, failures }) as RunOutcome['summary'];
  t.equal(outcomeExitCode({ ...base, summary: summary(3, 0) }), 0);
  t.equal(outcomeExitCode({ ...base, summary: summary(3, 1) }), 1);
  t.equal(outcomeExitCode({ ...base, summary: summary(0, 0) }), 1, 'a run that ran nothing is not a success');
  t.equal(outcomeExitCode({ ...base, summary: summary(3, 0), notRun: ['x'] }), 3);
  t.equal(outcomeExitCode({ ...base, summary: summary(3, 1), interrupted: true }), 130);
});
