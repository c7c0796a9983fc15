/**
 * The market the `/ticker` demo shows: 1,000 instruments whose prices walk
 * at random, published on `ticker:quotes` — one publication per change, a
 * few thousand a second in all — while this process has a subscriber to it,
 * and stopped when the last one leaves. Once a second it publishes on
 * `ticker:stats` what conflation and delta compression saved.
 *
 * Under `--workers N` there is one feed for the cluster: worker 1 runs it
 * while a connection on any worker subscribes to `ticker:quotes` (it counts
 * the subscribers of every worker through the broker, twice a second:
 * `ClusterSubscriberWatch`), so that every subscriber gets one walk per
 * instrument at the feed's rate. The other workers publish no quotes; each
 * worker (1 included) publishes its own figures on `ticker:stats`, marked
 * with its number, while it has a subscriber (worker 1: while the feed
 * runs), and the page adds them up. `ticker.link` works on every worker: it
 * paces the caller's own connection.
 */
import { RpcError } from '../realtime/server/errors.js';
import type { RealtimeServer, Session } from '../realtime/server/index.js';
import type { DemoApi } from './apps/web/api.js';
import { isTickerLinkParams, TICKER_QUOTES, TICKER_SLOW_LINK_RATE, TICKER_STATS, type Quote, type TickerLink, type TickerStats } from './apps/web/ticker-api.js';
import { ClusterSubscriberWatch, SubscriberWatch, type WatchedProducer } from './subscriber-watch.js';

export interface TickerFeedOptions {
  /** Instruments. Default 1,000. */
  instruments?: number;
  /** Quote updates per second, in all. Default 2,000. */
  rate?: number;
  /** Reports errors (a publish that failed, a count of the cluster's subscribers that failed). */
  onError?: (error: Error) => void;
  /** This process's number under `--workers N` (1 … N). Default 1. */
  worker?: number;
  /**
   * N of `--workers N`. Default 1: a single process, whose feed runs while
   * it has a subscriber. With more, only worker 1 runs the feed, while any
   * worker has a subscriber; the others only publish their figures.
   */
  workers?: number;
}

/** Ticks per second of the feed's timer. */
const TICKS = 20;
interface Instrument {
  symbol: string;
  open: number;
  price: number;
  volume: number;
}

/** Symbols AAA, AAB, … : three letters, then a digit for more than 17,576. */
function symbolOf(index: number): string {
  let name = '';
  let rest = index;
  for (let i = 0; i < 3; i++) {
    name = String.fromCharCode(65 + (rest % 26)) + name;
    rest = Math.floor(rest / 26);
  }
  return rest === 0 ? name : `${name}${rest}`;
}

/**
 * `ticker.link`: paces the caller's downlink at `TICKER_SLOW_LINK_RATE`, or
 * lifts the pace. The rate is fixed, not the caller's to choose; its
 * outbound buffer stays under `limits.maxQueuedBytes` as any other's.
 */
function linkOf(params: unknown, session: Session<DemoApi>): TickerLink {
  if (!isTickerLinkParams(params)) throw new RpcError('bad_request', 'ticker.link takes { slow: boolean }');
  const bytesPerSecond = params.slow ? TICKER_SLOW_LINK_RATE : null;
  // Lifting any pace first tells whether this transport can be paced, and lets this reply out at full speed.
  if (!session.paceDownlink(null)) throw new RpcError('unavailable', 'a slow link needs a WebSocket connection');
  // The new pace starts once the reply is handed to the socket, so that it does not wait behind the held quotes.
  if (bytesPerSecond !== null) setImmediate(() => session.paceDownlink(bytesPerSecond));
  return { bytesPerSecond };
}

export class TickerFeed {
  private readonly instruments: Instrument[];
  private readonly rate: number;
  private readonly watch: SubscriberWatch | ClusterSubscriberWatch;
  /** This process's worker number, in its `ticker:stats` samples. */
  private readonly worker: number;
  /** True when this process publishes the quotes (a single process, or worker 1). */
  private readonly produces: boolean;
  private ticker: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private published = 0;
  private last = { deltas: 0, deltaBytesSaved: 0, skipped: 0, published: 0, at: 0 };
  private seed = 0x2545f491;

