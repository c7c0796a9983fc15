/**
 * A client's subscription to one channel: its state, its position in the
 * channel's stream, and the events of the channel (publications, presence).
 * The client creates subscriptions (`RealtimeClient.subscribe`) and drives
 * them through a `SubscriptionControl`; the subscription itself keeps the
 * per-channel rules — dedupe and gap detection by offset, recovery position.
 */
import type {
  ClientInfo,
  HistoryResult,
  PresenceMember,
  PresenceStatsResult,
  Publication,
  PublicationPush,
  PublishResult,
  StreamPosition,
  SubscribeResult,
} from '../wire/messages.js';
import { DeltaBases, DeltaError } from './delta.js';
import { Emitter } from './emitter.js';
import { RealtimeError } from './errors.js';

export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';

/** A publication with its data typed as the channel's. */
export interface TypedPublication<T> {
  offset: number;
  data: T;
  /** The publisher, when a client published and the namespace shows it. */
  info?: ClientInfo;
}

/** A 'publication' event: a publication of the subscription's channel. */
export interface PublicationEvent<T> extends TypedPublication<T> {
  channel: string;
  /**
   * Conflation (docs/realtime.md): this many publications of the channel
   * right before this one were not sent, each superseded by a later one of
   * the same key. Absent when none were.
   */
  skipped?: number;
  /** True when the data came as a delta (and was rebuilt and verified). */
  delta?: boolean;
}

/** A 'subscribed' event: the server accepted a (re)subscription. */
export interface SubscribedEvent {
  /**
   * Absent on a first subscription without `since`. On a resubscription: true
   * when every missed publication was recovered (and is emitted right after
   * this event), false when some may be lost — reload what you derive from the channel.
   */
  recovered?: boolean;
  /** The channel keeps history, so a later resubscription can recover. */
  recoverable: boolean;
  /** The channel's position the server reported. */
  position: StreamPosition;
  /** Data the server sent with its acceptance (its `authorize` hook's, e.g. a proxy backend's). */
  data?: unknown;
}

/** An 'unsubscribed' event: the subscription ended. */
export interface UnsubscribedEvent {
  /**
   * Why: 'client' (`unsubscribe()`), 'closed' (the client was closed), the
   * server's code of an `unsubscribed` push, or the error code of a refused subscribe.
   */
  code: string;
  reason: string;
}

/** Events of a `Subscription<T>`. */
export interface SubscriptionEvents<T> {
  publication: [publication: PublicationEvent<T>];
  subscribed: [event: SubscribedEvent];
  unsubscribed: [event: UnsubscribedEvent];
  /** A subscribe attempt failed (the subscription retries unless an 'unsubscribed' event follows). */
  error: [error: RealtimeError];
  join: [member: PresenceMember];
  leave: [member: PresenceMember];
  state: [state: SubscriptionState, previous: SubscriptionState];
}

/** Options of `RealtimeClient.subscribe`. */
export interface SubscribeOptions {
  /** Recover the publications after this position on the first subscribe (e.g. one stored from an earlier session). */
  since?: StreamPosition;
  /** Free-form data for the server's `authorize` hook. */
  data?: unknown;
  /**
   * Ask for delta compression (docs/realtime.md): where the namespace allows
   * it, publications come as deltas against the previous one the client
   * holds, rebuilt here; a delta that does not rebuild resubscribes. Default false.
   */
  delta?: boolean;
}

/** Options of a single request. */
export interface RequestOptions {
  /** Reply timeout in ms, queue time included (default: the client's `timeout`). */
  timeout?: number;
}

/** A history query: the latest `limit` publications, or those after `since`. */
export interface HistoryQuery {
  since?: StreamPosition;
  limit?: number;
}

/** A history result with the channel's data type. */
export interface TypedHistory<T> extends Omit<HistoryResult, 'publications'> {
  publications: Array<TypedPublication<T>>;
}

