// Bot players of the /game arena (src/cli/game-bots.ts): they join as bots,
// steer within the clamped input, and collect items.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GameBots, MAX_GAME_BOTS } from '../../src/cli/game-bots.js';
import { GameWorld } from '../../src/cli/game-world.js';

describe('game bots', () => {
  it('join as bots and score by heading for items', () => {
    const world = new GameWorld({ seed: 3 });
    const bots = new GameBots(world);
    bots.add(10);
    assert.equal(bots.count, 10);
    assert.ok(world.players.every((player) => player.bot && player.user === ''));
    assert.deepEqual(world.roster().slice(0, 2).map((entry) => entry.name), ['Bot 1', 'Bot 2']);
    for (let tick = 0; tick < 20 * 30; tick++) {
      bots.steer();
      for (const bot of world.players) assert.ok(Math.hypot(bot.input.x, bot.input.y) <= 1 + 1e-9);
      world.step();
    }
    const total = world.players.reduce((sum, player) => sum + player.score, 0);
    assert.ok(total >= 10, `bots scored ${total} in 30 s`);
  });

  it(`refuses more than ${MAX_GAME_BOTS}`, () => {
    const bots = new GameBots(new GameWorld());
    assert.throws(() => bots.add(MAX_GAME_BOTS + 1), RangeError);
    assert.throws(() => bots.add(-1), RangeError);
    assert.equal(bots.count, 0);
  });
});
