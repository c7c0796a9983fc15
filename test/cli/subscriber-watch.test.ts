import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRealtimeServer, RedisBroker } from '../../src/realtime/server/index.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import { ClusterSubscriberWatch, SubscriberWatch } from '../../src/cli/subscriber-watch.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { requirePeer } from '../interop/peers.js';

/** A producer that records what the watch asked of it. */
function recorder(): { calls: string[]; isRunning(): boolean; resume(): void; pause(): void } {
  let running = false;
  const calls: string[] = [];
  return {
    calls,
    isRunning: () => running,
    resume: () => {
      running = true;
      calls.push('resume');
    },
    pause: () => {
      running = false;
      calls.push('pause');
    },
  };
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('SubscriberWatch', () => {
  it('resumes once with the first subscriber, pauses once the last leaves, and stop pauses', () => {
    const channels = new Map<string, number>();
    const producer = recorder();
    const watch = new SubscriberWatch({ stats: () => ({ channels }) }, 'feed:x', producer);
    watch.check();
    assert.deepEqual(producer.calls, [], 'nothing without subscribers');
    channels.set('feed:other', 3);
    watch.check();
    assert.deepEqual(producer.calls, [], 'another channel does not count');
    channels.set('feed:x', 1);
    watch.check();
    channels.set('feed:x', 2);
    watch.check();
    assert.deepEqual(producer.calls, ['resume']);
    channels.set('feed:x', 0);
    watch.check();
    watch.check();
    assert.deepEqual(producer.calls, ['resume', 'pause']);
    channels.set('feed:x', 1);
    watch.check();
    watch.stop();
    watch.stop();
    assert.deepEqual(producer.calls, ['resume', 'pause', 'resume', 'pause']);
  });

  it('follows a real server: a client subscribing starts the producer, unsubscribing stops it', async () => {
    const server = createRealtimeServer({ port: 0, host: '127.0.0.1', namespaces: { feed: {} } });
    await server.ready();
    const producer = recorder();
    const watch = new SubscriberWatch(server, 'feed:x', producer, 20);
    watch.start();
    const client = new RealtimeClient(`ws://127.0.0.1:${server.port}/`, { reconnect: false }).connect();
    try {
      const subscription = client.subscribe('feed:x');
      await until(() => producer.isRunning());
      subscription.unsubscribe();
      await until(() => !producer.isRunning());
      assert.deepEqual(producer.calls, ['resume', 'pause']);
    } finally {
      watch.stop();
      client.close();
      await server.close();
    }
  });
});

/** A server whose cluster-wide counts the test answers by hand: each `channels()` call waits for `answer` or `fail`. */
function clusterCounts(): {
  local: Map<string, number>;
  asked: Array<string | undefined>;
  stats(): { channels: ReadonlyMap<string, number> };
  channels(options: { pattern?: string }): Promise<ReadonlyMap<string, number>>;
  answer(counts: Record<string, number>): void;
  fail(error: Error): void;
} {
  const local = new Map<string, number>();
  const asked: Array<string | undefined> = [];
  const pending: Array<{ resolve(counts: ReadonlyMap<string, number>): void; reject(error: Error): void }> = [];
  return {
    local,
    asked,
    stats: () => ({ channels: local }),
    channels: (options) => {
      asked.push(options.pattern);
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
    answer: (counts) => pending.shift()!.resolve(new Map(Object.entries(counts))),
    fail: (error) => pending.shift()!.reject(error),
  };
}

describe('ClusterSubscriberWatch', () => {
  it('asks one count at a time; the count of every node resumes and pauses the producer', async () => {
    const server = clusterCounts();
    const producer = recorder();
    const watch = new ClusterSubscriberWatch(server, 'feed:x', producer, { timeout: 60_000 });
    const first = watch.check();
    assert.equal(watch.busy, true);
    await watch.check();
    await watch.check();
    assert.deepEqual(server.asked, ['feed:x'], 'no second question while one is under way');
    server.answer({ 'feed:x': 2 });
    await first;
    assert.equal(watch.busy, false);
    assert.deepEqual(producer.calls, ['resume']);
    const second = watch.check();
    server.answer({ 'feed:x': 1 });
    await second;
    const third = watch.check();
    server.answer({});
    await third;
    assert.deepEqual(producer.calls, ['resume', 'pause'], 'no subscriber on any node: paused');
    assert.equal(server.asked.length, 3);
  });

  it('a subscriber in this process is enough: no question asked', async () => {
    const server = clusterCounts();
    const producer = recorder();
    const watch = new ClusterSubscriberWatch(server, 'feed:x', producer);
    server.local.set('feed:x', 1);
    await watch.check();
    assert.deepEqual(server.asked, []);
    assert.deepEqual(producer.calls, ['resume']);
  });

  it('a failed count changes nothing, and is reported once per run of failures', async () => {
    const server = clusterCounts();
    const producer = recorder();
    const errors: string[] = [];
    const watch = new ClusterSubscriberWatch(server, 'feed:x', producer, { timeout: 60_000, onError: (error) => errors.push(error.message) });
    const look = async (settle: () => void): Promise<void> => {
      const checked = watch.check();
      settle();
      await checked;
    };
    await look(() => server.answer({ 'feed:x': 1 }));
    await look(() => server.fail(new Error('broker unavailable')));
    await look(() => server.fail(new Error('broker unavailable')));
    assert.deepEqual(producer.calls, ['resume'], 'running on through failures');
    assert.deepEqual(errors, ['broker unavailable']);
    await look(() => server.answer({ 'feed:x': 1 }));
    await look(() => server.fail(new Error('again')));
    assert.deepEqual(errors, ['broker unavailable', 'again'], 'reported again after a count that came');
    await look(() => server.answer({}));
    assert.deepEqual(producer.calls, ['resume', 'pause']);
  });

  it('a count that comes too late changes nothing, and no other is asked until it came', async () => {
    const server = clusterCounts();
    const producer = recorder();
    const errors: string[] = [];
    const watch = new ClusterSubscriberWatch(server, 'feed:x', producer, { timeout: 50, onError: (error) => errors.push(error.message) });
    const checked = watch.check();
    server.answer({ 'feed:x': 1 });
    await checked;
    assert.deepEqual(producer.calls, ['resume']);
    // The nodes do not answer in time; the answer that comes at last (possibly only some nodes': none) is not acted on.
    await watch.check();
    assert.match(errors[0] ?? '', /no count of feed:x's subscribers within 50 ms/);
    assert.equal(watch.busy, true, 'still under way');
    await watch.check();
    assert.equal(server.asked.length, 2, 'no second question while the late one is under way');
    server.answer({});
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(watch.busy, false);
    assert.deepEqual(producer.calls, ['resume'], 'the late answer changed nothing');
    const next = watch.check();
    server.answer({});
    await next;
    assert.deepEqual(producer.calls, ['resume', 'pause']);
    assert.equal(errors.length, 1);
  });

  it('a count that comes after stop() does not resume the producer', async () => {
    const server = clusterCounts();
    const producer = recorder();
    const watch = new ClusterSubscriberWatch(server, 'feed:x', producer, { timeout: 60_000 });
    const checked = watch.check();
    watch.stop();
    server.answer({ 'feed:x': 1 });
    await checked;
    assert.deepEqual(producer.calls, []);
  });

  describe('on two real-time servers sharing a Redis', () => {
    const redis = redisAvailability();
    const options = requirePeer('redis-server', redis.available, redis.reason);

    it('a client subscribing on the other server starts the producer, unsubscribing stops it', options, async () => {
      const store = await RedisServer.start();
      const servers = [0, 1].map(() => createRealtimeServer({ port: 0, host: '127.0.0.1', namespaces: { feed: {} }, broker: new RedisBroker({ url: store.url }) }));
      const producer = recorder();
      const errors: Error[] = [];
      const watch = new ClusterSubscriberWatch(servers[0]!, 'feed:x', producer, { interval: 50, onError: (error) => errors.push(error) });
      let client: RealtimeClient | undefined;
      try {
        await Promise.all(servers.map((server) => server.ready()));
        watch.start();
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.deepEqual(producer.calls, [], 'nobody subscribed');
        client = new RealtimeClient(`ws://127.0.0.1:${servers[1]!.port}/`, { reconnect: false }).connect();
        const subscription = client.subscribe('feed:x');
        await until(() => producer.isRunning());
        subscription.unsubscribe();
        await until(() => !producer.isRunning());
        assert.deepEqual(producer.calls, ['resume', 'pause']);
        assert.deepEqual(errors, []);
      } finally {
        watch.stop();
        client?.close();
        await Promise.all(servers.map((server) => server.close()));
        await store.stop();
      }
    });
  });
});
