/**
 * The commands of the application (publish, call, presence, history) and its
 * one-way `send`s: sent at once when connected, else kept in the offline
 * queue and sent in order on the next connect. Each command's timeout runs
 * from when it was issued, queue time included; its reply settles it once.
 */
import { ErrorCode } from '../wire/errors.js';
import { checkTimeout } from './client-options.js';
import type { Connection, ConnectionHost } from './connection.js';
import { asError, ClientErrorCode, RealtimeError } from './errors.js';
import { oversize } from './message-size.js';
import { OfflineQueue } from './offline-queue.js';
import type { RequestOptions } from './subscription.js';
import { clearTimer } from './timers.js';

/** A command of the application: queued, then sent. */
interface UserRequest {
  kind: 'request';
  type: string;
  fields: Record<string, unknown>;
  resolve(result: unknown): void;
  reject(error: RealtimeError): void;
  timer: unknown;
  connection: Connection | undefined;
  id: number | undefined;
  settled: boolean;
}

/** A one-way `send` waiting in the offline queue. */
interface QueuedSend {
  kind: 'send';
  data: unknown;
}

type QueueItem = UserRequest | QueuedSend;

export class Requests {
  readonly #host: ConnectionHost;
  readonly #timeout: number;
  readonly #queue: OfflineQueue<QueueItem>;

  /** `timeout`: the default reply timeout; `maxOfflineQueue`: the commands kept while not connected. */
  constructor(host: ConnectionHost, timeout: number, maxOfflineQueue: number) {
    this.#host = host;
    this.#timeout = timeout;
    this.#queue = new OfflineQueue(maxOfflineQueue);
  }

  /** Sends a command now when connected, else queues it; the timeout runs from now. */
  request(type: string, fields: Record<string, unknown>, options: RequestOptions | undefined): Promise<unknown> {
    const timeout = checkTimeout('timeout', options?.timeout ?? this.#timeout);
    return new Promise((resolve, reject) => {
      const request: UserRequest = {
        kind: 'request',
        type,
        fields,
        resolve,
        reject,
        timer: undefined,
        connection: undefined,
        id: undefined,
        settled: false,
      };
      const connection = this.#host.current();
      if (connection?.phase === 'connected') {
        this.#sendRequest(connection, request);
      } else if (!this.#queue.push(request)) {
        reject(this.#queueFull());
        return;
      }
      if (!request.settled) request.timer = this.#host.timers.setTimeout(() => this.#timeOut(request, timeout), timeout);
    });
  }

  /** Sends a one-way message now when connected, else queues it; throws 'queue_full'. */
  send(data: unknown): void {
    const connection = this.#host.current();
    if (connection?.phase === 'connected') {
      this.#host.write(connection, { type: 'send', data });
      return;
    }
    if (!this.#queue.push({ kind: 'send', data })) throw this.#queueFull();
  }

  /** Fails every queued command with `error` (queued sends are dropped). */
  rejectQueue(error: RealtimeError): void {
    for (const item of this.#queue.drain()) {
      if (item.kind === 'request') this.#settle(item, error);
    }
  }

  /** Sends what waited in the offline queue, in order. */
  flush(connection: Connection): void {
    for (const item of this.#queue.drain()) {
      if (item.kind === 'send') this.#host.write(connection, { type: 'send', data: item.data });
      else if (!item.settled) this.#sendRequest(connection, item);
    }
  }

  #sendRequest(connection: Connection, request: UserRequest): void {
    const id = connection.nextId++;
    let payload: string | Uint8Array;
    try {
      payload = connection.codec.encode({ type: request.type, id, ...request.fields });
    } catch (error) {
      this.#settle(request, new RealtimeError(ErrorCode.BadRequest, `the ${request.type} command cannot be encoded: ${asError(error).message}`));
      return;
    }
    const size = oversize(payload, connection.maxMessageSize);
    if (size !== null) {
      // The server would close the connection (1009) on it: refuse it here, the connection stays.
      this.#settle(request, new RealtimeError(ErrorCode.LimitExceeded, `the ${request.type} message is ${size} bytes; the server takes at most ${connection.maxMessageSize!}`));
      return;
    }
    request.connection = connection;
    request.id = id;
    connection.pending.set(id, {
      onResult: (result) => this.#settle(request, undefined, result),
      onError: (error) => this.#settle(request, error),
    });
    this.#host.transmit(connection, payload);
  }

  #settle(request: UserRequest, error: RealtimeError | undefined, result?: unknown): void {
    if (request.settled) return;
    request.settled = true;
    clearTimer(this.#host.timers, request.timer);
    if (error !== undefined) request.reject(error);
    else request.resolve(result);
  }

  #timeOut(request: UserRequest, timeout: number): void {
    if (request.settled) return;
    if (request.connection === undefined) this.#queue.remove(request);
    else if (request.id !== undefined) request.connection.pending.delete(request.id);
    this.#settle(request, new RealtimeError(ClientErrorCode.Timeout, `no reply to ${request.type} within ${timeout} ms`));
  }

  #queueFull(): RealtimeError {
    return new RealtimeError(ClientErrorCode.QueueFull, `the offline queue is full (${this.#queue.capacity} commands)`);
  }
}
