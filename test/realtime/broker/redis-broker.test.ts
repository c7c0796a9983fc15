// RedisBroker against a real redis-server of its own (spawned on a free
// port): the Broker contract, plus what only many processes and a Redis that
// can fail show — delivery across nodes, per-node subscriptions, ordering
// with publishers on several nodes, Redis restarts and outages, Redis
// unreachable at start, and presence of a node that died.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerUnavailableError, type BrokerEvents } from '../../../src/realtime/broker/broker.js';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import type { PresenceMember, Publication } from '../../../src/realtime/wire/messages.js';
import { requirePeer } from '../../interop/peers.js';
import { runBrokerContract } from './contract.js';
import { decodePublication, decodePublications, publishValue } from './encoded-helpers.js';
import { freePort, RedisServer, redisAvailability } from './redis-server.js';

const redis = redisAvailability();
const peer = requirePeer('redis-server', redis.available, redis.reason);

interface Recorded {
  publications: Array<[string, Publication]>;
  joins: Array<[string, PresenceMember]>;
  leaves: Array<[string, PresenceMember]>;
  states: string[];
  relayed: Array<[string, string]>;
}

function recorder(): { events: BrokerEvents; seen: Recorded } {
  const seen: Recorded = { publications: [], joins: [], leaves: [], states: [], relayed: [] };
  const events: BrokerEvents = {
    publication: (channel, publication) => seen.publications.push([channel, decodePublication(publication)]),
    join: (channel, member) => seen.joins.push([channel, member]),
    leave: (channel, member) => seen.leaves.push([channel, member]),
    state: (state) => seen.states.push(state),
    relay: (target, message) => seen.relayed.push([target, message]),
  };
  return { events, seen };
}

