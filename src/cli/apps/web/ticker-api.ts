/**
 * The trading feed of `switchboard serve` (`/ticker`): its channels and
 * messages. Shared by the feed (ticker-feed.ts) and the page's script; it is
 * served to browsers too (/apps/ticker-api.js), so it holds no DOM or Node code.
 */

/** Quotes of every instrument, one publication per change: conflated on `symbol`, delta-compressed. */
export const TICKER_QUOTES = 'ticker:quotes';
/**
 * Once a second, from each process with a subscriber to the quotes (under
 * `--workers N`: each worker, marked with its number): the quotes it
 * published (only the process that runs the feed publishes any) and what
 * conflation and delta compression saved in it. The page adds up the
 * latest sample of each worker.
 */
export const TICKER_STATS = 'ticker:stats';

/**
 * The demo's "slow link": `ticker.link` with `{ slow: true }` makes the
 * server hand this connection's downlink to its socket at this many bytes a
 * second, far below the feed's rate, so that its outbound buffer grows past
 * the conflation threshold and the server conflates its quotes.
 */
export const TICKER_SLOW_LINK_RATE = 32 * 1024;

/** Params of `ticker.link`. */
export interface TickerLinkParams {
  slow: boolean;
}

/** Result of `ticker.link`: the downlink's pace now (bytes a second), null for none. */
export interface TickerLink {
  bytesPerSecond: number | null;
}

/** True for well-formed `ticker.link` params (exactly `{ slow: boolean }`). */
export function isTickerLinkParams(value: unknown): value is TickerLinkParams {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'slow' && typeof (value as Record<string, unknown>).slow === 'boolean';
}

/** One instrument's quote. */
export interface Quote {
  symbol: string;
  bid: number;
  ask: number;
  last: number;
  /** Change since the open, in percent. */
  change: number;
  volume: number;
  /** When it changed (ms since the epoch, the server's clock). */
  time: number;
}

/** A sample of `ticker:stats`: one process's figures. */
export interface TickerStats {
  /** Quote updates published per second (0 in a worker that does not run the feed). */
  published: number;
  /** Publications written as deltas per second, and the bytes per second they saved against whole ones. */
  deltas: number;
  bytesSaved: number;
  /** Publications per second that conflated subscribers skipped. */
  skipped: number;
  instruments: number;
  /** The worker that sent it (1 … N under `--workers N`, else 1). */
  worker: number;
}

/** True for a well-formed quote. */
export function isQuote(value: unknown): value is Quote {
  if (typeof value !== 'object' || value === null) return false;
  const quote = value as Record<string, unknown>;
  return (
    typeof quote.symbol === 'string' &&
    ['bid', 'ask', 'last', 'change', 'volume', 'time'].every((field) => typeof quote[field] === 'number' && Number.isFinite(quote[field]))
  );
}

/** True for a well-formed stats sample. */
export function isTickerStats(value: unknown): value is TickerStats {
  if (typeof value !== 'object' || value === null) return false;
  const stats = value as Record<string, unknown>;
  return ['published', 'deltas', 'bytesSaved', 'skipped', 'instruments', 'worker'].every((field) => typeof stats[field] === 'number' && Number.isFinite(stats[field]));
}

/** A worker's latest `ticker:stats` sample, and when it came (ms, any clock). */
export interface TickerSample {
  sample: TickerStats;
  at: number;
}

/** How much older than the newest sample a worker's latest may be and still count (ms): a worker that stopped sending (its subscribers left) drops out. */
export const SAMPLE_SPAN = 3000;

/**
 * The figures of the whole server: the latest sample of each worker (by
 * worker number) added up, leaving out — and forgetting — those that came
 * more than `SAMPLE_SPAN` before the newest (not before now: on a slow link
 * every sample comes late); null before the first.
 */
export function sumOfWorkers(samples: Map<number, TickerSample>): Omit<TickerStats, 'worker'> | null {
  let newest = -Infinity;
  for (const { at } of samples.values()) newest = Math.max(newest, at);
  const sum = { published: 0, deltas: 0, bytesSaved: 0, skipped: 0, instruments: 0 };
  let kept = 0;
  for (const [worker, { sample, at }] of samples) {
    if (at < newest - SAMPLE_SPAN) {
      samples.delete(worker);
      continue;
    }
    kept++;
    sum.published += sample.published;
    sum.deltas += sample.deltas;
    sum.bytesSaved += sample.bytesSaved;
    sum.skipped += sample.skipped;
    sum.instruments = Math.max(sum.instruments, sample.instruments);
  }
  return kept === 0 ? null : sum;
}
