// The /game arena's simulation (src/cli/game-world.ts), step by step with no
// clock: movement follows the clamped input at a fixed tick, walls stop
// players, items score, players who leave stand still for the grace period
// and can rejoin, and the same seed gives the same arena.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clampInput, createRandom, GameFullError, GameWorld } from '../../src/cli/game-world.js';
import { ARENA_HEIGHT, ARENA_WIDTH, ITEM_RADIUS, PLAYER_RADIUS } from '../../src/cli/apps/web/game-api.js';

const ADA = { user: 'guest-ada', name: 'Ada', color: '#0b57d0' };
const BOB = { user: 'guest-bob', name: 'Bob', color: '#b3261e' };

/** A world with no items in reach of anything: items only where a test puts them. */
function quietWorld(options: ConstructorParameters<typeof GameWorld>[0] = {}): GameWorld {
  return new GameWorld({ items: 0, ...options });
}

/** Puts player `id` at (x, y), still. */
function place(world: GameWorld, id: number, x: number, y: number): void {
  const player = world.player(id)!;
  Object.assign(player, { x, y, vx: 0, vy: 0 });
}

function run(world: GameWorld, ticks: number): void {
  for (let i = 0; i < ticks; i++) world.step();
}

describe('the game world', () => {
  it('clamps inputs: non-finite to 0, components to −1 … 1, vectors to length 1', () => {
    assert.deepEqual(clampInput(0.5, -0.25), { x: 0.5, y: -0.25 });
    assert.deepEqual(clampInput(Number.NaN, Number.POSITIVE_INFINITY), { x: 0, y: 0 });
    assert.deepEqual(clampInput(1e9, 0), { x: 1, y: 0 });
    const diagonal = clampInput(1, 1);
    assert.ok(Math.abs(Math.hypot(diagonal.x, diagonal.y) - 1) < 1e-12);
    assert.ok(Math.abs(diagonal.x - Math.SQRT1_2) < 1e-12);
    const huge = clampInput(-1e300, 1e300);
    assert.ok(Math.abs(Math.hypot(huge.x, huge.y) - 1) < 1e-12);
  });

  it('moves a player towards its input at a fixed tick, never faster than maxSpeed', () => {
    const world = quietWorld({ tickRate: 20, maxSpeed: 200, acceleration: 8 });
    const ada = world.join(ADA);
    place(world, ada.id, 400, 500);
    world.steer(ada.id, 1, 0);
    world.step();
    // One tick of 50 ms: the velocity goes 40% of the way to 200 (80 units/s), moving 4 units.
    assert.ok(Math.abs(ada.vx - 80) < 1e-9, `vx ${ada.vx}`);
    assert.ok(Math.abs(ada.x - 404) < 1e-9, `x ${ada.x}`);
    assert.equal(ada.y, 500);
    assert.ok(Math.abs(ada.heading) < 1e-12, 'heads along +x');
    run(world, 39);
    assert.equal(world.tick, 40);
    assert.ok(ada.vx <= 200 && ada.vx > 199, `vx ${ada.vx} after 2 s`);
    // A hostile input of any size moves no faster: the steer is clamped.
    world.steer(ada.id, 1e12, 1e12);
    run(world, 40);
    assert.ok(Math.hypot(ada.vx, ada.vy) <= 200 + 1e-9, `speed ${Math.hypot(ada.vx, ada.vy)}`);
    // Letting go stops it.
    world.steer(ada.id, 0, 0);
    run(world, 40);
    assert.deepEqual([ada.vx, ada.vy], [0, 0]);
  });

  it('stops players at the walls', () => {
    const world = quietWorld();
    const ada = world.join(ADA);
    place(world, ada.id, ARENA_WIDTH - 40, 30);
    world.steer(ada.id, 1, -1);
    run(world, 60);
    assert.equal(ada.x, ARENA_WIDTH - PLAYER_RADIUS);
    assert.equal(ada.y, PLAYER_RADIUS);
    place(world, ada.id, 30, ARENA_HEIGHT - 30);
    world.steer(ada.id, -1, 1);
    run(world, 60);
    assert.deepEqual([ada.x, ada.y], [PLAYER_RADIUS, ARENA_HEIGHT - PLAYER_RADIUS]);
  });

  it('scores an item a player touches, and moves the item elsewhere', () => {
    const world = new GameWorld({ items: 1, seed: 7 });
    const ada = world.join(ADA);
    const item = world.items[0]!;
    place(world, ada.id, item.x - (PLAYER_RADIUS + ITEM_RADIUS) - 3, item.y);
    world.steer(ada.id, 1, 0);
    let collected: number[] = [];
    for (let i = 0; i < 20 && collected.length === 0; i++) collected = world.step().collected;
    assert.deepEqual(collected, [ada.id]);
    assert.equal(ada.score, 1);
    assert.notDeepEqual(world.items[0], item, 'the item moved');
    assert.equal(world.items.length, 1);
  });

  it('join, leave, rejoin: a player who left stands still, scores nothing, and is removed after the grace period', () => {
    const world = new GameWorld({ tickRate: 20, grace: 1000, items: 0 });
    const ada = world.join(ADA);
    const bob = world.join(BOB);
    assert.notEqual(ada.id, bob.id);
    assert.deepEqual(world.roster().map((entry) => entry.name), ['Ada', 'Bob']);
    const version = world.rosterVersion;
    world.steer(bob.id, 1, 0);
    run(world, 5);
    world.leave(bob.id);
    assert.equal(bob.away, true);
    world.steer(bob.id, -1, 0);
    assert.deepEqual(bob.input, { x: 0, y: 0 }, 'a player who is away cannot be steered');
    run(world, 19);
    assert.ok(world.player(bob.id) !== undefined, 'kept during the grace period');
    assert.equal(world.rejoin(bob.id), true);
    assert.equal(bob.away, false);
    assert.equal(world.rosterVersion, version, 'a rejoin is the same player: the roster did not change');
    // Leaves again and stays away: gone after 1 s = 20 ticks.
    world.leave(bob.id);
    run(world, 19);
    assert.ok(world.player(bob.id) !== undefined);
    const { removed } = world.step();
    assert.deepEqual(removed, [bob.id]);
    assert.equal(world.player(bob.id), undefined);
    assert.equal(world.rejoin(bob.id), false, 'too late');
    assert.equal(world.rosterVersion, version + 1);
    assert.deepEqual(world.roster().map((entry) => entry.name), ['Ada']);
  });

  it('refuses players beyond maxPlayers; the player away the longest can make room', () => {
    const world = quietWorld({ maxPlayers: 3 });
    const ada = world.join(ADA);
    const bob = world.join(BOB);
    const cy = world.join({ ...ADA, user: 'cy' });
    assert.equal(world.full, true);
    assert.throws(() => world.join({ ...ADA, user: 'fourth' }), GameFullError);
    assert.equal(world.evictLongestAway(), undefined, 'nobody is away: nobody goes');
    world.leave(cy.id);
    world.step();
    world.leave(ada.id);
    assert.equal(world.evictLongestAway(), cy.id, 'away since an earlier tick');
    assert.equal(world.full, false);
    world.join({ ...ADA, user: 'fourth' });
    assert.deepEqual(world.players.map((player) => player.id).sort(), [ada.id, bob.id, 4].sort());
  });

  it('is deterministic: the same seed and the same calls give the same arena', () => {
    const play = (): string => {
      const world = new GameWorld({ seed: 42 });
      const ada = world.join(ADA);
      const bob = world.join(BOB);
      for (let tick = 0; tick < 200; tick++) {
        world.steer(ada.id, Math.cos(tick / 10), Math.sin(tick / 10));
        world.steer(bob.id, -1, (tick % 7) / 7);
        world.step();
      }
      return JSON.stringify([world.playerStates(), world.items]);
    };
    assert.equal(play(), play());
    const other = new GameWorld({ seed: 43 });
    assert.notDeepEqual(other.items, new GameWorld({ seed: 42 }).items);
  });

  it('draws random numbers in [0, 1)', () => {
    const random = createRandom(1);
    for (let i = 0; i < 10_000; i++) {
      const value = random();
      assert.ok(value >= 0 && value < 1);
    }
  });
});
