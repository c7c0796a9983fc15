// firstAfter: the first `limit` entries after a cursor, sorted, as sorting
// everything would give them — for any keys (property test against the
// sort), in a walk page by page, and refusing a limit under 1.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareKeys, firstAfter } from '../../../src/realtime/server/listing-page.js';

/** What a page is, by its definition: filter, sort everything, cut. */
function bySorting(keys: string[], after: string | undefined, limit: number): { entries: string[]; more: boolean } {
  const sorted = keys.filter((key) => after === undefined || key > after).sort(compareKeys);
  return { entries: sorted.slice(0, limit), more: sorted.length > limit };
}

const key = fc.string({ unit: fc.constantFrom('a', 'b', 'z', 'é', '😀', ':', '\u0000'), maxLength: 6 });

describe('firstAfter', () => {
  it('gives what sorting everything and cutting gives, for any keys, cursor and limit', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 200 }), fc.option(key, { nil: undefined }), fc.integer({ min: 1, max: 50 }), (keys, after, limit) => {
        assert.deepEqual(firstAfter(keys, after, limit, (entry) => entry), bySorting(keys, after, limit));
      }),
      { numRuns: 500 },
    );
  });

  it('walks 10,000 entries page by page: each once, in order, and the last page says no more', () => {
    const entries = Array.from({ length: 10_000 }, (_, index) => ({ channel: `room:${(index * 7919) % 10_000}`, count: index }));
    const walked: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = firstAfter(entries, after, 300, (entry) => entry.channel);
      pages++;
      walked.push(...page.entries.map((entry) => entry.channel));
      if (!page.more) break;
      after = page.entries[page.entries.length - 1]!.channel;
    }
    assert.equal(pages, Math.ceil(10_000 / 300));
    assert.deepEqual(walked, entries.map((entry) => entry.channel).sort(compareKeys));
  });

  it('refuses a limit under 1 or not an integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) assert.throws(() => firstAfter(['a'], undefined, limit, (entry) => entry), RangeError);
  });
});
