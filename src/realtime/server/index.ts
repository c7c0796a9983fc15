/**
 * `switchboard/realtime`: the real-time server (channels with history and
 * recovery, presence, RPC both ways, JWT auth) speaking the protocol of
 * docs/protocol.md.
 *
 * ```ts
 * import { createRealtimeServer } from 'switchboard/realtime';
 * const rt = createRealtimeServer({ port: 8080, namespaces: { chat: { history: { size: 100 }, presence: true } } });
 * rt.method('time', () => Date.now());
 * await rt.ready();
 * ```
 */
export { createRealtimeServer, RealtimeServer, selectSubprotocol, type RealtimeServerEvents } from './server.js';
export type { Session, SessionState, SessionTransport } from './session.js';
export { DEFAULT_DOWNLINK_TIMEOUT, type HttpFallbackOptions } from './fallback/http-transport.js';
export type { RealtimeStats } from './stats.js';
export { DisconnectError, RpcError } from './errors.js';
export { createProxyHooks, type ProxyHooks } from './proxy/hooks.js';
export { ProxyBackendError } from './proxy/backend.js';
export {
  DEFAULT_PROXY_MAX_ANSWER_BYTES,
  DEFAULT_PROXY_MAX_SOCKETS,
  DEFAULT_PROXY_TIMEOUT,
  PROXY_EVENTS,
  type ProxyEvent,
  type ProxyOptions,
  type ResolvedProxyOptions,
} from './proxy/options.js';
export { ConnectionGroup } from './connection-group.js';
export { DEFAULT_CLUSTER_TIMEOUT, MAX_PAGE_ENTRIES, type ConnectionInfo, type ConnectionTarget, type NodeInfo } from './cluster-control.js';
export { DEFAULT_API_MAX_BODY_SIZE, DEFAULT_API_PATH, MIN_API_KEY_LENGTH, type ApiRequestHandler, type ServerApiOptions } from './api-http.js';
export {
  API_METHODS,
  DEFAULT_CHANNELS_LIMIT,
  DEFAULT_CONNECTIONS_LIMIT,
  MAX_BATCH_COMMANDS,
  MAX_BROADCAST_CHANNELS,
  MAX_CHANNELS_LIMIT,
  MAX_CONNECTIONS_LIMIT,
  type ApiBatchCommand,
  type ApiConnectionInfo,
  type ApiMethod,
  type ApiNodeInfo,
  type ApiReply,
  type ApiTarget,
  type ServerApiMethods,
} from './server-api.js';
export {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_MAX_HISTORY_LIMIT,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PUBLISH_SIZE,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_SUBSCRIPTIONS,
  DEFAULT_PING,
  DEFAULT_PONG,
  DEFAULT_PRESENCE_TTL,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RPC_TIMEOUT,
  type AuthenticateContext,
  type AuthenticateHook,
  type AuthOptions,
  type AuthOutcome,
  type AuthorizeAction,
  type AuthorizeContext,
  type AuthorizeDecision,
  type FallbackMethod,
  type LimitOptions,
  type RealtimeServerOptions,
  type SchemaOptions,
  type WebSocketGuardOptions,
} from './options.js';
export { DEFAULT_NAMESPACES, isValidChannelName, MAX_CHANNEL_LENGTH, namespaceOf, personalUsers, PERSONAL_BOUNDARY, type NamespaceOptions, type ConflationOptions } from './namespaces.js';
export type { ShapedCounters } from './shaped-delivery.js';
export type { RateLimitOptions } from './rate-limit.js';
export { TokenError, type JwtOptions, type JWTPayload } from './auth.js';
export { MemoryBroker, type MemoryBrokerOptions } from '../broker/memory-broker.js';
export { RedisBroker, DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_CONNECT_TIMEOUT, DEFAULT_STREAM_META_TTL, DEFAULT_PRESENCE_SWEEP_INTERVAL, type RedisBrokerOptions } from '../broker/redis-broker.js';
export {
  BrokerUnavailableError,
  type Broker,
  type BrokerEvents,
  type BrokerHistory,
  type BrokerPublishOptions,
  type HistoryOptions,
  type HistoryQuery,
} from '../broker/broker.js';
export * from '../wire/messages.js';
export { DisconnectCode, ErrorCode, shouldReconnect } from '../wire/errors.js';
export { codecFor, DecodeError, jsonCodec, msgpackCodec, type Codec } from '../wire/codec.js';
export type * from '../wire/api.js';
