// The /game arena on a real-time server (src/cli/game-server.ts), through the
// Node SDK over real sockets in MessagePack, as the page speaks: frames at
// the tick rate with the packed players, join and input (checked by the
// demo's schemas, clamped, rate-bounded per player), a late joiner that gets
// the arena at once, and a dropped or reloaded player that comes back as the
// same player — only with its own seat and its own guest identity.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRealtimeServer, type RealtimeServer } from '../../src/realtime/server/index.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import type { RealtimeError } from '../../src/realtime/sdk/index.js';
import type { ConnectResult } from '../../src/realtime/wire/messages.js';
import { DEMO_SCHEMAS } from '../../src/cli/apps/schemas.js';
import type { DemoApi } from '../../src/cli/apps/web/api.js';
import { isGameFrame, unpackPlayers, type GameFrame, type GameJoined, type PlayerState } from '../../src/cli/apps/web/game-api.js';
import { GameServer } from '../../src/cli/game-server.js';
import { demoNamespaces } from '../../src/cli/serve-config.js';
import { demoAuthenticate } from '../../src/cli/serve-server.js';
import { GuestIdentities } from '../../src/cli/serve-guests.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { requirePeer } from '../interop/peers.js';
import { eventually, guest, startServe } from './serve-helpers.js';

interface Player {
  client: RealtimeClient<DemoApi>;
  connected: ConnectResult;
  frames: GameFrame[];
}

const clients: Array<RealtimeClient<DemoApi>> = [];

/** A guest in MessagePack, presenting `id` (an earlier guest token to be the same user). */
async function connect(port: number, name: string, id = `test-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<Player> {
  const hello = { name, id };
  const client = new RealtimeClient<DemoApi>(`ws://127.0.0.1:${port}/`, { data: hello, protocol: 'msgpack', reconnect: { minDelay: 50, maxDelay: 200 } });
  clients.push(client);
  // As the pages do: the guest token of the connect result is what the next connect presents, to stay the same user.
  client.on('connected', (result) => (hello.id = guestToken(result)));
  const connected = new Promise<ConnectResult>((resolve) => client.once('connected', resolve));
  client.connect();
  return { client, connected: await connected, frames: [] };
}

/** Joins (with `seat`) and follows the arena's frames. */
async function join(player: Player, seat?: string): Promise<GameJoined> {
  const joined = await player.client.call('game.join', seat === undefined ? {} : { seat });
  player.client.subscribe(joined.channel as `game:${string}`).on('publication', ({ data }) => {
    assert.ok(isGameFrame(data), 'every publication is a frame with byte arrays');
    player.frames.push(data);
  });
  return joined;
}

function latest(player: Player, id: number): PlayerState | undefined {
  const frame = player.frames[player.frames.length - 1];
  return frame === undefined ? undefined : unpackPlayers(frame.players).find((state) => state.id === id);
}

function guestToken(connected: ConnectResult): string {
  return (connected.data as { id: string }).id;
}

