// RealtimeClient against an in-memory WebSocket whose server side each test
// scripts, with fake timers: the protocol behaviour of docs/protocol.md from
// the client's side.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode as decodeMsgpack } from '@msgpack/msgpack';
import { RealtimeClient } from '../../../src/realtime/sdk/client.js';
import type { RealtimeClientOptions } from '../../../src/realtime/sdk/client-options.js';
import { RealtimeError } from '../../../src/realtime/sdk/errors.js';
import type { SubscribedEvent } from '../../../src/realtime/sdk/subscription.js';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../../../src/realtime/wire/messages.js';
import { FakeClock, FakeNetwork, recorder, settle, type FakeSocket } from './fakes.js';

const URL = 'ws://realtime.test/rt';

function setup(options: RealtimeClientOptions = {}) {
  const network = new FakeNetwork();
  const clock = new FakeClock();
  // WebSocket only: these tests script a WebSocket's server side (the HTTP fallback has tests of its own).
  const client = new RealtimeClient(URL, { WebSocket: network.WebSocket, transports: ['websocket'], timers: clock, now: clock.now, random: () => 0.5, ...options });
  return { network, clock, client };
}

/** A client whose first connection is open and whose `connect` succeeded. */
async function connected(options: RealtimeClientOptions = {}, result: Record<string, unknown> = {}) {
  const context = setup(options);
  context.client.connect();
  const socket = context.network.last;
  socket.accept();
  await settle();
  socket.acceptConnect(result);
  return { ...context, socket };
}

/** Lets the reconnect timer run and the new connection open and connect. */
async function reconnect(network: FakeNetwork, clock: FakeClock, result: Record<string, unknown> = {}): Promise<FakeSocket> {
  const before = network.sockets.length;
  clock.advance(5000);
  assert.equal(network.sockets.length, before + 1, 'the client opened a new connection');
  const socket = network.last;
  socket.accept();
  await settle();
  socket.acceptConnect(result);
  return socket;
}

/** Subscribes and answers the subscribe command with `result`. */
function subscribed(client: RealtimeClient, socket: FakeSocket, channel: string, result: Record<string, unknown>) {
  const subscription = client.subscribe(channel);
  const command = socket.take('subscribe');
  socket.reply(command['id'], result);
  return { subscription, command };
}

function publication(socket: FakeSocket, channel: string, offset: number, data: unknown = { n: offset }): void {
  socket.push({ type: 'publication', channel, offset, data });
}

async function rejection(promise: Promise<unknown>): Promise<RealtimeError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RealtimeError, `a RealtimeError, got ${String(error)}`);
    return error;
  }
  assert.fail('the promise resolved');
}

