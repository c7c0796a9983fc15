// The relay between the /game arena's owner and the other workers
// (src/cli/game-relay.ts), over a memory broker (its relay reaches the
// targets this process listens to): joins and inputs forwarded with the
// caller, the owner's errors back with their codes, disconnects and a
// worker's restart forwarded, and `unavailable` when nobody runs the arena
// or it does not answer in time. Malformed messages are ignored.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MemoryBroker } from '../../src/realtime/broker/memory-broker.js';
import { RpcError } from '../../src/realtime/server/errors.js';
import type { RealtimeServer } from '../../src/realtime/server/server.js';
import type { DemoApi } from '../../src/cli/apps/web/api.js';
import { unpackPlayers } from '../../src/cli/apps/web/game-api.js';
import { GameServer, type GameCaller } from '../../src/cli/game-server.js';
import { GAME_OWNER_TARGET, GameForwarder, GameOwnerRelay, GameRelayBus, gameWorkerTarget, joinedOfRelayed, parseGameRequest, relayedJoined } from '../../src/cli/game-relay.js';

/** What GameServer and GameForwarder use of a real-time server: methods and the disconnect event, kept here to be called by hand. */
function fakeServer(): { rt: RealtimeServer<DemoApi>; disconnect: (sessionId: string) => void; methods: Set<string> } {
  const methods = new Set<string>();
  const disconnects: Array<(session: { id: string }) => void> = [];
  const rt = {
    method: (name: string) => methods.add(name),
    on: (event: string, listener: (session: { id: string }) => void) => {
      if (event === 'disconnect') disconnects.push(listener);
    },
    stats: () => ({ channels: new Map() }),
    channels: async () => new Map(),
    publish: async () => ({ offset: 1, epoch: 'e' }),
  };
  return { rt: rt as unknown as RealtimeServer<DemoApi>, disconnect: (id) => disconnects.forEach((listener) => listener({ id })), methods };
}

const caller = (sessionId: string, user = `user-${sessionId}`): GameCaller => ({ sessionId, user, name: `Name ${sessionId}`, color: '#0b57d0' });

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof RpcError && error.code === code, `rejects with ${code}`);
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A bus on a memory broker, an arena with its owner relay, and a forwarder of worker 2. */
async function setup(options: { owner?: boolean; maxInputsPerSecond?: number; timeout?: number; maxPlayers?: number } = {}) {
  const bus = new GameRelayBus(new MemoryBroker());
  await bus.start();
  cleanups.push(() => bus.close());
  const ownerSide = fakeServer();
  const game = new GameServer(ownerSide.rt, { maxInputsPerSecond: options.maxInputsPerSecond ?? 30, grace: 60_000, ...(options.maxPlayers !== undefined && { maxPlayers: options.maxPlayers }) });
  if (options.owner !== false) await new GameOwnerRelay(bus, game).start();
  const workerSide = fakeServer();
  const forwarder = new GameForwarder(workerSide.rt, bus, { worker: 2, timeout: options.timeout ?? 5000 });
  await forwarder.start();
  cleanups.push(() => forwarder.stop());
  return { bus, game, forwarder, workerSide };
}

