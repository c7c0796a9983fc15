/**
 * One connection of a `RealtimeClient`, as the parts of the client share it:
 * its socket, codec and phase, the replies it awaits, its timers; and what
 * those parts need of the client around it (`ConnectionHost`).
 */
import type { Codec } from '../wire/codec.js';
import type { DisconnectPush } from '../wire/messages.js';
import type { RealtimeError } from './errors.js';
import type { Timers } from './timers.js';
import type { WebSocketLike } from './transport.js';
import type { TransportName } from './transport-choice.js';

/** A reply awaited on one connection. */
export interface Pending {
  onResult(result: unknown): void;
  onError(error: RealtimeError): void;
}

/** The token for a connect: got, or why not. */
export type TokenOutcome = { ok: true; token: string | undefined } | { ok: false; error: unknown };

/**
 * One WebSocket connection. 'opening': the socket is opening or the token is
 * being fetched; 'handshaking': `connect` was sent; 'connected': it succeeded.
 */
export interface Connection {
  ws: WebSocketLike;
  transport: TransportName;
  /** Something came back over it (a transport that answered works, whatever it said), or the attempt failed for a reason of its own. */
  heard: boolean;
  codec: Codec;
  phase: 'opening' | 'handshaking' | 'connected';
  nextId: number;
  pending: Map<number, Pending>;
  token: Promise<TokenOutcome>;
  lastActivity: number;
  connectTimer: unknown;
  heartbeatTimer: unknown;
  refreshTimer: unknown;
  /** The server's `disconnect` message, when one came. */
  disconnect: DisconnectPush | undefined;
  /** The largest message the server reads (from the connect result), when it said. */
  maxMessageSize: number | undefined;
}

/** Why a connection ended. */
export interface LossInfo {
  code: number;
  reason: string;
  /** Overrides the close code's rule (e.g. the server's `disconnect.reconnect`). */
  reconnect?: boolean;
}

/** What the parts of the client (requests, tokens, subscriptions, server calls) use of it. */
export interface ConnectionHost {
  readonly timers: Timers;
  now(): number;
  /** The current connection, if any: work for another one is stale. */
  current(): Connection | undefined;
  /** Encodes and sends one message on `connection` if it is still the current one; encoding failures are reported as 'error'. */
  write(connection: Connection, message: Record<string, unknown>): void;
  /** Sends an encoded message; a socket that refuses ends the connection. */
  transmit(connection: Connection, payload: string | Uint8Array): void;
  /** Emits 'error' on the client. */
  error(error: Error): void;
}
