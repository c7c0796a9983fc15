/**
 * Error codes of replies and close codes of disconnects in the real-time
 * protocol. The tables are in docs/protocol.md.
 */

/** `error.code` values the server itself uses in replies. Applications may use their own codes for RPC errors. */
export const ErrorCode = {
  /** The message is malformed or a field has the wrong type. */
  BadRequest: 'bad_request',
  /** No valid credential. */
  Unauthorized: 'unauthorized',
  /** The `authorize` hook or the namespace's rules refused the action. */
  Forbidden: 'forbidden',
  /** Unknown namespace or method. */
  NotFound: 'not_found',
  AlreadySubscribed: 'already_subscribed',
  NotSubscribed: 'not_subscribed',
  /** The connection's message rate is over its limit. */
  RateLimited: 'rate_limited',
  /** A size or count limit (subscriptions, payload, queued messages). */
  LimitExceeded: 'limit_exceeded',
  /** The namespace does not keep history or presence. */
  Unavailable: 'unavailable',
  TokenExpired: 'token_expired',
  /** A call got no reply in time. */
  Timeout: 'timeout',
  /** A command came before `connect`, or `connect` came twice. */
  NotConnected: 'not_connected',
  /** The payload did not match the schema. */
  InvalidData: 'invalid_data',
  /** The server failed; the message says no more. */
  Internal: 'internal',
  /** The broker (e.g. Redis) is unreachable. */
  BrokerUnavailable: 'broker_unavailable',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * WebSocket close codes the real-time server uses. 4000-4499: the client
 * should reconnect (with backoff); 4500-4999: it must not reconnect on its own.
 */
export const DisconnectCode = {
  /** The server disconnected the client and allows it back. */
  Disconnect: 4000,
  /** The credential expired without a refresh; reconnect with a fresh token. */
  TokenExpired: 4001,
  /** The client did not read fast enough; reconnect and recover. */
  SlowConsumer: 4002,
  /** No `pong` in time. */
  HeartbeatTimeout: 4003,
  /** No `connect` in time after the WebSocket opened. */
  ConnectTimeout: 4004,
  /** Too many messages over the rate limit. */
  RateLimited: 4005,
  /** The server is shutting down. */
  Shutdown: 4006,
  /** A malformed message or a protocol violation. */
  BadRequest: 4500,
  /** The credential was refused at connect. */
  Unauthorized: 4501,
  /** The server disconnected the client for good. */
  Kicked: 4503,
} as const;
export type DisconnectCode = (typeof DisconnectCode)[keyof typeof DisconnectCode];

/** Whether a client may reconnect after the server closed with `code`. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  if (code === 1000) return false;
  return true;
}
