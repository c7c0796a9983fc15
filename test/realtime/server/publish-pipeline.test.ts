/**
 * A connection's consecutive publishes are pipelined (docs/protocol.md §2,
 * "Order"): the next one reaches the broker before the previous one is
 * answered, yet offsets and replies keep the connection's order, and any
 * other command waits until the publishes before it have finished. Checked
 * with a broker whose publishes take effect when called (as the Broker
 * contract says) but whose answers the test holds and releases in any order.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryBroker } from '../../../src/realtime/broker/memory-broker.js';
import type { Broker, BrokerEvents, RealtimeServer } from '../../../src/realtime/server/index.js';
import { MAX_PIPELINED_PUBLISHES } from '../../../src/realtime/server/publish-pipeline.js';
import type { ServerMessage } from '../../../src/realtime/wire/messages.js';
import { sleep, startServer, WireClient } from './wire-client.js';

type Position = Awaited<ReturnType<Broker['publish']>>;

/** A memory broker whose `publish` answers are held until the test releases them. */
class HeldBroker implements Broker {
  private readonly inner = new MemoryBroker();
  /** Every broker call, in order: `publish <channel>`, `position <channel>`, … */
  readonly calls: string[] = [];
  /** The held answers of the publishes, in call order. */
  readonly held: Array<() => void> = [];

