// The HTTP fallback without sticky sessions: two real-time node processes on
// a real Redis, behind a proxy that refuses WebSocket upgrades and sends each
// HTTP request to the other node than the one before. A fallback session
// works — publish, receive, RPC — while its requests are served by both
// nodes (uplink batches that reach the other node are relayed through
// Redis); when its event stream comes back to the other node, the session
// restarts there and the subscription recovers, with nothing lost or repeated.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RealtimeClient, type PublicationEvent, type SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import { requirePeer } from '../../interop/peers.js';
import { RedisServer, redisAvailability } from '../broker/redis-server.js';
import { NodeProcess } from '../scale/nodes.js';
import { BlockingProxy } from './proxy.js';

const redis = redisAvailability();
const peer = requirePeer('redis-server', redis.available, redis.reason);
const WAIT = 15_000;

async function until(condition: () => boolean, what: string, timeout = WAIT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('HTTP fallback on two nodes, no sticky sessions', peer, () => {
  let redisServer: RedisServer;
  let nodes: NodeProcess[] = [];
  let proxy: BlockingProxy;

  before(async () => {
    redisServer = await RedisServer.start();
    nodes = await Promise.all([1, 2].map(() => NodeProcess.start(redisServer.url)));
    proxy = await BlockingProxy.start(nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), 'refuse');
  });
  after(async () => {
    await proxy?.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await redisServer?.stop();
  });

  /** A connected client, closed when the test ends. */
  async function connect(t: TestContext, url: string): Promise<RealtimeClient> {
    const client = new RealtimeClient(url, { reconnect: { minDelay: 20, maxDelay: 200 }, timeout: 5_000, fallbackTimeout: 2_000 });
    t.after(() => client.close());
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

  /** The session id of the last session the proxy saw opened (its answer carries it). */
  function lastOpenedSession(): { session: string; backend: number } {
    const opened = proxy.log.filter((entry) => entry.method === 'POST' && entry.path === '/http' && entry.status === 200).at(-1);
    assert.ok(opened?.session !== undefined, 'the proxy saw a session open');
    return { session: opened.session, backend: opened.backend };
  }

  it('works over the fallback — publish, receive, RPC — with its requests served by both nodes', async (t) => {
    const fallback = await connect(t, proxy.url('/'));
    assert.equal(fallback.transport, 'http');
    const { session, backend: holder } = lastOpenedSession();
    const other = 1 - holder;
    const direct = await connect(t, nodes[other]!.url);
    const channel = 'chat:no-sticky';
    const seenByFallback = collect(fallback, channel);
    const seenByDirect = collect(direct, channel);
    await Promise.all([fallback.getSubscription(channel)!.ready(), direct.getSubscription(channel)!.ready()]);

    for (let n = 1; n <= 10; n++) {
      await fallback.publish(channel, { from: 'http', n });
      await direct.publish(channel, { from: 'websocket', n });
    }
    for (const seen of [seenByFallback, seenByDirect]) {
      await until(() => seen.length === 20, 'twenty publications');
      assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: 20 }, (_, i) => i + 1));
    }
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add((await fallback.call('whereami')) as number);
    assert.deepEqual([...pids], [nodes[holder]!.child.pid], 'every call runs on the node that holds the session');

    // A reply can come down the event stream before the answer to the POST that carried the command: wait for every answer.
    await until(() => proxy.requestsOf(session).every((entry) => entry.status !== undefined || entry.path === '/http'), 'the answers to the requests');
    const requests = proxy.requestsOf(session);
    const servedBy = new Set(requests.map((entry) => entry.backend));
    assert.deepEqual([...servedBy].sort(), [0, 1], 'requests of the session reached both nodes');
    const relayed = requests.filter((entry) => entry.path === '/http/send' && entry.backend === other);
    assert.ok(relayed.length >= 5, `uplink requests served by the other node (${relayed.length})`);
    assert.deepEqual(relayed.filter((entry) => entry.status !== 204), [], 'and taken: relayed to the holder through Redis');
  });

  it('restarts the session on the other node when its event stream goes there, and recovers without loss or duplicates', async (t) => {
    const fallback = await connect(t, proxy.url('/'));
    const publisher = await connect(t, nodes[0]!.url);
    const channel = 'chat:moving';
    const seen = collect(fallback, channel);
    const subscribed: SubscribedEvent[] = [];
    fallback.getSubscription(channel)!.on('subscribed', (event) => subscribed.push(event));
    await fallback.getSubscription(channel)!.ready();
    // From now on a resumed stream always goes to the node that does not hold the session, and a new session to the other one.
    let holder = lastOpenedSession().backend;
    proxy.route = (request) => {
      if (request.method === 'GET' && request.url === '/http/stream') return 1 - holder;
      if (request.method === 'POST' && request.url === '/http') return (holder = 1 - holder);
      return undefined;
    };
    const holders = new Set<number>([holder]);
    const sessions = new Set<string>([fallback.clientId!]);
    const total = 200;
    try {
      for (let n = 1; n <= total; n++) {
        await publisher.publish(channel, { n });
        if (n % 40 === 0) {
          const before = fallback.clientId;
          proxy.cutStreams();
          await until(() => fallback.state === 'connected' && fallback.clientId !== before, 'a new session on the other node');
          sessions.add(fallback.clientId!);
          holders.add(holder);
        }
      }
      await until(() => seen.length >= total, `${total} publications`);
    } finally {
      proxy.route = undefined;
    }
    await sleep(200);
    assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: total }, (_, i) => i + 1), 'every offset once, in order');
    assert.ok(subscribed.some((event) => event.recovered === true), 'resubscribed with recovery after a move');
    assert.ok(subscribed.every((event) => event.recovered !== false), 'never lost the thread');
    assert.deepEqual([...holders].sort(), [0, 1], 'sessions were held by both nodes');
    assert.equal(sessions.size, 6, 'each cut moved the session');
  });
});
