/**
 * The options of `new RealtimeClient(url, options)` and their defaults.
 */
import type { BackoffOptions } from './backoff.js';
import type { FetchLike } from './http-transport.js';
import type { Timers } from './timers.js';
import type { ProtocolName, WebSocketConstructor } from './transport.js';
import type { TransportName } from './transport-choice.js';

/** Default reply timeout of publish/call/presence/history, queue time included; also the connect timeout (ms). */
export const DEFAULT_TIMEOUT = 10_000;
export const DEFAULT_PROTOCOL: ProtocolName = 'json';
/** The client name sent in `connect`. */
export const DEFAULT_CLIENT_NAME = 'switchboard-sdk';
/** The library version sent in `connect`. */
export const SDK_VERSION = '0.1.0';
/** Without `refreshMargin`, a token is refreshed this share of its lifetime before it expires ... */
export const DEFAULT_REFRESH_RATIO = 0.1;
/** ... but at least this many ms before. */
export const MIN_REFRESH_MARGIN = 1000;
/** A refresh that failed for a reason other than the token itself is tried again after this many ms. */
export const DEFAULT_REFRESH_RETRY = 5000;
/** How long a WebSocket attempt may wait for its `connect` reply before the next transport is tried (ms). */
export const DEFAULT_FALLBACK_TIMEOUT = 5_000;

/** Options of `new RealtimeClient(url, options)`. */
export interface RealtimeClientOptions {
  /** A fixed credential sent in `connect`. */
  token?: string;
  /**
   * Returns a credential. Called before each connect when there is no fixed
   * `token` (or after the fixed one expired), and to refresh a token before
   * its `expires`. Throw a `RealtimeError` with code 'unauthorized' to stop
   * reconnecting.
   */
  getToken?: () => string | Promise<string>;
  /** Free-form data for the server's `authenticate` hook. */
  data?: unknown;
  /** The preferred encoding (the other one is offered too). Default 'json'. */
  protocol?: ProtocolName;
  /** The WebSocket class. Default: the platform's (`globalThis.WebSocket`; Switchboard's in the Node entry). */
  WebSocket?: WebSocketConstructor;
  /**
   * The transports to use, preferred first: 'websocket', and 'http' — the
   * HTTP fallback (Server-Sent Events down, POST up) for networks that block
   * WebSockets. Default ['websocket', 'http'] (WebSocket only where there is
   * no `fetch`).
   */
  transports?: readonly TransportName[];
  /** How long (ms) a WebSocket attempt may take to get its `connect` reply before the next transport is tried. Default 5000 (at most `timeout`). */
  fallbackTimeout?: number;
  /** After falling back, how long (ms) the client keeps the fallback before trying WebSocket again at a reconnect. Default 300000. */
  websocketRetryAfter?: number;
  /** The `fetch` of the HTTP transport. Default: the platform's (`globalThis.fetch`). */
  fetch?: FetchLike;
  /** Reconnect backoff (full jitter), or false never to reconnect on its own. */
  reconnect?: BackoffOptions | false;
  /** Reply timeout (ms) of publish/call/presence/history, queue time included; also bounds each connect. */
  timeout?: number;
  /** Commands kept while not connected; more reject with 'queue_full'. Default 100. */
  maxOfflineQueue?: number;
  /** Refresh the token this many ms before it expires. Default: 10% of its lifetime, at least 1000 ms. */
  refreshMargin?: number;
  /** Timer functions (tests inject fake ones, together with `now`). */
  timers?: Timers;
  /** Random numbers in [0, 1) for the backoff jitter. */
  random?: () => number;
  /** The current time in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** The client name sent in `connect` (for the server's logs). */
  name?: string;
}

/** A timeout option, checked: it must be > 0 ms. */
export function checkTimeout(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be > 0 ms, got ${value}`);
  return value;
}
