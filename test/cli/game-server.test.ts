// The /game arena on a real-time server (src/cli/game-server.ts), through the
// Node SDK over real sockets in MessagePack, as the page speaks: frames at
// the tick rate with the packed players, join and input (checked by the
// demo's schemas, clamped, rate-bounded per player), a late joiner that gets
// the arena at once, and a dropped or reloaded player that comes back as the
// same player — only with its own seat and its own guest identity. Under
// `serve --workers 2` with Redis: one arena for the cluster, run by worker 1,
// whose players on either worker see each other, steer through the relay,
// and come back as the same player on the other worker.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRealtimeServer, type RealtimeServer } from '../../src/realtime/server/index.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import type { RealtimeError } from '../../src/realtime/sdk/index.js';
import type { ConnectResult } from '../../src/realtime/wire/messages.js';
import { DEMO_SCHEMAS } from '../../src/cli/apps/schemas.js';
import type { DemoApi, DemoConnectData } from '../../src/cli/apps/web/api.js';
import { isGameFrame, unpackPlayers, type GameFrame, type GameJoined, type PlayerState } from '../../src/cli/apps/web/game-api.js';
import { GameServer } from '../../src/cli/game-server.js';
import { demoNamespaces } from '../../src/cli/serve-config.js';
import { demoAuthenticate } from '../../src/cli/serve-server.js';
import { GuestIdentities } from '../../src/cli/serve-guests.js';
import { Redis } from 'ioredis';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { requirePeer } from '../interop/peers.js';
import { eventually, startServe, channelOffset, offsetStandingStill } from './serve-helpers.js';

interface Player {
  client: RealtimeClient<DemoApi>;
  connected: ConnectResult;
  frames: GameFrame[];
}

const clients: Array<RealtimeClient<DemoApi>> = [];

