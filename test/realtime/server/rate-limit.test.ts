/** The token bucket of the per-connection rate limit, on a fake clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteBudget, checkByteBudget, checkRateLimit, TokenBucket } from '../../../src/realtime/server/rate-limit.js';

describe('TokenBucket', () => {
  test('a burst, then the refill rate; rejections in a row lead to disconnect', () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3, disconnectAfter: 3 }, () => now);
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], ['ok', 'ok', 'ok']);
    assert.equal(bucket.take(), 'reject');
    now += 100; // one token
    assert.equal(bucket.take(), 'ok');
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], ['reject', 'reject', 'disconnect']);
  });

  test('an accepted command resets the count of rejections', () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 1, disconnectAfter: 2 }, () => now);
    assert.equal(bucket.take(), 'ok');
    assert.equal(bucket.take(), 'reject');
    now += 100;
    assert.equal(bucket.take(), 'ok');
    assert.equal(bucket.take(), 'reject');
    now += 1000; // the bucket holds at most `burst`
    assert.equal(bucket.take(), 'ok');
    assert.equal(bucket.take(), 'reject');
    assert.equal(bucket.take(), 'disconnect');
  });

  test('options are checked', () => {
    assert.throws(() => checkRateLimit({ perSecond: 0, burst: 1, disconnectAfter: 1 }), TypeError);
    assert.throws(() => checkRateLimit({ perSecond: 1, burst: 0.5, disconnectAfter: 1 }), TypeError);
    assert.throws(() => checkRateLimit({ perSecond: 1, burst: 1, disconnectAfter: 0 }), TypeError);
  });
});

describe('ByteBudget', () => {
  test('a burst of bytes, then the refill rate; what does not fit is refused and not taken', () => {
    let now = 0;
    const budget = new ByteBudget({ perSecond: 1000, burst: 3000 }, () => now);
    assert.equal(budget.take(2000), true);
    assert.equal(budget.take(1500), false, '1 000 left');
    assert.equal(budget.take(1000), true);
    assert.equal(budget.take(1), false);
    now += 500; // 500 bytes back
    assert.equal(budget.take(500), true);
    now += 60_000; // at most `burst`
    assert.equal(budget.take(3001), false);
    assert.equal(budget.take(3000), true);
  });

  test('options are checked', () => {
    assert.throws(() => checkByteBudget({ perSecond: 0, burst: 1 }), TypeError);
    assert.throws(() => checkByteBudget({ perSecond: 1, burst: 0 }), TypeError);
    assert.throws(() => checkByteBudget({ perSecond: Infinity, burst: 1 }), TypeError);
  });
});