describe('sdk client: connecting', () => {
  it('sends connect with the token, data and client name, then the pipelined subscribes, before any reply', async () => {
    const { client, network } = setup({ token: 'tok', data: { room: 'x' } });
    const states = recorder<[string, string]>();
    client.on('state', states.listener);
    client.subscribe('chat:a');
    assert.equal(client.state, 'disconnected');
    client.connect();
    assert.equal(client.state, 'connecting');
    const socket = network.last;
    assert.equal(socket.url, URL);
    assert.deepEqual(socket.protocols, [SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK]);
    socket.accept();
    await settle();
    assert.equal(socket.binaryType, 'arraybuffer');
    const connect = socket.take('connect');
    assert.deepEqual(connect, { type: 'connect', id: 1, name: 'switchboard-sdk', version: '0.1.0', token: 'tok', data: { room: 'x' } });
    assert.deepEqual(socket.take('subscribe'), { type: 'subscribe', id: 2, channel: 'chat:a' });
    const connectedEvents = recorder<[unknown]>();
    client.on('connected', connectedEvents.listener);
    socket.reply(1, { client: 'c9', user: 'alice', ping: 25_000, pong: 10_000 });
    assert.equal(client.state, 'connected');
    assert.equal(client.clientId, 'c9');
    assert.equal(client.user, 'alice');
    assert.deepEqual(connectedEvents.calls, [[{ client: 'c9', user: 'alice', ping: 25_000, pong: 10_000 }]]);
    assert.deepEqual(states.calls, [
      ['connecting', 'disconnected'],
      ['connected', 'connecting'],
    ]);
  });

  it('sends no token when it has none', async () => {
    const { client, network } = setup();
    client.connect();
    network.last.accept();
    await settle();
    assert.deepEqual(network.last.take('connect'), { type: 'connect', id: 1, name: 'switchboard-sdk', version: '0.1.0' });
  });

  it('connect() is a no-op while connecting or connected, and throws after close()', async () => {
    const { client, network } = await connected();
    client.connect();
    assert.equal(network.sockets.length, 1);
    client.close();
    assert.throws(() => client.connect(), (error: RealtimeError) => error.code === 'closed');
  });

  it('connect() throws when the WebSocket class refuses the URL', async () => {
    const { client } = setup({
      WebSocket: class {
        constructor() {
          throw new SyntaxError('bad URL');
        }
      } as unknown as RealtimeClientOptions['WebSocket'],
    });
    const queued = client.publish('a', 1);
    assert.throws(() => client.connect(), SyntaxError);
    assert.equal(client.state, 'disconnected');
    assert.equal((await rejection(queued)).code, 'disconnected');
  });

  it('needs a WebSocket implementation', () => {
    const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
    (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
    try {
      assert.throws(() => new RealtimeClient(URL), TypeError);
    } finally {
      (globalThis as { WebSocket?: unknown }).WebSocket = saved;
    }
  });

  it('gives up on a connection that does not connect within the timeout, and tries again', async () => {
    const { client, network, clock } = setup({ timeout: 3000 });
    const connecting = recorder<[{ attempt: number; delay: number; code?: number }]>();
    client.on('connecting', connecting.listener);
    client.connect();
    clock.advance(2999);
    assert.equal(network.last.closedWith, undefined);
    clock.advance(1);
    assert.ok(network.last.closedWith, 'the socket was closed');
    assert.equal(client.state, 'connecting');
    assert.deepEqual(connecting.calls.map(([event]) => [event.attempt, event.code]), [
      [0, undefined],
      [1, 4004],
    ]);
    clock.advance(250);
    assert.equal(network.sockets.length, 2);
  });
});

describe('sdk client: reconnecting', () => {
  it('reconnects after a drop with full-jitter backoff, and resets the backoff once connected', async () => {
    const { client, network, clock, socket } = await connected({ reconnect: { minDelay: 1000, maxDelay: 8000 } });
    const connecting = recorder<[{ attempt: number; delay: number; code?: number; reason?: string }]>();
    const disconnected = recorder<[{ code: number; reason: string; reconnect: boolean }]>();
    client.on('connecting', connecting.listener).on('disconnected', disconnected.listener);
    socket.drop(1006, '');
    assert.equal(client.state, 'connecting');
    assert.equal(client.clientId, undefined);
    assert.deepEqual(disconnected.calls, [[{ code: 1006, reason: '', reconnect: true }]]);
    // random() = 0.5: half of 1000, then of 2000, 4000 ...
    assert.deepEqual(connecting.calls[0]![0], { attempt: 1, delay: 500, code: 1006, reason: '' });
    clock.advance(499);
    assert.equal(network.sockets.length, 1);
    clock.advance(1);
    assert.equal(network.sockets.length, 2);
    network.last.drop(1006);
    assert.equal(connecting.calls[1]![0].delay, 1000);
    clock.advance(1000);
    network.last.drop(1006);
    assert.equal(connecting.calls[2]![0].delay, 2000);
    clock.advance(2000);
    const fourth = network.last;
    fourth.accept();
    await settle();
    fourth.acceptConnect();
    assert.equal(client.state, 'connected');
    fourth.drop(1001);
    assert.deepEqual(connecting.calls[3]![0], { attempt: 1, delay: 500, code: 1001, reason: '' });
    // Failed attempts are 'connecting' events; 'disconnected' only for connections that were up.
    assert.equal(disconnected.calls.length, 2);
  });

  it('stops reconnecting after close(): in-flight and queued commands reject with "closed"', async () => {
    const { client, network, clock, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e', recoverable: false });
    const inFlight = client.publish('chat:a', 1);
    const unsubscribed = recorder<[{ code: string }]>();
    subscription.on('unsubscribed', unsubscribed.listener);
    const disconnected = recorder<[{ code: number; reconnect: boolean }]>();
    client.on('disconnected', disconnected.listener);
    client.close();
    assert.equal(client.state, 'closed');
    assert.deepEqual(socket.closedWith, { code: 1000, reason: 'client closed' });
    assert.equal((await rejection(inFlight)).code, 'closed');
    assert.equal((await rejection(client.publish('chat:a', 2))).code, 'closed');
    assert.throws(() => client.send('x'), (error: RealtimeError) => error.code === 'closed');
    assert.equal(subscription.state, 'unsubscribed');
    assert.deepEqual(unsubscribed.calls[0]![0].code, 'closed');
    assert.equal(disconnected.calls[0]![0].reconnect, false);
    clock.advance(60_000);
    assert.equal(network.sockets.length, 1);
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  it('close() while waiting to reconnect cancels the attempt and rejects the queue', async () => {
    const { client, network, clock, socket } = await connected();
    socket.drop();
    const queued = client.call('m');
    client.close();
    assert.equal((await rejection(queued)).code, 'closed');
    clock.advance(60_000);
    assert.equal(network.sockets.length, 1);
  });

  for (const code of [1000, 4500, 4501, 4503, 4999]) {
    it(`does not reconnect after close code ${code}; queued commands reject with "disconnected"`, async () => {
      const { client, network, clock, socket } = await connected();
      const disconnected = recorder<[{ code: number; reason: string; reconnect: boolean }]>();
      client.on('disconnected', disconnected.listener);
      socket.drop(code, 'bye');
      assert.equal(client.state, 'disconnected');
      assert.deepEqual(disconnected.calls, [[{ code, reason: 'bye', reconnect: false }]]);
      clock.advance(60_000);
      assert.equal(network.sockets.length, 1);
      // connect() starts over.
      const queued = client.publish('x', 1);
      client.connect();
      assert.equal(network.sockets.length, 2);
      network.last.drop(4501);
      assert.equal((await rejection(queued)).code, 'disconnected');
    });
  }

  for (const code of [1001, 1002, 1006, 1009, 4000, 4002, 4003, 4005, 4006, 4499]) {
    it(`reconnects after close code ${code}`, async () => {
      const { client, network, clock, socket } = await connected();
      socket.drop(code);
      assert.equal(client.state, 'connecting');
      clock.advance(5000);
      assert.equal(network.sockets.length, 2);
    });
  }

  it('follows the disconnect message: its code, reason and reconnect flag', async () => {
    const { client, network, clock, socket } = await connected();
    const disconnected = recorder<[{ code: number; reason: string; reconnect: boolean }]>();
    client.on('disconnected', disconnected.listener);
    socket.push({ type: 'disconnect', code: 4503, reason: 'kicked', reconnect: false });
    assert.equal(client.state, 'disconnected');
    assert.deepEqual(disconnected.calls, [[{ code: 4503, reason: 'kicked', reconnect: false }]]);
    assert.ok(socket.closedWith, 'the client closed its side');
    socket.drop(4503, 'kicked');
    clock.advance(60_000);
    assert.equal(network.sockets.length, 1);
  });

  it('a "disconnected" listener may connect again', async () => {
    const { client, network, socket } = await connected({ reconnect: false });
    const states: string[] = [];
    client.on('disconnected', () => {
      states.push(client.state);
      client.connect();
    });
    socket.drop(1006);
    assert.deepEqual(states, ['disconnected']);
    assert.equal(client.state, 'connecting');
    assert.equal(network.sockets.length, 2);
  });

  it('reconnect: false never reconnects', async () => {
    const { client, network, clock, socket } = await connected({ reconnect: false });
    socket.drop(1006);
    assert.equal(client.state, 'disconnected');
    clock.advance(60_000);
    assert.equal(network.sockets.length, 1);
  });

  it('rejects commands in flight with "disconnected" when the connection drops, and does not replay them', async () => {
    const { client, network, clock, socket } = await connected();
    const call = client.call('rooms.create', { name: 'x' });
    const publish = client.publish('chat:a', { text: 'hi' });
    assert.equal(socket.take('call')['method'], 'rooms.create');
    socket.take('publish');
    socket.drop(1006, 'gone');
    const error = await rejection(call);
    assert.equal(error.code, 'disconnected');
    assert.deepEqual(error.data, { code: 1006, reason: 'gone' });
    assert.equal((await rejection(publish)).code, 'disconnected');
    const next = await reconnect(network, clock);
    assert.deepEqual(next.takeAll(), [], 'nothing replayed');
  });

  it('is closed when nothing arrives for ping + pong ms, and reconnects', async () => {
    const { client, network, clock, socket } = await connected({}, { ping: 1000, pong: 500 });
    const disconnected = recorder<[{ code: number; reconnect: boolean }]>();
    client.on('disconnected', disconnected.listener);
    clock.advance(1000);
    socket.push({ type: 'ping' });
    clock.advance(1499);
    assert.equal(client.state, 'connected', 'the ping 1000 ms in counts as activity');
    socket.push({ type: 'message', data: 1 });
    clock.advance(1499);
    assert.equal(client.state, 'connected');
    clock.advance(1);
    assert.equal(client.state, 'connecting');
    assert.equal(disconnected.calls[0]![0].code, 4003);
    assert.ok(socket.closedWith);
    clock.advance(5000);
    assert.equal(network.sockets.length, 2);
  });

  it('watches no heartbeat when the server sends no pings (ping 0)', async () => {
    const { client, clock } = await connected({}, { ping: 0, pong: 0 });
    clock.advance(10 * 60_000);
    assert.equal(client.state, 'connected');
  });

  it('reconnects after a malformed message from the server', async () => {
    const { client, socket } = await connected();
    const errors = recorder<[Error]>();
    client.on('error', errors.listener);
    (socket.onmessage as (event: { data: unknown }) => void)({ data: 'not json' });
    assert.equal(client.state, 'connecting');
    assert.match(errors.calls[0]![0].message, /malformed/);
  });
});

describe('sdk client: tokens', () => {
  it('calls getToken before each connect; 4001 reconnects with a fresh token', async () => {
    let issued = 0;
    const { client, network, clock, socket } = await connected({ getToken: async () => `t${++issued}` });
    assert.equal(issued, 1);
    socket.drop(4001, 'token expired');
    assert.equal(client.state, 'connecting');
    clock.advance(5000);
    network.last.accept();
    await settle();
    assert.equal(issued, 2);
    assert.equal(network.last.take('connect')['token'], 't2');
  });

  it('uses a fixed token, and getToken once it expired (token_expired at connect, then 4001)', async () => {
    const tokens: string[] = [];
    const { client, network, clock } = setup({ token: 'fixed', getToken: () => `fresh${tokens.push('x')}` });
    const errors = recorder<[Error]>();
    client.on('error', errors.listener);
    client.connect();
    network.last.accept();
    await settle();
    const connect = network.last.take('connect');
    assert.equal(connect['token'], 'fixed');
    assert.equal(tokens.length, 0);
    network.last.replyError(connect['id'], 'token_expired', 'expired');
    assert.equal((errors.calls[0]![0] as RealtimeError).code, 'token_expired');
    network.last.push({ type: 'disconnect', code: 4001, reason: 'token expired', reconnect: true });
    clock.advance(5000);
    network.last.accept();
    await settle();
    assert.equal(network.last.take('connect')['token'], 'fresh1');
  });

  it('a fixed token known to have expired is replaced by getToken before reconnecting', async () => {
    const { network, clock, socket } = await connected({ token: 'fixed', getToken: () => 'fresh' }, { expires: 1_000_000 + 5000, ping: 0 });
    clock.advance(6000);
    socket.drop(1006);
    clock.advance(5000);
    network.last.accept();
    await settle();
    assert.equal(network.last.take('connect')['token'], 'fresh');
  });

  it('with a fixed token and no getToken, 4001 ends the reconnects (the token cannot get fresher)', async () => {
    const { client, socket } = await connected({ token: 'fixed' });
    socket.drop(4001, 'token expired');
    assert.equal(client.state, 'disconnected');
  });

  it('getToken throwing RealtimeError("unauthorized") stops; other failures retry', async () => {
    let mode: 'fail' | 'refuse' = 'fail';
    const { client, network, clock } = setup({
      getToken: () => {
        throw mode === 'fail' ? new Error('network down') : new RealtimeError('unauthorized', 'logged out');
      },
    });
    const errors = recorder<[Error]>();
    client.on('error', errors.listener);
    client.connect();
    network.last.accept();
    await settle();
    assert.equal(client.state, 'connecting');
    assert.equal(errors.calls[0]![0].message, 'network down');
    mode = 'refuse';
    clock.advance(5000);
    network.last.accept();
    await settle();
    assert.equal(client.state, 'disconnected');
    assert.equal(network.last.sent.length, 0, 'no connect without a token');
  });

  it('refreshes the token before it expires (10% of the lifetime, at least 1 s) and schedules the next refresh', async () => {
    let issued = 0;
    const context = setup({ getToken: () => `t${++issued}` });
    const { client, network, clock } = context;
    client.connect();
    network.last.accept();
    await settle();
    const socket = network.last;
    socket.acceptConnect({ expires: clock.time + 60_000, ping: 0 });
    clock.advance(53_999);
    await settle();
    assert.equal(issued, 1, 'not yet');
    clock.advance(1);
    await settle();
    assert.equal(issued, 2);
    const refresh = socket.take('refresh');
    assert.equal(refresh['token'], 't2');
    socket.reply(refresh['id'], { expires: clock.time + 5000 });
    clock.advance(3999);
    await settle();
    assert.equal(issued, 2);
    clock.advance(1);
    await settle();
    assert.equal(socket.take('refresh')['token'], 't3', 'one second before a short-lived token expires');
  });

  it('refreshMargin sets how early; a failed refresh is retried', async () => {
    let issued = 0;
    const { client, network, clock } = setup({ getToken: () => `t${++issued}`, refreshMargin: 30_000 });
    const errors = recorder<[Error]>();
    client.on('error', errors.listener);
    client.connect();
    network.last.accept();
    await settle();
    const socket = network.last;
    socket.acceptConnect({ expires: clock.time + 60_000, ping: 0 });
    clock.advance(30_000);
    await settle();
    const refresh = socket.take('refresh');
    socket.replyError(refresh['id'], 'rate_limited');
    assert.equal((errors.calls[0]![0] as RealtimeError).code, 'rate_limited');
    clock.advance(5000);
    await settle();
    assert.equal(socket.take('refresh')['token'], 't3');
  });

  it('does not schedule a refresh without getToken', async () => {
    const { clock, socket } = await connected({ token: 'fixed' }, { expires: 1_000_000 + 60_000, ping: 0 });
    clock.advance(59_000);
    await settle();
    assert.deepEqual(socket.unread(), []);
  });
});

describe('sdk client: subscriptions', () => {
  it('returns the same subscription for the same channel; ready() resolves on the first subscribe', async () => {
    const { client, socket } = await connected();
    const first = client.subscribe('chat:a');
    assert.equal(client.subscribe('chat:a'), first);
    assert.equal(client.getSubscription('chat:a'), first);
    assert.equal(first.state, 'subscribing');
    const subscribe = socket.take('subscribe');
    const ready = first.ready();
    socket.reply(subscribe['id'], { offset: 3, epoch: 'e1', recoverable: true });
    await ready;
    assert.equal(first.state, 'subscribed');
    assert.deepEqual(first.position, { offset: 3, epoch: 'e1' });
    assert.equal(first.recoverable, true);
  });

  it('emits publications in order and drops duplicates (offset ≤ last)', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 5, epoch: 'e', recoverable: true });
    const seen = recorder<[{ offset: number; data: unknown; channel: string }]>();
    subscription.on('publication', seen.listener);
    publication(socket, 'chat:a', 5);
    publication(socket, 'chat:a', 6, { text: 'six' });
    publication(socket, 'chat:a', 6);
    publication(socket, 'chat:a', 4);
    publication(socket, 'chat:a', 7);
    publication(socket, 'chat:b', 8);
    assert.deepEqual(seen.calls.map(([event]) => event.offset), [6, 7]);
    assert.deepEqual(seen.calls[0]![0], { channel: 'chat:a', offset: 6, data: { text: 'six' } });
    assert.deepEqual(subscription.position, { offset: 7, epoch: 'e' });
    assert.deepEqual(socket.unread(), []);
  });

  it('passes publisher info along', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e', recoverable: false });
    const seen = recorder<[unknown]>();
    subscription.on('publication', seen.listener);
    socket.push({ type: 'publication', channel: 'chat:a', offset: 1, data: 'x', info: { client: 'c2', user: 'bob' } });
    assert.deepEqual(seen.calls[0]![0], { channel: 'chat:a', offset: 1, data: 'x', info: { client: 'c2', user: 'bob' } });
  });

  it('on a gap, resubscribes with since the last offset and recovers what was missed', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 5, epoch: 'e', recoverable: true });
    const seen = recorder<[{ offset: number }]>();
    const events = recorder<[SubscribedEvent]>();
    subscription.on('publication', seen.listener).on('subscribed', events.listener);
    publication(socket, 'chat:a', 6);
    publication(socket, 'chat:a', 9);
    assert.equal(subscription.state, 'subscribing');
    assert.deepEqual(socket.take('unsubscribe'), { type: 'unsubscribe', id: 3, channel: 'chat:a' });
    const resubscribe = socket.take('subscribe');
    assert.deepEqual(resubscribe, { type: 'subscribe', id: 4, channel: 'chat:a', since: { offset: 6, epoch: 'e' } });
    publication(socket, 'chat:a', 10); // before the reply: ignored, the reply's position covers it
    socket.reply(3, {});
    socket.reply(resubscribe['id'], {
      offset: 10,
      epoch: 'e',
      recoverable: true,
      recovered: true,
      publications: [7, 8, 9, 10].map((offset) => ({ offset, data: { n: offset } })),
    });
    assert.deepEqual(seen.calls.map(([event]) => event.offset), [6, 7, 8, 9, 10]);
    assert.deepEqual(events.calls.at(-1)![0], { recovered: true, recoverable: true, position: { offset: 10, epoch: 'e' } });
    publication(socket, 'chat:a', 11);
    assert.equal(seen.calls.at(-1)![0].offset, 11);
  });

  it('after a reconnect resubscribes with since (recoverable channels) and emits subscribed with recovered true', async () => {
    const { client, network, clock, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 5, epoch: 'e', recoverable: true });
    const seen = recorder<[{ offset: number }]>();
    const events = recorder<[SubscribedEvent]>();
    subscription.on('publication', seen.listener).on('subscribed', events.listener);
    publication(socket, 'chat:a', 6);
    socket.drop(1006);
    assert.equal(subscription.state, 'subscribing');
    clock.advance(5000);
    const next = network.last;
    next.accept();
    await settle();
    next.take('connect');
    const resubscribe = next.take('subscribe');
    assert.deepEqual(resubscribe['since'], { offset: 6, epoch: 'e' });
    next.reply(1, { client: 'c2', user: 'alice', ping: 25_000, pong: 10_000 });
    next.reply(resubscribe['id'], {
      offset: 8,
      epoch: 'e',
      recoverable: true,
      recovered: true,
      publications: [
        { offset: 6, data: 'dup' },
        { offset: 7, data: 7 },
        { offset: 8, data: 8 },
      ],
    });
    assert.deepEqual(events.calls.map(([event]) => event), [{ recovered: true, recoverable: true, position: { offset: 8, epoch: 'e' } }]);
    assert.deepEqual(seen.calls.map(([event]) => event.offset), [6, 7, 8]);
    assert.deepEqual(subscription.position, { offset: 8, epoch: 'e' });
  });

  it('emits subscribed with recovered false when the server could not recover (new epoch)', async () => {
    const { client, network, clock, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 5, epoch: 'e', recoverable: true });
    const events = recorder<[SubscribedEvent]>();
    subscription.on('subscribed', events.listener);
    socket.drop(1006);
    const next = await reconnect(network, clock);
    const resubscribe = next.take('subscribe');
    next.reply(resubscribe['id'], { offset: 2, epoch: 'f', recoverable: true, recovered: false });
    assert.deepEqual(events.calls[0]![0], { recovered: false, recoverable: true, position: { offset: 2, epoch: 'f' } });
    assert.deepEqual(subscription.position, { offset: 2, epoch: 'f' });
  });

  it('resubscribes without since when the channel keeps no history, and says recovered false', async () => {
    const { client, network, clock, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'live:a', { offset: 5, epoch: 'e', recoverable: false });
    const events = recorder<[SubscribedEvent]>();
    subscription.on('subscribed', events.listener);
    socket.drop(1006);
    const next = await reconnect(network, clock);
    const resubscribe = next.take('subscribe');
    assert.equal(resubscribe['since'], undefined);
    next.reply(resubscribe['id'], { offset: 9, epoch: 'e', recoverable: false });
    assert.deepEqual(events.calls[0]![0], { recovered: false, recoverable: false, position: { offset: 9, epoch: 'e' } });
  });

  it('a first subscribe without since has no recovered field; with options.since it recovers from there', async () => {
    const { client, socket } = await connected();
    const plain = recorder<[SubscribedEvent]>();
    subscribed(client, socket, 'chat:a', { offset: 1, epoch: 'e', recoverable: true }).subscription.on('subscribed', plain.listener);
    const fromPosition = client.subscribe('chat:b', { since: { offset: 3, epoch: 'e' }, data: { x: 1 } });
    const events = recorder<[SubscribedEvent]>();
    const seen = recorder<[{ offset: number }]>();
    fromPosition.on('subscribed', events.listener).on('publication', seen.listener);
    const command = socket.take('subscribe');
    assert.deepEqual(command, { type: 'subscribe', id: 3, channel: 'chat:b', since: { offset: 3, epoch: 'e' }, data: { x: 1 } });
    socket.reply(command['id'], { offset: 4, epoch: 'e', recoverable: true, recovered: true, publications: [{ offset: 4, data: 4 }] });
    assert.equal(events.calls[0]![0].recovered, true);
    assert.deepEqual(seen.calls.map(([event]) => event.offset), [4]);
  });

  it('unsubscribe() sends unsubscribe and ends the subscription; subscribing again makes a new one', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e', recoverable: false });
    const unsubscribed = recorder<[{ code: string; reason: string }]>();
    subscription.on('unsubscribed', unsubscribed.listener);
    subscription.unsubscribe();
    assert.deepEqual(socket.take('unsubscribe'), { type: 'unsubscribe', id: 3, channel: 'chat:a' });
    assert.equal(subscription.state, 'unsubscribed');
    assert.equal(unsubscribed.calls[0]![0].code, 'client');
    assert.equal(client.getSubscription('chat:a'), undefined);
    publication(socket, 'chat:a', 1);
    assert.notEqual(client.subscribe('chat:a'), subscription);
  });

  it('unsubscribe() before connecting sends nothing', async () => {
    const { client, network } = setup();
    const subscription = client.subscribe('chat:a');
    const ready = subscription.ready();
    subscription.unsubscribe();
    assert.equal((await rejection(ready)).code, 'client');
    client.connect();
    network.last.accept();
    await settle();
    network.last.take('connect');
    assert.deepEqual(network.last.unread(), []);
  });

  it('an unsubscribed push from the server ends the subscription', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e', recoverable: false });
    const unsubscribed = recorder<[{ code: string; reason: string }]>();
    subscription.on('unsubscribed', unsubscribed.listener);
    socket.push({ type: 'unsubscribed', channel: 'chat:a', code: 'forbidden', reason: 'permission revoked' });
    assert.deepEqual(unsubscribed.calls, [[{ code: 'forbidden', reason: 'permission revoked' }]]);
    assert.equal(client.getSubscription('chat:a'), undefined);
  });

  it('a refused subscribe ends the subscription and rejects ready()', async () => {
    const { client, socket } = await connected();
    const subscription = client.subscribe('secret:a');
    const errors = recorder<[RealtimeError]>();
    subscription.on('error', errors.listener);
    const ready = subscription.ready();
    socket.replyError(socket.take('subscribe')['id'], 'forbidden', 'no');
    const error = await rejection(ready);
    assert.equal(error.code, 'forbidden');
    assert.equal(errors.calls[0]![0].code, 'forbidden');
    assert.equal(subscription.state, 'unsubscribed');
    assert.equal(client.getSubscription('secret:a'), undefined);
  });

  it('retries a subscribe that failed for a transient reason', async () => {
    const { client, clock, socket } = await connected();
    const subscription = client.subscribe('chat:a');
    const errors = recorder<[RealtimeError]>();
    subscription.on('error', errors.listener);
    socket.replyError(socket.take('subscribe')['id'], 'broker_unavailable');
    assert.equal(errors.calls[0]![0].code, 'broker_unavailable');
    assert.equal(subscription.state, 'subscribing');
    clock.advance(250);
    const retry = socket.take('subscribe');
    socket.reply(retry['id'], { offset: 0, epoch: 'e', recoverable: false });
    assert.equal(subscription.state, 'subscribed');
  });

  it('forwards join and leave', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e', recoverable: false });
    const joins = recorder<[unknown]>();
    const leaves = recorder<[unknown]>();
    subscription.on('join', joins.listener).on('leave', leaves.listener);
    socket.push({ type: 'join', channel: 'chat:a', member: { client: 'c2', user: 'bob' } });
    socket.push({ type: 'leave', channel: 'chat:a', member: { client: 'c2', user: 'bob' } });
    assert.deepEqual(joins.calls, [[{ client: 'c2', user: 'bob' }]]);
    assert.deepEqual(leaves.calls, [[{ client: 'c2', user: 'bob' }]]);
  });
});

