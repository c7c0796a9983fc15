/**
 * Conflation through real sockets: a subscriber that stops reading is not
 * disconnected; once it reads again it gets the latest publication of every
 * key, each push saying how many superseded publications it skipped, so that
 * every offset is accounted for. And the per-subscriber buffer's bounds.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { EventStreamParser } from '../../../src/realtime/wire/event-stream.js';
import { ConflationBuffer } from '../../../src/realtime/server/conflation.js';
import type { RealtimeServer, Session } from '../../../src/realtime/server/index.js';
import { RawClient } from './raw-client.js';
import { sleep, startServer, WireClient } from './wire-client.js';

const SYMBOLS = Array.from({ length: 20 }, (_, i) => `SYM${i}`);

/** Publishes `count` quotes round-robin over SYMBOLS with a per-symbol sequence; yields between them. */
async function publishQuotes(server: RealtimeServer, channel: string, count: number): Promise<Map<string, number>> {
  const pad = 'q'.repeat(1000);
  const sequence = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const symbol = SYMBOLS[i % SYMBOLS.length]!;
    const seq = (sequence.get(symbol) ?? 0) + 1;
    sequence.set(symbol, seq);
    await server.publish(channel, { symbol, seq, pad });
    if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return sequence;
}

type Push = Record<string, unknown>;

/** True once the pushes hold the latest quote of every symbol. */
function hasLatestOfEvery(publications: Push[], latest: Map<string, number>): boolean {
  const lastOf = new Map<string, number>();
  for (const message of publications) {
    const data = message.data as { symbol: string; seq: number };
    lastOf.set(data.symbol, data.seq);
  }
  return SYMBOLS.every((symbol) => lastOf.get(symbol) === latest.get(symbol));
}

/**
 * Every offset up to `total` is either received or counted in the `skipped`
 * of the next push, something was conflated, and a skipped publication was
 * superseded: each symbol's pushes come in increasing sequence.
 */
function assertConflatedStream(received: Push[], total: number): void {
  let last = 0;
  let skipped = 0;
  for (const message of received) {
    const gap = (message.skipped as number | undefined) ?? 0;
    assert.equal(message.offset, last + 1 + gap, `offset ${String(message.offset)} after ${last} with skipped ${gap}`);
    skipped += gap;
    last = message.offset as number;
  }
  assert.equal(last, total);
  assert.equal(received.length + skipped, total);
  assert.ok(skipped > 0, 'nothing was conflated');
  const seqs = new Map<string, number>();
  for (const message of received) {
    const data = message.data as { symbol: string; seq: number };
    assert.ok(data.seq > (seqs.get(data.symbol) ?? 0));
    seqs.set(data.symbol, data.seq);
  }
}

