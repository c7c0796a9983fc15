// The trading feed of `switchboard serve --workers 2 --redis URL`: one feed for the whole cluster, run by
// worker 1 while a connection on any worker subscribes to `ticker:quotes`. A subscriber on worker 2 alone
// gets quotes, and the figures on `ticker:stats` that count publications are worker 1's; with subscribers on
// both workers, each instrument's quotes form one random walk (its volume only grows: two feeds interleaved
// would repeat or go back) at the feed's rate, not twice it, and both subscribers see the same quotes; once
// nobody subscribes, nothing more is published on the channel (its offset in Redis stands still), and a new
// subscriber finds the walk going on where it stopped. And the page's figures: the latest sample of each
// worker, added up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { RealtimeClient, Subscription } from '../../src/realtime/sdk/index.js';
import type { DemoApi } from '../../src/cli/apps/web/api.js';
import { isQuote, isTickerStats, SAMPLE_SPAN, sumOfWorkers, TICKER_QUOTES, TICKER_STATS, type Quote, type TickerSample, type TickerStats } from '../../src/cli/apps/web/ticker-api.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { requirePeer } from '../interop/peers.js';
import { eventually, feedRate, guest, startServe, channelOffset, offsetStandingStill } from './serve-helpers.js';

/** The feed's rate (quote updates a second, src/cli/ticker-feed.ts). */
const RATE = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A subscriber of `ticker:quotes` that keeps every quote it got, in order. */
function followQuotes(client: RealtimeClient<DemoApi>, quotes: Quote[]): Subscription {
  const subscription = client.subscribe(TICKER_QUOTES);
  subscription.on('publication', ({ data }) => {
    assert.ok(isQuote(data), 'every publication on ticker:quotes is a quote');
    quotes.push(data);
  });
  return subscription;
}

/** Asserts that each instrument's quotes, in the order they came, form one walk: its volume grows at every quote. */
function assertOneWalk(quotes: Quote[], who: string): void {
  const volumes = new Map<string, number>();
  for (const quote of quotes) {
    const previous = volumes.get(quote.symbol);
    assert.ok(previous === undefined || quote.volume > previous, `${who}: ${quote.symbol} went from volume ${previous} to ${quote.volume}: two walks interleaved`);
    volumes.set(quote.symbol, quote.volume);
  }
}

