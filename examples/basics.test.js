// The everyday cases: passes, a failing assertion with a diff, skips, todo, output,
// diagnostics, subtests and the resources the pool granted.
import assert from 'node:assert/strict';
import { test } from 'subrun/test';

test('adds numbers', () => {
  assert.equal(1 + 1, 2);
});

test('compares objects (fails on purpose, with a diff)', () => {
  assert.deepEqual({ name: 'subrun', tags: ['fast', 'warm'] }, { name: 'subrun', tags: ['fast', 'cold'] });
});

test('awaits a promise', async () => {
  const value = await new Promise((resolve) => setTimeout(() => resolve(42), 5));
  assert.equal(value, 42);
});

test('returns a promise', () => Promise.resolve().then(() => assert.ok(true)));

test('uses a done callback', (t, done) => {
  setImmediate(done);
});

test('skipped by option', { skip: 'needs a GPU' }, () => {
  throw new Error('never runs');
});

test('skips itself at run time', (t) => {
  t.skip('nothing to check on this platform');
});

test('todo that still fails', { todo: 'parser rewrite pending' }, () => {
  assert.equal('1.0'.split('.').length, 3);
});

test('todo that already passes', { todo: true }, () => {
  assert.equal(2 * 2, 4);
});

test.todo('todo without a body');

test('prints to stdout and stderr', () => {
  console.log('hello from console.log');
  process.stdout.write('a raw stdout write\n');
  console.error('and a warning on stderr');
});

test('writes a diagnostic', (t) => {
  t.diagnostic('took the slow path');
});

test('has subtests', async (t) => {
  await t.test('first step', () => assert.ok(true));
  await t.test('second step', () => assert.equal(3, 3));
});

test('sees the granted resources', (t) => {
  assert.equal(typeof t.resources, 'object');
  assert.ok(Object.isFrozen(t.resources));
  console.log(JSON.stringify(t.resources));
});

test('is tagged', { tags: ['smoke'] }, () => {});
