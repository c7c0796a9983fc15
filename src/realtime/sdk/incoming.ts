/**
 * The server's messages on a connection: decoded with the connection's
 * codec and handed on — replies to the commands awaiting them, pushes to the
 * subscriptions, calls to their handlers, `ping` answered with `pong`, and
 * the server's `disconnect` acted on at once. Any message at all shows the
 * connection alive.
 */
import { ErrorCode, shouldReconnect } from '../wire/errors.js';
import type { PublicationPush, ServerCallMessage } from '../wire/messages.js';
import type { ClientEmit } from './client-events.js';
import type { Connection, ConnectionHost, LossInfo } from './connection.js';
import { asError, isErrorBody, RealtimeError } from './errors.js';
import type { ServerCalls } from './server-calls.js';
import type { ServerSubscriptions } from './server-subscriptions.js';
import type { SubscriptionRegistry } from './subscription-registry.js';
import { toPayload, type MessageEventLike } from './transport.js';

/** Where the messages go. */
export interface IncomingParts {
  subscriptions: SubscriptionRegistry;
  serverSubscriptions: ServerSubscriptions;
  serverCalls: ServerCalls;
  emit: ClientEmit;
  /** Ends a connection (a malformed message, or the server's `disconnect`). */
  lose(connection: Connection, info: LossInfo): void;
}

export class Incoming {
  readonly #host: ConnectionHost;
  readonly #parts: IncomingParts;

  constructor(host: ConnectionHost, parts: IncomingParts) {
    this.#host = host;
    this.#parts = parts;
  }

  onMessage(connection: Connection, event: MessageEventLike): void {
    if (connection !== this.#host.current()) return;
    connection.lastActivity = this.#host.now();
    connection.heard = true;
    const payload = toPayload(event.data);
    let message: Record<string, unknown>;
    try {
      if (payload === undefined) throw new Error('a message of an unexpected kind (set binaryType to "arraybuffer")');
      message = connection.codec.decode(payload);
    } catch (error) {
      this.#parts.emit('error', new RealtimeError(ErrorCode.BadRequest, `malformed message from the server: ${asError(error).message}`));
      this.#parts.lose(connection, { code: 4500, reason: 'malformed message from the server', reconnect: true });
      return;
    }
    this.#dispatch(connection, message);
  }

  #dispatch(connection: Connection, message: Record<string, unknown>): void {
    switch (message['type']) {
      case 'reply':
        this.#onReply(connection, message);
        break;
      case 'publication':
        if (!this.#parts.subscriptions.onPublication(connection, message as unknown as PublicationPush)) {
          this.#parts.serverSubscriptions.onPublication(message as unknown as PublicationPush);
        }
        break;
      case 'join':
      case 'leave':
        this.#parts.subscriptions.onPresenceEvent(message);
        break;
      case 'unsubscribed':
        if (!this.#parts.subscriptions.onUnsubscribedPush(message)) this.#parts.serverSubscriptions.onUnsubscribedPush(message);
        break;
      case 'subscribed':
        this.#parts.serverSubscriptions.onSubscribedPush(message, typeof message['channel'] === 'string' && this.#parts.subscriptions.has(message['channel']));
        break;
      case 'call':
        this.#parts.serverCalls.onCall(connection, message as unknown as ServerCallMessage);
        break;
      case 'message':
        this.#parts.emit('message', message['data']);
        break;
      case 'ping':
        this.#host.write(connection, { type: 'pong' });
        break;
      case 'disconnect':
        this.#onDisconnectPush(connection, message);
        break;
      default:
      // Unknown message types are ignored (protocol §1, versioning).
    }
  }

  #onReply(connection: Connection, message: Record<string, unknown>): void {
    const id = message['id'];
    if (typeof id !== 'number') return;
    const pending = connection.pending.get(id);
    if (pending === undefined) return;
    connection.pending.delete(id);
    const error = message['error'];
    if (error !== undefined) {
      pending.onError(isErrorBody(error) ? RealtimeError.fromBody(error) : new RealtimeError(ErrorCode.Internal, 'malformed error reply'));
    } else {
      pending.onResult(message['result']);
    }
  }

  #onDisconnectPush(connection: Connection, message: Record<string, unknown>): void {
    const code = typeof message['code'] === 'number' ? message['code'] : 4000;
    const reason = typeof message['reason'] === 'string' ? message['reason'] : '';
    const reconnect = typeof message['reconnect'] === 'boolean' ? message['reconnect'] : shouldReconnect(code);
    connection.disconnect = { type: 'disconnect', code, reason, reconnect };
    // The close frame follows; act now rather than wait for it.
    this.#parts.lose(connection, { code, reason, reconnect });
  }
}
