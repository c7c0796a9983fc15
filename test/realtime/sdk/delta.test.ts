// Delta compression through real sockets: a delta subscriber of the SDK gets exactly the data a plain subscriber
// gets (JSON and MessagePack), most of it as deltas; after a dropped connection it recovers full publications and
// then gets deltas again; fewer bytes reach a delta subscriber; a delta against a base the client lacks is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRealtimeServer, type RealtimeServer } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type PublicationEvent, type RealtimeClientOptions } from '../../../src/realtime/sdk/node.js';
import { DeltaBases, DeltaError } from '../../../src/realtime/sdk/delta.js';
import { RawClient } from '../server/raw-client.js';
import { orderBookUpdates } from '../../../bench/feeds/order-book.js';

interface Quote {
  symbol: string;
  bid: number;
  ask: number;
  last: number;
  volume: number;
  time: number;
}

const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI', 'STARK', 'WAYNE', 'TYRELL'];

/** A realistic quote stream: prices that walk by a cent or two, volumes that grow. */
function* quotes(count: number, seed = 1): Generator<Quote> {
  let state = seed;
  const random = (): number => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const books = new Map(SYMBOLS.map((symbol, i) => [symbol, { price: 100 + i * 17.31, volume: 100_000 * (i + 1) }]));
  for (let i = 0; i < count; i++) {
    const symbol = SYMBOLS[Math.floor(random() * SYMBOLS.length)]!;
    const book = books.get(symbol)!;
    book.price = Math.round((book.price + (random() - 0.5) * 0.1) * 100) / 100;
    book.volume += Math.floor(random() * 500);
    yield { symbol, bid: book.price, ask: Math.round((book.price + 0.02) * 100) / 100, last: book.price, volume: book.volume, time: 1_733_370_000_000 + i * 37 };
  }
}

