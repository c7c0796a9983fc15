import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRealtimeServer } from '../../src/realtime/server/index.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import { SubscriberWatch } from '../../src/cli/subscriber-watch.js';

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
