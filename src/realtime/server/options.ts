/**
 * The options of `createRealtimeServer`, their defaults, and their checked,
 * defaulted form the rest of the server reads.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { AnyHttp2Server } from '../../node/http2-server.js';
import type { OriginCheck, ServerDeflateOptions, ServerOptions } from '../../node/server-index.js';
import type { Broker } from '../broker/broker.js';
import type { ApiShape, MethodName, StandardSchema, UntypedApi } from '../wire/api.js';
import type { AuthOptions } from './authentication.js';
import type { HttpFallbackOptions } from './fallback/http-transport.js';
import type { LimitOptions } from './limits.js';
import type { NamespaceOptions } from './namespaces.js';
import type { Session } from './session.js';

export type { AuthenticateContext, AuthenticateHook, AuthOptions, AuthOutcome } from './authentication.js';
export {
  DEFAULT_BYTE_BUDGET,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_MAX_HISTORY_LIMIT,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PUBLISH_SIZE,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_MAX_SUBSCRIPTIONS,
  DEFAULT_PING,
  DEFAULT_PONG,
  DEFAULT_PRESENCE_TTL,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RPC_TIMEOUT,
  resolveLimits,
  resolveTimings,
  type LimitOptions,
  type ResolvedLimits,
  type ResolvedTimings,
  type TimingOptions,
} from './limits.js';

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

/** What the `authorize` hook decides about. */
export type AuthorizeAction = 'subscribe' | 'publish' | 'presence' | 'history';

export interface AuthorizeContext<A extends ApiShape = UntypedApi> {
  session: Session<A>;
  channel: string;
  action: AuthorizeAction;
  /** `subscribe.data` or `publish.data`. */
  data?: unknown;
}


/**
 * What the `authorize` hook answers: true allows, false refuses
 * (`forbidden`; throw an `RpcError` for another code). `{ data }` allows:
 * for a publish, `data` is published instead of the client's (checked like
 * the client's: size, schema); for a subscribe, `data` is sent in the
 * subscribe result (at most `limits.maxPublishSize` bytes encoded).
 */
export type AuthorizeDecision = boolean | { data: unknown };

/** Handles a client's `call` of a method with no handler (`rt.method`); its result is the call's result. */
export type FallbackMethod<A extends ApiShape = UntypedApi> = (method: string, params: unknown, session: Session<A>) => unknown;

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
  /**
   * Standalone: serve WebSockets over HTTP/2 too (RFC 8441), and the HTTP
   * fallback over h2. With `tls`, h2 and HTTP/1.1 share the port (ALPN);
   * without, the server speaks cleartext h2 with prior knowledge only (h2c,
   * for proxies that speak h2 upstream). Default false.
   */
  http2?: boolean;
  /** Standalone with `http2`: streams one HTTP/2 connection may hold at once (SETTINGS_MAX_CONCURRENT_STREAMS). Default 100. */
  maxStreamsPerConnection?: number;
  /**
   * Attached: handle the upgrades and fallback requests of this HTTP(S)
   * server; an `http2` server (`http2.createSecureServer({ allowHTTP1: true })`,
   * or h2c) also gets its extended CONNECT streams handled (RFC 8441).
   */
  server?: HttpServer | HttpsServer | AnyHttp2Server;
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
  /**
   * Checked on every subscribe, publish, presence and history from a client;
   * false refuses (`forbidden`), a thrown `RpcError` refuses with its code,
   * `{ data }` replaces a publication's data or goes with a subscribe's result.
   */
  authorize?: ((context: AuthorizeContext<A>) => AuthorizeDecision | Promise<AuthorizeDecision>) | undefined;
  /** Runs a client's `call` of a method that has no handler (instead of `not_found`), under `rpcTimeout`. */
  fallbackMethod?: FallbackMethod<A> | undefined;
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