/** Publishes in order, letting the sockets write between publications (a burst fills the outbound buffers, and conflation would step in). */
async function publishAll(server: RealtimeServer, channel: string, values: Iterable<unknown>): Promise<void> {
  for (const value of values) {
    await server.publish(channel, value);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function until(condition: () => boolean, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function collect(subscription: { on(event: 'publication', listener: (publication: PublicationEvent<unknown>) => void): unknown }): Array<PublicationEvent<unknown>> {
  const seen: Array<PublicationEvent<unknown>> = [];
  subscription.on('publication', (publication) => seen.push(publication));
  return seen;
}

describe('delta compression', () => {
  let server: RealtimeServer;
  let url: string;
  const clients: RealtimeClient[] = [];

  before(async () => {
    server = createRealtimeServer({
      port: 0,
      host: '127.0.0.1',
      namespaces: {
        ticker: { conflation: { key: 'symbol' }, delta: true, history: { size: 2000 } },
        board: { delta: true },
      },
    });
    await server.ready();
    url = `ws://127.0.0.1:${server.port}/`;
  });

  after(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  function client(binary = false, reconnect: Pick<RealtimeClientOptions, 'reconnect' | 'random'> = { reconnect: { minDelay: 50, maxDelay: 200 } }): RealtimeClient {
    const created = new RealtimeClient(url, { ...reconnect, ...(binary ? { protocol: 'msgpack' as const } : {}) });
    clients.push(created);
    created.connect();
    return created;
  }

  for (const binary of [false, true]) {
    it(`a delta subscriber gets the same data as a plain one, mostly as deltas (${binary ? 'MessagePack' : 'JSON'})`, async () => {
      const channel = `ticker:same-${binary}`;
      const plain = client(binary).subscribe(channel);
      const delta = client(binary).subscribe(channel, { delta: true });
      const seenPlain = collect(plain);
      const seenDelta = collect(delta);
      await Promise.all([plain.ready(), delta.ready()]);
      const published = [...quotes(400)];
      await publishAll(server, channel, published);
      await until(() => seenPlain.length === 400 && seenDelta.length === 400, 'every publication');
      assert.deepEqual(seenDelta.map((event) => event.data), published);
      assert.deepEqual(seenDelta.map((event) => event.data), seenPlain.map((event) => event.data));
      assert.deepEqual(seenDelta.map((event) => event.offset), seenPlain.map((event) => event.offset));
      const deltas = seenDelta.filter((event) => event.delta === true).length;
      // Only the first publication of each symbol comes full.
      assert.equal(deltas, 400 - SYMBOLS.length);
      assert.equal(seenPlain.filter((event) => event.delta === true).length, 0);
    });
  }

  it('without a conflation key, each publication is a delta against the previous one of the channel', async () => {
    const plain = client().subscribe('board:one');
    const delta = client().subscribe('board:one', { delta: true });
    const seenPlain = collect(plain);
    const seenDelta = collect(delta);
    await Promise.all([plain.ready(), delta.ready()]);
    const published = [...quotes(100)].map((quote, i) => ({ rows: [quote, { ...quote, symbol: 'X' }], n: i }));
    await publishAll(server, 'board:one', published);
    await until(() => seenPlain.length === 100 && seenDelta.length === 100, 'every publication');
    assert.deepEqual(seenDelta.map((event) => event.data), published);
    assert.equal(seenDelta.filter((event) => event.delta === true).length, 99);
  });

  it('after a dropped connection: recovered publications come full, then deltas again, the data unchanged', async () => {
    const channel = 'ticker:recover';
    // It reconnects 1.5 s after the drop (no jitter): once the publications it must recover are published.
    const reader = client(false, { reconnect: { minDelay: 1500, maxDelay: 1500 }, random: () => 1 });
    const subscription = reader.subscribe(channel, { delta: true });
    const seen = collect(subscription);
    await subscription.ready();
    const published = [...quotes(300, 7)];
    await publishAll(server, channel, published.slice(0, 100));
    await until(() => seen.length === 100, 'the first 100');
    let recoveredUpTo = 0;
    subscription.on('subscribed', (event) => {
      if (event.recovered === true) recoveredUpTo = event.position.offset;
    });
    server.sessions.get(reader.clientId!)!.disconnect(4000, 'go away for a moment');
    await until(() => subscription.state !== 'subscribed', 'the disconnect');
    await publishAll(server, channel, published.slice(100, 200));
    await until(() => recoveredUpTo > 0, 'the recovery');
    await publishAll(server, channel, published.slice(200));
    await until(() => seen.length === 300, 'every publication');
    assert.deepEqual(seen.map((event) => event.data), published);
    assert.deepEqual(seen.map((event) => event.offset), Array.from({ length: 300 }, (_, i) => i + 1));
    // Recovered ones are full; after the resubscription the first of each symbol is full, then deltas.
    assert.ok(recoveredUpTo > 100);
    const recovered = seen.filter((event) => event.offset > 100 && event.offset <= recoveredUpTo);
    assert.equal(recovered.length, recoveredUpTo - 100);
    assert.ok(recovered.every((event) => event.delta !== true), 'a recovered publication came as a delta');
    assert.ok(seen.slice(200).filter((event) => event.delta === true).length >= 100 - SYMBOLS.length);
  });

  it('a raw delta subscriber receives fewer bytes than a plain one for an order-book stream', async () => {
    const channel = 'ticker:bytes';
    const readers = [await RawClient.open(server.port), await RawClient.open(server.port)];
    for (const [i, raw] of readers.entries()) {
      raw.sendText({ type: 'connect', id: 1 });
      raw.sendText(i === 0 ? { type: 'subscribe', id: 2, channel } : { type: 'subscribe', id: 2, channel, delta: true });
      await raw.until(() => raw.messages().some((message) => message.id === 2));
    }
    const before = readers.map((raw) => raw.bytesReceived);
    await publishAll(server, channel, orderBookUpdates(500, 8, 3));
    for (const raw of readers) await raw.until(() => raw.messages().filter((message) => message.type === 'publication').length === 500);
    const [plainBytes, deltaBytes] = readers.map((raw, i) => raw.bytesReceived - before[i]!);
    assert.ok(deltaBytes! < plainBytes! * 0.5, `delta ${deltaBytes} vs plain ${plainBytes}`);
    const deltaPushes = readers[1]!.messages().filter((message) => message.type === 'publication' && typeof message.delta === 'number');
    assert.equal(deltaPushes.length, 500 - SYMBOLS.length);
    for (const raw of readers) raw.socket.destroy();
  });

  it('the client refuses a delta against a base it does not hold, or that does not rebuild', () => {
    const bases = new DeltaBases({ keys: 10, key: 'symbol', units: 'text' });
    bases.received(1, { symbol: 'ACME', bid: 1 });
    assert.throws(() => bases.rebuild(3, 2, [0, 0]), DeltaError);
    assert.throws(() => bases.rebuild(3, 1, [5, 123, 'hello']), DeltaError);
  });
});
