/** The token bucket of the per-connection rate limit, on a fake clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRateLimit, TokenBucket } from '../../../src/realtime/server/rate-limit.js';

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