describe('the game server', () => {
  let rt: RealtimeServer<DemoApi>;
  let game: GameServer;
  let port: number;

  before(async () => {
    rt = createRealtimeServer<DemoApi>({
      port: 0,
      host: '127.0.0.1',
      namespaces: demoNamespaces(1),
      schemas: DEMO_SCHEMAS,
      auth: { anonymous: false, authenticate: demoAuthenticate(true, 1, new GuestIdentities('a-test-secret-of-enough-length-000')) },
    });
    await rt.ready();
    port = rt.port;
    game = new GameServer(rt, { tickRate: 20, maxInputsPerSecond: 10, grace: 60_000, bots: 3 });
    game.start();
  });
  after(async () => {
    for (const client of clients) client.close();
    game.stop();
    await rt.close();
  });

  it('a player joins, gets the arena at once, and frames follow at the tick while subscribed', async () => {
    const ada = await connect(port, 'Ada');
    const joined = await join(ada);
    assert.equal(joined.channel, 'game:arena');
    assert.equal(joined.tickRate, 20);
    assert.ok(isGameFrame(joined.frame));
    const roster = joined.frame.roster!;
    assert.ok(roster.some((entry) => entry.id === joined.player && entry.name.startsWith('Ada') && entry.user === ada.connected.user));
    assert.equal(roster.filter((entry) => entry.user === '').length, 3, 'the bots');
    assert.ok(unpackPlayers(joined.frame.players).some((state) => state.id === joined.player));
    await eventually(() => (ada.frames.length >= 20 ? true : undefined), 10_000, '20 frames');
    const ticks = ada.frames.map((frame) => frame.tick);
    assert.ok(ticks.every((tick, i) => i === 0 || tick === ticks[i - 1]! + 1), 'one frame per tick, in order');
    // The roster comes once a second (and when it changes), not every tick.
    assert.ok(ada.frames.filter((frame) => frame.roster !== undefined).length < ada.frames.length / 2);
    await eventually(() => ada.frames.find((frame) => frame.stats !== undefined), 5000, 'a frame with stats');
    assert.ok(game.stats.frameBytes > 0 && game.stats.tickMs > 0);
  });

  it('steers with game.input; out-of-range inputs are refused by the schema, and a flood is cut per player', async () => {
    const bob = await connect(port, 'Bob');
    const joined = await join(bob);
    await eventually(() => latest(bob, joined.player), 5000, 'bob in a frame');
    const start = latest(bob, joined.player)!;
    const direction = start.x < 800 ? 1 : -1;
    await bob.client.call('game.input', { x: direction, y: 0 });
    await eventually(() => (Math.abs(latest(bob, joined.player)!.x - start.x) > 50 ? true : undefined), 5000, 'bob moved');
    for (const params of [{ x: 2, y: 0 }, { x: 0, y: Number.NaN }, { x: 0 }, { x: 0, y: 0, speed: 9 }, { x: '1', y: 0 }]) {
      await assert.rejects(bob.client.call('game.input', params as never), (error: RealtimeError) => error.code === 'invalid_data', JSON.stringify(params));
    }
    // 40 inputs at once against a budget of 10 a second: most are refused, Bob is no faster for it, and someone else's frames keep coming, one per tick.
    const other = await connect(port, 'Other');
    await join(other);
    await eventually(() => (other.frames.length > 0 ? true : undefined), 5000, 'other gets frames');
    const watched = other.frames.length;
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => bob.client.call('game.input', { x: -direction, y: 0 })));
    const refused = results.filter((result) => result.status === 'rejected');
    assert.ok(refused.length >= 25, `${refused.length} of 40 refused`);
    assert.ok(refused.every((result) => (result.reason as RealtimeError).code === 'rate_limited'));
    const before = bob.frames.length;
    await eventually(() => (bob.frames.length >= before + 10 ? true : undefined), 5000, 'ten more frames');
    const recent = bob.frames.slice(-10).map((frame) => unpackPlayers(frame.players).find((state) => state.id === joined.player)!);
    for (let i = 1; i < recent.length; i++) {
      const step = Math.hypot(recent[i]!.x - recent[i - 1]!.x, recent[i]!.y - recent[i - 1]!.y);
      assert.ok(step <= game.world.maxSpeed / 20 + 0.2, `moved ${step} units in one tick`);
    }
    await eventually(() => (other.frames.length >= watched + 10 ? true : undefined), 5000, 'the other player keeps getting frames');
    const ticks = other.frames.slice(watched).map((frame) => frame.tick);
    assert.ok(ticks.every((tick, i) => i === 0 || tick === ticks[i - 1]! + 1), `one frame per tick during the flood: ${ticks.join(',')}`);
    // Without a join, no steering.
    const carl = await connect(port, 'Carl');
    await assert.rejects(carl.client.call('game.input', { x: 1, y: 0 }), (error: RealtimeError) => error.code === 'forbidden');
  });

  it('a late joiner gets every player in the join result, before any frame', async () => {
    const first = await connect(port, 'First');
    const second = await connect(port, 'Second');
    const a = await join(first);
    const b = await join(second);
    const late = await connect(port, 'Late');
    const joined = await late.client.call('game.join', {});
    const ids = unpackPlayers(joined.frame.players).map((state) => state.id);
    assert.ok(ids.includes(a.player) && ids.includes(b.player) && ids.includes(joined.player));
    const names = joined.frame.roster!.map((entry) => entry.name);
    assert.ok(names.some((name) => name.startsWith('First')) && names.some((name) => name.startsWith('Second')));
  });

  it('a dropped connection leaves its player away; the reconnect rejoins with the seat as the same player', async () => {
    const dee = await connect(port, 'Dee');
    const watcher = await connect(port, 'Watcher');
    const joined = await join(dee);
    await join(watcher);
    await dee.client.call('game.input', { x: 0, y: 1 });
    await eventually(() => (latest(watcher, joined.player)?.y ?? 0) > 0 ? true : undefined, 5000, 'dee seen');
    const reconnected = new Promise((resolve) => dee.client.once('connected', resolve));
    await rt.client(dee.connected.client).disconnect({ code: 4000, reason: 'network cut' });
    await eventually(() => (latest(watcher, joined.player)?.away === true ? true : undefined), 5000, 'dee away');
    const away = latest(watcher, joined.player)!;
    await reconnected;
    const again = await dee.client.call('game.join', { seat: joined.seat });
    assert.equal(again.player, joined.player, 'the same player');
    assert.equal(again.seat, joined.seat);
    await eventually(() => (latest(watcher, joined.player)?.away === false ? true : undefined), 5000, 'dee back');
    assert.ok(latest(watcher, joined.player)!.score >= away.score, 'the score is kept');
    await dee.client.call('game.input', { x: 0, y: -1 });
    const y = latest(watcher, joined.player)!.y;
    await eventually(() => (latest(watcher, joined.player)!.y < y - 20 ? true : undefined), 5000, 'dee steers again');
  });

  it('a reload (a new connection of the same guest) comes back with the seat; another user cannot take it', async () => {
    const eve = await connect(port, 'Eve');
    const joined = await join(eve);
    eve.client.close();
    const reloaded = await connect(port, 'Eve', guestToken(eve.connected));
    assert.equal(reloaded.connected.user, eve.connected.user, 'the same guest');
    const again = await reloaded.client.call('game.join', { seat: joined.seat });
    assert.equal(again.player, joined.player);
    const thief = await connect(port, 'Mallory');
    const stolen = await thief.client.call('game.join', { seat: joined.seat });
    assert.notEqual(stolen.player, joined.player, 'a seat is only good for its own user');
    assert.notEqual(stolen.seat, joined.seat);
    await assert.rejects(thief.client.call('game.join', { seat: '<script>' } as never), (error: RealtimeError) => error.code === 'invalid_data');
  });

  it('ticks only while its channel has a subscriber', async () => {
    for (const client of clients.splice(0)) client.close();
    await eventually(() => (game.running ? undefined : true), 5000, 'the arena paused');
    const tick = game.world.tick;
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(game.world.tick, tick);
  });
});

