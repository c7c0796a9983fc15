// The SDK in Node (global fetch) over the HTTP fallback, through a proxy that
// blocks WebSockets: it falls back and says so, then channels, RPC both
// ways, presence, history and one-way messages behave as over WebSocket;
// an event stream cut by the proxy resumes on the same session with nothing
// lost or repeated; a session the server ended comes back and recovers; the
// client tries WebSocket again after `websocketRetryAfter`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRealtimeServer, type RealtimeServer } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type NodeRealtimeClientOptions, type PublicationEvent, type SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import { BlockingProxy } from './proxy.js';

const WAIT = 10_000;

async function until(condition: () => boolean, what: string, timeout = WAIT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('SDK over the HTTP fallback (Node)', () => {
  let server: RealtimeServer;
  let proxy: BlockingProxy;
  const clients: RealtimeClient[] = [];

  before(async () => {
    server = createRealtimeServer({
      port: 0,
      host: '127.0.0.1',
      path: '/rt',
      namespaces: { chat: { history: { size: 1000 }, presence: true, publish: 'clients' } },
      limits: { rate: false },
      httpFallback: { downlinkTimeout: 2_000 },
    });
    server.method('whoami', (_params, session) => ({ client: session.id, transport: session.transport }));
    server.method('add', (params) => (params as { a: number; b: number }).a + (params as { a: number; b: number }).b);
    await server.ready();
    proxy = await BlockingProxy.start([{ host: '127.0.0.1', port: server.port }], 'refuse');
  });

  after(async () => {
    for (const client of clients) client.close();
    await proxy.close();
    await server.close();
  });

  /** A connected client; through the proxy unless `url` says otherwise. */
  async function connect(options: NodeRealtimeClientOptions = {}, url = proxy.url('/rt')): Promise<RealtimeClient> {
    const client = new RealtimeClient(url, { reconnect: { minDelay: 20, maxDelay: 100 }, fallbackTimeout: 1_000, ...options });
    clients.push(client);
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await connected;
    return client;
  }

  function collect(client: RealtimeClient, channel: string): Array<PublicationEvent<unknown>> {
    const seen: Array<PublicationEvent<unknown>> = [];
    client.subscribe(channel).on('publication', (publication) => seen.push(publication));
    return seen;
  }

  it('falls back to HTTP when the proxy refuses the upgrade, and reports the transport', async () => {
    const blockedBefore = proxy.upgradesBlocked;
    const transports: Array<[string, string | undefined]> = [];
    const client = new RealtimeClient(proxy.url('/rt'), { fallbackTimeout: 1_000 });
    clients.push(client);
    client.on('transport', (transport, previous) => transports.push([transport, previous]));
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await connected;
    assert.equal(client.transport, 'http');
    assert.deepEqual(transports, [['http', undefined]]);
    assert.equal(proxy.upgradesBlocked, blockedBefore + 1, 'one WebSocket attempt, refused');
    const session = server.sessions.get(client.clientId!);
    assert.equal(session?.transport, 'http');
    assert.deepEqual(await client.call('whoami'), { client: client.clientId, transport: 'http' });
  });

  it('carries channels, RPC both ways, presence, history and one-way messages like a WebSocket', async () => {
    const fallback = await connect();
    const direct = await connect({}, `ws://127.0.0.1:${server.port}/rt`);
    assert.equal(fallback.transport, 'http');
    assert.equal(direct.transport, 'websocket');
    const channel = 'chat:both-ways';
    const seenByFallback = collect(fallback, channel);
    const seenByDirect = collect(direct, channel);
    await Promise.all([fallback.getSubscription(channel)!.ready(), direct.getSubscription(channel)!.ready()]);

    await fallback.publish(channel, { text: 'from http' });
    await direct.publish(channel, { text: 'from websocket' });
    for (const seen of [seenByFallback, seenByDirect]) {
      await until(() => seen.length === 2, 'both publications');
      assert.deepEqual(seen.map((p) => [p.offset, p.data]), [[1, { text: 'from http' }], [2, { text: 'from websocket' }]]);
    }
    assert.equal(seenByDirect[0]!.info?.client, fallback.clientId);

    assert.equal(await fallback.call('add', { a: 2, b: 3 }), 5);
    fallback.handle('confirm', (params) => ({ confirmed: params }));
    const session = server.sessions.get(fallback.clientId!)!;
    assert.deepEqual(await session.call('confirm', 'sure?'), { confirmed: 'sure?' });

    const members = await fallback.presence(channel);
    assert.deepEqual(members.map((member) => member.client).sort(), [fallback.clientId, direct.clientId].sort());
    const history = await fallback.history(channel, { limit: 10 });
    assert.deepEqual(history.publications.map((p) => p.offset), [1, 2]);

    const received = new Promise<unknown>((resolve) => server.once('message', (_session, data) => resolve(data)));
    fallback.send({ hello: 'server' });
    assert.deepEqual(await received, { hello: 'server' });
    const pushed = new Promise<unknown>((resolve) => fallback.once('message', resolve));
    session.send({ hello: 'client' });
    assert.deepEqual(await pushed, { hello: 'client' });
  });

  it('resumes a cut event stream on the same session: nothing lost, nothing twice', async () => {
    const fallback = await connect();
    const publisher = await connect({}, `ws://127.0.0.1:${server.port}/rt`);
    const channel = 'chat:cuts';
    const seen = collect(fallback, channel);
    await fallback.getSubscription(channel)!.ready();
    const clientId = fallback.clientId;
    const total = 300;
    let cuts = 0;
    for (let n = 1; n <= total; n++) {
      await publisher.publish(channel, { n });
      if (n % 60 === 0) cuts += proxy.cutStreams();
    }
    await until(() => seen.length >= total, `${total} publications`);
    assert.ok(cuts >= 3, `the proxy cut the stream (${cuts} times)`);
    assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: total }, (_, i) => i + 1), 'every offset once, in order');
    assert.equal(fallback.clientId, clientId, 'the same session all along: the streams resumed');
    assert.equal(fallback.state, 'connected');
  });

  it('reconnects over HTTP after the server ended the session and recovers what it missed, without duplicates', async () => {
    const fallback = await connect();
    const publisher = await connect({}, `ws://127.0.0.1:${server.port}/rt`);
    const channel = 'chat:recovery';
    const seen = collect(fallback, channel);
    const subscribed: SubscribedEvent[] = [];
    fallback.getSubscription(channel)!.on('subscribed', (event) => subscribed.push(event));
    await fallback.getSubscription(channel)!.ready();
    for (let n = 1; n <= 5; n++) await publisher.publish(channel, { n });
    await until(() => seen.length === 5, 'the first five');
    const first = fallback.clientId!;
    const reconnected = new Promise<void>((resolve) => fallback.once('connected', () => resolve()));
    server.sessions.get(first)!.disconnect(4000, 'test');
    for (let n = 6; n <= 10; n++) await publisher.publish(channel, { n });
    await reconnected;
    await until(() => seen.length >= 10, 'all ten');
    await sleep(100);
    assert.notEqual(fallback.clientId, first, 'a new session');
    assert.equal(fallback.transport, 'http', 'the fallback is remembered');
    assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: 10 }, (_, i) => i + 1));
    assert.equal(subscribed.at(-1)?.recovered, true);
  });

  it('a stream that stays away longer than the downlink timeout ends the session; the client starts a new one', async () => {
    const fallback = await connect();
    const first = fallback.clientId!;
    const disconnected = new Promise<string>((resolve) => server.once('disconnect', (session, code, reason) => resolve(`${session.id} ${code} ${reason}`)));
    // The backend now looks unreachable: the stream cannot come back.
    proxy.backendsDown = true;
    proxy.cutStreams();
    try {
      assert.match(await disconnected, new RegExp(`^${first} 1006 `));
    } finally {
      proxy.backendsDown = false;
    }
    await until(() => fallback.state === 'connected' && fallback.clientId !== first, 'a new session');
    assert.equal(fallback.transport, 'http');
  });

  it('tries WebSocket again after websocketRetryAfter, at its next reconnect', async () => {
    const client = await connect({ websocketRetryAfter: 200 });
    assert.equal(client.transport, 'http');
    proxy.policy = 'allow';
    try {
      await sleep(250);
      const back = new Promise<string>((resolve) => client.once('transport', (transport) => resolve(transport)));
      server.sessions.get(client.clientId!)!.disconnect(4000, 'test');
      assert.equal(await back, 'websocket');
      assert.equal(server.sessions.get(client.clientId!)?.transport, 'websocket');
    } finally {
      proxy.policy = 'refuse';
    }
  });

  it('falls back when the proxy strips Upgrade (the server sees a plain GET and answers 426)', async () => {
    proxy.policy = 'strip';
    try {
      const client = await connect();
      assert.equal(client.transport, 'http');
      assert.ok(proxy.log.some((entry) => entry.method === 'GET' && entry.path === '/rt' && entry.status === 426), 'the stripped upgrade reached the server');
    } finally {
      proxy.policy = 'refuse';
    }
  });

  it('falls back when the upgrade hangs: no connect reply within fallbackTimeout', async () => {
    proxy.policy = 'hang';
    try {
      const started = Date.now();
      const client = await connect({ fallbackTimeout: 300 });
      assert.equal(client.transport, 'http');
      assert.ok(Date.now() - started >= 300, 'it waited for the fallback timeout');
    } finally {
      proxy.policy = 'refuse';
    }
  });
});
