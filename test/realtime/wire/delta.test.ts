// The delta format of docs/protocol.md §5.4: apply(base, diff(base, target)) is target for any text or bytes,
// a delta is smaller than its target when the two share most of their content, and a delta against the wrong
// base is refused rather than rebuilt into something else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyBytes, applyText, DeltaError, diffBytes, diffText } from '../../../src/realtime/wire/delta.js';

/** Pairs of texts that share parts (a target made of slices of its base and new text), as well as unrelated ones. */
const relatedTexts = fc
  .tuple(fc.string({ unit: 'binary', maxLength: 300 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 60 }), fc.string({ unit: 'grapheme', maxLength: 8 })), { maxLength: 12 }))
  .map(([base, edits]) => {
    let target = '';
    for (const [start, count, insert] of edits) {
      const from = base.length === 0 ? 0 : start % base.length;
      target += base.slice(from, from + count) + insert;
    }
    return [base, target] as const;
  });

describe('delta format', () => {
  it('rebuilds any target text from its base', () => {
    fc.assert(
      fc.property(fc.oneof(relatedTexts, fc.tuple(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }))), ([base, target]) => {
        const delta = diffText(base, target);
        // Through JSON, as it travels (lone surrogates included).
        assert.equal(applyText(base, JSON.parse(JSON.stringify(delta))), target);
      }),
      { numRuns: 500 },
    );
  });

  it('rebuilds any target bytes from their base', () => {
    const related = fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 80 }), fc.uint8Array({ maxLength: 6 })), { maxLength: 10 })).map(([base, edits]) => {
      const parts: number[] = [];
      for (const [start, count, insert] of edits) {
        const from = base.length === 0 ? 0 : start % base.length;
        parts.push(...base.subarray(from, from + count), ...insert);
      }
      return [base, Uint8Array.from(parts)] as const;
    });
    fc.assert(
      fc.property(fc.oneof(related, fc.tuple(fc.uint8Array(), fc.uint8Array())), ([base, target]) => {
        assert.deepEqual(applyBytes(base, diffBytes(base, target)), target);
      }),
      { numRuns: 500 },
    );
  });

  it('is small for a ticker update against the previous one', () => {
    const base = JSON.stringify({ symbol: 'ACME', bid: 101.25, ask: 101.27, last: 101.26, volume: 1203400, change: 0.0132, time: 1733370000000 });
    const target = JSON.stringify({ symbol: 'ACME', bid: 101.26, ask: 101.29, last: 101.27, volume: 1203900, change: 0.0133, time: 1733370000250 });
    const delta = JSON.stringify(diffText(base, target));
    assert.ok(delta.length < target.length * 0.75, `${delta.length} vs ${target.length}`);
    assert.equal(applyText(base, JSON.parse(delta)), target);
  });

  it('refuses a delta applied to another base, and malformed deltas', () => {
    const base = '{"symbol":"ACME","bid":101.25,"ask":101.27,"last":101.26}';
    const target = '{"symbol":"ACME","bid":101.26,"ask":101.27,"last":101.27}';
    const delta = diffText(base, target);
    assert.throws(() => applyText(base.replace('ACME', 'ACMF'), delta), DeltaError);
    assert.throws(() => applyText(base, [1]), DeltaError);
    assert.throws(() => applyText(base, [5, 0, 0, 500]), DeltaError);
    assert.throws(() => applyText(base, { length: 1 }), DeltaError);
    assert.throws(() => applyBytes(new Uint8Array(4), [2, 0, 0, 9]), DeltaError);
  });
});