describe('the game relay', () => {
  it('forwards join and input with the caller: the same arena, the same player for the seat, the frame\'s bytes intact', async () => {
    const { game, forwarder, workerSide } = await setup();
    assert.deepEqual([...workerSide.methods].sort(), ['game.input', 'game.join']);
    const local = game.join({}, caller('local'));
    const joined = await forwarder.join({}, caller('remote'));
    assert.equal(joined.channel, 'game:arena');
    assert.ok(joined.frame.players instanceof Uint8Array);
    const ids = unpackPlayers(joined.frame.players).map((state) => state.id);
    assert.ok(ids.includes(local.player) && ids.includes(joined.player), 'both players in the relayed frame');
    assert.equal(game.world.player(joined.player)?.user, 'user-remote');
    assert.equal(game.world.player(joined.player)?.name, 'Name remote');
    assert.equal(await forwarder.input({ x: 0.5, y: -0.5 }, 'remote'), null);
    assert.deepEqual(game.world.player(joined.player)?.input, { x: 0.5, y: -0.5 });
    // The seat, from another connection of the same user (a reconnect to this worker), is the same player.
    const again = await forwarder.join({ seat: joined.seat }, caller('remote-again', 'user-remote'));
    assert.equal(again.player, joined.player);
    // Another user's seat is not.
    const other = await forwarder.join({ seat: joined.seat }, caller('thief'));
    assert.notEqual(other.player, joined.player);
    assert.equal(forwarder.waiting, 0);
  });

  it('rejects with the owner\'s error code: forbidden before a join, rate_limited past the budget, bad_request for params the owner refuses, limit_exceeded when full', async () => {
    const { forwarder } = await setup({ maxInputsPerSecond: 3, maxPlayers: 2 });
    await rejectsWith(forwarder.input({ x: 1, y: 0 }, 'nobody'), 'forbidden');
    await forwarder.join({}, caller('s1'));
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => forwarder.input({ x: 0, y: 1 }, 's1')));
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    assert.ok(refused.length >= 6, `${refused.length} of 10 refused`);
    assert.ok(refused.every((result) => result.reason instanceof RpcError && result.reason.code === 'rate_limited'));
    await rejectsWith(forwarder.input({ x: 5, y: 0 }, 's1'), 'bad_request');
    await rejectsWith(forwarder.join({ seat: '<script>' }, caller('s2')), 'bad_request');
    await forwarder.join({}, caller('s2'));
    await rejectsWith(forwarder.join({}, caller('s3')), 'limit_exceeded');
  });

  it('forwards the disconnect of a connection that joined: its player goes away, and comes back with the seat', async () => {
    const { game, forwarder, workerSide } = await setup();
    const joined = await forwarder.join({}, caller('d1', 'dee'));
    workerSide.disconnect('d1');
    assert.equal(game.world.player(joined.player)?.away, true, 'away');
    await rejectsWith(forwarder.input({ x: 1, y: 0 }, 'd1'), 'forbidden');
    const back = game.join({ seat: joined.seat }, caller('d2', 'dee'));
    assert.equal(back.player, joined.player, 'the same player, joined on the owner');
    assert.equal(game.world.player(joined.player)?.away, false);
  });

  it('a worker that starts again lets go of the connections its earlier run had', async () => {
    const { bus, game, forwarder } = await setup();
    const joined = await forwarder.join({}, caller('h1'));
    forwarder.stop();
    const restarted = new GameForwarder(fakeServer().rt, bus, { worker: 2 });
    await restarted.start();
    assert.equal(game.world.player(joined.player)?.away, true);
  });

  it('answers unavailable at once when nobody runs the arena, and after the timeout when it does not answer', async () => {
    const nobody = await setup({ owner: false, timeout: 60_000 });
    const started = Date.now();
    await rejectsWith(nobody.forwarder.join({}, caller('n1')), 'unavailable');
    await rejectsWith(nobody.forwarder.input({ x: 0, y: 0 }, 'n1'), 'unavailable');
    assert.ok(Date.now() - started < 5000, 'at once');
    assert.equal(nobody.forwarder.waiting, 0);

    // An owner that listens but never answers.
    const silent = await setup({ owner: false, timeout: 300 });
    await silent.bus.listen(GAME_OWNER_TARGET, () => {});
    await rejectsWith(silent.forwarder.join({}, caller('t1')), 'unavailable');
    assert.equal(silent.forwarder.waiting, 0, 'the call is forgotten');
  });

  it('the owner ignores malformed messages, and a reply nobody waits for changes nothing', async () => {
    const { bus, game, forwarder } = await setup();
    for (const message of [
      'not json',
      '[]',
      '{}',
      JSON.stringify({ op: 'join', id: 1, from: 'elsewhere', caller: caller('x'), params: {} }),
      JSON.stringify({ op: 'join', id: -1, from: gameWorkerTarget(2), caller: caller('x'), params: {} }),
      JSON.stringify({ op: 'join', id: 1, from: gameWorkerTarget(2), caller: { sessionId: 'x' }, params: {} }),
      JSON.stringify({ op: 'join', id: 1, from: gameWorkerTarget(2), caller: { ...caller('x'), name: 'n'.repeat(500) }, params: {} }),
      JSON.stringify({ op: 'input', id: 1, from: gameWorkerTarget(2), caller: { sessionId: '' }, params: { x: 0, y: 0 } }),
      JSON.stringify({ op: 'drop' }),
      JSON.stringify({ op: 'hello', from: 'game:owner' }),
      JSON.stringify({ op: 'shutdown' }),
    ]) {
      assert.equal(parseGameRequest(message), undefined, message);
      assert.equal(await bus.relay(GAME_OWNER_TARGET, message), 1);
    }
    assert.equal(game.world.roster().length, 0, 'nobody joined');
    await bus.relay(gameWorkerTarget(2), JSON.stringify({ op: 'reply', id: 999, result: null }));
    await bus.relay(gameWorkerTarget(2), 'garbage');
    const joined = await forwarder.join({}, caller('ok'));
    assert.ok(game.world.player(joined.player) !== undefined, 'the relay still works');
  });

  it('carries a join result as JSON and back', () => {
    const players = new Uint8Array([1, 2, 3, 250]);
    const joined = { player: 1, seat: 'a'.repeat(24), channel: 'game:arena', tickRate: 20, frame: { tick: 3, time: 4, players, items: new Uint8Array(0) } };
    const back = joinedOfRelayed(JSON.parse(JSON.stringify(relayedJoined(joined))));
    assert.deepEqual(back, joined);
    assert.equal(joinedOfRelayed({ player: 1 }), undefined);
  });
});