  start(events: BrokerEvents): Promise<void> {
    return this.inner.start(events);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  subscribe(channel: string): Promise<void> {
    this.calls.push(`subscribe ${channel}`);
    return this.inner.subscribe(channel);
  }
  unsubscribe(channel: string): Promise<void> {
    return this.inner.unsubscribe(channel);
  }
  publish(...args: Parameters<Broker['publish']>): Promise<Position> {
    this.calls.push(`publish ${args[0]}`);
    const taken = this.inner.publish(...args);
    return new Promise<Position>((resolve, reject) => {
      this.held.push(() => {
        taken.then(resolve, reject);
      });
    });
  }
  history(...args: Parameters<Broker['history']>): ReturnType<Broker['history']> {
    this.calls.push(`history ${args[0]}`);
    return this.inner.history(...args);
  }
  removeHistory(channel: string): Promise<void> {
    this.calls.push(`removeHistory ${channel}`);
    return this.inner.removeHistory(channel);
  }
  position(channel: string): ReturnType<Broker['position']> {
    this.calls.push(`position ${channel}`);
    return this.inner.position(channel);
  }
  addPresence(...args: Parameters<Broker['addPresence']>): Promise<void> {
    return this.inner.addPresence(...args);
  }
  removePresence(channel: string, client: string): Promise<void> {
    return this.inner.removePresence(channel, client);
  }
  presence(channel: string): ReturnType<Broker['presence']> {
    return this.inner.presence(channel);
  }
  listen(target: string): Promise<void> {
    return this.inner.listen(target);
  }
  unlisten(target: string): Promise<void> {
    return this.inner.unlisten(target);
  }
  relay(target: string, message: string): Promise<number> {
    return this.inner.relay(target, message);
  }

  publishes(): number {
    return this.calls.filter((call) => call.startsWith('publish ')).length;
  }
}

async function withHeldServer(run: (broker: HeldBroker, client: WireClient, server: RealtimeServer) => Promise<void>): Promise<void> {
  const broker = new HeldBroker();
  const { server, url } = await startServer({
    broker,
    limits: { rate: false },
    namespaces: { feed: { publish: 'clients', history: { size: 100 } }, closed: { publish: false } },
  });
  const { client } = await WireClient.connect(url);
  try {
    await run(broker, client, server);
  } finally {
    for (const release of broker.held) release();
    await client.close();
    await server.close();
  }
}

/** The ids of the replies the client received, in arrival order. */
function replyIds(client: WireClient): number[] {
  return client.received.filter((message): message is Extract<ServerMessage, { type: 'reply' }> => message.type === 'reply').map((reply) => reply.id);
}

/** Polls `check` until it holds; fails after `timeout` ms. */
async function until(check: () => boolean, what: string, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Lets the server run what it may (the broker's answers stay held). */
async function settle(): Promise<void> {
  await sleep(50);
}

describe('pipelined publishes', () => {
  test('consecutive publishes reach the broker before the first is answered; replies come in order', async () => {
    await withHeldServer(async (broker, client) => {
      const base = replyIds(client).length;
      const replies = [1, 2, 3].map((n) => client.command('publish', { channel: 'feed:a', data: { n } }));
      await until(() => broker.publishes() === 3, 'three publishes at the broker');
      await settle();
      assert.equal(replyIds(client).length, base, 'no reply before the broker answered');
      // The broker answers the last one first.
      broker.held[2]!();
      broker.held[1]!();
      await settle();
      assert.equal(replyIds(client).length, base, 'later replies wait for the first');
      broker.held[0]!();
      const results = (await Promise.all(replies)).map((reply) => reply.result as { offset: number });
      assert.deepEqual(results.map((result) => result.offset), [1, 2, 3], 'offsets in the order sent');
      const ids = replyIds(client).slice(base);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'replies in the order of the commands');
      const history = (await client.request('history', { channel: 'feed:a' })) as { publications: Array<{ offset: number; data: { n: number } }> };
      assert.deepEqual(history.publications.map((p) => p.data.n), [1, 2, 3]);
    });
  });

  test('another command waits until the publishes before it have finished', async () => {
    await withHeldServer(async (broker, client) => {
      const publishes = [1, 2].map((n) => client.command('publish', { channel: 'feed:b', data: { n } }));
      const subscribed = client.command('subscribe', { channel: 'feed:b' });
      await until(() => broker.publishes() === 2, 'two publishes at the broker');
      await settle();
      assert.ok(!broker.calls.some((call) => call.endsWith(' feed:b') && !call.startsWith('publish')), `the subscribe has not started: ${broker.calls.join(', ')}`);
      broker.held[0]!();
      await settle();
      assert.ok(!broker.calls.some((call) => call.endsWith(' feed:b') && !call.startsWith('publish')), 'nor after the first publish finished');
      broker.held[1]!();
      const reply = await subscribed;
      assert.equal((reply.result as { offset: number }).offset, 2, 'the subscribe saw both publications');
      await Promise.all(publishes);
    });
  });

  test('a publish refused before the broker keeps its reply in order', async () => {
    await withHeldServer(async (broker, client) => {
      const base = replyIds(client).length;
      const first = client.command('publish', { channel: 'feed:c', data: 1 });
      const refused = client.command('publish', { channel: 'closed:c', data: 2 });
      const third = client.command('publish', { channel: 'feed:c', data: 3 });
      await until(() => broker.publishes() === 2, 'two publishes at the broker');
      await settle();
      assert.equal(replyIds(client).length, base, 'the refusal waits for the reply before it');
      broker.held[1]!();
      broker.held[0]!();
      assert.equal((await refused).error?.code, 'forbidden');
      assert.deepEqual([(await first).result, (await third).result].map((r) => (r as { offset: number }).offset), [1, 2]);
      const ids = replyIds(client).slice(base);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    });
  });

  test(`at most ${MAX_PIPELINED_PUBLISHES} publishes of a connection are at the broker at once`, async () => {
    await withHeldServer(async (broker, client) => {
      const count = MAX_PIPELINED_PUBLISHES + 4;
      const replies = Array.from({ length: count }, (_, n) => client.command('publish', { channel: 'feed:d', data: n }));
      await until(() => broker.publishes() === MAX_PIPELINED_PUBLISHES, 'a full pipeline');
      await settle();
      assert.equal(broker.publishes(), MAX_PIPELINED_PUBLISHES);
      broker.held[0]!();
      await until(() => broker.publishes() === MAX_PIPELINED_PUBLISHES + 1, 'one more once the first finished');
      for (let k = 1; k < count; k++) {
        await until(() => broker.held.length > k, `publish ${k + 1}`);
        broker.held[k]!();
      }
      const offsets = (await Promise.all(replies)).map((reply) => (reply.result as { offset: number }).offset);
      assert.deepEqual(offsets, Array.from({ length: count }, (_, n) => n + 1));
    });
  });
});
