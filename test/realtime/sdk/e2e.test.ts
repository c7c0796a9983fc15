// The SDK against the real server through real sockets (Switchboard's Node
// WebSocket, the Node entry's default): connect, pub/sub between clients, RPC
// both ways, presence, history, one-way messages, token refresh, reconnect
// with recovery after the server drops a session, and MessagePack.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { createRealtimeServer, RpcError, type RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/server/index.js';
import { RealtimeClient, RealtimeError, type NodeRealtimeClientOptions, type PublicationEvent, type SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import type { Emitter, EventMap } from '../../../src/realtime/sdk/emitter.js';

interface TestApi {
  channels: { chat: { text: string }; feed: { n: number }; room: { text: string }; files: { name: string; bytes: Uint8Array } };
  methods: {
    'rooms.create': { params: { name: string }; result: { id: string } };
    whoami: { params: undefined; result: string };
  };
  clientMethods: { confirm: { params: { question: string }; result: boolean } };
}

const WAIT = 5000;
const SECRET = 'sdk-e2e-secret-of-a-decent-length-0123456789';

const NAMESPACES: RealtimeServerOptions<TestApi>['namespaces'] = {
  chat: { publish: 'clients' },
  feed: { history: { size: 100 }, publish: 'clients' },
  room: { presence: true },
  files: {},
};

/** The next `event` of `source` (with its arguments), within WAIT ms. */
function next<E extends EventMap<E>, K extends keyof E & string>(source: Emitter<E>, event: K, match: (...args: E[K]) => boolean = () => true): Promise<E[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off(event, listener);
      reject(new Error(`no ${event} event within ${WAIT} ms`));
    }, WAIT);
    const listener = (...args: E[K]): void => {
      if (!match(...args)) return;
      clearTimeout(timer);
      source.off(event, listener);
      resolve(args);
    };
    source.on(event, listener);
  });
}