describe('conflation', () => {
  test('a subscriber that stops reading gets the latest per key with skipped counts, and stays connected', async () => {
    const { server } = await startServer({
      namespaces: { quotes: { conflation: { key: 'symbol', threshold: 16 * 1024 } } },
      limits: { maxQueuedBytes: 256 * 1024 },
    });
    try {
      const raw = await RawClient.open(server.port);
      raw.sendText({ type: 'connect', id: 1 });
      raw.sendText({ type: 'subscribe', id: 2, channel: 'quotes:all' });
      await raw.until(() => raw.messages().some((message) => message.id === 2));
      let disconnected = false;
      server.once('disconnect', () => (disconnected = true));
      raw.socket.pause();
      const total = 6000;
      const latest = await publishQuotes(server, 'quotes:all', total);
      raw.socket.resume();
      const publications = (): Push[] => raw.messages().filter((message) => message.type === 'publication');
      await raw.until(() => hasLatestOfEvery(publications(), latest), 20_000);
      assert.equal(disconnected, false);
      assertConflatedStream(publications(), total);
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });

  test('an HTTP fallback subscriber that stops reading its event stream is conflated the same: latest per key, skipped counts, no disconnect', async () => {
    const { server } = await startServer({
      path: '/rt',
      namespaces: { quotes: { conflation: { key: 'symbol', threshold: 16 * 1024 } } },
      limits: { maxQueuedBytes: 256 * 1024 },
    });
    try {
      const body = JSON.stringify([
        { type: 'connect', id: 1 },
        { type: 'subscribe', id: 2, channel: 'quotes:all' },
      ]);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: server.port, path: '/rt/http', method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-fallback': '2', 'content-length': Buffer.byteLength(body) } },
          resolve,
        );
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(response.statusCode, 200);
      const messages: Push[] = [];
      const parser = new EventStreamParser();
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        for (const event of parser.feed(chunk)) if (event.type !== 'close') messages.push(JSON.parse(event.data) as Record<string, unknown>);
      });
      const until = async (check: () => boolean, timeout: number): Promise<void> => {
        const deadline = Date.now() + timeout;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(messages.slice(-2)).slice(0, 300)}`);
          await sleep(10);
        }
      };
      await until(() => messages.some((message) => message.id === 2), 10_000);
      let disconnected = false;
      server.once('disconnect', () => (disconnected = true));
      response.pause();
      const total = 6000;
      const latest = await publishQuotes(server, 'quotes:all', total);
      assert.deepEqual([...server.sessions.values()].map((session) => session.transport), ['http']);
      response.resume();
      const publications = (): Push[] => messages.filter((message) => message.type === 'publication');
      await until(() => hasLatestOfEvery(publications(), latest), 20_000);
      assert.equal(disconnected, false);
      assertConflatedStream(publications(), total);
      response.destroy();
    } finally {
      await server.close();
    }
  });

  test('the buffer holds at most one publication per key and at most maxKeys keys; a key over the cap is a loss', () => {
    const buffer = new ConflationBuffer(5, 1 << 20);
    for (let offset = 1; offset <= 1000; offset++) buffer.hold({ key: `k${offset % 5}`, publication: { offset, data: '{}' }, epoch: undefined });
    assert.equal(buffer.size, 5);
    assert.equal(buffer.superseded, 995);
    buffer.hold({ key: 'new', publication: { offset: 1001, data: '{}' }, epoch: undefined });
    assert.equal(buffer.size, 5);
    const { publications, lost } = buffer.take();
    assert.equal(lost, true);
    assert.deepEqual(
      publications.map((held) => held.publication.offset),
      [996, 997, 998, 999, 1000],
    );
    assert.equal(buffer.size, 0);
    assert.equal(buffer.take().lost, false);
  });

  test('the buffer holds at most maxBytes of data: a publication that does not fit is a loss, a replaced one frees its room', () => {
    const big = (offset: number, key: string, size: number) => ({ key, publication: { offset, data: `"${'x'.repeat(size - 2)}"` }, epoch: undefined });
    const buffer = new ConflationBuffer(10_000, 100_000);
    // 10,000 keys of 32 KB each would be 320 MB: only what fits in 100 KB is held.
    for (let offset = 1; offset <= 10_000; offset++) buffer.hold(big(offset, `k${offset}`, 32_000));
    assert.equal(buffer.size, 3);
    assert.equal(buffer.heldBytes, 96_000);
    // A smaller value of a held key replaces it and frees room for another key.
    buffer.hold(big(10_001, 'k1', 1_000));
    buffer.hold(big(10_002, 'small', 2_000));
    assert.equal(buffer.heldBytes, 64_000 + 1_000 + 2_000);
    // A larger value of a held key that no longer fits: dropped, with the older one (a loss).
    buffer.hold(big(10_003, 'k2', 90_000));
    const { publications, lost } = buffer.take();
    assert.equal(lost, true);
    assert.deepEqual(
      publications.map((held) => held.publication.offset),
      [3, 10_001, 10_002],
    );
    assert.equal(buffer.heldBytes, 0);
  });
});

describe('conflation over a paced downlink (Session.paceDownlink)', () => {
  test('a subscriber whose downlink is paced below the feed is conflated, its buffer bounded; an unpaced one gets every publication', async () => {
    const maxQueuedBytes = 256 * 1024;
    const { server, url } = await startServer({
      namespaces: { quotes: { conflation: { key: 'symbol', threshold: 16 * 1024 } } },
      limits: { maxQueuedBytes },
    });
    server.method('slow', (params, session) => session.paceDownlink(params === true ? 8 * 1024 : null));
    const sessions: Session[] = [];
    server.on('connect', (session) => sessions.push(session));
    let disconnected = false;
    server.on('disconnect', () => (disconnected = true));
    try {
      const fast = (await WireClient.connect(url)).client;
      const slow = (await WireClient.connect(url)).client;
      await fast.request('subscribe', { channel: 'quotes:all' });
      await slow.request('subscribe', { channel: 'quotes:all' });
      assert.deepEqual(await slow.request('call', { method: 'slow', data: true }), { data: true });
      const slowSocket = (sessions[1] as unknown as { ws: { bufferedAmount: number; paceRate: number | null } }).ws;
      assert.equal(slowSocket.paceRate, 8 * 1024);
      // About 250 KB a second for two seconds, 30 times what the slow downlink carries.
      const total = 2000;
      const pad = 'q'.repeat(200);
      const latest = new Map<string, number>();
      let maxBuffered = 0;
      for (let i = 0; i < total; i++) {
        const symbol = SYMBOLS[i % SYMBOLS.length]!;
        const seq = (latest.get(symbol) ?? 0) + 1;
        latest.set(symbol, seq);
        await server.publish('quotes:all', { symbol, seq, pad });
        maxBuffered = Math.max(maxBuffered, slowSocket.bufferedAmount);
        if (i % 25 === 24) await sleep(20);
      }
      const quotes = (client: WireClient) => client.pushes.filter((push) => push.type === 'publication') as Array<{ offset: number; skipped?: number; data: { symbol: string; seq: number } }>;
      const hasLatest = (client: WireClient) => {
        const last = new Map<string, number>();
        for (const push of quotes(client)) last.set(push.data.symbol, push.data.seq);
        return SYMBOLS.every((symbol) => last.get(symbol) === latest.get(symbol));
      };
      await fast.waitFor(() => hasLatest(fast) || undefined, 10_000, 'the fast client has the latest');
      await slow.waitFor(() => hasLatest(slow) || undefined, 20_000, 'the slow client has the latest');
      assert.equal(disconnected, false);
      // The fast subscriber got every publication, none conflated.
      assert.equal(quotes(fast).length, total);
      assert.ok(quotes(fast).every((push) => push.skipped === undefined));
      // The slow one got far fewer, each offset received or counted in the next push's `skipped`.
      const received = quotes(slow);
      const skipped = received.reduce((sum, push) => sum + (push.skipped ?? 0), 0);
      assert.equal(received.length + skipped, total);
      assert.ok(received.length < total / 4, `${received.length} of ${total} delivered to the slow subscriber`);
      assert.ok(server.shapingStats().skipped >= skipped);
      // Its outbound buffer (the paced bytes included) stayed near the threshold, far under maxQueuedBytes.
      assert.ok(maxBuffered > 16 * 1024, `buffered at most ${maxBuffered}`);
      assert.ok(maxBuffered < maxQueuedBytes / 2, `buffered at most ${maxBuffered}`);
      // Lifting the pace: the next publications reach it unconflated.
      assert.deepEqual(await slow.request('call', { method: 'slow', data: false }), { data: true });
      assert.equal(slowSocket.paceRate, null);
      const before = quotes(slow).length;
      for (let i = 0; i < 20; i++) await server.publish('quotes:all', { symbol: SYMBOLS[i]!, seq: 10_000, pad });
      await slow.waitFor(() => (quotes(slow).length === before + 20 ? true : undefined), 10_000, 'unpaced publications');
      assert.ok(quotes(slow).slice(before).every((push) => push.skipped === undefined));
      fast.ws.close();
      slow.ws.close();
    } finally {
      await server.close();
    }
  });

  test('paceDownlink refuses a rate under 1,024 bytes a second', async () => {
    const { server, url } = await startServer({});
    server.method('pace', (params, session) => {
      try {
        session.paceDownlink(params as number);
        return 'paced';
      } catch (error) {
        return error instanceof RangeError ? 'range' : 'other';
      }
    });
    try {
      const { client } = await WireClient.connect(url);
      assert.deepEqual(await client.request('call', { method: 'pace', data: 1023 }), { data: 'range' });
      assert.deepEqual(await client.request('call', { method: 'pace', data: 1500 }), { data: 'paced' });
      assert.deepEqual(await client.request('call', { method: 'pace', data: 2048.5 }), { data: 'range' });
      client.ws.close();
    } finally {
      await server.close();
    }
  });
});
