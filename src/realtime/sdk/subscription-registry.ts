/**
 * The client's subscriptions, one per channel: their subscribe commands on
 * each connection (retried after transient errors, resent with `since` to
 * recover a gap), their unsubscribe, and the pushes addressed to them
 * (publications, presence joins and leaves, the server's unsubscribe).
 */
import { ErrorCode } from '../wire/errors.js';
import type { PresenceMember, PublicationPush, SubscribeResult } from '../wire/messages.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { Connection, ConnectionHost } from './connection.js';
import { ClientErrorCode, type RealtimeError } from './errors.js';
import { Subscription, type SubscribeOptions, type SubscriptionControl, type SubscriptionHost } from './subscription.js';
import { clearTimer } from './timers.js';

/** Subscribe errors worth retrying on the same connection. */
const RETRYABLE_SUBSCRIBE_ERRORS = new Set<string>([
  ErrorCode.RateLimited,
  ErrorCode.BrokerUnavailable,
  ErrorCode.Internal,
  ErrorCode.Timeout,
]);

/** A subscription as the client keeps it. */
interface SubscriptionRecord {
  control: SubscriptionControl;
  /** Id of the subscribe command in flight on the current connection. */
  pendingId: number | undefined;
  /** Backoff of retries after transient subscribe errors. */
  retry: Backoff;
  retryTimer: unknown;
}