/** What a subscription asks of its client. */
export interface SubscriptionHost {
  unsubscribe(subscription: Subscription<unknown>): void;
  publishTo(channel: string, data: unknown, options?: RequestOptions): Promise<PublishResult>;
  presenceOf(channel: string, options?: RequestOptions): Promise<PresenceMember[]>;
  presenceStatsOf(channel: string, options?: RequestOptions): Promise<PresenceStatsResult>;
  historyOf(channel: string, query?: HistoryQuery, options?: RequestOptions): Promise<HistoryResult>;
}

/** What a publication push did to the subscription. */
export type PublicationVerdict = 'accepted' | 'duplicate' | 'gap' | 'ignored';

/** The fields of a subscribe command for the next attempt. */
export interface SubscribeFields {
  channel: string;
  since?: StreamPosition;
  data?: unknown;
  delta?: boolean;
}

/** How the client drives a subscription (not part of the public API). */
export interface SubscriptionControl {
  readonly subscription: Subscription<unknown>;
  /** The next subscribe command's fields; `recover` forces `since` (a gap was seen). */
  subscribeFields(recover: boolean): SubscribeFields;
  /** A subscribe command is on its way, or will be once connected. */
  subscribing(): void;
  /** The server accepted the subscribe command built by the last `subscribeFields`. */
  subscribed(result: SubscribeResult): void;
  /** A publication push of the channel. */
  publication(push: PublicationPush): PublicationVerdict;
  join(member: PresenceMember): void;
  leave(member: PresenceMember): void;
  /** A subscribe attempt failed and will be retried. */
  failed(error: RealtimeError): void;
  /** The subscription is over; `error` rejects `ready()` if it never succeeded. */
  ended(code: string, reason: string, error?: RealtimeError): void;
}

interface ReadyWaiter {
  resolve(): void;
  reject(error: RealtimeError): void;
}

/**
 * A subscription to one channel, created by `RealtimeClient.subscribe()`.
 * It resubscribes by itself after reconnects (recovering missed publications
 * when the channel keeps history) until `unsubscribe()` or `close()`.
 */
export class Subscription<T = unknown> extends Emitter<SubscriptionEvents<T>> {
  readonly channel: string;
  readonly #host: SubscriptionHost;
  readonly #options: SubscribeOptions;
  #state: SubscriptionState = 'subscribing';
  #position: StreamPosition | undefined;
  #recoverable = false;
  /** Whether the last subscribe command carried `since`. */
  #sentSince = false;
  #everSubscribed = false;
  #failure: RealtimeError | undefined;
  #waiters: ReadyWaiter[] = [];
  /** While a recovery is paged in with `history`: the pushes that arrive meanwhile, in order. */
  #recovering: { run: number; pushes: PublicationPush[] } | undefined;
  /** Counts recoveries, so that a late page of an abandoned one is ignored. */
  #recoveryRuns = 0;
  /** The delta bases, while the server sends deltas (its last subscribe reply said `delta`). */
  #deltas: DeltaBases | undefined;