describe('the trading feed under switchboard serve --workers 2', () => {
  const redis = redisAvailability();
  const options = requirePeer('redis-server', redis.available, redis.reason);

  it('one feed, run by worker 1 while any worker has a subscriber, paused when none has', options, async () => {
    const store = await RedisServer.start();
    const serve = await startServe(['--port', '0', '--redis', store.url, '--workers', '2']);
    const inspector = new Redis(store.url, { lazyConnect: true });
    const clients: Array<RealtimeClient<DemoApi>> = [];
    try {
      await inspector.connect();
      // A connection on each worker (the primary hands connections to the workers in turn).
      const byWorker = new Map<number, RealtimeClient<DemoApi>>();
      for (let i = 0; i < 16 && byWorker.size < 2; i++) {
        const { client, connected } = await guest(serve.port, `T${i}`);
        clients.push(client);
        if (!byWorker.has(connected.data.worker)) byWorker.set(connected.data.worker, client);
      }
      assert.equal(byWorker.size, 2, 'connections reached both workers');
      const [one, two] = [byWorker.get(1)!, byWorker.get(2)!];

      // A subscriber on worker 2 alone: quotes come, from worker 1's feed.
      const stats: TickerStats[] = [];
      two.subscribe(TICKER_STATS).on('publication', ({ data }) => {
        assert.ok(isTickerStats(data), 'every publication on ticker:stats is a sample');
        stats.push(data);
      });
      const alone: Quote[] = [];
      let twoQuotes = followQuotes(two, alone);
      await eventually(
        () => (alone.length > 500 && stats.some((sample) => sample.worker === 1) && stats.some((sample) => sample.worker === 2)) || undefined,
        20_000,
        'quotes, and samples of both workers',
      );
      assertOneWalk(alone, 'the subscriber on worker 2');
      for (const sample of stats) {
        if (sample.worker !== 1) assert.equal(sample.published, 0, `worker ${sample.worker} published quotes`);
      }
      assert.ok(stats.some((sample) => sample.worker === 1 && sample.published > 0), 'worker 1 reports the quotes it publishes');

      // Subscribers on both workers: one walk, at the feed's rate, the same quotes for both.
      const seenByOne: Quote[] = [];
      const seenByTwo: Quote[] = [];
      const oneQuotes = followQuotes(one, seenByOne);
      twoQuotes.unsubscribe();
      twoQuotes = followQuotes(two, seenByTwo);
      await eventually(() => (seenByOne.length > 100 && seenByTwo.length > 100) || undefined, 20_000, 'quotes on both workers');
      // Long enough for a feed of worker 1's own to have started (it looks for subscribers twice a second).
      await sleep(3000);
      assertOneWalk(seenByOne, 'the subscriber on worker 1');
      assertOneWalk(seenByTwo, 'the subscriber on worker 2');
      for (const [who, quotes] of [['worker 1', seenByOne], ['worker 2', seenByTwo]] as const) {
        const rate = feedRate(quotes);
        assert.ok(rate < RATE * 1.25, `the subscriber on ${who} got ${Math.round(rate)} quotes per second of the feed's time`);
      }
      const byVolume = new Map(seenByOne.map((quote) => [`${quote.symbol} ${quote.volume}`, quote]));
      let shared = 0;
      for (const quote of seenByTwo) {
        const same = byVolume.get(`${quote.symbol} ${quote.volume}`);
        if (same === undefined) continue;
        shared++;
        assert.deepEqual(quote, same, 'one quote, as both subscribers got it');
      }
      assert.ok(shared > 100, `only ${shared} quotes seen by both subscribers`);

      // Nobody subscribes: the channel's offset in Redis stops moving, and stays.
      oneQuotes.unsubscribe();
      twoQuotes.unsubscribe();
      const offset = (): Promise<number> => channelOffset(inspector, 'ticker:quotes');
      const last = await offsetStandingStill(inspector, 'ticker:quotes');
      // Each worker samples once a second and looks for subscribers twice a
      // second; worker 2's last sample may still be on its way through Redis.
      // Stats have stopped once none comes for 2.5 s (a running sampler never
      // goes quiet that long).
      let quietSince = Date.now();
      let counted = stats.length;
      await eventually(
        () => {
          if (stats.length !== counted) [counted, quietSince] = [stats.length, Date.now()];
          return Date.now() - quietSince >= 2500 || undefined;
        },
        20_000,
        'stats to stop with no subscriber on any worker',
      );
      const samplesThen = stats.length;
      await sleep(3000);
      assert.equal(await offset(), last, 'quotes were published with no subscriber on any worker');
      assert.equal(stats.length, samplesThen, 'stats were published with no subscriber on any worker');

      // A new subscriber (on worker 2) finds the same walk going on.
      const before = new Map<string, number>();
      for (const quote of [...seenByOne, ...seenByTwo]) before.set(quote.symbol, Math.max(before.get(quote.symbol) ?? 0, quote.volume));
      const resumed: Quote[] = [];
      followQuotes(two, resumed);
      await eventually(() => resumed.length > 200 || undefined, 20_000, 'quotes after the pause');
      assertOneWalk(resumed, 'the new subscriber');
      for (const quote of resumed) {
        const seen = before.get(quote.symbol);
        assert.ok(seen === undefined || quote.volume > seen, `${quote.symbol}: volume ${quote.volume} after ${seen} before the pause`);
      }
      assert.ok(Number(await offset()) > last, 'the feed runs again');
    } finally {
      for (const client of clients) client.close();
      inspector.disconnect();
      await serve.stop();
      await store.stop();
    }
  });
});

describe('the ticker page\'s figures', () => {
  const sample = (worker: number, published: number, deltas: number, at: number): TickerSample => ({
    sample: { published, deltas, bytesSaved: deltas * 10, skipped: worker, instruments: 1000, worker },
    at,
  });

  it('adds up the latest sample of each worker, and forgets a worker that stopped sending', () => {
    const samples = new Map<number, TickerSample>();
    assert.equal(sumOfWorkers(samples), null, 'nothing before the first sample');
    samples.set(1, sample(1, 2000, 100, 0));
    assert.deepEqual(sumOfWorkers(samples), { published: 2000, deltas: 100, bytesSaved: 1000, skipped: 1, instruments: 1000 }, 'one process: its own figures');
    samples.set(2, sample(2, 0, 50, 500));
    samples.set(1, sample(1, 1990, 120, 1000));
    assert.deepEqual(sumOfWorkers(samples), { published: 1990, deltas: 170, bytesSaved: 1700, skipped: 3, instruments: 1000 });
    // Worker 2's subscribers left: its last sample ages out against worker 1's newer ones.
    samples.set(1, sample(1, 2000, 110, 500 + SAMPLE_SPAN + 1));
    assert.deepEqual(sumOfWorkers(samples), { published: 2000, deltas: 110, bytesSaved: 1100, skipped: 1, instruments: 1000 });
    assert.deepEqual([...samples.keys()], [1], 'forgotten');
  });
});
