/**
 * The server's calls of the client (`call` messages): answered by the
 * handler registered for the method, with its result or an error reply;
 * a method without a handler gets `not_found`.
 */
import { ErrorCode } from '../wire/errors.js';
import type { ServerCallMessage } from '../wire/messages.js';
import type { Connection, ConnectionHost } from './connection.js';
import { asError, toErrorBody } from './errors.js';
import { oversize } from './message-size.js';

export class ServerCalls {
  readonly #host: ConnectionHost;
  readonly #handlers = new Map<string, (params: unknown) => unknown>();

  constructor(host: ConnectionHost) {
    this.#host = host;
  }

  /** Answers calls of `method` with `handler`. */
  handle(method: string, handler: (params: unknown) => unknown): void {
    this.#handlers.set(method, handler);
  }

  /** Stops answering calls of `method`. */
  unhandle(method: string): void {
    this.#handlers.delete(method);
  }

  /** A server call on `connection`: the handler's answer goes back on it, if it is still the current one. */
  onCall(connection: Connection, message: ServerCallMessage): void {
    const id = message.id;
    if (typeof id !== 'number') return;
    const handler = this.#handlers.get(message.method);
    if (handler === undefined) {
      this.#host.write(connection, { type: 'reply', id, error: { code: ErrorCode.NotFound, message: `no handler for "${message.method}"` } });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.data))
      .then(
        (result) => {
          if (connection === this.#host.current()) this.#reply(connection, id, result);
        },
        (error: unknown) => {
          if (connection === this.#host.current()) this.#host.write(connection, { type: 'reply', id, error: toErrorBody(error) });
        },
      );
  }

  /** Answers a server call with `result` (null for undefined), or with 'internal' when it cannot be encoded. */
  #reply(connection: Connection, id: number, result: unknown): void {
    let payload: string | Uint8Array;
    try {
      payload = connection.codec.encode({ type: 'reply', id, result: result ?? null });
    } catch (error) {
      this.#host.write(connection, { type: 'reply', id, error: { code: ErrorCode.Internal, message: `the result cannot be encoded: ${asError(error).message}` } });
      return;
    }
    const size = oversize(payload, connection.maxMessageSize);
    if (size !== null) {
      this.#host.write(connection, { type: 'reply', id, error: { code: ErrorCode.LimitExceeded, message: `the result is ${size} bytes; the server takes at most ${connection.maxMessageSize!}` } });
      return;
    }
    this.#host.transmit(connection, payload);
  }
}
