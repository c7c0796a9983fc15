import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_OFFLINE_QUEUE, OfflineQueue } from '../../../src/realtime/sdk/offline-queue.js';

describe('sdk offline queue', () => {
  it('keeps items in order up to its capacity', () => {
    const queue = new OfflineQueue<string>(3);
    assert.deepEqual(['a', 'b', 'c', 'd'].map((item) => queue.push(item)), [true, true, true, false]);
    assert.equal(queue.size, 3);
    assert.deepEqual(queue.drain(), ['a', 'b', 'c']);
    assert.equal(queue.size, 0);
    assert.equal(queue.push('e'), true);
  });

  it('removes an item from the middle', () => {
    const queue = new OfflineQueue<string>(5);
    for (const item of ['a', 'b', 'c']) queue.push(item);
    assert.equal(queue.remove('b'), true);
    assert.equal(queue.remove('x'), false);
    assert.deepEqual(queue.drain(), ['a', 'c']);
  });

  it('defaults to 100 and refuses a negative capacity; 0 queues nothing', () => {
    assert.equal(new OfflineQueue().capacity, DEFAULT_MAX_OFFLINE_QUEUE);
    assert.equal(DEFAULT_MAX_OFFLINE_QUEUE, 100);
    assert.throws(() => new OfflineQueue(-1), RangeError);
    assert.equal(new OfflineQueue<number>(0).push(1), false);
  });
});