describe('the game under switchboard serve --workers 2', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);

  it('each worker runs an arena of its own, for the connections it serves', options, async () => {
    const store = await RedisServer.start();
    const serve = await startServe(['--port', '0', '--redis', store.url, '--workers', '2']);
    const players: Array<RealtimeClient<DemoApi>> = [];
    try {
      const workers = new Map<number, GameJoined>();
      for (let i = 0; i < 8 && workers.size < 2; i++) {
        const { client, connected } = await guest(serve.port, `W${i}`);
        players.push(client);
        const joined = await client.call('game.join', {});
        assert.equal(joined.channel, `game:w${connected.data.worker}`, 'the arena of the worker that serves the connection');
        workers.set(connected.data.worker, joined);
      }
      assert.equal(workers.size, 2, 'connections reached both workers');
      const [one, two] = [workers.get(1)!, workers.get(2)!];
      // (These clients speak JSON: the frames' byte arrays are not read here, the rosters are.)
      assert.ok(one.frame.roster!.some((entry) => entry.id === one.player) && two.frame.roster!.some((entry) => entry.id === two.player));
      assert.ok(two.frame.roster!.every((entry) => !one.frame.roster!.some((other) => other.user === entry.user)), 'no player is in both arenas');
    } finally {
      for (const client of players) client.close();
      await serve.stop();
      await store.stop();
    }
  });
});