/** The client's commands a subscription issues on its channel. */
export type ChannelRequests = Omit<SubscriptionHost, 'unsubscribe'>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export class SubscriptionRegistry {
  readonly #records = new Map<string, SubscriptionRecord>();
  readonly #host: ConnectionHost;
  readonly #subscriptionHost: SubscriptionHost;
  readonly #retryOptions: BackoffOptions;
  readonly #random: () => number;

  /** `retryOptions` and `random`: the backoff of subscribe retries. */
  constructor(host: ConnectionHost, requests: ChannelRequests, retryOptions: BackoffOptions, random: () => number) {
    this.#host = host;
    this.#subscriptionHost = { ...requests, unsubscribe: (subscription) => this.#unsubscribe(subscription) };
    this.#retryOptions = retryOptions;
    this.#random = random;
  }

  /** The subscription of `channel`, if any. */
  get<T>(channel: string): Subscription<T> | undefined {
    return this.#records.get(channel)?.control.subscription as Subscription<T> | undefined;
  }

  /** A new subscription of `channel` (there is none); subscribed at once when `connection` is past opening. */
  add<T>(channel: string, options: SubscribeOptions, connection: Connection | undefined): Subscription<T> {
    let control: SubscriptionControl | undefined;
    const subscription = new Subscription<T>(channel, this.#subscriptionHost, options, (attached) => {
      control = attached;
    });
    const record: SubscriptionRecord = {
      control: control!,
      pendingId: undefined,
      retry: new Backoff(this.#retryOptions, this.#random),
      retryTimer: undefined,
    };
    this.#records.set(channel, record);
    if (connection !== undefined && connection.phase !== 'opening') this.#sendSubscribe(connection, record, false);
    return subscription;
  }

  /** Sends every subscription's subscribe on a new connection (stops if the connection is lost meanwhile). */
  subscribeAll(connection: Connection): void {
    for (const record of this.#records.values()) {
      if (connection !== this.#host.current()) return;
      this.#sendSubscribe(connection, record, false);
    }
  }

  /** The connection was lost: every subscription waits for the next one. */
  connectionLost(): void {
    for (const record of this.#records.values()) {
      clearTimer(this.#host.timers, record.retryTimer);
      record.retryTimer = undefined;
      record.pendingId = undefined;
      if (record.control.subscription.state !== 'unsubscribed') record.control.subscribing();
    }
  }

  /** The client closed: every subscription ends with 'closed'. */
  closeAll(): void {
    const records = [...this.#records.values()];
    this.#records.clear();
    for (const record of records) {
      clearTimer(this.#host.timers, record.retryTimer);
      record.control.ended(ClientErrorCode.Closed, 'the client was closed');
    }
  }

  /** Whether the client subscribed to `channel` itself. */
  has(channel: string): boolean {
    return this.#records.has(channel);
  }

  /** A publication push: a gap in the offsets recovers the subscription on `connection`. False: no such subscription. */
  onPublication(connection: Connection, push: PublicationPush): boolean {
    const record = this.#records.get(push.channel);
    if (record === undefined) return false;
    if (record.control.publication(push) === 'gap' && connection === this.#host.current()) this.#recover(connection, record);
    return true;
  }

  /** A 'join' or 'leave' push. */
  onPresenceEvent(message: Record<string, unknown>): void {
    const record = typeof message['channel'] === 'string' ? this.#records.get(message['channel']) : undefined;
    const member = message['member'];
    if (record === undefined || !isRecord(member)) return;
    if (message['type'] === 'join') record.control.join(member as unknown as PresenceMember);
    else record.control.leave(member as unknown as PresenceMember);
  }

  /** The server's 'unsubscribed' push: the subscription ends. False: no such subscription. */
  onUnsubscribedPush(message: Record<string, unknown>): boolean {
    const channel = message['channel'];
    const record = typeof channel === 'string' ? this.#records.get(channel) : undefined;
    if (record === undefined) return false;
    this.#records.delete(channel as string);
    clearTimer(this.#host.timers, record.retryTimer);
    record.control.ended(String(message['code'] ?? 'server'), String(message['reason'] ?? ''));
    return true;
  }

  #sendSubscribe(connection: Connection, record: SubscriptionRecord, recover: boolean): void {
    const fields = record.control.subscribeFields(recover);
    const id = connection.nextId++;
    record.pendingId = id;
    record.control.subscribing();
    const current = (): boolean => connection === this.#host.current() && this.#records.get(fields.channel) === record && record.pendingId === id;
    connection.pending.set(id, {
      onResult: (result) => {
        if (!current()) return;
        record.pendingId = undefined;
        record.retry.reset();
        record.control.subscribed(result as SubscribeResult);
      },
      onError: (error) => {
        if (!current()) return;
        record.pendingId = undefined;
        this.#onSubscribeError(connection, record, error);
      },
    });
    this.#host.write(connection, { type: 'subscribe', id, ...fields });
  }

  #onSubscribeError(connection: Connection, record: SubscriptionRecord, error: RealtimeError): void {
    // The connection is going away; the subscription is sent again on the next one.
    if (error.code === ErrorCode.NotConnected || error.code === ClientErrorCode.Disconnected) return;
    if (RETRYABLE_SUBSCRIBE_ERRORS.has(error.code)) {
      record.control.failed(error);
      const delay = record.retry.next();
      record.retryTimer = this.#host.timers.setTimeout(() => {
        record.retryTimer = undefined;
        if (connection === this.#host.current() && this.#records.get(record.control.subscription.channel) === record) {
          this.#sendSubscribe(connection, record, false);
        }
      }, delay);
      return;
    }
    this.#records.delete(record.control.subscription.channel);
    record.control.ended(error.code, error.message, error);
  }

  #unsubscribe(subscription: Subscription<unknown>): void {
    const channel = subscription.channel;
    const record = this.#records.get(channel);
    if (record === undefined || record.control.subscription !== subscription) return;
    this.#records.delete(channel);
    clearTimer(this.#host.timers, record.retryTimer);
    const connection = this.#host.current();
    const onServer = subscription.state === 'subscribed' || record.pendingId !== undefined;
    if (connection !== undefined && connection.phase !== 'opening' && onServer) this.#sendUnsubscribe(connection, channel);
    record.control.ended('client', 'unsubscribe() was called');
  }

  #sendUnsubscribe(connection: Connection, channel: string): void {
    const id = connection.nextId++;
    connection.pending.set(id, { onResult: () => undefined, onError: () => undefined });
    this.#host.write(connection, { type: 'unsubscribe', id, channel });
  }

  /** A gap in the offsets: unsubscribe and subscribe again with `since` the last offset seen. */
  #recover(connection: Connection, record: SubscriptionRecord): void {
    record.control.subscribing();
    this.#sendUnsubscribe(connection, record.control.subscription.channel);
    this.#sendSubscribe(connection, record, true);
  }
}
