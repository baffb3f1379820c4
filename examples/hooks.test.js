// Hooks, nested describes, and hooks that fail (reported against the tests they affect).
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'subrun/test';

const calls = [];

describe('a database', () => {
  let db;
  before(() => {
    db = new Map();
    calls.push('before');
  });
  beforeEach(() => {
    db.set('count', (db.get('count') ?? 0) + 1);
  });
  afterEach(() => {
    calls.push('afterEach');
  });

  it('starts with one row after beforeEach', () => {
    assert.equal(db.get('count'), 1);
  });

  describe('nested', () => {
    beforeEach(() => {
      db.set('nested', true);
    });
    it('sees outer and inner beforeEach', () => {
      assert.equal(db.get('nested'), true);
      assert.equal(db.get('count'), 2);
    });
  });
});

describe('a broken fixture', () => {
  before(() => {
    throw new Error('could not connect');
  });
  it('is failed by its before hook', () => {});
  it('is failed by its before hook too', () => {});
});

describe('a flaky teardown', () => {
  afterEach(() => {
    throw new Error('cleanup failed');
  });
  it('passes its body but fails in afterEach', () => {});
});

describe('a failing after hook', () => {
  after(() => {
    throw new Error('could not drop the schema');
  });
  it('runs first', () => {});
  it('is charged with the after hook', () => {});
});
