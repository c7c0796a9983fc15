// Scale-out through a real Redis: several real-time node processes, clients
// spread over them, and the failures of docs/scaling.md — a node killed with
// SIGKILL (its clients move to another node and recover every publication),
// Redis restarted (publishes fail clearly meanwhile, clients come back), and
// presence of a node that died.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRealtimeServer, RedisBroker, type RealtimeServer } from '../../../src/realtime/server/index.js';
import { RealtimeClient, RealtimeError, type PublicationEvent, type SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import { requirePeer } from '../../interop/peers.js';
import { RedisServer, redisAvailability } from '../broker/redis-server.js';
import { NodeProcess } from './nodes.js';

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

describe('scale-out on Redis: many nodes, one system', peer, () => {
  let redisServer: RedisServer;
  let nodes: NodeProcess[] = [];
  const clients: RealtimeClient[] = [];

  before(async () => {
    redisServer = await RedisServer.start();
    nodes = await Promise.all([1, 2, 3].map(() => NodeProcess.start(redisServer.url, { PRESENCE_TTL: '1500' })));
  });
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await redisServer.stop();
  });

  async function connect(urls: string | string[]): Promise<RealtimeClient> {
    const client = new RealtimeClient(urls, { reconnect: { minDelay: 50, maxDelay: 300 }, timeout: 5_000 });
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

  it('delivers a publication to subscribers on every node, also from a process that holds no connections', async () => {
    const subscribers = await Promise.all(nodes.map((node) => connect(node.url)));
    const seen = subscribers.map((client) => collect(client, 'chat:everyone'));
    await Promise.all(subscribers.map((client) => client.getSubscription('chat:everyone')!.ready()));
    await subscribers[0]!.publish('chat:everyone', { text: 'from node 1' });
    // A headless process: a server with no listener, publishing through the same Redis.
    const headless: RealtimeServer = createRealtimeServer({ noServer: true, broker: new RedisBroker({ url: redisServer.url }), namespaces: { chat: { history: { size: 10_000, ttl: 300_000 }, presence: true } } });
    await headless.ready();
    try {
      await headless.publish('chat:everyone', { text: 'from a headless process' });
    } finally {
      await headless.close();
    }
    await until(() => seen.every((list) => list.length === 2), 'both publications on all three nodes');
    for (const list of seen) {
      assert.deepEqual(list.map((p) => p.data), [{ text: 'from node 1' }, { text: 'from a headless process' }]);
      assert.deepEqual(list.map((p) => p.offset), [1, 2]);
    }
  });

  it('keeps each channel in order with publishers on different nodes', async () => {
    const [a, b, c] = await Promise.all(nodes.map((node) => connect(node.url)));
    const seen = collect(c!, 'feed:order');
    await c!.getSubscription('feed:order')!.ready();
    const perPublisher = 150;
    await Promise.all(
      [a!, b!].map(async (publisher, index) => {
        for (let i = 0; i < perPublisher; i++) await publisher.publish('feed:order', { from: index, i });
      }),
    );
    await until(() => seen.length === 2 * perPublisher, 'every publication');
    assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: 2 * perPublisher }, (_, k) => k + 1));
    for (const from of [0, 1]) {
      const mine = seen.map((p) => p.data as { from: number; i: number }).filter((d) => d.from === from).map((d) => d.i);
      assert.deepEqual(mine, Array.from({ length: perPublisher }, (_, k) => k));
    }
  });

  it('moves the clients of a SIGKILLed node to another node, where they recover every publication in order', async () => {
    const victim = await NodeProcess.start(redisServer.url, { PRESENCE_TTL: '1500' });
    const survivor = nodes[0]!;
    const subscriber = await connect([victim.url, survivor.url]);
    const recoveries: SubscribedEvent[] = [];
    const seen = collect(subscriber, 'feed:failover');
    subscriber.getSubscription('feed:failover')!.on('subscribed', (event) => recoveries.push(event));
    await subscriber.getSubscription('feed:failover')!.ready();
    assert.equal(await subscriber.call('whereami'), victim.child.pid);

    const publisher = await connect(nodes[1]!.url);
    const total = 400;
    let published = 0;
    const publishing = (async () => {
      for (; published < total; published++) {
        await publisher.publish('feed:failover', { n: published + 1 });
        if (published % 20 === 0) await sleep(5);
      }
    })();
    await until(() => seen.length >= 50, 'publications before the kill');
    await victim.kill();
    await publishing;
    await until(() => seen.length >= total, 'every publication after the failover');
    await sleep(100);
    assert.deepEqual(seen.map((p) => (p.data as { n: number }).n), Array.from({ length: total }, (_, k) => k + 1), 'no loss, no duplicate');
    assert.deepEqual(seen.map((p) => p.offset), Array.from({ length: total }, (_, k) => k + 1));
    assert.equal(recoveries.at(-1)?.recovered, true, 'the resubscription on the survivor recovered');
    assert.equal(await subscriber.call('whereami'), survivor.child.pid);
  });

  it('shows presence across nodes and drops the members of a dead node after the TTL', async () => {
    const doomed = await NodeProcess.start(redisServer.url, { PRESENCE_TTL: '1500' });
    const watcher = await connect(nodes[2]!.url);
    const leaves: string[] = [];
    const watching = watcher.subscribe('chat:presence');
    watching.on('leave', (member) => leaves.push(member.client));
    await watching.ready();
    const member = await connect(doomed.url);
    await member.subscribe('chat:presence').ready();
    const memberId = member.clientId!;
    const present = async (): Promise<string[]> => (await watcher.presence('chat:presence')).map((m) => m.client).sort();
    assert.deepEqual(await present(), [memberId, watcher.clientId!].sort());
    member.close(); // so the client does not reconnect elsewhere
    await doomed.kill();
    await until(() => leaves.includes(memberId), "the dead node's member leaving", 10_000);
    assert.deepEqual(await present(), [watcher.clientId!]);
  });

  it('fails publishes clearly while Redis is down, then brings every client back after the restart', async () => {
    const client = await connect(nodes[0]!.url);
    const subscriber = await connect(nodes[1]!.url);
    const seen = collect(subscriber, 'feed:restart');
    const states: SubscribedEvent[] = [];
    subscriber.getSubscription('feed:restart')!.on('subscribed', (event) => states.push(event));
    await subscriber.getSubscription('feed:restart')!.ready();
    await client.publish('feed:restart', 'before');
    await until(() => seen.length === 1, 'the first publication');

    await redisServer.kill();
    await sleep(300);
    await assert.rejects(client.publish('feed:restart', 'during'), (error: unknown) => {
      assert.ok(error instanceof RealtimeError);
      assert.equal(error.code, 'broker_unavailable');
      return true;
    });
    await redisServer.resume();
    // The nodes send their clients away (4000) when Redis is back; they reconnect and resubscribe.
    await until(() => states.length >= 2, 'the resubscription after the restart');
    assert.equal(states.at(-1)?.recovered, false, 'Redis kept nothing: the old epoch cannot be recovered');
    await until(() => client.state === 'connected', 'the publisher back');
    await client.publish('feed:restart', 'after');
    await until(() => seen.some((p) => p.data === 'after'), 'delivery after the restart');
    assert.ok(!seen.some((p) => p.data === 'during'), 'the failed publish never arrives');
  });
});
