// TypeScript runs without a build step (tsx, registered inside the worker).
import assert from 'node:assert/strict';
import { describe, it } from 'subrun/test';

interface Point {
  x: number;
  y: number;
}

const add = (a: Point, b: Point): Point => ({ x: a.x + b.x, y: a.y + b.y });

describe('points', () => {
  it('add', () => {
    assert.deepEqual(add({ x: 1, y: 2 }, { x: 3, y: 4 }), { x: 4, y: 6 });
  });

  it('reports a typed failure', () => {
    const p: Point = add({ x: 0, y: 0 }, { x: 1, y: 1 });
    assert.equal(p.x, 2);
  });
});
