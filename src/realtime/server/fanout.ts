/**
 * Writing one push to many connections: encoded once by the caller, framed
 * once per distinct encoding by `broadcastMessage`, and each connection whose
 * outbound buffer could not take it is told so (the slow-consumer policy is
 * the connection's business). Connections of the HTTP fallback transport have
 * no WebSocket: they take the same encoded payload one by one.
 */
import { broadcastMessage } from '../../node/broadcast.js';
import type { SendResult, ServerWebSocket } from '../../node/server-index.js';
import type { Codec } from '../wire/codec.js';
import type { ServerMessage } from '../wire/messages.js';
import type { Traffic } from './stats.js';

/** A server connection of the real-time server; `data` points back to its subscriber. */
export type RealtimeSocket = ServerWebSocket<Subscriber | undefined>;

/**
 * What a session writes to: its WebSocket (which has exactly these members),
 * or the event stream of the HTTP fallback transport.
 */
export interface SessionLink {
  readonly remoteAddress: string | undefined;
  /** `OPEN` while messages may be sent. */
  readonly readyState: number;
  /** Bytes queued and not yet handed to the socket. */
  readonly bufferedAmount: number;
  readonly OPEN: number;
  /** Queues one encoded message; 'dropped' when the connection is not open or its outbound buffer is full. */
  send(data: string | Uint8Array, options: { binary: boolean }): SendResult;
  /** Ends the connection with a close code and reason. */
  close(code: number, reason: string): void;
}

/** What the hub needs of a connection. */
export interface Subscriber {
  /** The connection's WebSocket; null for the HTTP fallback, whose pushes go through `pushPayload`. */
  readonly ws: RealtimeSocket | null;
  /** What the connection writes to, whatever its transport (its buffered bytes and state). */
  readonly link: SessionLink;
  readonly codec: Codec;
  /** Scratch space of a broadcast: the connection's buffered bytes just before it. */
  sendMark: number;
  /** Writes one message encoded for this connection alone. */
  push(message: ServerMessage): void;
  /** Writes one push already encoded with `codec` (a broadcast's share for a connection without a WebSocket); false when it was not queued. */
  pushPayload(payload: string | Uint8Array): boolean;
  /** A broadcast push could not be queued (the outbound buffer is full). */
  overflowed(): void;
}

/** Records the buffered size before a broadcast writes to the connection. */
function markBuffered(ws: RealtimeSocket): boolean {
  const subscriber = ws.data;
  if (subscriber !== undefined) subscriber.sendMark = ws.bufferedAmount;
  return true;
}

/**
 * Writes one encoded message to a group; the connections whose buffer did
 * not grow (over their limit, or no longer open) are told they overflowed.
 * `traffic` counts the deliveries.
 */
export function broadcastTo(group: Set<RealtimeSocket>, payload: string | Uint8Array, binary: boolean, traffic?: Traffic): void {
  const delivered = broadcastMessage(group, payload, binary, markBuffered);
  traffic?.sent(payload, delivered);
  if (delivered === group.size) return;
  const overflowed: Subscriber[] = [];
  for (const ws of group) {
    const subscriber = ws.data;
    if (subscriber !== undefined && ws.bufferedAmount === subscriber.sendMark) overflowed.push(subscriber);
  }
  for (const subscriber of overflowed) subscriber.overflowed();
}