describe('sdk client: commands', () => {
  it('publish, call, presence, presence_stats and history: commands and results', async () => {
    const { client, socket } = await connected();
    const publish = client.publish('chat:a', { text: 'hi' });
    assert.deepEqual(socket.take('publish'), { type: 'publish', id: 2, channel: 'chat:a', data: { text: 'hi' } });
    socket.reply(2, { offset: 4, epoch: 'e' });
    assert.deepEqual(await publish, { offset: 4, epoch: 'e' });

    const call = client.call('rooms.create', { name: 'x' });
    assert.deepEqual(socket.take('call'), { type: 'call', id: 3, method: 'rooms.create', data: { name: 'x' } });
    socket.reply(3, { data: { id: 'r1' } });
    assert.deepEqual(await call, { id: 'r1' });

    const presence = client.presence('chat:a');
    socket.reply(socket.take('presence')['id'], { members: [{ client: 'c1', user: 'alice' }] });
    assert.deepEqual(await presence, [{ client: 'c1', user: 'alice' }]);

    const stats = client.presenceStats('chat:a');
    socket.reply(socket.take('presence_stats')['id'], { clients: 2, users: 1 });
    assert.deepEqual(await stats, { clients: 2, users: 1 });

    const history = client.history('chat:a', { since: { offset: 1, epoch: 'e' }, limit: 10 });
    const command = socket.take('history');
    assert.deepEqual(command, { type: 'history', id: 6, channel: 'chat:a', since: { offset: 1, epoch: 'e' }, limit: 10 });
    socket.reply(command['id'], { publications: [{ offset: 2, data: 'x' }], offset: 2, epoch: 'e' });
    assert.deepEqual(await history, { publications: [{ offset: 2, data: 'x' }], offset: 2, epoch: 'e' });

    const failing = client.call('rooms.create', { name: '' });
    socket.replyError(socket.take('call')['id'], 'room_invalid', 'empty name', { field: 'name' });
    const error = await rejection(failing);
    assert.deepEqual([error.code, error.message, error.data], ['room_invalid', 'empty name', { field: 'name' }]);
  });

  it('subscription.publish, presence and history go through the client', async () => {
    const { client, socket } = await connected();
    const { subscription } = subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e', recoverable: true });
    const publish = subscription.publish({ n: 1 });
    socket.reply(socket.take('publish')['id'], { offset: 1, epoch: 'e' });
    assert.deepEqual(await publish, { offset: 1, epoch: 'e' });
    const history = subscription.history({ limit: 1 });
    assert.deepEqual(socket.take('history'), { type: 'history', id: 4, channel: 'chat:a', limit: 1 });
    socket.reply(4, { publications: [], offset: 1, epoch: 'e' });
    assert.deepEqual((await history).publications, []);
  });

  it('queues commands while offline and flushes them in order after connect and the resubscribes', async () => {
    const { client, network } = setup();
    client.subscribe('chat:a');
    const publish = client.publish('chat:a', 1);
    client.send({ hello: true });
    const call = client.call('m', { x: 1 });
    client.connect();
    const socket = network.last;
    socket.accept();
    await settle();
    assert.deepEqual(socket.takeAll().map((message) => message['type']), ['connect', 'subscribe'], 'queued commands wait for the connect reply');
    socket.reply(1, { client: 'c1', user: '', ping: 25_000, pong: 10_000 });
    const flushed = socket.takeAll();
    assert.deepEqual(flushed, [
      { type: 'publish', id: 3, channel: 'chat:a', data: 1 },
      { type: 'send', data: { hello: true } },
      { type: 'call', id: 4, method: 'm', data: { x: 1 } },
    ]);
    socket.reply(3, { offset: 1, epoch: 'e' });
    socket.reply(4, { data: 'ok' });
    assert.deepEqual(await publish, { offset: 1, epoch: 'e' });
    assert.equal(await call, 'ok');
  });

  it('commands issued from a "connected" listener go after the queued ones', async () => {
    const { client, network } = setup();
    void client.publish('a', 'queued');
    client.on('connected', () => void client.publish('a', 'from listener'));
    client.connect();
    network.last.accept();
    await settle();
    network.last.acceptConnect();
    assert.deepEqual(network.last.takeAll().map((message) => message['data']), ['queued', 'from listener']);
  });

  it('rejects with "queue_full" over maxOfflineQueue', async () => {
    const { client } = setup({ maxOfflineQueue: 2 });
    const first = client.publish('a', 1);
    client.send('two');
    const error = await rejection(client.publish('a', 3));
    assert.equal(error.code, 'queue_full');
    assert.throws(() => client.send('four'), (thrown: RealtimeError) => thrown.code === 'queue_full');
    client.close();
    assert.equal((await rejection(first)).code, 'closed');
  });

  it('times out a call with no reply', async () => {
    const { client, clock, socket } = await connected({ timeout: 5000 });
    const call = client.call('slow', undefined, { timeout: 1000 });
    const publish = client.publish('a', 1);
    clock.advance(1000);
    const error = await rejection(call);
    assert.equal(error.code, 'timeout');
    clock.advance(4000);
    assert.equal((await rejection(publish)).code, 'timeout');
    // A late reply is ignored.
    socket.reply(socket.take('call')['id'], { data: 1 });
    assert.equal(client.state, 'connected');
  });

  it('the timeout counts the time spent in the offline queue', async () => {
    const { client, network, clock } = setup();
    const call = client.call('m', undefined, { timeout: 2000 });
    client.connect();
    clock.advance(2000);
    assert.equal((await rejection(call)).code, 'timeout');
    network.last.accept();
    await settle();
    network.last.acceptConnect();
    assert.deepEqual(network.last.unread(), [], 'the timed-out call is not sent');
  });

  it('rejects a command whose data cannot be encoded, without hurting the connection', async () => {
    const { client } = await connected();
    const error = await rejection(client.publish('a', { big: 1n }));
    assert.equal(error.code, 'bad_request');
    assert.equal(client.state, 'connected');
  });
});

