/**
 * The options of `createRealtimeServer`, their defaults, and their checked,
 * defaulted form the rest of the server reads.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { JWTPayload } from 'jose';
import type { OriginCheck, ServerDeflateOptions, ServerOptions } from '../../node/server-index.js';
import type { Broker } from '../broker/broker.js';
import type { ApiShape, MethodName, StandardSchema, UntypedApi } from '../wire/api.js';
import type { JwtOptions } from './auth.js';
import type { HttpFallbackOptions } from './http-transport.js';
import type { NamespaceOptions } from './namespaces.js';
import { checkByteBudget, checkRateLimit, DEFAULT_BYTE_BUDGET, DEFAULT_RATE_LIMIT, type ByteBudgetOptions, type RateLimitOptions } from './rate-limit.js';
import { DEFAULT_RPC_TIMEOUT } from './rpc.js';
import type { Session } from './session.js';

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

/** The guards of the underlying `WebSocketServer` a real-time server passes through. */
export type WebSocketGuardOptions = Pick<
  ServerOptions<unknown>,
  | 'allowedHosts'
  | 'handshakeTimeout'
  | 'maxPendingHandshakes'
  | 'maxConnectionsPerIp'
  | 'connectionLimitExempt'
  | 'maxPingsPerSecond'
  | 'pingFloodTimeout'
  | 'idleTimeout'
  | 'maxFragments'
  | 'closeTimeout'
>;

/** What a successful authentication says about the client. */
export interface AuthOutcome {
  /** The user id ('' for anonymous). */
  user: string;
  /** Shown in presence and in publications of this client. */
  info?: unknown;
  /** When the credential expires (ms since the epoch); the client must `refresh` before it. */
  expires?: number;
  /** Returned to the client in the connect result. */
  data?: unknown;
}

/** What the `authenticate` hook is given. */
export interface AuthenticateContext {
  /** The credential: `connect.token` (or `refresh.token`), else the upgrade's `Authorization: Bearer` value. */
  token?: string;
  /** The token's claims, when the built-in JWT verifier accepted it. */
  claims?: JWTPayload;
  /** `connect.data` (undefined for a refresh). */
  data: unknown;
  /** The upgrade request. */
  request: IncomingMessage;
  remoteAddress?: string;
}

/** Decides who the client is; null refuses it (`unauthorized`). Throw `RpcError` for another code. */
export type AuthenticateHook = (context: AuthenticateContext) => AuthOutcome | null | Promise<AuthOutcome | null>;

export interface AuthOptions {
  /** Verify tokens as JWTs (HS*, RS*, ES*, or a remote JWKS). */
  jwt?: JwtOptions;
  /** Decide who the client is (after the JWT check, when there is one). */
  authenticate?: AuthenticateHook;
  /** Let clients without a credential in. Default: true when neither `jwt` nor `authenticate` is set, else false. */
  anonymous?: boolean;
}

/** What the `authorize` hook decides about. */
export type AuthorizeAction = 'subscribe' | 'publish' | 'presence' | 'history';

export interface AuthorizeContext<A extends ApiShape = UntypedApi> {
  session: Session<A>;
  channel: string;
  action: AuthorizeAction;
  /** `subscribe.data` or `publish.data`. */
  data?: unknown;
}

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

export interface SchemaOptions<A extends ApiShape = UntypedApi> {
  /** Params of client-to-server methods. */
  methods?: { [M in MethodName<A>]?: StandardSchema };
  /** Publication data from clients, per namespace. */
  channels?: { [namespace: string]: StandardSchema };
}

export interface RealtimeServerOptions<A extends ApiShape = UntypedApi> {
  /** Standalone: listen on this port (0 for any free one). Exactly one of `port`, `server`, `noServer`. */
  port?: number;
  host?: string;
  tls?: HttpsServerOptions;
  /** Attached: handle the upgrades of this HTTP(S) server. */
  server?: HttpServer | HttpsServer;
  /** The caller passes upgrades to `handleUpgrade`. */
  noServer?: boolean;
  /** The accepted request path. Default: every path. */
  path?: string;
  allowedOrigins?: readonly string[] | OriginCheck;
  /**
   * The WebSocket server's own guards (docs/security.md), passed through:
   * `allowedHosts`, `handshakeTimeout`, `maxPendingHandshakes`,
   * `maxConnectionsPerIp`, `connectionLimitExempt`, `maxPingsPerSecond`,
   * `pingFloodTimeout`, `idleTimeout`, `maxFragments`, `closeTimeout`.
   * Unset ones keep their safe defaults.
   */
  websocket?: WebSocketGuardOptions;
  perMessageDeflate?: boolean | ServerDeflateOptions;
  /** Largest WebSocket message accepted (bytes); above it the connection closes with 1009. Default 65536. */
  maxMessageSize?: number;
  auth?: AuthOptions;
  /** Namespaces by name ('' is the default one). Default: `{ '': {} }`. A channel in another namespace gets `not_found`. */
  namespaces?: Record<string, NamespaceOptions>;
  /** Checked on every subscribe, publish, presence and history from a client; false refuses (`forbidden`). */
  authorize?: (context: AuthorizeContext<A>) => boolean | Promise<boolean>;
  /** Default: a new `MemoryBroker`. */
  broker?: Broker;
  /** Ping interval (ms). Default 25000. */
  ping?: number;
  /** How long a ping may go unanswered (ms) before close 4003. Default 10000. */
  pong?: number;
  /** How long after the WebSocket opened `connect` must arrive (ms); then close 4004. Default 10000. */
  connectTimeout?: number;
  /**
   * The HTTP fallback transport for clients whose network blocks WebSockets
   * (docs/protocol.md §11), under `{path}/http`: on by default (with
   * `noServer`, pass requests to `handleRequest`); false turns it off.
   */
  httpFallback?: boolean | HttpFallbackOptions;
  /** Time limit of method handlers and default timeout of `Session.call` (ms). Default 30000. */
  rpcTimeout?: number;
  limits?: LimitOptions;
  schemas?: SchemaOptions<A>;
  /** How long a presence member lasts without a refresh (ms); the server refreshes its members every third of it. Default 60000. */
  presenceTtl?: number;
  /** This node's name in `nodes()` and the server API's `info`. Default: host name and process id. */
  nodeName?: string;
  /**
   * How long an operation on every node (`user(id).disconnect()` and the
   * like, `channels()`, `nodes()`) waits for the nodes' answers (ms); then it
   * goes on with those it has. Default 3000.
   */
  clusterTimeout?: number;
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
export function resolveTimings(options: Pick<RealtimeServerOptions, 'ping' | 'pong' | 'connectTimeout' | 'rpcTimeout' | 'presenceTtl'>): ResolvedTimings {
  return {
    ping: positive('ping', options.ping, DEFAULT_PING),
    pong: positive('pong', options.pong, DEFAULT_PONG),
    connectTimeout: positive('connectTimeout', options.connectTimeout, DEFAULT_CONNECT_TIMEOUT),
    rpcTimeout: positive('rpcTimeout', options.rpcTimeout, DEFAULT_RPC_TIMEOUT),
    presenceTtl: positive('presenceTtl', options.presenceTtl, DEFAULT_PRESENCE_TTL),
  };
}
