/**
 * The per-connection limits and timings of the real-time server: their
 * defaults, and their checked, defaulted form the sessions read.
 */
import { checkByteBudget, checkRateLimit, DEFAULT_BYTE_BUDGET, DEFAULT_RATE_LIMIT, type ByteBudgetOptions, type RateLimitOptions } from './rate-limit.js';
import { DEFAULT_RPC_TIMEOUT } from './rpc.js';

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024;
export const DEFAULT_PING = 25_000;
export const DEFAULT_PONG = 10_000;
export const DEFAULT_CONNECT_TIMEOUT = 10_000;
export const DEFAULT_PRESENCE_TTL = 60_000;
export const DEFAULT_MAX_SUBSCRIPTIONS = 128;
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;
export const DEFAULT_MAX_HISTORY_LIMIT = 1000;
/** Largest `data` of a client's `publish`, encoded, in bytes. */
export const DEFAULT_MAX_PUBLISH_SIZE = 32 * 1024;
/** Byte budget of one reply (history page, recovery, method result). */
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024;
export { DEFAULT_BYTE_BUDGET, DEFAULT_RATE_LIMIT, DEFAULT_RPC_TIMEOUT };

/** Per-connection limits (docs/protocol.md §9). */
export interface LimitOptions {
  /** Subscriptions per connection. Default 128. */
  maxSubscriptions?: number;
  /** Token bucket over every client message (`pong` and `reply` included), or false for none. Default 100/s, burst 200, close after 50 rejections in a row. */
  rate?: RateLimitOptions | false;
  /**
   * Byte budget: a token bucket over the bytes of every client message,
   * taken before the message is decoded; a message that does not fit closes
   * the connection with 4005. Or false for none. Default 1 MiB/s, burst
   * 4 MiB (keep `burst` at least `maxMessageSize`).
   */
  receiveBytes?: ByteBudgetOptions | false;
  /** Outbound bytes buffered for one connection before `slowConsumer` applies. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** 'disconnect' (default): close 4002; 'drop': drop publications (the client sees the gap). */
  slowConsumer?: 'disconnect' | 'drop';
  /** Most publications one `history` command returns. Default 1000. */
  maxHistoryLimit?: number;
  /** Largest `data` of a client's `publish` in bytes, as its codec encodes it; larger gets `limit_exceeded`. Default 32 KiB. */
  maxPublishSize?: number;
  /**
   * Byte budget of one reply: a history page or a recovery carries
   * publications up to it (the rest is paged, docs/protocol.md §4.8), and a
   * method's result over it is refused with `limit_exceeded`. At most half
   * of `maxQueuedBytes`, so that a reply fits the outbound buffer. Default
   * 256 KiB, or a quarter of `maxQueuedBytes` when that is smaller.
   */
  maxReplyBytes?: number;
}

/** The timing options of `RealtimeServerOptions`. */
export interface TimingOptions {
  ping?: number;
  pong?: number;
  connectTimeout?: number;
  rpcTimeout?: number;
  presenceTtl?: number;
}

/** The limits with every default applied. */
export interface ResolvedLimits {
  readonly maxSubscriptions: number;
  readonly rate: RateLimitOptions | null;
  readonly receiveBytes: ByteBudgetOptions | null;
  readonly maxQueuedBytes: number;
  readonly slowConsumer: 'disconnect' | 'drop';
  readonly maxHistoryLimit: number;
  readonly maxPublishSize: number;
  readonly maxReplyBytes: number;
}

/** The timing options with their defaults applied. */
export interface ResolvedTimings {
  readonly ping: number;
  readonly pong: number;
  readonly connectTimeout: number;
  readonly rpcTimeout: number;
  readonly presenceTtl: number;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a positive, finite number, got ${String(value)}`);
  }
  return value;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const checked = positive(name, value, fallback);
  if (!Number.isInteger(checked)) throw new TypeError(`${name} must be an integer, got ${checked}`);
  return checked;
}

/** Applies the defaults to `limits` and checks them. */
export function resolveLimits(limits: LimitOptions = {}): ResolvedLimits {
  const slowConsumer = limits.slowConsumer ?? 'disconnect';
  if (slowConsumer !== 'disconnect' && slowConsumer !== 'drop') throw new TypeError("limits.slowConsumer must be 'disconnect' or 'drop'");
  const rate = limits.rate === false ? null : checkRateLimit({ ...DEFAULT_RATE_LIMIT, ...limits.rate });
  const receiveBytes = limits.receiveBytes === false ? null : checkByteBudget({ ...DEFAULT_BYTE_BUDGET, ...limits.receiveBytes });
  const maxQueuedBytes = positiveInteger('limits.maxQueuedBytes', limits.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES);
  const defaultReplyBytes = Math.max(1, Math.min(DEFAULT_MAX_REPLY_BYTES, Math.floor(maxQueuedBytes / 4)));
  const maxReplyBytes = positiveInteger('limits.maxReplyBytes', limits.maxReplyBytes, defaultReplyBytes);
  if (maxReplyBytes > maxQueuedBytes / 2) {
    throw new TypeError(`limits.maxReplyBytes (${maxReplyBytes}) must be at most half of limits.maxQueuedBytes (${maxQueuedBytes})`);
  }
  return {
    maxSubscriptions: positiveInteger('limits.maxSubscriptions', limits.maxSubscriptions, DEFAULT_MAX_SUBSCRIPTIONS),
    rate,
    receiveBytes,
    maxQueuedBytes,
    slowConsumer,
    maxHistoryLimit: positiveInteger('limits.maxHistoryLimit', limits.maxHistoryLimit, DEFAULT_MAX_HISTORY_LIMIT),
    maxPublishSize: positiveInteger('limits.maxPublishSize', limits.maxPublishSize, DEFAULT_MAX_PUBLISH_SIZE),
    maxReplyBytes,
  };
}

/** Applies the defaults to the timing options and checks them. */
export function resolveTimings(options: TimingOptions): ResolvedTimings {
  return {
    ping: positive('ping', options.ping, DEFAULT_PING),
    pong: positive('pong', options.pong, DEFAULT_PONG),
    connectTimeout: positive('connectTimeout', options.connectTimeout, DEFAULT_CONNECT_TIMEOUT),
    rpcTimeout: positive('rpcTimeout', options.rpcTimeout, DEFAULT_RPC_TIMEOUT),
    presenceTtl: positive('presenceTtl', options.presenceTtl, DEFAULT_PRESENCE_TTL),
  };
}