describe('sdk client: messages from the server', () => {
  it('answers ping with pong', async () => {
    const { socket } = await connected();
    socket.push({ type: 'ping' });
    assert.deepEqual(socket.takeAll(), [{ type: 'pong' }]);
  });

  it('emits one-way messages and ignores unknown message types and fields', async () => {
    const { client, socket } = await connected();
    const messages = recorder<[unknown]>();
    client.on('message', messages.listener);
    socket.push({ type: 'message', data: { hi: 1 }, extra: true });
    socket.push({ type: 'something_new', id: 5 });
    socket.push({ type: 'reply', id: 999, result: {} });
    assert.deepEqual(messages.calls, [[{ hi: 1 }]]);
    assert.equal(client.state, 'connected');
  });

  it('answers server calls with the handler result, its error, or not_found', async () => {
    const { client, socket } = await connected();
    client.handle('confirm', async (params) => (params as { question: string }).question === 'ok?');
    client.handle('fail', () => {
      throw new RealtimeError('declined', 'the user said no', { why: 'busy' });
    });
    client.handle('crash', () => {
      throw new TypeError('oops');
    });
    client.handle('nothing', () => undefined);
    socket.push({ type: 'call', id: 1, method: 'confirm', data: { question: 'ok?' } });
    socket.push({ type: 'call', id: 2, method: 'fail' });
    socket.push({ type: 'call', id: 3, method: 'crash' });
    socket.push({ type: 'call', id: 4, method: 'nothing' });
    socket.push({ type: 'call', id: 5, method: 'unknown' });
    await settle();
    const replies = socket.takeAll().sort((a, b) => Number(a['id']) - Number(b['id']));
    assert.deepEqual(replies, [
      { type: 'reply', id: 1, result: true },
      { type: 'reply', id: 2, error: { code: 'declined', message: 'the user said no', data: { why: 'busy' } } },
      { type: 'reply', id: 3, error: { code: 'internal', message: 'oops' } },
      { type: 'reply', id: 4, result: null },
      { type: 'reply', id: 5, error: { code: 'not_found', message: 'no handler for "unknown"' } },
    ]);
    client.unhandle('confirm');
    socket.push({ type: 'call', id: 6, method: 'confirm', data: {} });
    assert.equal((socket.take('reply')['error'] as { code: string }).code, 'not_found');
  });

  it('drops the reply of a handler that finishes after the connection was lost', async () => {
    const { client, network, clock, socket } = await connected();
    let finish: (value: string) => void = () => undefined;
    client.handle('later', () => new Promise<string>((resolve) => (finish = resolve)));
    socket.push({ type: 'call', id: 1, method: 'later' });
    await settle();
    socket.drop(1006);
    const next = await reconnect(network, clock);
    finish('done');
    await settle();
    assert.deepEqual(next.unread(), []);
  });
});

