/**
 * `RealtimeClient`: the client side of the Switchboard real-time protocol
 * (docs/protocol.md) over any WHATWG-style WebSocket.
 *
 * One connection at a time. Each (re)connect pipelines `connect` and the
 * subscriptions' `subscribe` commands (with `since` to recover), then flushes
 * what was queued while offline. Drops reconnect with full-jitter backoff
 * unless the close code says not to; in-flight commands then fail with
 * 'disconnected' (they may have run, so they are not replayed). Publications
 * are deduplicated by offset and a gap triggers a resubscription with `since`.
 * The server's `ping` is answered with `pong`, and a connection that has been
 * silent for `ping + pong` ms is considered dead. Tokens come from `token` or
 * `getToken()` and are refreshed before they expire.
 *
 * Transports: WebSocket first, then the HTTP fallback (docs/protocol.md §11)
 * when a WebSocket cannot get through; the choice is remembered for a while
 * (transport-choice.ts). Both are `WebSocketLike`, so everything above works
 * the same over either.
 */
import type {
  ApiShape,
  ChannelName,
  ClientMethodName,
  ClientMethodParams,
  ClientMethodResult,
  MethodName,
  MethodParams,
  MethodResult,
  PublicationData,
  UntypedApi,
} from '../wire/api.js';
import type { CallResult, PresenceMember, PresenceStatsResult, PublishResult } from '../wire/messages.js';
import type { CallArgs, CallHandler, ClientEvents, ClientState } from './client-events.js';
import type { RealtimeClientOptions } from './client-options.js';
import { Connector } from './connector.js';
import { Emitter } from './emitter.js';
import { ClientErrorCode, RealtimeError } from './errors.js';
import { history, historyPages } from './history.js';
import type { HistoryQuery, RequestOptions, SubscribeOptions, Subscription, TypedHistory } from './subscription.js';
import type { TransportName } from './transport-choice.js';

/**
 * A real-time client. Typed by an API shape (see wire/api.ts):
 *
 * ```ts
 * const client = new RealtimeClient<ChatApi>('wss://example.org/rt', { getToken }).connect();
 * client.subscribe('chat:lobby').on('publication', ({ data }) => render(data.text));
 * const room = await client.call('rooms.create', { name: 'x' });
 * ```
 */
export class RealtimeClient<A extends ApiShape = UntypedApi> extends Emitter<ClientEvents> {
  /** The endpoints, tried in turn: each reconnect attempt moves to the next one. */
  readonly urls: readonly string[];
  readonly #connector: Connector;

  /**
   * A client for the real-time endpoint at `url` (ws:// or wss://), or for
   * several equivalent endpoints (e.g. the nodes of a cluster), of which each
   * reconnect attempt tries the next. It does nothing until `connect()`;
   * commands issued before are queued.
   */
  constructor(url: string | readonly string[], options: RealtimeClientOptions = {}) {
    super();
    this.#connector = new Connector(url, options, (event, ...args) => this.emit(event, ...args));
    this.urls = this.#connector.urls;
  }

  get state(): ClientState {
    return this.#connector.state;
  }

  /** The server's id of the current connection (while connected). */
  get clientId(): string | undefined {
    return this.#connector.clientId;
  }

  /** Channels the server subscribed this connection to (server-side subscriptions); they end with the connection. */
  get serverSubscriptions(): ReadonlySet<string> {
    return this.#connector.serverSubscriptions.channels;
  }

  /** The user id the server assigned ('' when anonymous; while connected). */
  get user(): string | undefined {
    return this.#connector.user;
  }

  /** The transport of the current connection (or attempt), else of the last one; undefined before the first. */
  get transport(): TransportName | undefined {
    return this.#connector.transport;
  }

  /** The endpoint of the current (or next) connection attempt. */
  get url(): string {
    return this.#connector.url;
  }

  /** Connects; from then on the client reconnects by itself until `close()`. No-op unless disconnected. */
  connect(): this {
    this.#connector.connect();
    return this;
  }

