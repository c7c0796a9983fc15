// No single command stalls the server: while a client reads a history of
// 1,000 hostile 32 KB publications (arrays of empty maps, published in
// MessagePack, read in JSON so that every page is transcoded), no turn of the
// event loop takes long and another client is answered throughout — memory
// broker and Redis. The bystander's round trip itself is measured by
// scripts/measure-history-bystander.mjs; this test only guards against a
// stall of the kind that took seconds before.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import type { Broker } from '../../../src/realtime/broker/broker.js';
import { MemoryBroker } from '../../../src/realtime/broker/memory-broker.js';
import { RedisBroker } from '../../../src/realtime/broker/redis-broker.js';
import { RealtimeClient } from '../../../src/realtime/sdk/node.js';
import { RedisServer, redisAvailability } from '../broker/redis-server.js';
import { WebSocket } from '../../../src/node/client-index.js';
import { startServer } from './wire-client.js';
import { watchLongestTurn } from '../longest-turn.js';

const COUNT = 1_000;
/**
 * The most CPU time the process may use between two turns of its event loop:
 * far above a healthy turn (99-190 ms, alone or on a loaded 2-core
 * machine), below the seconds that decoding the history took before in one
 * synchronous stretch (one read of this history: ~1.3 s).
 */
const WORST_TURN_CPU_MS = 1_000;
const redis = redisAvailability();
const requirePeers = process.env.SWITCHBOARD_REQUIRE_PEERS === '1';

/**
 * Reads a whole history page by page in JSON, looking only at the offsets and
 * `more` of each page (no JSON.parse of 32,000-map arrays: the test measures
 * the server, not a client decoding gigabytes of objects).
 */
class RawReader {
  private constructor(private readonly ws: WebSocket) {}

  static async open(url: string): Promise<RawReader> {
    const ws = new WebSocket(url, ['switchboard.v1.json']);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    // Heartbeat pings are answered by a listener of their own: a ping that arrives in the same chunk as a reply is
    // dispatched right after it, before the next command's listener exists.
    ws.addEventListener('message', (event) => {
      if (String(event.data).startsWith('{"type":"ping"')) ws.send('{"type":"pong"}');
    });
    const reader = new RawReader(ws);
    await reader.exchange({ type: 'connect', id: 1 });
    return reader;
  }

  private nextId = 2;

  /** Sends one command and resolves its reply's text (replies come in order here: one command at a time). */
  private exchange(command: Record<string, unknown>): Promise<string> {
    return new Promise((resolve, reject) => {
      // A reader the server closes fails the test with the close code and reason instead of waiting forever.
      const onClose = (event: CloseEvent): void => {
        this.ws.removeEventListener('message', onMessage);
        reject(new Error(`reader closed before reply ${String(command.id)}: ${event.code} ${event.reason}`));
      };
      this.ws.addEventListener('close', onClose, { once: true });
      // The reply to this command (pings, which reads can outlast the interval of, are answered in `open`).
      const onMessage = (event: MessageEvent): void => {
        const text = String(event.data);
        if (!text.includes(`"id":${String(command.id)},`) && !text.includes(`"id":${String(command.id)}}`)) return;
        this.ws.removeEventListener('message', onMessage);
        this.ws.removeEventListener('close', onClose);
        resolve(text);
      };
      this.ws.addEventListener('message', onMessage);
      this.ws.send(JSON.stringify(command));
    });
  }

  /** Every offset of the channel's history, following `more`. */
  async readAll(channel: string): Promise<number[]> {
    const offsets: number[] = [];
    let since: { offset: number; epoch: string } | undefined;
    for (;;) {
      const command: Record<string, unknown> = { type: 'history', id: this.nextId++, channel, limit: COUNT - offsets.length };
      if (since !== undefined) command.since = since;
      const text = await this.exchange(command);
      const epoch = /"epoch":"([^"]*)"/.exec(text)![1]!;
      for (const match of text.matchAll(/"offset":(\d+),"data"/g)) offsets.push(Number(match[1]));
      if (!text.includes('"more":true') || offsets.length >= COUNT) return offsets;
      since = { offset: offsets.at(-1)!, epoch };
    }
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.ws.addEventListener('close', resolve, { once: true }));
    this.ws.close(1000);
    await closed;
  }
}

function suite(name: string, makeBroker: () => Promise<Broker>): void {
  it(`${name}: no long turn of the event loop, and a bystander answered throughout, while a client reads 1,000 x 32 KB of history`, async () => {
    const broker = await makeBroker();
    const { server, url } = await startServer({ broker, namespaces: { board: { history: { size: COUNT } } } });
    try {
      server.method('ping', () => 1);
      const hostile = encode(Array.from({ length: 32_000 }, () => ({})));
      for (let i = 0; i < COUNT; i++) await broker.publish('board:bomb', { data: hostile }, { history: { size: COUNT } });
      const readers = await Promise.all([0].map(() => RawReader.open(url)));
      const bystander = new RealtimeClient(url, { reconnect: false }).connect();
      await bystander.call('ping', undefined);
      const longestTurn = watchLongestTurn();
      let reading = true;
      let worst = 0;
      let trips = 0;
      const probing = (async () => {
        while (reading) {
          const started = performance.now();
          await bystander.call('ping', undefined);
          worst = Math.max(worst, performance.now() - started);
          trips++;
          // At most ~50 calls/s: under the default rate limit (100/s, burst 200) however long the reads take.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const histories = await Promise.all(readers.map((reader) => reader.readAll('board:bomb'))).finally(() => {
        reading = false;
      });
      await probing;
      const worstTurnCpu = longestTurn();
      for (const offsets of histories) assert.deepEqual(offsets, Array.from({ length: COUNT }, (_, index) => index + 1), 'each reader got the whole history');
      console.log(`# ${name}: ${trips} bystander round trips, worst ${worst.toFixed(1)} ms; longest turn of the event loop ${worstTurnCpu.toFixed(1)} ms of CPU`);
      assert.ok(trips > 10, 'the bystander kept going during the reads');
      assert.ok(worstTurnCpu < WORST_TURN_CPU_MS, `a turn of the event loop took ${worstTurnCpu.toFixed(1)} ms of CPU`);
      for (const reader of readers) await reader.close();
      bystander.close();
    } finally {
      await server.close();
    }
  });
}

describe('a bystander during large history reads', () => {
  suite('memory broker', async () => new MemoryBroker());

  describe('on Redis', { skip: !redis.available && !requirePeers ? `redis-server unavailable: ${redis.reason}` : false }, () => {
    let redisServer: RedisServer;
    before(async () => {
      redisServer = await RedisServer.start();
    });
    after(() => redisServer?.stop());
    suite('Redis broker', async () => new RedisBroker({ url: redisServer.url }));
  });
});
