// RedisBroker and publications as bytes, against a real redis-server of its
// own: data published as JSON text or MessagePack crosses nodes, the stream
// and the bus byte for byte; reads on fresh channel names create no key;
// history pages are cut by maxBytes inside Redis, and paging with `since`
// walks a large stream exactly once; one such page does not block the
// event loop.
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { BrokerEvents } from '../../../src/realtime/broker/broker.js';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import type { EncodedPublication } from '../../../src/realtime/wire/encoded.js';
import { requirePeer } from '../../interop/peers.js';
import { RedisServer, redisAvailability } from './redis-server.js';
import { watchLongestTurn } from '../longest-turn.js';

const redis = redisAvailability();
const peer = requirePeer('redis-server', redis.available, redis.reason);

interface Delivered {
  channel: string;
  publication: EncodedPublication;
  epoch: string;
}

function quietEvents(delivered: Delivered[] = []): BrokerEvents {
  return {
    publication: (channel, publication, epoch) => delivered.push({ channel, publication, epoch }),
    join: () => {},
    leave: () => {},
  };
}

async function until(condition: () => boolean, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Asserts MessagePack bytes as given back: a Uint8Array equal to `expected`, over a buffer of its own size. */
function assertOwnBytes(actual: unknown, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: MessagePack comes back as bytes`);
  assert.deepEqual(Buffer.from(actual), Buffer.from(expected), `${what}: the very bytes`);
  assert.equal(actual.buffer.byteLength, actual.byteLength, `${what}: holds no larger shared buffer`);
}

/** A MessagePack bin32 value of `size` bytes whose first four content bytes are `n` (big-endian). */
function binPayload(n: number, size: number): Uint8Array {
  const bytes = Buffer.alloc(5 + size, n & 0xff);
  bytes[0] = 0xc6;
  bytes.writeUInt32BE(size, 1);
  bytes.writeUInt32BE(n, 5);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
}

/** The `n` of a `binPayload`. */
function payloadNumber(bytes: Uint8Array): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(5);
}

/** Every key under `prefix` (SCAN, not KEYS). */
async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

describe('RedisBroker: publications as bytes', peer, () => {
  let server: RedisServer;
  let client: Redis;
  const brokers: RedisBroker[] = [];

  before(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
  });
  after(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    client.disconnect();
    await server.stop();
  });

  async function node(prefix: string, delivered?: Delivered[]): Promise<RedisBroker> {
    const broker = new RedisBroker({ url: server.url, prefix });
    brokers.push(broker);
    await broker.start(quietEvents(delivered));
    return broker;
  }

  it('carries MessagePack with every byte value and non-ASCII JSON byte for byte through the bus and the stream, across nodes', async () => {
    const delivered: Delivered[] = [];
    const subscriber = await node('bytes', delivered);
    const publisher = await node('bytes');
    await subscriber.subscribe('raw');
    // bin16 of all 256 byte values (newlines, spaces, 'p' and zeros included),
    // and an info map whose string holds the frame's own separators.
    const everyByte = Uint8Array.from([0xc5, 0x01, 0x00, ...Array.from({ length: 256 }, (_, index) => index)]);
    const info = Uint8Array.from([0x81, 0xa1, 0x73, 0xa7, ...Buffer.from('p 1 x\n\0')]);
    const text = '{"text":"caf\u00e9 ☕ 𝄞 \\u0000 \u2028","n":1.5e300,"raw":"p 2 e j 0\\n"}';
    const infoText = '{"client":"c1","user":"zoë ✓"}';
    const first = await publisher.publish('raw', { data: everyByte, info }, { history: { size: 10 } });
    const second = await publisher.publish('raw', { data: text, info: infoText }, { history: { size: 10 } });
    const third = await publisher.publish('raw', { data: everyByte }, { history: { size: 10 } });
    assert.deepEqual([first.offset, second.offset, third.offset], [1, 2, 3]);

    await until(() => delivered.length === 3, 'the three publications on the other node');
    const [a, b, c] = delivered;
    for (const seen of [a!, b!, c!]) {
      assert.equal(seen.channel, 'raw');
      assert.equal(seen.epoch, first.epoch, 'each publication comes with its epoch');
    }
    assert.equal(a!.publication.offset, 1);
    assertOwnBytes(a!.publication.data, everyByte, 'fan-out data');
    assertOwnBytes(a!.publication.info, info, 'fan-out info');
    assert.deepEqual(b!.publication, { offset: 2, data: text, info: infoText }, 'fan-out JSON: the same text');
    assertOwnBytes(c!.publication.data, everyByte, 'fan-out data without info');
    assert.equal(c!.publication.info, undefined);

    const history = await subscriber.history('raw');
    assert.equal(history.publications.length, 3);
    const [h1, h2, h3] = history.publications;
    assertOwnBytes(h1!.data, everyByte, 'history data');
    assertOwnBytes(h1!.info, info, 'history info');
    assert.deepEqual(h2, { offset: 2, data: text, info: infoText }, 'history JSON: the same text');
    assertOwnBytes(h3!.data, everyByte, 'history data without info');
    assert.equal(h3!.info, undefined);

    // In Redis the data field is the raw bytes, marked with their encoding.
    const [entry] = await client.xrangeBuffer('bytes:{raw}:s', '1-1', '1-1');
    const fields = new Map<string, Buffer>();
    const flat = entry![1];
    for (let k = 0; k < flat.length; k += 2) fields.set(flat[k]!.toString(), flat[k + 1]!);
    assert.deepEqual(fields.get('d'), Buffer.from(everyByte), 'stored as binary, not re-encoded');
    assert.equal(fields.get('e')?.toString(), 'm');
  });

  it('creates no key for history, position and presence reads on 1,000 fresh channel names', async () => {
    const reader = await node('readonly');
    const keysBefore = await client.dbsize();
    for (let n = 0; n < 1_000; n++) {
      const channel = `fresh-${n}`;
      const position = await reader.position(channel);
      assert.deepEqual(position, { offset: 0, epoch: '' });
      const latest = await reader.history(channel, { limit: 10 });
      assert.deepEqual(latest, { publications: [], position, complete: true, truncated: false });
      const recovery = await reader.history(channel, { since: { offset: 0, epoch: '' }, maxBytes: 65_536 });
      assert.equal(recovery.complete, true);
      const lost = await reader.history(channel, { since: { offset: 5, epoch: 'gone' } });
      assert.equal(lost.complete, false, 'a position in a forgotten stream cannot be recovered');
      assert.deepEqual(await reader.presence(channel), []);
      await reader.subscribe(channel);
      await reader.unsubscribe(channel);
    }
    assert.deepEqual(await keysUnder(client, 'readonly'), [], 'no key under the prefix');
    assert.ok((await client.dbsize()) <= keysBefore, 'the database did not grow');

    // The scan does see keys under the prefix once a channel is published to,
    // and the first publication (not a read) makes its epoch, with the meta TTL.
    const published = await reader.publish('fresh-0', { data: '"first"' }, { history: { size: 10 } });
    assert.equal(published.offset, 1);
    assert.ok(published.epoch.length > 0);
    assert.deepEqual((await keysUnder(client, 'readonly')).sort(), ['readonly:{fresh-0}:m', 'readonly:{fresh-0}:s']);
    const metaTtl = await client.pttl('readonly:{fresh-0}:m');
    assert.ok(metaTtl > 6 * 24 * 3_600_000, `the meta lives its TTL (${metaTtl} ms)`);
    assert.deepEqual(await reader.position('fresh-0'), { offset: 1, epoch: published.epoch });
  });

  describe('a stream of 1,000 publications of 32 KB', () => {
    const COUNT = 1_000;
    const SIZE = 32_000;
    const PAGE_BYTES = 256 * 1024;
    let broker: RedisBroker;
    let epoch = '';

    before(async () => {
      broker = await node('paged');
      for (let n = 1; n <= COUNT; n += 50) {
        const batch = Array.from({ length: Math.min(50, COUNT - n + 1) }, (_, index) => n + index);
        const results = await Promise.all(batch.map((k) => broker.publish('board', { data: binPayload(k, SIZE) }, { history: { size: COUNT } })));
        epoch = results[0]!.epoch;
      }
    });

    it('pages by maxBytes inside Redis: 8 per 256 KiB page, truncated, and paging with since gets each one exactly once', async () => {
      const first = await broker.history('board', { since: { offset: 0, epoch }, maxBytes: PAGE_BYTES });
      assert.deepEqual(first.publications.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(first.truncated, true);
      assert.equal(first.complete, false);
      assert.deepEqual(first.position, { offset: COUNT, epoch });
      first.publications.forEach((p) => assert.equal(payloadNumber(p.data as Uint8Array), p.offset));

      const latest = await broker.history('board', { limit: 100, maxBytes: PAGE_BYTES });
      assert.deepEqual(latest.publications.map((p) => p.offset), [901, 902, 903, 904, 905, 906, 907, 908], 'the latest 100, from their oldest');
      assert.equal(latest.truncated, true);

      const seen = new Map<number, number>();
      let since = { offset: 0, epoch };
      let pages = 0;
      for (;;) {
        const page = await broker.history('board', { since, maxBytes: PAGE_BYTES });
        pages++;
        const bytes = page.publications.reduce((sum, p) => sum + (p.data as Uint8Array).byteLength, 0);
        assert.ok(bytes <= PAGE_BYTES, `page ${pages}: ${bytes} bytes`);
        for (const publication of page.publications) {
          assert.equal(payloadNumber(publication.data as Uint8Array), publication.offset, 'the data of its own offset');
          assert.equal((publication.data as Uint8Array).byteLength, SIZE + 5);
          seen.set(publication.offset, (seen.get(publication.offset) ?? 0) + 1);
        }
        if (!page.truncated) {
          assert.equal(page.complete, true, 'the last page completes the recovery');
          break;
        }
        since = { offset: page.publications.at(-1)!.offset, epoch };
      }
      assert.equal(pages, COUNT / 8);
      assert.equal(seen.size, COUNT);
      assert.ok([...seen.values()].every((times) => times === 1), 'each publication once');
      assert.deepEqual([...seen.keys()], Array.from({ length: COUNT }, (_, index) => index + 1), 'in offset order');
    });

    it('serves one maxBytes page of it without blocking the event loop', async () => {
      // The bound is on CPU time (see watchLongestTurn): the event-loop delay
      // is also printed, but on a loaded machine it counts the time the
      // process waits for a core.
      const delay = monitorEventLoopDelay({ resolution: 1 });
      const longestTurn = watchLongestTurn();
      const rounds = 20;
      let slowest = 0;
      delay.enable();
      for (let round = 0; round < rounds; round++) {
        const started = performance.now();
        const page = await broker.history('board', { since: { offset: round * 40, epoch }, maxBytes: PAGE_BYTES });
        slowest = Math.max(slowest, performance.now() - started);
        assert.equal(page.publications.length, 8);
      }
      await sleep(15);
      delay.disable();
      const longestTurnMs = longestTurn();
      const maxDelay = delay.max / 1e6;
      console.log(`# history page (8 × 32 KB of 1,000) from Redis: slowest call ${slowest.toFixed(1)} ms, longest turn ${longestTurnMs.toFixed(1)} ms of CPU, max event-loop delay ${maxDelay.toFixed(1)} ms over ${rounds} pages`);
      // Measured 6-12 ms for a page; the whole history in one reply (below) takes 100-230 ms in one turn.
      assert.ok(longestTurnMs < 75, `longest turn of the event loop: ${longestTurnMs.toFixed(1)} ms of CPU`);

      // For contrast: the whole stream (32 MB) in one reply, without maxBytes.
      const whole = monitorEventLoopDelay({ resolution: 1 });
      const wholeTurn = watchLongestTurn();
      whole.enable();
      const started = performance.now();
      const all = await broker.history('board');
      const took = performance.now() - started;
      await sleep(15);
      whole.disable();
      const wholeTurnMs = wholeTurn();
      assert.equal(all.publications.length, COUNT);
      console.log(`# whole history (1,000 × 32 KB) without maxBytes: ${took.toFixed(1)} ms, longest turn ${wholeTurnMs.toFixed(1)} ms of CPU, max event-loop delay ${(whole.max / 1e6).toFixed(1)} ms`);
    });
  });
});