/** A guest in MessagePack, presenting `id` (an earlier guest token to be the same user). */
async function connect(port: number, name: string, id = `test-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`, path = '/'): Promise<Player> {
  const hello = { name, id };
  const client = new RealtimeClient<DemoApi>(`ws://127.0.0.1:${port}${path}`, { data: hello, protocol: 'msgpack', reconnect: { minDelay: 50, maxDelay: 200 } });
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

  it('one arena for the cluster: players on both workers see each other, steer, and come back on the other worker', options, async () => {
    const store = await RedisServer.start();
    const serve = await startServe(['--port', '0', '--redis', store.url, '--workers', '2']);
    const mine: Array<RealtimeClient<DemoApi>> = [];
    const inspector = new Redis(store.url, { lazyConnect: true });
    /** A MessagePack guest on the serve's endpoint; `id` to be the same user again. */
    const connectTo = async (name: string, id?: string): Promise<Player & { worker: number }> => {
      const player = await connect(serve.port, name, id, '/rt');
      mine.push(player.client);
      return { ...player, worker: (player.connected.data as DemoConnectData).worker };
    };
    try {
      // A connection on each worker (the primary hands connections to the workers in turn).
      const byWorker = new Map<number, Player & { worker: number }>();
      for (let i = 0; i < 16 && byWorker.size < 2; i++) {
        const player = await connectTo(`W${i}`);
        if (byWorker.has(player.worker)) player.client.close();
        else byWorker.set(player.worker, player);
      }
      assert.equal(byWorker.size, 2, 'connections reached both workers');
      const [one, two] = [byWorker.get(1)!, byWorker.get(2)!];

      // No steering without a join, on worker 2 as on worker 1.
      await assert.rejects(two.client.call('game.input', { x: 1, y: 0 }), (error: RealtimeError) => error.code === 'forbidden');

      // Both join the one arena, and each sees both players.
      const a = await join(one);
      const b = await join(two);
      assert.equal(a.channel, 'game:arena');
      assert.equal(b.channel, 'game:arena');
      assert.ok(isGameFrame(b.frame), 'the join result relayed from the arena holds byte arrays');
      const inJoin = unpackPlayers(b.frame.players).map((state) => state.id);
      assert.ok(inJoin.includes(a.player) && inJoin.includes(b.player), 'the join on worker 2 holds the player of worker 1');
      assert.ok(b.frame.roster!.some((entry) => entry.id === a.player && entry.user === one.connected.user));
      await eventually(() => (latest(one, b.player) !== undefined && latest(two, a.player) !== undefined && latest(one, a.player) !== undefined && latest(two, b.player) !== undefined) || undefined, 20_000, 'both players in the frames of both');

      // A late joiner on either worker sees both.
      const late = await connectTo('Late');
      const lateJoined = await late.client.call('game.join', {});
      const lateIds = unpackPlayers(lateJoined.frame.players).map((state) => state.id);
      assert.ok(lateIds.includes(a.player) && lateIds.includes(b.player) && lateIds.includes(lateJoined.player));

      // The player of worker 2 steers through the relay: worker 1's client sees it move.
      const start = latest(one, b.player)!;
      const direction = start.x < 800 ? 1 : -1;
      await two.client.call('game.input', { x: direction, y: 0 });
      await eventually(() => (Math.abs(latest(one, b.player)!.x - start.x) > 50 ? true : undefined), 20_000, 'the player of worker 2 moved, as worker 1 sees it');

      // A flood through the relay is cut as a local one is (30 inputs a second per player).
      const results = await Promise.allSettled(Array.from({ length: 80 }, () => two.client.call('game.input', { x: -direction, y: 0 })));
      const refused = results.filter((result) => result.status === 'rejected');
      assert.ok(refused.length >= 10, `${refused.length} of 80 refused`);
      assert.ok(refused.every((result) => (result.reason as RealtimeError).code === 'rate_limited'), 'refused as rate_limited');

      // Worker 2's connection drops: its player goes away; the same guest, back on worker 1 with the seat, is the same player.
      two.client.close();
      await eventually(() => (latest(one, b.player)?.away === true ? true : undefined), 20_000, 'the player of worker 2 away');
      let back: (Player & { worker: number }) | undefined;
      for (let i = 0; i < 16 && back === undefined; i++) {
        const again = await connectTo('W-again', guestToken(two.connected));
        if (again.worker === 1) back = again;
        else again.client.close();
      }
      assert.ok(back !== undefined, 'a connection of the same guest reached worker 1');
      assert.equal(back.connected.user, two.connected.user, 'the same guest');
      const rejoined = await join(back, b.seat);
      assert.equal(rejoined.player, b.player, 'the same player, on the other worker');
      assert.equal(rejoined.seat, b.seat);
      await eventually(() => (latest(one, b.player)?.away === false ? true : undefined), 20_000, 'the player back');
      const y = latest(one, b.player)!.y;
      const up = y > 500 ? -1 : 1;
      await back.client.call('game.input', { x: 0, y: up });
      await eventually(() => (Math.abs(latest(one, b.player)!.y - y) > 20 ? true : undefined), 20_000, 'it steers from worker 1');

      // And the other way: worker 1's player, back on worker 2, is the same player.
      one.client.close();
      let there: (Player & { worker: number }) | undefined;
      for (let i = 0; i < 16 && there === undefined; i++) {
        const again = await connectTo('W-there', guestToken(one.connected));
        if (again.worker === 2) there = again;
        else again.client.close();
      }
      assert.ok(there !== undefined, 'a connection of the same guest reached worker 2');
      const returned = await join(there, a.seat);
      assert.equal(returned.player, a.player, 'the same player, through the relay');
      await eventually(() => (latest(there, a.player)?.away === false ? true : undefined), 20_000, 'worker 1\'s player back, seen on worker 2');

      // Nobody watches on any worker: the arena pauses (the channel's offset in Redis stands still) …
      for (const client of mine) client.close();
      await inspector.connect();
      const offset = (): Promise<number> => channelOffset(inspector, 'game:arena');
      const last = await offsetStandingStill(inspector, 'game:arena');
      // … and a subscriber on worker 2 alone starts it again.
      let watcher: (Player & { worker: number }) | undefined;
      for (let i = 0; i < 16 && watcher === undefined; i++) {
        const candidate = await connectTo(`Watcher${i}`);
        if (candidate.worker === 2) watcher = candidate;
        else candidate.client.close();
      }
      assert.ok(watcher !== undefined, 'a connection reached worker 2');
      const frames: GameFrame[] = [];
      watcher.client.subscribe('game:arena').on('publication', ({ data }) => frames.push(data as GameFrame));
      await eventually(() => (frames.length >= 10 ? true : undefined), 20_000, 'frames for a subscriber on worker 2 alone');
      assert.ok((await offset()) > last, 'the arena ticks again');
      assert.doesNotMatch(serve.output(), /game: /, 'no error of the game or its relay');
    } finally {
      for (const client of mine) client.close();
      inspector.disconnect();
      await serve.stop();
      await store.stop();
    }
  });
});