  /** Not for applications: use `RealtimeClient.subscribe()`. */
  constructor(channel: string, host: SubscriptionHost, options: SubscribeOptions, attach: (control: SubscriptionControl) => void) {
    super();
    this.channel = channel;
    this.#host = host;
    this.#options = options;
    this.#position = options.since === undefined ? undefined : { ...options.since };
    attach(this.#control());
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** The offset of the last publication seen and its stream's epoch (undefined before the first subscribe). */
  get position(): StreamPosition | undefined {
    return this.#position === undefined ? undefined : { ...this.#position };
  }

  /** Whether the channel keeps history, as the last subscribe reply said. */
  get recoverable(): boolean {
    return this.#recoverable;
  }

  /** Resolves on the first successful subscribe; rejects when the subscription ends before one. */
  ready(): Promise<void> {
    if (this.#everSubscribed) return Promise.resolve();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Ends the subscription (an 'unsubscribed' event with code 'client' follows). */
  unsubscribe(): void {
    this.#host.unsubscribe(this as Subscription<unknown>);
  }

  /** Publishes `data` in the channel. */
  publish(data: T, options?: RequestOptions): Promise<PublishResult> {
    return this.#host.publishTo(this.channel, data, options);
  }

  /** The channel's presence set. */
  presence(options?: RequestOptions): Promise<PresenceMember[]> {
    return this.#host.presenceOf(this.channel, options);
  }

  /** The number of clients and distinct users in the channel's presence set. */
  presenceStats(options?: RequestOptions): Promise<PresenceStatsResult> {
    return this.#host.presenceStatsOf(this.channel, options);
  }

  /** The channel's history: the latest `limit` publications, or those after `since`. */
  history(query?: HistoryQuery, options?: RequestOptions): Promise<TypedHistory<T>> {
    return this.#host.historyOf(this.channel, query, options) as Promise<TypedHistory<T>>;
  }

  // ------------------------------------------------------------ driven by the client

  #control(): SubscriptionControl {
    return {
      subscription: this as Subscription<unknown>,
      subscribeFields: (recover) => this.#subscribeFields(recover),
      subscribing: () => this.#setState('subscribing'),
      subscribed: (result) => this.#onSubscribed(result),
      publication: (push) => this.#onPublication(push),
      join: (member) => {
        if (this.#state === 'subscribed') this.emit('join', member);
      },
      leave: (member) => {
        if (this.#state === 'subscribed') this.emit('leave', member);
      },
      failed: (error) => this.emit('error', error),
      ended: (code, reason, error) => this.#onEnded(code, reason, error),
    };
  }

  #setState(state: SubscriptionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', state, previous);
  }

  #subscribeFields(recover: boolean): SubscribeFields {
    const fields: SubscribeFields = { channel: this.channel };
    const fromStart = !this.#everSubscribed && this.#options.since !== undefined;
    const since = this.#position !== undefined && (recover || this.#recoverable || fromStart) ? this.#position : undefined;
    if (since !== undefined) fields.since = { offset: since.offset, epoch: since.epoch };
    if (this.#options.data !== undefined) fields.data = this.#options.data;
    if (this.#options.delta === true) fields.delta = true;
    this.#sentSince = since !== undefined;
    return fields;
  }

  #onSubscribed(result: SubscribeResult): void {
    this.#recovering = undefined;
    if (this.#sentSince && result.recovered === true && result.more === true) {
      this.#pageRecovery(result);
      return;
    }
    this.#finishSubscribe(result);
  }

  /**
   * The server's byte budget cut the recovery short (`more`): the rest, up
   * to the reply's offset, comes from `history` — paged by the client — while
   * the pushes that arrive meanwhile wait. The subscription is subscribed
   * once every missed publication is here, in order; if the history lost
   * some meanwhile, it is subscribed with `recovered: false`.
   */
  #pageRecovery(result: SubscribeResult): void {
    const run = ++this.#recoveryRuns;
    this.#recovering = { run, pushes: [] };
    const first = Array.isArray(result.publications) ? result.publications : [];
    const epoch = String(result.epoch);
    const target = Number(result.offset);
    const last = first.length > 0 ? first[first.length - 1]!.offset : (this.#position?.offset ?? 0);
    const finish = (publications: Publication[] | null): void => {
      const recovering = this.#recovering;
      if (recovering === undefined || recovering.run !== run) return;
      this.#recovering = undefined;
      const whole: SubscribeResult = { ...result, more: false };
      if (publications === null) {
        whole.recovered = false;
        delete whole.publications;
      } else {
        whole.publications = [...first, ...publications];
      }
      this.#finishSubscribe(whole);
      for (const push of recovering.pushes) this.#onPublication(push);
    };
    this.#host.historyOf(this.channel, { since: { offset: last, epoch }, limit: target - last }).then(
      (rest) => {
        const consecutive = rest.epoch === epoch && rest.publications.every((publication, index) => publication.offset === last + 1 + index);
        const reaches = rest.publications.length === target - last;
        finish(consecutive && reaches ? rest.publications : null);
      },
      () => finish(null),
    );
  }

  #finishSubscribe(result: SubscribeResult): void {
    const resubscription = this.#everSubscribed;
    const recovered = this.#sentSince ? result.recovered === true : resubscription ? false : undefined;
    const missed = recovered === true && Array.isArray(result.publications) ? result.publications : [];
    const epoch = String(result.epoch);
    this.#recoverable = result.recoverable === true;
    this.#deltas = result.delta !== undefined && this.#options.delta === true ? new DeltaBases(result.delta) : undefined;
    // Without a full recovery, the stream restarts at the server's position; with one, the
    // missed publications move it forward one by one.
    if (recovered !== true || this.#position === undefined) this.#position = { offset: Number(result.offset), epoch };
    else this.#position = { offset: this.#position.offset, epoch };
    this.#everSubscribed = true;
    this.#setState('subscribed');
    const event: SubscribedEvent = { recoverable: this.#recoverable, position: { offset: Number(result.offset), epoch } };
    if (recovered !== undefined) event.recovered = recovered;
    if (result.data !== undefined) event.data = result.data;
    this.emit('subscribed', event);
    this.#settleWaiters(undefined);
    for (const publication of missed) {
      if (this.#state !== 'subscribed') return;
      if (publication.offset > this.#position.offset) this.#deliver(publication);
    }
    if (this.#state === 'subscribed') this.#position = { offset: Math.max(this.#position.offset, Number(result.offset)), epoch };
  }

  #onPublication(push: PublicationPush): PublicationVerdict {
    if (this.#recovering !== undefined) {
      this.#recovering.pushes.push(push);
      return 'accepted';
    }
    if (this.#state !== 'subscribed' || this.#position === undefined) return 'ignored';
    // The first publication of a stream (or of a new epoch) names its epoch: a subscription made before the stream existed has ''.
    if (typeof push.epoch === 'string' && push.epoch !== '') this.#position = { offset: this.#position.offset, epoch: push.epoch };
    const last = this.#position.offset;
    const skipped = typeof push.skipped === 'number' && push.skipped > 0 ? push.skipped : 0;
    if (typeof push.offset === 'number') {
      if (push.offset <= last) return 'duplicate';
      // A conflated push's `skipped` publications were superseded, not lost.
      if (push.offset > last + 1 + skipped) return 'gap';
    }
    if (typeof push.delta === 'number') {
      if (this.#deltas === undefined) return 'gap';
      try {
        const data = this.#deltas.rebuild(push.offset, push.delta, push.data);
        this.#deliver({ ...push, data }, skipped, true);
      } catch (error) {
        if (!(error instanceof DeltaError)) throw error;
        // The base is not the server's: resubscribe (recovering), which starts the deltas over.
        this.#deltas = undefined;
        return 'gap';
      }
      return 'accepted';
    }
    this.#deliver(push, skipped);
    return 'accepted';
  }

  #deliver(publication: { offset: number; data: unknown; info?: ClientInfo }, skipped = 0, delta = false): void {
    if (typeof publication.offset === 'number' && this.#position !== undefined) {
      this.#position = { offset: publication.offset, epoch: this.#position.epoch };
    }
    if (!delta) this.#deltas?.received(publication.offset, publication.data);
    const event: PublicationEvent<T> = { channel: this.channel, offset: publication.offset, data: publication.data as T };
    if (publication.info !== undefined) event.info = publication.info;
    if (skipped > 0) event.skipped = skipped;
    if (delta) event.delta = true;
    this.emit('publication', event);
  }

  #onEnded(code: string, reason: string, error: RealtimeError | undefined): void {
    if (this.#state === 'unsubscribed') return;
    if (error !== undefined) this.emit('error', error);
    this.#setState('unsubscribed');
    this.emit('unsubscribed', { code, reason });
    if (!this.#everSubscribed) {
      this.#failure = error ?? new RealtimeError(code, reason);
      this.#settleWaiters(this.#failure);
    }
  }

  #settleWaiters(error: RealtimeError | undefined): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }
}
