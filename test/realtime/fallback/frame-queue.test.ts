// The queue of kept events of a fallback session: order, wrapping around the
// ring, growing past its capacity and shrinking back, clearing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameQueue } from '../../../src/realtime/server/fallback/frame-queue.js';

/** The items of `queue`, oldest first. */
function itemsOf<T>(queue: FrameQueue<T>): T[] {
  return Array.from({ length: queue.length }, (_, index) => queue.at(index)!);
}

describe('FrameQueue', () => {
  it('keeps items in order while they wrap around the ring', () => {
    const queue = new FrameQueue<number>();
    let next = 0;
    let oldest = 0;
    for (let round = 0; round < 100; round++) {
      for (let n = 0; n < 7; n++) queue.push(next++);
      for (let n = 0; n < 6; n++) assert.equal(queue.shift(), oldest++);
    }
    assert.equal(queue.length, 100);
    assert.deepEqual(itemsOf(queue), Array.from({ length: 100 }, (_, index) => oldest + index));
    assert.equal(queue.at(-1), undefined);
    assert.equal(queue.at(100), undefined);
  });

  it('grows past its capacity and shrinks back as items leave, in order throughout', () => {
    const queue = new FrameQueue<number>();
    for (let n = 0; n < 5000; n++) queue.push(n);
    assert.equal(queue.length, 5000);
    for (let n = 0; n < 4990; n++) assert.equal(queue.shift(), n);
    assert.deepEqual(itemsOf(queue), [4990, 4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999]);
    for (let n = 5000; n < 5040; n++) queue.push(n);
    assert.deepEqual(itemsOf(queue), Array.from({ length: 50 }, (_, index) => 4990 + index));
  });

  it('shift on an empty queue gives undefined; clear forgets everything', () => {
    const queue = new FrameQueue<string>();
    assert.equal(queue.shift(), undefined);
    for (let n = 0; n < 40; n++) queue.push(`event ${n}`);
    queue.clear();
    assert.equal(queue.length, 0);
    assert.equal(queue.shift(), undefined);
    queue.push('again');
    assert.deepEqual(itemsOf(queue), ['again']);
  });
});