/** Collects the publications of a subscription. */
function collect<T>(subscription: { on(event: 'publication', listener: (publication: PublicationEvent<T>) => void): unknown }): Array<PublicationEvent<T>> {
  const seen: Array<PublicationEvent<T>> = [];
  subscription.on('publication', (publication) => seen.push(publication));
  return seen;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('sdk e2e: RealtimeClient ⇄ RealtimeServer', () => {
  let server: RealtimeServer<TestApi>;
  let url: string;
  const clients: Array<RealtimeClient<TestApi>> = [];

  function client(options: NodeRealtimeClientOptions = {}): RealtimeClient<TestApi> {
    const created = new RealtimeClient<TestApi>(url, { reconnect: { minDelay: 50, maxDelay: 200 }, ...options });
    clients.push(created);
    return created;
  }

  async function connectedClient(options: NodeRealtimeClientOptions = {}): Promise<RealtimeClient<TestApi>> {
    const created = client(options);
    const connected = next(created, 'connected');
    created.connect();
    await connected;
    return created;
  }

  before(async () => {
    server = createRealtimeServer<TestApi>({ port: 0, host: '127.0.0.1', namespaces: NAMESPACES });
    server.method('rooms.create', ({ name }) => {
      if (name === 'taken') throw new RpcError('room_taken', 'that room exists', { name });
      return { id: `room-${name}` };
    });
    server.method('whoami', (_params, session) => session.id);
    await server.ready();
    url = `ws://127.0.0.1:${server.port}/rt`;
  });

  after(async () => {
    for (const created of clients) created.close();
    await server.close();
  });

  it('connects; the server knows the session by the client id', async () => {
    const alice = await connectedClient();
    assert.equal(alice.state, 'connected');
    assert.equal(alice.user, '');
    assert.ok(alice.clientId !== undefined && server.sessions.has(alice.clientId));
    assert.equal(await alice.call('whoami'), alice.clientId);
  });

  it('delivers publications between two clients, with the publisher info', async () => {
    const alice = await connectedClient();
    const bob = await connectedClient();
    const subscription = alice.subscribe('chat:lobby');
    await subscription.ready();
    const seen = collect(subscription);
    const result = await bob.publish('chat:lobby', { text: 'hi' });
    assert.equal(result.offset, 1);
    await until(() => seen.length === 1, 'the publication');
    assert.deepEqual(seen[0]!.data, { text: 'hi' });
    assert.equal(seen[0]!.info?.client, bob.clientId);
    await subscription.publish({ text: 'back' });
    await until(() => seen.length === 2, 'its own publication');
    assert.deepEqual(seen.map((publication) => publication.offset), [1, 2]);
  });

  it('calls server methods: result, application error, unknown method', async () => {
    const alice = await connectedClient();
    assert.deepEqual(await alice.call('rooms.create', { name: 'x' }), { id: 'room-x' });
    const taken = await alice.call('rooms.create', { name: 'taken' }).catch((error: unknown) => error);
    assert.ok(taken instanceof RealtimeError);
    assert.deepEqual([taken.code, taken.message, taken.data], ['room_taken', 'that room exists', { name: 'taken' }]);
    const missing = await (alice as unknown as RealtimeClient).call('rooms.delete').catch((error: unknown) => error);
    assert.equal((missing as RealtimeError).code, 'not_found');
  });

  it('answers the server’s calls with its handlers', async () => {
    const alice = await connectedClient();
    alice.handle('confirm', ({ question }) => question.endsWith('?'));
    const session = server.sessions.get(alice.clientId!)!;
    assert.equal(await session.call('confirm', { question: 'ok?' }), true);
    const error = await (session as unknown as { call(method: string, params: unknown): Promise<unknown> })
      .call('nothing', {})
      .catch((caught: unknown) => caught);
    assert.equal((error as { code?: string }).code, 'not_found');
  });

  it('one-way messages both ways', async () => {
    const alice = await connectedClient();
    const received = new Promise<unknown>((resolve) => server.once('message', (_session, data) => resolve(data)));
    alice.send({ hello: 'server' });
    assert.deepEqual(await received, { hello: 'server' });
    const message = next(alice, 'message');
    server.sessions.get(alice.clientId!)!.send({ hello: 'client' });
    assert.deepEqual(await message, [{ hello: 'client' }]);
  });

  it('presence: members, stats, join and leave', async () => {
    const alice = await connectedClient();
    const bob = await connectedClient();
    const room = alice.subscribe('room:1');
    await room.ready();
    const joined = next(room, 'join', (member) => member.client === bob.clientId);
    const bobRoom = bob.subscribe('room:1');
    await bobRoom.ready();
    await joined;
    const members = await room.presence();
    assert.deepEqual(members.map((member) => member.client).sort(), [alice.clientId, bob.clientId].sort());
    assert.deepEqual(await alice.presenceStats('room:1'), { clients: 2, users: 1 });
    const left = next(room, 'leave', (member) => member.client === bob.clientId);
    bobRoom.unsubscribe();
    await left;
  });

  it('history of a channel that keeps it', async () => {
    const alice = await connectedClient();
    for (let n = 1; n <= 3; n++) await alice.publish('feed:history', { n });
    const latest = await alice.history('feed:history', { limit: 2 });
    assert.deepEqual(latest.publications.map((publication) => publication.data.n), [2, 3]);
    const since = await alice.history('feed:history', { since: { offset: 1, epoch: latest.epoch } });
    assert.deepEqual(since.publications.map((publication) => publication.offset), [2, 3]);
  });

  it('reconnects after the server drops the session, resubscribes with since and recovers the missed publications', async () => {
    const alice = await connectedClient();
    const feed = alice.subscribe('feed:recover');
    await feed.ready();
    const seen = collect(feed);
    await server.publish('feed:recover', { n: 1 });
    await until(() => seen.length === 1, 'the first publication');
    const firstId = alice.clientId!;
    const disconnected = next(alice, 'disconnected');
    const resubscribed = next(feed, 'subscribed');
    server.sessions.get(firstId)!.disconnect(4000, 'go away for a moment');
    const [event] = await disconnected;
    assert.deepEqual(event, { code: 4000, reason: 'go away for a moment', reconnect: true });
    // Published while the client is away.
    await server.publish('feed:recover', { n: 2 });
    await server.publish('feed:recover', { n: 3 });
    const [subscribed] = (await resubscribed) as [SubscribedEvent];
    assert.equal(subscribed.recovered, true);
    assert.notEqual(alice.clientId, firstId);
    await until(() => seen.length === 3, 'the recovered publications');
    await server.publish('feed:recover', { n: 4 });
    await until(() => seen.length === 4, 'a live publication after recovery');
    assert.deepEqual(seen.map((publication) => [publication.offset, publication.data.n]), [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
  });

  it('a channel without history resubscribes with recovered false', async () => {
    const alice = await connectedClient();
    const chat = alice.subscribe('chat:no-history');
    await chat.ready();
    const resubscribed = next(chat, 'subscribed');
    server.sessions.get(alice.clientId!)!.disconnect(4000);
    const [event] = await resubscribed;
    assert.equal(event.recovered, false);
    assert.equal(event.recoverable, false);
  });

  it('commands issued while the connection is down are queued and sent after the reconnect', async () => {
    const alice = await connectedClient();
    const bob = await connectedClient();
    const chat = bob.subscribe('chat:queued');
    await chat.ready();
    const seen = collect(chat);
    const disconnected = next(alice, 'disconnected');
    server.sessions.get(alice.clientId!)!.disconnect(4000);
    await disconnected;
    const published = Promise.all([alice.publish('chat:queued', { text: 'one' }), alice.publish('chat:queued', { text: 'two' })]);
    assert.equal(alice.state, 'connecting');
    await published;
    await until(() => seen.length === 2, 'the queued publications');
    assert.deepEqual(seen.map((publication) => publication.data.text), ['one', 'two']);
  });

  it('a kicked client (4503) stays disconnected', async () => {
    const alice = await connectedClient();
    const disconnected = next(alice, 'disconnected');
    server.sessions.get(alice.clientId!)!.disconnect(4503, 'banned');
    const [event] = await disconnected;
    assert.deepEqual(event, { code: 4503, reason: 'banned', reconnect: false });
    assert.equal(alice.state, 'disconnected');
  });

  it('speaks MessagePack, binary data included', async () => {
    const alice = await connectedClient({ protocol: 'msgpack' });
    const bob = await connectedClient({ protocol: 'json' });
    assert.equal(server.sessions.get(alice.clientId!)!.protocol, 'switchboard.v1.msgpack');
    const files = alice.subscribe('files:a');
    await files.ready();
    const seen = collect(files);
    await alice.publish('files:a', { name: 'blob', bytes: new Uint8Array([0, 1, 2, 255]) });
    await until(() => seen.length === 1, 'the binary publication');
    assert.deepEqual(seen[0]!.data.bytes, new Uint8Array([0, 1, 2, 255]));
    const bobFiles = bob.subscribe('files:a');
    await bobFiles.ready();
    const bobSeen = collect(bobFiles);
    await bob.publish('files:a', { name: 'text', bytes: new Uint8Array() });
    await until(() => seen.length === 2 && bobSeen.length === 1, 'a JSON client’s publication');
    assert.equal(seen[1]!.data.name, 'text');
    assert.deepEqual(await alice.call('rooms.create', { name: 'mp' }), { id: 'room-mp' });
  });
});

describe('sdk e2e: tokens', () => {
  let server: RealtimeServer;
  let url: string;

  before(async () => {
    server = createRealtimeServer({ port: 0, host: '127.0.0.1', auth: { jwt: { secret: SECRET } }, namespaces: { '': {} } });
    await server.ready();
    url = `ws://127.0.0.1:${server.port}/rt`;
  });

  after(async () => {
    await server.close();
  });

  function sign(user: string, seconds: number): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(new TextEncoder().encode(SECRET));
  }

  it('connects with getToken and refreshes the token before it expires, on the same connection', async () => {
    const issued: string[] = [];
    const client = new RealtimeClient(url, {
      getToken: async () => {
        const token = await sign('alice', 3);
        issued.push(token);
        return token;
      },
      refreshMargin: 1500,
    });
    try {
      const connected = next(client, 'connected');
      client.connect();
      const [result] = await connected;
      assert.equal(result.user, 'alice');
      assert.equal(typeof result.expires, 'number');
      const clientId = client.clientId;
      await until(() => issued.length >= 2, 'a refresh');
      // Past the first token's expiry, the connection is still the same.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, result.expires! - Date.now()) + 300));
      assert.equal(client.state, 'connected');
      assert.equal(client.clientId, clientId);
    } finally {
      client.close();
    }
  });

  it('a refused token stops the client (4501)', async () => {
    const client = new RealtimeClient(url, { token: 'not-a-jwt' });
    try {
      const disconnected = next(client, 'disconnected');
      const errors: Error[] = [];
      client.on('error', (error) => errors.push(error));
      client.connect();
      const [event] = await disconnected;
      assert.equal(event.code, 4501);
      assert.equal(event.reconnect, false);
      assert.equal(client.state, 'disconnected');
      assert.equal((errors[0] as RealtimeError).code, 'unauthorized');
    } finally {
      client.close();
    }
  });
});
