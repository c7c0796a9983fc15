// The /game frame (src/cli/apps/web/game-api.ts): players and items packed
// into bytes and back, through MessagePack as the real-time layer carries
// them, and the checks the page runs on what arrives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import {
  ARENA_HEIGHT,
  ARENA_WIDTH,
  isGameFrame,
  isGameJoined,
  ITEM_RECORD,
  MAX_SCORE,
  packItems,
  packPlayers,
  PLAYER_RECORD,
  POSITION_SCALE,
  unpackItems,
  unpackPlayers,
  type GameFrame,
  type PlayerState,
} from '../../src/cli/apps/web/game-api.js';
import { GameWorld } from '../../src/cli/game-world.js';

const PLAYERS: PlayerState[] = [
  { id: 1, x: 12.5, y: 990.0625, heading: Math.PI / 2, score: 3, away: false, bot: false },
  { id: 65535, x: ARENA_WIDTH, y: 0, heading: 0, score: MAX_SCORE, away: true, bot: true },
];

describe('game frames', () => {
  it('pack players and items into fixed records and back, to 1/16 of a unit', () => {
    const bytes = packPlayers(PLAYERS);
    assert.equal(bytes.byteLength, PLAYERS.length * PLAYER_RECORD);
    assert.deepEqual(unpackPlayers(bytes), PLAYERS);
    const items = [{ x: 100.25, y: 7 }, { x: 0, y: ARENA_HEIGHT }];
    const packed = packItems(items);
    assert.equal(packed.byteLength, items.length * ITEM_RECORD);
    assert.deepEqual(unpackItems(packed), items);
  });

  it('clamp what the fields cannot hold', () => {
    const [player] = unpackPlayers(packPlayers([{ id: 7, x: -5, y: 1e9, heading: Number.NaN, score: 1e7, away: false, bot: false }]));
    assert.deepEqual(player, { id: 7, x: 0, y: ARENA_HEIGHT, heading: 0, score: MAX_SCORE, away: false, bot: false });
    const [turned] = unpackPlayers(packPlayers([{ ...PLAYERS[0]!, heading: -Math.PI / 2 }]));
    assert.ok(Math.abs(turned!.heading - (3 * Math.PI) / 2) < 1e-9, 'headings wrap into one turn');
  });

  it('round-trip a whole world through MessagePack', () => {
    const world = new GameWorld({ seed: 5 });
    for (let i = 0; i < 50; i++) world.join({ user: `u${i}`, name: `P${i}`, color: '#0b57d0', bot: i % 2 === 0 });
    for (let tick = 0; tick < 30; tick++) {
      world.players.forEach((player, i) => world.steer(player.id, Math.cos(i + tick), Math.sin(i * tick)));
      world.step();
    }
    const frame: GameFrame = { tick: world.tick, time: 1_700_000_000_000, players: packPlayers(world.playerStates()), items: packItems(world.items), roster: world.roster() };
    const decoded = decode(encode(frame));
    assert.ok(isGameFrame(decoded));
    assert.equal(decoded.tick, 30);
    assert.deepEqual(decoded.roster, world.roster());
    const players = unpackPlayers(decoded.players);
    assert.equal(players.length, 50);
    world.playerStates().forEach((player, i) => {
      const back = players[i]!;
      assert.equal(back.id, player.id);
      assert.ok(Math.abs(back.x - player.x) <= 0.5 / POSITION_SCALE && Math.abs(back.y - player.y) <= 0.5 / POSITION_SCALE);
      assert.ok(Math.abs(Math.cos(back.heading) - Math.cos(player.heading)) < 0.03);
      assert.deepEqual([back.score, back.away, back.bot], [player.score, player.away, player.bot]);
    });
    assert.deepEqual(unpackItems(decoded.items).length, world.items.length);
    // 50 players and 24 items without the roster: a few hundred bytes.
    const bytes = encode({ tick: frame.tick, time: frame.time, players: frame.players, items: frame.items }).byteLength;
    assert.ok(bytes < 50 * PLAYER_RECORD + 24 * ITEM_RECORD + 64, `${bytes} bytes`);
  });

  it('the page refuses malformed frames and join results', () => {
    const good: GameFrame = { tick: 1, time: 2, players: new Uint8Array(0), items: new Uint8Array(0) };
    assert.ok(isGameFrame(good));
    for (const bad of [null, [], { ...good, players: [1, 2] }, { ...good, tick: -1 }, { ...good, roster: [{ id: 1 }] }, { ...good, stats: { tickMs: 'fast' } }]) {
      assert.equal(isGameFrame(bad), false, JSON.stringify(bad));
    }
    const joined = { player: 1, seat: 'a'.repeat(24), channel: 'game:arena', tickRate: 20, frame: good };
    assert.ok(isGameJoined(joined));
    assert.equal(isGameJoined({ ...joined, channel: 'chat:lobby' }), false);
    assert.equal(isGameJoined({ ...joined, seat: '<b>' }), false);
  });
});
