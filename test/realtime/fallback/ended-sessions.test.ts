// The memory of fallback sessions that ended here: bounded in time and in count.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndedSessions } from '../../../src/realtime/server/fallback/ended-sessions.js';

describe('EndedSessions', () => {
  it('remembers an ended session for its memory, then forgets it', () => {
    let now = 1_000;
    const ended = new EndedSessions(60_000, 10, () => now);
    ended.add('a');
    assert.equal(ended.has('a'), true);
    assert.equal(ended.has('b'), false);
    now += 59_999;
    assert.equal(ended.has('a'), true);
    now += 1;
    assert.equal(ended.has('a'), false);
    assert.equal(ended.size, 0);
  });

  it('keeps at most `max` ids, forgetting the oldest first', () => {
    let now = 0;
    const ended = new EndedSessions(60_000, 3, () => now);
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      ended.add(id);
      now += 1;
    }
    assert.equal(ended.size, 3);
    assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((id) => ended.has(id)), [false, false, true, true, true]);
  });

  it('old ids go when new ones come, whatever the count', () => {
    let now = 0;
    const ended = new EndedSessions(1_000, 100, () => now);
    ended.add('old');
    now = 5_000;
    ended.add('new');
    assert.equal(ended.size, 1);
    assert.equal(ended.has('new'), true);
  });
});
