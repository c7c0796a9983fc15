import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Backoff,
  backoffCeiling,
  backoffDelay,
  DEFAULT_FACTOR,
  DEFAULT_MAX_DELAY,
  DEFAULT_MIN_DELAY,
  resolveBackoff,
} from '../../../src/realtime/sdk/backoff.js';

describe('sdk backoff', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(resolveBackoff(), { minDelay: 500, maxDelay: 20_000, factor: 2 });
    assert.equal(DEFAULT_MIN_DELAY, 500);
    assert.equal(DEFAULT_MAX_DELAY, 20_000);
    assert.equal(DEFAULT_FACTOR, 2);
  });

  it('grows the ceiling by the factor and caps it at maxDelay', () => {
    const options = resolveBackoff();
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 100, 5000].map((attempt) => backoffCeiling(attempt, options)),
      [500, 1000, 2000, 4000, 8000, 16_000, 20_000, 20_000, 20_000, 20_000],
    );
    assert.equal(backoffCeiling(3, resolveBackoff({ minDelay: 100, maxDelay: 1000, factor: 3 })), 1000);
    assert.equal(backoffCeiling(2, resolveBackoff({ minDelay: 100, maxDelay: 1000, factor: 3 })), 900);
  });

  it('is full jitter: random() times the ceiling, from 0 up to (not including) the ceiling', () => {
    const options = resolveBackoff();
    assert.equal(backoffDelay(3, options, () => 0), 0);
    assert.equal(backoffDelay(3, options, () => 0.5), 2000);
    assert.equal(backoffDelay(3, options, () => 0.999_999), 3999);
    fc.assert(
      fc.property(
        fc.nat(60),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        (attempt, random, minDelay, extra, factor) => {
          const resolved = resolveBackoff({ minDelay, maxDelay: minDelay + extra, factor });
          const ceiling = backoffCeiling(attempt, resolved);
          const delay = backoffDelay(attempt, resolved, () => random);
          assert.ok(ceiling <= resolved.maxDelay);
          assert.ok(delay >= 0 && (delay < ceiling || (ceiling === 0 && delay === 0)), `delay ${delay}, ceiling ${ceiling}`);
          assert.equal(delay, Math.floor(random * ceiling));
        },
      ),
    );
  });

  it('spreads delays over the whole range (not around the ceiling)', () => {
    const options = resolveBackoff({ minDelay: 1000, maxDelay: 1000 });
    const delays = Array.from({ length: 2000 }, () => backoffDelay(0, options));
    assert.ok(Math.min(...delays) < 100, 'some delays are short');
    assert.ok(Math.max(...delays) > 900, 'some delays are long');
    const mean = delays.reduce((sum, delay) => sum + delay, 0) / delays.length;
    assert.ok(mean > 400 && mean < 600, `mean ${mean} is near half the ceiling`);
  });

  it('Backoff counts attempts and starts over after reset()', () => {
    const backoff = new Backoff({ minDelay: 100, maxDelay: 10_000 }, () => 0.5);
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [50, 100, 200]);
    assert.equal(backoff.attempt, 3);
    backoff.reset();
    assert.equal(backoff.attempt, 0);
    assert.equal(backoff.next(), 50);
  });

  it('refuses settings that make no sense', () => {
    assert.throws(() => resolveBackoff({ minDelay: -1 }), RangeError);
    assert.throws(() => resolveBackoff({ minDelay: 1000, maxDelay: 10 }), RangeError);
    assert.throws(() => resolveBackoff({ factor: 0.5 }), RangeError);
    assert.throws(() => resolveBackoff({ minDelay: Number.NaN }), RangeError);
    assert.equal(backoffCeiling(10, resolveBackoff({ minDelay: 0, maxDelay: 0 })), 0);
  });
});