  constructor(
    private readonly rt: RealtimeServer<DemoApi>,
    private readonly options: TickerFeedOptions = {},
  ) {
    const count = options.instruments ?? 1000;
    this.rate = options.rate ?? 2000;
    this.worker = options.worker ?? 1;
    const clustered = (options.workers ?? 1) > 1;
    this.produces = this.worker === 1;
    this.instruments = Array.from({ length: count }, (_, i) => {
      const price = Math.round((5 + this.random() * 495) * 100) / 100;
      return { symbol: symbolOf(i), open: price, price, volume: Math.floor(this.random() * 1_000_000) };
    });
    rt.method('ticker.link', (params, session) => linkOf(params, session));
    const onError = (error: Error): void => options.onError?.(new Error(`counting the subscribers of ${TICKER_QUOTES}: ${error.message}`));
    this.watch =
      clustered && this.produces ? new ClusterSubscriberWatch(rt, TICKER_QUOTES, this.producer(), { onError }) : new SubscriberWatch(rt, TICKER_QUOTES, this.producer());
  }

  /** True while quotes are being published. */
  get running(): boolean {
    return this.ticker !== undefined;
  }

  /** True while this process publishes its figures on `ticker:stats`. */
  get reporting(): boolean {
    return this.statsTimer !== undefined;
  }

  /**
   * Watches for subscribers: the feed runs while `ticker:quotes` has one in
   * this process (under several workers: on any worker; the figures of a
   * worker other than 1 while it has one).
   */
  start(): void {
    this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  /** The feed (or only the figures, in a worker that does not produce) as the subscriber watch drives it. */
  private producer(): WatchedProducer {
    return {
      isRunning: () => this.reporting,
      resume: () => this.resume(),
      pause: () => this.pause(),
    };
  }

  private resume(): void {
    if (this.produces) {
      this.ticker = setInterval(() => this.tick(), 1000 / TICKS);
      this.ticker.unref();
    }
    this.statsTimer = setInterval(() => this.publishStats(), 1000);
    this.statsTimer.unref();
    this.last = { ...this.rt.shapingStats(), published: this.published, at: Date.now() };
  }

  private pause(): void {
    clearInterval(this.ticker);
    clearInterval(this.statsTimer);
    this.ticker = undefined;
    this.statsTimer = undefined;
  }

  private random(): number {
    // xorshift32: cheap and good enough for a random walk.
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 2 ** 32;
  }

  private tick(): void {
    const updates = Math.round(this.rate / TICKS);
    const now = Date.now();
    for (let i = 0; i < updates; i++) {
      // A few instruments trade much more than the rest.
      const pick = this.random() < 0.3 ? Math.floor(this.random() * 20) : Math.floor(this.random() * this.instruments.length);
      const instrument = this.instruments[pick]!;
      const step = instrument.price * (this.random() - 0.5) * 0.002;
      instrument.price = Math.max(0.01, Math.round((instrument.price + step) * 100) / 100);
      instrument.volume += 1 + Math.floor(this.random() * 500);
      const spread = Math.max(0.01, Math.round(instrument.price * 0.0004 * 100) / 100);
      const quote: Quote = {
        symbol: instrument.symbol,
        bid: instrument.price,
        ask: Math.round((instrument.price + spread) * 100) / 100,
        last: instrument.price,
        change: Math.round(((instrument.price - instrument.open) / instrument.open) * 10_000) / 100,
        volume: instrument.volume,
        time: now,
      };
      this.published++;
      this.rt.publish(TICKER_QUOTES, quote).catch((error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))));
    }
  }

  private publishStats(): void {
    const counters = this.rt.shapingStats();
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.last.at) / 1000);
    const stats: TickerStats = {
      published: Math.round((this.published - this.last.published) / seconds),
      deltas: Math.round((counters.deltas - this.last.deltas) / seconds),
      bytesSaved: Math.round((counters.deltaBytesSaved - this.last.deltaBytesSaved) / seconds),
      skipped: Math.round((counters.skipped - this.last.skipped) / seconds),
      instruments: this.instruments.length,
      worker: this.worker,
    };
    this.last = { ...counters, published: this.published, at: now };
    this.rt.publish(TICKER_STATS, stats).catch((error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))));
  }
}