describe('sdk client: MessagePack', () => {
  it('offers msgpack first, sends binary MessagePack and reads binary frames', async () => {
    const { client, network } = setup({ protocol: 'msgpack' });
    client.connect();
    const socket = network.last;
    assert.deepEqual(socket.protocols, [SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON]);
    socket.accept(SUBPROTOCOL_MSGPACK);
    await settle();
    assert.ok(socket.raw[0] instanceof Uint8Array, 'binary frames');
    assert.deepEqual(decodeMsgpack(socket.raw[0]), { type: 'connect', id: 1, name: 'switchboard-sdk', version: '0.1.0' });
    socket.acceptConnect();
    assert.equal(client.state, 'connected');
    const subscription = client.subscribe('files:a');
    socket.reply(socket.take('subscribe')['id'], { offset: 0, epoch: 'e', recoverable: false });
    const seen = recorder<[{ data: unknown }]>();
    subscription.on('publication', seen.listener);
    socket.push({ type: 'publication', channel: 'files:a', offset: 1, data: { bytes: new Uint8Array([1, 2, 3]) } });
    assert.deepEqual(seen.calls[0]![0].data, { bytes: new Uint8Array([1, 2, 3]) });
    const publish = client.publish('files:a', new Uint8Array([9, 8]));
    const sent = socket.take('publish');
    assert.deepEqual(sent['data'], new Uint8Array([9, 8]));
    socket.reply(sent['id'], { offset: 2, epoch: 'e' });
    assert.deepEqual(await publish, { offset: 2, epoch: 'e' });
  });

  it('speaks JSON when a server without MessagePack selects it', async () => {
    const { client, network } = setup({ protocol: 'msgpack' });
    client.connect();
    network.last.accept(SUBPROTOCOL_JSON);
    await settle();
    assert.equal(typeof network.last.raw[0], 'string');
    network.last.acceptConnect();
    assert.equal(client.state, 'connected');
  });
});