  /**
   * Closes for good: no more reconnects; commands in flight and queued reject
   * with 'closed', subscriptions end with code 'closed'.
   */
  close(): void {
    this.#connector.close();
  }

  /**
   * Subscribes to `channel`, or returns the existing subscription of that
   * channel. The subscribe command goes out now when connected, else on connect.
   */
  subscribe<C extends ChannelName<A>>(channel: C, options: SubscribeOptions = {}): Subscription<PublicationData<A, C>> {
    const existing = this.#connector.subscriptions.get<PublicationData<A, C>>(channel);
    if (existing !== undefined) return existing;
    if (this.#connector.state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    return this.#connector.subscriptions.add<PublicationData<A, C>>(channel, options, this.#connector.current);
  }

  /** The subscription of `channel`, if any. */
  getSubscription<C extends ChannelName<A>>(channel: C): Subscription<PublicationData<A, C>> | undefined {
    return this.#connector.subscriptions.get<PublicationData<A, C>>(channel);
  }

  /** Publishes `data` in `channel` (no subscription needed if the namespace allows it). */
  publish<C extends ChannelName<A>>(channel: C, data: PublicationData<A, C>, options?: RequestOptions): Promise<PublishResult> {
    return this.#connector.publish(channel, data, options);
  }

  /** Calls the server's method `method`; resolves with its result. */
  call<M extends MethodName<A>>(method: M, ...args: CallArgs<MethodParams<A, M>>): Promise<MethodResult<A, M>> {
    const [params, options] = args;
    const fields: Record<string, unknown> = { method };
    if (params !== undefined) fields['data'] = params;
    return this.#connector.request('call', fields, options).then((result) => (result as CallResult).data as MethodResult<A, M>);
  }

  /**
   * Answers the server's calls of `method` with `handler` (its result, or an
   * error reply when it throws: a `RealtimeError`'s code and data, else 'internal').
   */
  handle<M extends ClientMethodName<A>>(method: M, handler: CallHandler<ClientMethodParams<A, M>, ClientMethodResult<A, M>>): this {
    this.#connector.serverCalls.handle(method, handler as (params: unknown) => unknown);
    return this;
  }

  /** Stops answering calls of `method` (they get `not_found`). */
  unhandle(method: ClientMethodName<A>): this {
    this.#connector.serverCalls.unhandle(method);
    return this;
  }

  /** Sends a one-way message to the server's `message` handler. Queued while offline; throws 'queue_full' or 'closed'. */
  send(data: unknown): void {
    if (this.#connector.state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    this.#connector.requests.send(data);
  }

  /** The presence set of `channel`. */
  presence(channel: ChannelName<A>, options?: RequestOptions): Promise<PresenceMember[]> {
    return this.#connector.presence(channel, options);
  }

  /** The number of clients and distinct users present in `channel`. */
  presenceStats(channel: ChannelName<A>, options?: RequestOptions): Promise<PresenceStatsResult> {
    return this.#connector.presenceStats(channel, options);
  }

  /**
   * The history of `channel`: the latest `limit` publications, or those after
   * `since` — all of them, however many pages the server sends it in.
   */
  history<C extends ChannelName<A>>(channel: C, query?: HistoryQuery, options?: RequestOptions): Promise<TypedHistory<PublicationData<A, C>>> {
    return history(this.#connector.request, channel, query, options) as Promise<TypedHistory<PublicationData<A, C>>>;
  }

  /**
   * The same query page by page, as the server sends it (each within its
   * reply budget): for a history too large to hold at once.
   *
   * ```ts
   * for await (const page of client.historyPages('board:main', { since })) draw(page.publications);
   * ```
   */
  historyPages<C extends ChannelName<A>>(channel: C, query?: HistoryQuery, options?: RequestOptions): AsyncGenerator<TypedHistory<PublicationData<A, C>>, void, undefined> {
    return historyPages(this.#connector.request, channel, query, options) as AsyncGenerator<TypedHistory<PublicationData<A, C>>, void, undefined>;
  }

}
