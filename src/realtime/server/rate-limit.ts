/**
 * The per-connection message rate limit (docs/protocol.md §9): a token bucket
 * refilled at `perSecond` tokens per second up to `burst`; each command takes
 * one. A command without a token is rejected (`rate_limited`), and
 * `disconnectAfter` rejections in a row end the connection (4005).
 */

export interface RateLimitOptions {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: the most commands accepted at once after a quiet period. */
  burst: number;
  /** Close the connection after this many rejections in a row. */
  disconnectAfter: number;
}

export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = Object.freeze({ perSecond: 100, burst: 200, disconnectAfter: 50 });

/** Checks a rate limit's numbers; throws `TypeError` for invalid ones. */
export function checkRateLimit(options: RateLimitOptions): RateLimitOptions {
  const { perSecond, burst, disconnectAfter } = options;
  if (!(typeof perSecond === 'number' && perSecond > 0)) throw new TypeError('limits.rate.perSecond must be a number > 0');
  if (!(typeof burst === 'number' && burst >= 1)) throw new TypeError('limits.rate.burst must be a number >= 1');
  if (!(Number.isInteger(disconnectAfter) && disconnectAfter >= 1)) throw new TypeError('limits.rate.disconnectAfter must be an integer >= 1');
  return { perSecond, burst, disconnectAfter };
}

/** What happened to one command: admitted, rejected, or rejected once too often (disconnect). */
export type RateDecision = 'ok' | 'reject' | 'disconnect';

/** Monotonic milliseconds. */
function monotonicNow(): number {
  return performance.now();
}

/** A token bucket with a count of consecutive rejections. `now` is injectable for tests. */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly disconnectAfter: number;
  private readonly now: () => number;
  private tokens: number;
  private updated: number;
  private rejections = 0;

  constructor(options: RateLimitOptions, now: () => number = monotonicNow) {
    this.ratePerMs = options.perSecond / 1000;
    this.burst = options.burst;
    this.disconnectAfter = options.disconnectAfter;
    this.now = now;
    this.tokens = options.burst;
    this.updated = now();
  }

  /** Takes a token for one command. */
  take(): RateDecision {
    const now = this.now();
    const tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.ratePerMs);
    this.updated = now;
    if (tokens >= 1) {
      this.tokens = tokens - 1;
      this.rejections = 0;
      return 'ok';
    }
    this.tokens = tokens;
    this.rejections++;
    return this.rejections >= this.disconnectAfter ? 'disconnect' : 'reject';
  }
}

/**
 * The per-connection byte budget (docs/protocol.md §9): a token bucket of
 * bytes received, refilled at `perSecond` bytes per second up to `burst`.
 * Every client message takes its size before it is decoded, whatever its
 * type; a message that does not fit closes the connection (4005), so a flood
 * of large messages costs the server at most `burst` plus `perSecond` bytes
 * of decoding a second.
 */
export interface ByteBudgetOptions {
  /** Bytes added per second. */
  perSecond: number;
  /** Bucket size in bytes: the most received at once after a quiet period (at least one message of `maxMessageSize`). */
  burst: number;
}

export const DEFAULT_BYTE_BUDGET: Readonly<ByteBudgetOptions> = Object.freeze({ perSecond: 1024 * 1024, burst: 4 * 1024 * 1024 });

/** Checks a byte budget's numbers; throws `TypeError` for invalid ones. */
export function checkByteBudget(options: ByteBudgetOptions): ByteBudgetOptions {
  const { perSecond, burst } = options;
  if (!(typeof perSecond === 'number' && perSecond > 0 && Number.isFinite(perSecond))) throw new TypeError('limits.receiveBytes.perSecond must be a finite number > 0');
  if (!(typeof burst === 'number' && burst >= 1 && Number.isFinite(burst))) throw new TypeError('limits.receiveBytes.burst must be a finite number >= 1');
  return { perSecond, burst };
}

/** A token bucket of bytes. `now` is injectable for tests. */
export class ByteBudget {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private updated: number;

  constructor(options: ByteBudgetOptions, now: () => number = monotonicNow) {
    this.ratePerMs = options.perSecond / 1000;
    this.burst = options.burst;
    this.now = now;
    this.tokens = options.burst;
    this.updated = now();
  }

  /** Takes `bytes` from the budget; false (nothing taken) when they do not fit. */
  take(bytes: number): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.ratePerMs);
    this.updated = now;
    if (bytes > this.tokens) return false;
    this.tokens -= bytes;
    return true;
  }
}
