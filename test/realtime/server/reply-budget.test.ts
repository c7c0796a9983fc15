// Every reply has a byte budget (limits.maxReplyBytes): history pages,
// recoveries that page, method results refused over it, and a reply never
// closing its own connection as a slow consumer — through real sockets, with
// the memory broker and with Redis, in JSON and in MessagePack.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { MemoryBroker } from '../../../src/realtime/broker/memory-broker.js';
import type { Broker } from '../../../src/realtime/broker/broker.js';
import { RealtimeClient, type PublicationEvent, type SubscribedEvent } from '../../../src/realtime/sdk/node.js';
import type { RealtimeServer } from '../../../src/realtime/server/index.js';
import { RedisServer, redisAvailability } from '../broker/redis-server.js';
import { JSON_PROTOCOL, MSGPACK_PROTOCOL, ReplyError, startServer, WireClient } from './wire-client.js';

const WAIT = 15_000;
const REPLY_BUDGET = 64 * 1024;
/** 300 publications of ~2 KB: about 10 budgets' worth. */
const COUNT = 300;
const redis = redisAvailability();
const requirePeers = process.env.SWITCHBOARD_REQUIRE_PEERS === '1';

async function until(condition: () => boolean, what: string, timeout = WAIT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function text(n: number): string {
  return `${String(n).padStart(5, '0')} ${'lorem ipsum dolor sit amet '.repeat(75)}`;
}

interface Setup {
  server: RealtimeServer;
  url: string;
}

/** The budget cases, against a server on `makeBroker`. */
function budgetSuite(name: string, makeBroker: () => Promise<Broker>): void {
  describe(name, () => {
    let setup: Setup;

    before(async () => {
      const broker = await makeBroker();
      const started = await startServer({
        broker,
        namespaces: { feed: { history: { size: 5_000 } }, bare: {} },
        limits: { maxQueuedBytes: 4 * REPLY_BUDGET, maxReplyBytes: REPLY_BUDGET, rate: false },
      });
      started.server.method('big', (size) => 'x'.repeat(Number(size)));
      started.server.method('ping', () => 'pong');
      setup = started;
    });

    after(() => setup.server.close());

    for (const protocol of [JSON_PROTOCOL, MSGPACK_PROTOCOL]) {
      const codec = protocol === JSON_PROTOCOL ? 'json' : 'msgpack';

      it(`history over the budget comes in pages that say more; paging gives every publication once (${codec})`, async () => {
        const channel = `feed:history-${codec}`;
        const published = [];
        for (let n = 1; n <= COUNT; n++) published.push(await setup.server.publish(channel, { n, text: text(n) }));
        const { client } = await WireClient.connect(setup.url, {}, { protocols: [protocol] });
        const raw = await client.command('history', { channel, limit: 1_000 });
        const first = raw.result as { publications: Array<{ offset: number }>; more?: boolean; offset: number; epoch: string };
        assert.equal(first.more, true, 'the first page says more follow');
        assert.ok(first.publications.length > 0 && first.publications.length < COUNT);
        assert.equal(first.publications[0]!.offset, 1, 'the latest 1000 start at the oldest');
        const last = client.received.at(-1)!;
        const size = client.codec.encode(last);
        assert.ok((typeof size === 'string' ? Buffer.byteLength(size) : size.length) <= REPLY_BUDGET + 256, 'the page is within the budget');
        const offsets = first.publications.map((publication) => publication.offset);
        let since = { offset: offsets.at(-1)!, epoch: first.epoch };
        for (;;) {
          const page = (await client.request('history', { channel, since })) as typeof first;
          offsets.push(...page.publications.map((publication) => publication.offset));
          if (page.more !== true) break;
          since = { offset: page.publications.at(-1)!.offset, epoch: first.epoch };
        }
        assert.deepEqual(offsets, published.map((result) => result.offset), 'every publication once, in order');
        await client.close();

        const sdk = new RealtimeClient(setup.url, { protocol: codec, reconnect: false }).connect();
        const all = await sdk.history(channel, { limit: 1_000 });
        assert.deepEqual(all.publications.map((publication) => (publication.data as { n: number }).n), published.map((_, index) => index + 1), 'the SDK pages transparently');
        assert.equal((all.publications[7]!.data as { text: string }).text, text(8), 'the data as published');
        const pages: number[][] = [];
        for await (const page of sdk.historyPages(channel, { limit: 1_000 })) pages.push(page.publications.map((publication) => publication.offset));
        assert.ok(pages.length > 1, 'more than one page');
        assert.deepEqual(pages.flat(), published.map((result) => result.offset), 'the pages, in order, are the whole answer');
        const few = await sdk.history(channel, { limit: 150 });
        assert.equal(few.publications.length, 150);
        assert.equal(few.publications[0]!.offset, COUNT - 149, 'a limit over several pages is the latest ones');
        sdk.close();
      });

      it(`a resubscription recovers far more than one reply can hold, exactly once and in order (${codec})`, async () => {
        const channel = `feed:recover-${codec}`;
        const sdk = new RealtimeClient(setup.url, { protocol: codec, reconnect: { minDelay: 50, maxDelay: 200 } }).connect();
        const subscription = sdk.subscribe(channel);
        await subscription.ready();
        const seen: number[] = [];
        subscription.on('publication', (publication: PublicationEvent<unknown>) => seen.push((publication.data as { n: number }).n));
        await setup.server.publish(channel, { n: 1, text: text(1) });
        await until(() => seen.length === 1, 'the first publication');
        const subscribed = new Promise<SubscribedEvent>((resolve) => subscription.once('subscribed', resolve));
        setup.server.sessions.get(sdk.clientId!)!.disconnect(4000, 'away for a moment');
        for (let n = 2; n <= COUNT; n++) await setup.server.publish(channel, { n, text: text(n) });
        const event = await subscribed;
        assert.equal(event.recovered, true);
        await setup.server.publish(channel, { n: COUNT + 1, text: 'live' });
        await until(() => seen.length === COUNT + 1, 'every missed publication and a live one');
        assert.deepEqual(seen, Array.from({ length: COUNT + 1 }, (_, index) => index + 1));
        sdk.close();
      });

      it(`a method result over the budget is refused with limit_exceeded; the connection stays (${codec})`, async () => {
        const { client } = await WireClient.connect(setup.url, {}, { protocols: [protocol] });
        await assert.rejects(client.request('call', { method: 'big', data: REPLY_BUDGET * 2 }), (error: unknown) => error instanceof ReplyError && error.code === 'limit_exceeded');
        assert.deepEqual(await client.request('call', { method: 'big', data: 10 }), { data: 'x'.repeat(10) });
        assert.deepEqual(await client.request('call', { method: 'ping' }), { data: 'pong' });
        await client.close();
      });
    }

    it('each codec reads the other\'s publications, live and from history, as the value published', async () => {
      const channel = 'feed:cross';
      const packer = await WireClient.connect(setup.url, {}, { protocols: [MSGPACK_PROTOCOL] });
      const texter = await WireClient.connect(setup.url, {}, { protocols: [JSON_PROTOCOL] });
      await packer.client.request('subscribe', { channel });
      await texter.client.request('subscribe', { channel });
      const hostile = Array.from({ length: 3_000 }, () => ({}));
      const fromPacker = { maps: hostile, n: 1.5, big: 2 ** 40, text: 'é ☕' };
      const fromTexter = { list: [1, -2, 3.25, null, true], text: 'naïve' };
      await packer.client.request('publish', { channel, data: fromPacker });
      await texter.client.request('publish', { channel, data: fromTexter });
      for (const { client } of [packer, texter]) {
        const pushes = await client.pushesOf((message) => message.type === 'publication', 2);
        assert.deepEqual(pushes.map((push) => (push as { data: unknown }).data), [fromPacker, fromTexter], `live, ${client.codec.subprotocol}`);
        const history = (await client.request('history', { channel })) as { publications: Array<{ data: unknown; info?: { client: string } }> };
        assert.deepEqual(history.publications.map((publication) => publication.data), [fromPacker, fromTexter], `history, ${client.codec.subprotocol}`);
        assert.equal(typeof history.publications[0]!.info?.client, 'string', 'with the publisher');
      }
      await packer.client.close();
      await texter.client.close();
    });

    it('a reply waits for room in the outbound buffer instead of closing its connection', async () => {
      const channel = 'feed:room';
      for (let n = 1; n <= 60; n++) await setup.server.publish(channel, { n, text: text(n) });
      const { client } = await WireClient.connect(setup.url);
      // Many history pages asked at once: their replies together are ~8 times the outbound buffer.
      const replies = await Promise.all(Array.from({ length: 16 }, () => client.command('history', { channel, limit: 60 })));
      for (const reply of replies) assert.equal((reply.result as { publications: unknown[] }).publications.length > 0, true);
      assert.equal(client.ws.readyState, 1, 'still open');
      await client.close();
    });
  });
}

budgetSuite('reply budget (memory broker)', async () => new MemoryBroker());

describe('reply budget (Redis)', { skip: !redis.available && !requirePeers ? `redis-server unavailable: ${redis.reason}` : false }, () => {
  let redisServer: RedisServer;
  before(async () => {
    redisServer = await RedisServer.start();
  });
  after(() => redisServer?.stop());
  budgetSuite('on Redis', async () => new RedisBroker({ url: redisServer.url }));
});
