// How the game page draws between two states (src/cli/apps/web/game-interpolation.ts):
// positions and headings part of the way, the short way round, new players
// where they are, and no jump when a state arrives before the last one was
// reached.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { between, blend, tickProgress } from '../../src/cli/apps/web/game-interpolation.js';
import type { PlayerState } from '../../src/cli/apps/web/game-api.js';

const at = (id: number, x: number, y: number, heading = 0): PlayerState => ({ id, x, y, heading, score: 0, away: false, bot: false });
const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

describe('game interpolation', () => {
  it('measures how far into the tick a moment is, within 0 … 1', () => {
    assert.equal(tickProgress(1025, 1000, 50), 0.5);
    assert.equal(tickProgress(990, 1000, 50), 0);
    assert.equal(tickProgress(1200, 1000, 50), 1);
    assert.equal(tickProgress(1000, 1000, 0), 1);
  });

  it('draws a player part of the way, turning the short way round', () => {
    const drawn = between(at(1, 100, 200, 0.1), at(1, 110, 180, 2 * Math.PI - 0.1), 0.5);
    assert.ok(close(drawn.x, 105) && close(drawn.y, 190));
    assert.ok(close(drawn.heading, 0), `heading ${drawn.heading}: through 0, not through π`);
    assert.deepEqual(between(undefined, at(2, 5, 6), 0.3), at(2, 5, 6), 'a new player is drawn where it is');
    assert.deepEqual(between(at(1, 0, 0), at(1, 10, 10), 1), at(1, 10, 10));
  });

  it('blends every player of the current state; those gone are not drawn', () => {
    const previous = new Map([[1, at(1, 0, 0)], [2, at(2, 50, 50)]]);
    const current = new Map([[1, at(1, 20, 0)], [3, at(3, 7, 7)]]);
    const drawn = blend(previous, current, 0.25);
    assert.deepEqual([...drawn.keys()], [1, 3]);
    assert.ok(close(drawn.get(1)!.x, 5));
    assert.deepEqual(drawn.get(3), at(3, 7, 7));
  });

  it('a state that arrives early continues from where the player is drawn: no jump', () => {
    // States at x = 0, 10, 20; the third arrives 60% into the second tick.
    const first = new Map([[1, at(1, 0, 0)]]);
    const second = new Map([[1, at(1, 10, 0)]]);
    const shownAtArrival = blend(first, second, 0.6).get(1)!.x;
    const third = new Map([[1, at(1, 20, 0)]]);
    const from = blend(first, second, 0.6); // what the page keeps as the previous state
    assert.ok(close(blend(from, third, 0).get(1)!.x, shownAtArrival), 'the first frame after it draws the same place');
    assert.ok(close(blend(from, third, 1).get(1)!.x, 20));
  });
});
