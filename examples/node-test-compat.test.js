// An unmodified node:test file: inside the server `node:test` resolves to subrun's API.
import assert from 'node:assert';
import { describe, it, mock, test } from 'node:test';

test('node:test style test', () => {
  assert.strictEqual([1, 2, 3].length, 3);
});

describe('node:test describe', () => {
  it('uses node:test mock', () => {
    const fn = mock.fn(() => 7);
    assert.strictEqual(fn(), 7);
    assert.strictEqual(fn.mock.callCount(), 1);
  });
});
