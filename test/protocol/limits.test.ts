// Message limits: defaults, the deflated bound, and the resolved limits every connection shares.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compressedBound, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, frameLimitsOf } from '../../src/protocol/limits.js';

describe('frameLimitsOf', () => {
  test('resolves the defaults and the wire limits of a compressed message', () => {
    const limits = frameLimitsOf({});
    assert.equal(limits.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE);
    assert.equal(limits.maxFrameSize, DEFAULT_MAX_MESSAGE_SIZE, 'a frame may be as large as a message');
    assert.equal(limits.maxFragments, DEFAULT_MAX_FRAGMENTS);
    assert.equal(limits.maxCompressedMessageSize, compressedBound(DEFAULT_MAX_MESSAGE_SIZE));
    const custom = frameLimitsOf({ maxMessageSize: 1000, maxFrameSize: 100, maxFragments: 3 });
    assert.deepEqual({ ...custom }, {
      maxMessageSize: 1000,
      maxFrameSize: 100,
      maxFragments: 3,
      maxCompressedMessageSize: compressedBound(1000),
      maxCompressedFrameSize: compressedBound(100),
    });
  });

  test('equal limits give the same frozen object, other limits another', () => {
    const first = frameLimitsOf({ maxMessageSize: 4096 });
    const again = frameLimitsOf({ maxMessageSize: 4096, maxFrameSize: 4096, maxFragments: DEFAULT_MAX_FRAGMENTS });
    assert.equal(again, first, 'one object for every connection with these limits');
    assert.ok(Object.isFrozen(first));
    const other = frameLimitsOf({ maxMessageSize: 8192 });
    assert.notEqual(other, first);
    assert.equal(other.maxMessageSize, 8192);
    assert.equal(first.maxMessageSize, 4096, 'a later call does not change an object handed out');
  });
});
