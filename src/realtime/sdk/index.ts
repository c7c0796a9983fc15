/**
 * The Switchboard real-time client SDK, platform neutral: runs wherever there
 * is a WHATWG WebSocket — `options.WebSocket`, else `globalThis.WebSocket`
 * (browsers, Deno, Bun, Node ≥ 22). The Node entry (node.ts) defaults to
 * Switchboard's own Node WebSocket.
 */
export { RealtimeClient } from './client.js';
export {
  DEFAULT_CLIENT_NAME,
  DEFAULT_FALLBACK_TIMEOUT,
  DEFAULT_PROTOCOL,
  DEFAULT_REFRESH_RATIO,
  DEFAULT_REFRESH_RETRY,
  DEFAULT_TIMEOUT,
  MIN_REFRESH_MARGIN,
  SDK_VERSION,
  type RealtimeClientOptions,
} from './client-options.js';
export type {
  CallArgs,
  CallHandler,
  ClientEvents,
  ClientState,
  ConnectingEvent,
  DisconnectedEvent,
  ServerPublicationEvent,
  ServerSubscribedEvent,
  ServerUnsubscribedEvent,
} from './client-events.js';
export type { Timers } from './timers.js';
export {
  Subscription,
  type HistoryQuery,
  type PublicationEvent,
  type RequestOptions,
  type SubscribedEvent,
  type SubscribeOptions,
  type SubscriptionEvents,
  type SubscriptionState,
  type TypedHistory,
  type TypedPublication,
  type UnsubscribedEvent,
} from './subscription.js';
export { ClientErrorCode, RealtimeError } from './errors.js';
export { Emitter, type EventMap, type Listener } from './emitter.js';
export {
  Backoff,
  backoffCeiling,
  backoffDelay,
  DEFAULT_FACTOR,
  DEFAULT_MAX_DELAY,
  DEFAULT_MIN_DELAY,
  type BackoffOptions,
} from './backoff.js';
export { DEFAULT_MAX_OFFLINE_QUEUE } from './offline-queue.js';
export type { CloseEventLike, MessageEventLike, ProtocolName, WebSocketConstructor, WebSocketLike } from './transport.js';
export { DEFAULT_WEBSOCKET_RETRY_AFTER, type TransportName } from './transport-choice.js';
export { HttpSocket, type FetchInitLike, type FetchLike, type FetchResponseLike, type HttpSocketOptions } from './http-transport.js';
export { DisconnectCode, ErrorCode, shouldReconnect } from '../wire/errors.js';
export { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from '../wire/messages.js';
export type {
  ClientInfo,
  ConnectResult,
  HistoryResult,
  PresenceMember,
  PresenceStatsResult,
  Publication,
  PublishResult,
  StreamPosition,
} from '../wire/messages.js';
export type {
  ApiShape,
  ChannelName,
  ClientMethodName,
  ClientMethodParams,
  ClientMethodResult,
  MethodName,
  MethodParams,
  MethodResult,
  MethodSpec,
  PublicationData,
  UntypedApi,
} from '../wire/api.js';