async function until(condition: () => boolean, timeout = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('RedisBroker', peer, () => {
  let server: RedisServer;
  let prefixes = 0;
  const brokers: RedisBroker[] = [];

  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    await server.stop();
  });

  /** A started broker on its own key prefix, closed after the suite. */
  async function node(events: BrokerEvents, prefix: string, options: { presenceSweepInterval?: number } = {}): Promise<RedisBroker> {
    const broker = new RedisBroker({ url: server.url, prefix, ...options });
    brokers.push(broker);
    await broker.start(events);
    return broker;
  }

  runBrokerContract('RedisBroker (contract)', async () => {
    const broker = new RedisBroker({ url: server.url, prefix: `contract${prefixes++}`, presenceSweepInterval: 50 });
    return { broker, cleanup: () => broker.close() };
  });

  it('delivers a publication made on one node to the subscribers of another', async () => {
    const a = recorder();
    const b = recorder();
    const nodeA = await node(a.events, 'cross');
    const nodeB = await node(b.events, 'cross');
    await nodeA.subscribe('room');
    const published = await publishValue(nodeB, 'room', { text: 'hello' }, { history: { size: 10 } });
    await until(() => a.seen.publications.length === 1, 5_000, 'the publication on node A');
    assert.deepEqual(a.seen.publications[0], ['room', { offset: published.offset, data: { text: 'hello' } }]);
    assert.equal(b.seen.publications.length, 0, 'node B did not subscribe, so it receives nothing');
  });

  it('reports only channels the node subscribed to, and stops after unsubscribe', async () => {
    const a = recorder();
    const nodeA = await node(a.events, 'filter');
    const publisher = await node(recorder().events, 'filter');
    await nodeA.subscribe('mine');
    await publishValue(publisher, 'theirs', 1);
    await publishValue(publisher, 'mine', 2);
    await until(() => a.seen.publications.length === 1);
    await nodeA.unsubscribe('mine');
    await publishValue(publisher, 'mine', 3);
    await sleep(100);
    assert.deepEqual(a.seen.publications.map(([channel, publication]) => [channel, publication.data]), [['mine', 2]]);
  });

  it('keeps one channel in offset order with publishers on several nodes', async () => {
    const watcher = recorder();
    const nodeW = await node(watcher.events, 'order');
    const publishers = await Promise.all([1, 2, 3].map(() => node(recorder().events, 'order')));
    await nodeW.subscribe('feed');
    const count = 300;
    await Promise.all(
      publishers.map(async (publisher, index) => {
        for (let i = 0; i < count / publishers.length; i++) await publishValue(publisher, 'feed', { from: index, i });
      }),
    );
    await until(() => watcher.seen.publications.length === count, 10_000, 'every publication');
    const offsets = watcher.seen.publications.map(([, publication]) => publication.offset);
    assert.deepEqual(offsets, Array.from({ length: count }, (_, index) => index + 1));
    for (const from of [0, 1, 2]) {
      const mine = watcher.seen.publications.map(([, p]) => p.data as { from: number; i: number }).filter((d) => d.from === from);
      assert.deepEqual(mine.map((d) => d.i), Array.from({ length: count / 3 }, (_, index) => index), 'each publisher in its own order');
    }
  });

  it('takes one publisher\'s publications in the order of its calls, also while Redis lost its scripts (NOSCRIPT)', async () => {
    const broker = await node(recorder().events, 'noscript');
    const admin = new Redis(server.url);
    try {
      let n = 0;
      for (let round = 0; round < 5; round++) {
        await admin.script('FLUSH');
        // A burst whose NOSCRIPT answers take several reads, and more publishes called at every
        // turn of the event loop while the burst is being answered and sent again.
        const calls: Array<Promise<{ offset: number; data: unknown }>> = [];
        for (let k = 0; k < 2000; k++) calls.push(publishValue(broker, 'feed', n++, { history: { size: 100_000 } }));
        let burstDone = false;
        void Promise.allSettled(calls).then(() => {
          burstDone = true;
        });
        while (!burstDone) {
          for (let k = 0; k < 4; k++) calls.push(publishValue(broker, 'feed', n++, { history: { size: 100_000 } }));
          await new Promise((resolve) => setImmediate(resolve));
        }
        const results = await Promise.all(calls);
        const offsets = results.map((result) => result.offset);
        const outOfOrder = offsets.findIndex((offset, index) => index > 0 && offset < offsets[index - 1]!);
        assert.equal(outOfOrder, -1, `round ${round}: offsets in the order of the calls (call ${outOfOrder} overtook)`);
      }
      const history = await broker.history('feed', { limit: 100_000 });
      assert.equal(history.publications.length, n);
      assert.deepEqual(decodePublications(history.publications).map((p) => p.data), Array.from({ length: n }, (_, index) => index));
    } finally {
      admin.disconnect();
    }
  });

  it('relays a message from one node to the node that listens to its target, and only to it', async () => {
    const a = recorder();
    const b = recorder();
    const nodeA = await node(a.events, 'relay');
    const nodeB = await node(b.events, 'relay');
    await nodeA.listen('session-1');
    await nodeB.listen('session-2');
    const messages = Array.from({ length: 50 }, (_, i) => `{"seq":${i}}`);
    const reached = await Promise.all(messages.map((message) => nodeB.relay('session-1', message)));
    assert.deepEqual(reached, messages.map(() => 1));
    await until(() => a.seen.relayed.length === messages.length, 5_000, 'the relayed messages on node A');
    assert.deepEqual(a.seen.relayed, messages.map((message) => ['session-1', message]), 'in the order relayed');
    assert.equal(b.seen.relayed.length, 0, 'node B listens to another target');
    assert.equal(await nodeB.relay('session-3', 'nobody'), 0);
    await nodeA.unlisten('session-1');
    assert.equal(await nodeB.relay('session-1', 'gone'), 0, 'after unlisten nobody holds the target');
  });

  it('lets a node that serves no client publish and read history', async () => {
    const reader = await node(recorder().events, 'headless');
    const headless = await node(recorder().events, 'headless');
    for (let i = 1; i <= 3; i++) await publishValue(headless, 'news', i, { history: { size: 10 } });
    const history = await reader.history('news', { since: { offset: 1, epoch: (await reader.position('news')).epoch } });
    assert.equal(history.complete, true);
    assert.deepEqual(decodePublications(history.publications).map((p) => p.data), [2, 3]);
  });

  it('forgets the members of a node that died once their TTL passes, and reports their leave', async () => {
    const survivor = recorder();
    const nodeA = await node(survivor.events, 'presence', { presenceSweepInterval: 50 });
    const dying = new RedisBroker({ url: server.url, prefix: 'presence' });
    await dying.start(recorder().events);
    await nodeA.subscribe('lobby');
    await nodeA.addPresence('lobby', { client: 'a1', user: 'alice' }, 60_000);
    await dying.addPresence('lobby', { client: 'b1', user: 'bob' }, 300);
    await until(() => survivor.seen.joins.length === 2);
    assert.equal((await nodeA.presence('lobby')).length, 2);
    await dying.close(); // no removePresence: the node is gone and stops refreshing
    await until(() => survivor.seen.leaves.length === 1, 5_000, "bob's leave");
    assert.deepEqual(survivor.seen.leaves[0], ['lobby', { client: 'b1', user: 'bob' }]);
    assert.deepEqual(await nodeA.presence('lobby'), [{ client: 'a1', user: 'alice' }]);
  });

  it('fails publishes at once while Redis is down, reports down and up, and serves again after a restart', async () => {
    const restartable = await RedisServer.start();
    try {
      const a = recorder();
      const nodeA = new RedisBroker({ url: restartable.url });
      await nodeA.start(a.events);
      try {
        await nodeA.subscribe('ticks');
        await nodeA.listen('target');
        const before = await publishValue(nodeA, 'ticks', 'before', { history: { size: 10 } });
        await restartable.kill();
        await until(() => a.seen.states.includes('down'), 5_000, 'the down report');
        await assert.rejects(publishValue(nodeA, 'ticks', 'lost?'), BrokerUnavailableError);
        await assert.rejects(nodeA.relay('target', 'lost?'), BrokerUnavailableError);
        await restartable.resume();
        await until(() => a.seen.states.at(-1) === 'up', 10_000, 'the up report');
        // The relay target was listened to before the outage: it is listened to again.
        const deadline = Date.now() + 5_000;
        while ((await nodeA.relay('target', 'after')) !== 1) {
          if (Date.now() > deadline) assert.fail('the relay target was not listened to again after the restart');
          await sleep(20);
        }
        await until(() => a.seen.relayed.some(([, message]) => message === 'after'), 5_000, 'the relay after the restart');
        const afterRestart = await publishValue(nodeA, 'ticks', 'after', { history: { size: 10 } });
        assert.notEqual(afterRestart.epoch, before.epoch, 'Redis kept nothing, so the stream starts a new epoch');
        await until(() => a.seen.publications.some(([, p]) => p.data === 'after'), 5_000, 'delivery after the restart');
        assert.ok(!a.seen.publications.some(([, p]) => p.data === 'lost?'));
        const history = await nodeA.history('ticks', { since: { offset: before.offset, epoch: before.epoch } });
        assert.equal(history.complete, false, 'recovery from the old epoch is refused');
      } finally {
        await nodeA.close();
      }
    } finally {
      await restartable.stop();
    }
  });

  it('rejects start() with a clear error when Redis is unreachable, without hanging', async () => {
    const port = await freePort();
    const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, connectTimeout: 2_000 });
    const started = Date.now();
    await assert.rejects(broker.start(recorder().events), (error: unknown) => {
      assert.ok(error instanceof BrokerUnavailableError);
      assert.match(error.message, new RegExp(`cannot reach Redis at redis://127.0.0.1:${port}`));
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
  });
});
