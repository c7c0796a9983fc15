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
import type { Codec } from '../wire/codec.js';
import { ErrorCode, shouldReconnect } from '../wire/errors.js';
import type {
  CallResult,
  ConnectResult,
  DisconnectPush,
  HistoryResult,
  PresenceMember,
  PresenceResult,
  PresenceStatsResult,
  PublicationPush,
  PublishResult,
  RefreshResult,
  ServerCallMessage,
  StreamPosition,
  SubscribeResult,
} from '../wire/messages.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { ClientErrorCode, isErrorBody, RealtimeError, toErrorBody } from './errors.js';
import { globalFetch, HttpSocket, type FetchLike } from './http-transport.js';
import { DEFAULT_MAX_OFFLINE_QUEUE, OfflineQueue } from './offline-queue.js';
import {
  Subscription,
  type HistoryQuery,
  type RequestOptions,
  type SubscribeOptions,
  type SubscriptionControl,
  type SubscriptionHost,
  type TypedHistory,
} from './subscription.js';
import {
  globalWebSocket,
  negotiatedCodec,
  offeredSubprotocols,
  toPayload,
  type CloseEventLike,
  type MessageEventLike,
  type ProtocolName,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport.js';
import { checkTransports, DEFAULT_WEBSOCKET_RETRY_AFTER, TransportChoice, type TransportName } from './transport-choice.js';

// ---------------------------------------------------------------- options

/** Default reply timeout of publish/call/presence/history, queue time included; also the connect timeout (ms). */
export const DEFAULT_TIMEOUT = 10_000;
export const DEFAULT_PROTOCOL: ProtocolName = 'json';
/** The client name sent in `connect`. */
export const DEFAULT_CLIENT_NAME = 'switchboard-sdk';
/** The library version sent in `connect`. */
export const SDK_VERSION = '0.1.0';
/** Without `refreshMargin`, a token is refreshed this share of its lifetime before it expires ... */
export const DEFAULT_REFRESH_RATIO = 0.1;
/** ... but at least this many ms before. */
export const MIN_REFRESH_MARGIN = 1000;
/** A refresh that failed for a reason other than the token itself is tried again after this many ms. */
export const DEFAULT_REFRESH_RETRY = 5000;
/** How long a WebSocket attempt may wait for its `connect` reply before the next transport is tried (ms). */
export const DEFAULT_FALLBACK_TIMEOUT = 5_000;
/** setTimeout's largest delay; longer waits are taken in steps. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** Timer functions; injectable for tests. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

/** Options of `new RealtimeClient(url, options)`. */
export interface RealtimeClientOptions {
  /** A fixed credential sent in `connect`. */
  token?: string;
  /**
   * Returns a credential. Called before each connect when there is no fixed
   * `token` (or after the fixed one expired), and to refresh a token before
   * its `expires`. Throw a `RealtimeError` with code 'unauthorized' to stop
   * reconnecting.
   */
  getToken?: () => string | Promise<string>;
  /** Free-form data for the server's `authenticate` hook. */
  data?: unknown;
  /** The preferred encoding (the other one is offered too). Default 'json'. */
  protocol?: ProtocolName;
  /** The WebSocket class. Default: the platform's (`globalThis.WebSocket`; Switchboard's in the Node entry). */
  WebSocket?: WebSocketConstructor;
  /**
   * The transports to use, preferred first: 'websocket', and 'http' — the
   * HTTP fallback (Server-Sent Events down, POST up) for networks that block
   * WebSockets. Default ['websocket', 'http'] (WebSocket only where there is
   * no `fetch`).
   */
  transports?: readonly TransportName[];
  /** How long (ms) a WebSocket attempt may take to get its `connect` reply before the next transport is tried. Default 5000 (at most `timeout`). */
  fallbackTimeout?: number;
  /** After falling back, how long (ms) the client keeps the fallback before trying WebSocket again at a reconnect. Default 300000. */
  websocketRetryAfter?: number;
  /** The `fetch` of the HTTP transport. Default: the platform's (`globalThis.fetch`). */
  fetch?: FetchLike;
  /** Reconnect backoff (full jitter), or false never to reconnect on its own. */
  reconnect?: BackoffOptions | false;
  /** Reply timeout (ms) of publish/call/presence/history, queue time included; also bounds each connect. */
  timeout?: number;
  /** Commands kept while not connected; more reject with 'queue_full'. Default 100. */
  maxOfflineQueue?: number;
  /** Refresh the token this many ms before it expires. Default: 10% of its lifetime, at least 1000 ms. */
  refreshMargin?: number;
  /** Timer functions (tests inject fake ones, together with `now`). */
  timers?: Timers;
  /** Random numbers in [0, 1) for the backoff jitter. */
  random?: () => number;
  /** The current time in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** The client name sent in `connect` (for the server's logs). */
  name?: string;
}

// ---------------------------------------------------------------- events

export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'closed';

/** A 'connecting' event: a connect attempt is scheduled. */
export interface ConnectingEvent {
  /** 0 for the first connect, then 1, 2, ... for the reconnects since the last successful connect. */
  attempt: number;
  /** ms until the attempt. */
  delay: number;
  /** Close code of the connection or attempt that failed before (reconnects only). */
  code?: number;
  reason?: string;
}

/** A 'disconnected' event: a connection ended, or the client gave up reconnecting. */
export interface DisconnectedEvent {
  code: number;
  reason: string;
  /** Whether the client reconnects by itself. */
  reconnect: boolean;
}

/** A 'subscribed' event: the server subscribed this connection to a channel (a server-side subscription). */
export interface ServerSubscribedEvent {
  channel: string;
  /** The channel's position when the subscription started: publications after it follow. */
  offset: number;
  epoch: string;
  recoverable: boolean;
}

/** A 'publication' event: a publication of a channel the server subscribed this connection to. */
export interface ServerPublicationEvent {
  channel: string;
  offset: number;
  data: unknown;
  info?: PresenceMember;
}

/** An 'unsubscribed' event: the server ended one of its server-side subscriptions. */
export interface ServerUnsubscribedEvent {
  channel: string;
  code: string;
  reason: string;
}

export interface ClientEvents {
  state: [state: ClientState, previous: ClientState];
  /** A connection succeeded over another transport than the previous one (emitted before 'connected'). */
  transport: [transport: TransportName, previous: TransportName | undefined];
  connecting: [event: ConnectingEvent];
  connected: [result: ConnectResult];
  disconnected: [event: DisconnectedEvent];
  error: [error: Error];
  /** A one-way message from the server (`Session.send`, `rt.user(id).send`, the server API's `send`). */
  message: [data: unknown];
  /** The server subscribed this connection to a channel (docs/protocol.md §5.3). */
  subscribed: [event: ServerSubscribedEvent];
  /** A publication of a channel of a server-side subscription. */
  publication: [event: ServerPublicationEvent];
  /** The server ended a server-side subscription. */
  unsubscribed: [event: ServerUnsubscribedEvent];
}

/** `call()`'s arguments after the method: params are optional when the method's params may be undefined. */
export type CallArgs<P> = undefined extends P ? [params?: P, options?: RequestOptions] : [params: P, options?: RequestOptions];

/** A handler of a server-to-client call. */
export type CallHandler<P, R> = (params: P) => R | Promise<R>;

// ---------------------------------------------------------------- internals

/** A reply awaited on one connection. */
interface Pending {
  onResult(result: unknown): void;
  onError(error: RealtimeError): void;
}

/** A command of the application (publish, call, presence, history): queued, then sent. */
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

/** A subscription as the client keeps it. */
interface SubscriptionRecord {
  control: SubscriptionControl;
  /** Id of the subscribe command in flight on the current connection. */
  pendingId: number | undefined;
  /** Backoff of retries after transient subscribe errors. */
  retry: Backoff;
  retryTimer: unknown;
}

/**
 * One WebSocket connection. 'opening': the socket is opening or the token is
 * being fetched; 'handshaking': `connect` was sent; 'connected': it succeeded.
 */
interface Connection {
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

type TokenOutcome = { ok: true; token: string | undefined } | { ok: false; error: unknown };

/** Why a connection ended. */
interface LossInfo {
  code: number;
  reason: string;
  /** Overrides the close code's rule (e.g. the server's `disconnect.reconnect`). */
  reconnect?: boolean;
}

/** Subscribe errors worth retrying on the same connection. */
const RETRYABLE_SUBSCRIBE_ERRORS = new Set<string>([
  ErrorCode.RateLimited,
  ErrorCode.BrokerUnavailable,
  ErrorCode.Internal,
  ErrorCode.Timeout,
]);

/** Refresh errors about the token itself: trying again with the same source is pointless. */
const TOKEN_REFUSALS = new Set<string>([ErrorCode.Unauthorized, ErrorCode.Forbidden, ErrorCode.TokenExpired]);

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function checkTimeout(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be > 0 ms, got ${value}`);
  return value;
}

// ---------------------------------------------------------------- the client

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
  #urlIndex = 0;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #fetch: FetchLike | undefined;
  readonly #transports: TransportChoice;
  readonly #fallbackTimeout: number;
  /** The transport of the last connection that succeeded. */
  #connectedTransport: TransportName | undefined;
  /** The transport of the last connection attempt. */
  #lastTransport: TransportName | undefined;
  readonly #protocol: ProtocolName;
  readonly #getToken: (() => string | Promise<string>) | undefined;
  readonly #data: unknown;
  readonly #name: string;
  readonly #timeout: number;
  readonly #refreshMargin: number | undefined;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #backoff: Backoff | undefined;
  readonly #random: () => number;
  readonly #reconnectOptions: BackoffOptions;
  readonly #queue: OfflineQueue<QueueItem>;
  readonly #subscriptions = new Map<string, SubscriptionRecord>();
  /** Channels the server subscribed the current connection to; they end with it. */
  readonly #serverSubscriptions = new Set<string>();
  readonly #handlers = new Map<string, (params: unknown) => unknown>();
  readonly #host: SubscriptionHost;

  #state: ClientState = 'disconnected';
  #connection: Connection | undefined;
  #reconnectTimer: unknown;
  /** The current credential: the fixed `token`, then the last refreshed one. */
  #token: string | undefined;
  readonly #fixedToken: boolean;
  /** The current token was found expired: fetch a new one before the next connect. */
  #tokenStale = false;
  /** When the current token expires, as the server said (ms since the epoch). */
  #tokenExpires: number | undefined;
  #clientId: string | undefined;
  #user: string | undefined;

  /**
   * A client for the real-time endpoint at `url` (ws:// or wss://), or for
   * several equivalent endpoints (e.g. the nodes of a cluster), of which each
   * reconnect attempt tries the next. It does nothing until `connect()`;
   * commands issued before are queued.
   */
  constructor(url: string | readonly string[], options: RealtimeClientOptions = {}) {
    super();
    const WebSocketClass = options.WebSocket ?? globalWebSocket();
    const fetchFunction = options.fetch ?? globalFetch();
    const transports = checkTransports(options.transports ?? (fetchFunction === undefined ? ['websocket'] : ['websocket', 'http']));
    if (WebSocketClass === undefined && transports.includes('websocket')) {
      throw new TypeError('no WebSocket implementation: pass options.WebSocket (this platform has no globalThis.WebSocket)');
    }
    if (fetchFunction === undefined && transports.includes('http')) throw new TypeError('the http transport needs fetch: pass options.fetch');
    this.urls = typeof url === 'string' ? [url] : [...url];
    if (this.urls.length === 0) throw new TypeError('at least one URL is needed');
    this.#WebSocket = WebSocketClass;
    this.#fetch = fetchFunction;
    this.#protocol = options.protocol ?? DEFAULT_PROTOCOL;
    if (this.#protocol !== 'json' && this.#protocol !== 'msgpack') throw new RangeError(`protocol must be 'json' or 'msgpack'`);
    this.#token = options.token;
    this.#fixedToken = options.token !== undefined;
    this.#getToken = options.getToken;
    this.#data = options.data;
    this.#name = options.name ?? DEFAULT_CLIENT_NAME;
    this.#timeout = checkTimeout('timeout', options.timeout ?? DEFAULT_TIMEOUT);
    this.#refreshMargin = options.refreshMargin;
    this.#timers = options.timers ?? defaultTimers;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#transports = new TransportChoice(transports, options.websocketRetryAfter ?? DEFAULT_WEBSOCKET_RETRY_AFTER, this.#now);
    this.#fallbackTimeout = Math.min(this.#timeout, checkTimeout('fallbackTimeout', options.fallbackTimeout ?? DEFAULT_FALLBACK_TIMEOUT));
    this.#reconnectOptions = options.reconnect === false ? {} : (options.reconnect ?? {});
    this.#backoff = options.reconnect === false ? undefined : new Backoff(this.#reconnectOptions, this.#random);
    this.#queue = new OfflineQueue(options.maxOfflineQueue ?? DEFAULT_MAX_OFFLINE_QUEUE);
    this.#host = {
      unsubscribe: (subscription) => this.#unsubscribe(subscription),
      publishTo: (channel, data, requestOptions) => this.#publish(channel, data, requestOptions),
      presenceOf: (channel, requestOptions) => this.#presence(channel, requestOptions),
      presenceStatsOf: (channel, requestOptions) => this.#presenceStats(channel, requestOptions),
      historyOf: (channel, query, requestOptions) => this.#history(channel, query, requestOptions),
    };
  }

  // ------------------------------------------------------------ public API

  get state(): ClientState {
    return this.#state;
  }

  /** The server's id of the current connection (while connected). */
  /** Channels the server subscribed this connection to (server-side subscriptions); they end with the connection. */
  get serverSubscriptions(): ReadonlySet<string> {
    return this.#serverSubscriptions;
  }

  get clientId(): string | undefined {
    return this.#clientId;
  }

  /** The user id the server assigned ('' when anonymous; while connected). */
  get user(): string | undefined {
    return this.#user;
  }

  /** The transport of the current connection (or attempt), else of the last one; undefined before the first. */
  get transport(): TransportName | undefined {
    return this.#connection?.transport ?? this.#lastTransport;
  }

  /** Connects; from then on the client reconnects by itself until `close()`. No-op unless disconnected. */
  connect(): this {
    if (this.#state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    if (this.#state !== 'disconnected') return this;
    this.#backoff?.reset();
    this.#setState('connecting');
    this.emit('connecting', { attempt: 0, delay: 0 });
    if (this.#stateNow() === 'connecting' && this.#connection === undefined) this.#open(true);
    return this;
  }

  /**
   * Closes for good: no more reconnects; commands in flight and queued reject
   * with 'closed', subscriptions end with code 'closed'.
   */
  close(): void {
    if (this.#state === 'closed') return;
    this.#clearTimer(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const connection = this.#connection;
    this.#connection = undefined;
    const closed = new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    if (connection !== undefined) this.#shutDown(connection, 1000, 'client closed', closed);
    this.#rejectQueue(closed);
    const records = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const record of records) {
      this.#clearTimer(record.retryTimer);
      record.control.ended(ClientErrorCode.Closed, 'the client was closed');
    }
    this.#clientId = undefined;
    this.#user = undefined;
    this.#setState('closed');
    if (connection !== undefined) this.emit('disconnected', { code: 1000, reason: 'client closed', reconnect: false });
  }

  /**
   * Subscribes to `channel`, or returns the existing subscription of that
   * channel. The subscribe command goes out now when connected, else on connect.
   */
  subscribe<C extends ChannelName<A>>(channel: C, options: SubscribeOptions = {}): Subscription<PublicationData<A, C>> {
    const existing = this.#subscriptions.get(channel);
    if (existing !== undefined) return existing.control.subscription as Subscription<PublicationData<A, C>>;
    if (this.#state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    let control: SubscriptionControl | undefined;
    const subscription = new Subscription<PublicationData<A, C>>(channel, this.#host, options, (attached) => {
      control = attached;
    });
    const record: SubscriptionRecord = {
      control: control!,
      pendingId: undefined,
      retry: new Backoff(this.#reconnectOptions, this.#random),
      retryTimer: undefined,
    };
    this.#subscriptions.set(channel, record);
    const connection = this.#connection;
    if (connection !== undefined && connection.phase !== 'opening') this.#sendSubscribe(connection, record, false);
    return subscription;
  }

  /** The subscription of `channel`, if any. */
  getSubscription<C extends ChannelName<A>>(channel: C): Subscription<PublicationData<A, C>> | undefined {
    return this.#subscriptions.get(channel)?.control.subscription as Subscription<PublicationData<A, C>> | undefined;
  }

  /** Publishes `data` in `channel` (no subscription needed if the namespace allows it). */
  publish<C extends ChannelName<A>>(channel: C, data: PublicationData<A, C>, options?: RequestOptions): Promise<PublishResult> {
    return this.#publish(channel, data, options);
  }

  /** Calls the server's method `method`; resolves with its result. */
  call<M extends MethodName<A>>(method: M, ...args: CallArgs<MethodParams<A, M>>): Promise<MethodResult<A, M>> {
    const [params, options] = args;
    const fields: Record<string, unknown> = { method };
    if (params !== undefined) fields['data'] = params;
    return this.#request('call', fields, options).then((result) => (result as CallResult).data as MethodResult<A, M>);
  }

  /**
   * Answers the server's calls of `method` with `handler` (its result, or an
   * error reply when it throws: a `RealtimeError`'s code and data, else 'internal').
   */
  handle<M extends ClientMethodName<A>>(method: M, handler: CallHandler<ClientMethodParams<A, M>, ClientMethodResult<A, M>>): this {
    this.#handlers.set(method, handler as (params: unknown) => unknown);
    return this;
  }

  /** Stops answering calls of `method` (they get `not_found`). */
  unhandle(method: ClientMethodName<A>): this {
    this.#handlers.delete(method);
    return this;
  }

  /** Sends a one-way message to the server's `message` handler. Queued while offline; throws 'queue_full' or 'closed'. */
  send(data: unknown): void {
    if (this.#state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    const connection = this.#connection;
    if (connection?.phase === 'connected') {
      this.#write(connection, { type: 'send', data });
      return;
    }
    if (!this.#queue.push({ kind: 'send', data })) throw this.#queueFull();
  }

  /** The presence set of `channel`. */
  presence(channel: ChannelName<A>, options?: RequestOptions): Promise<PresenceMember[]> {
    return this.#presence(channel, options);
  }

  /** The number of clients and distinct users present in `channel`. */
  presenceStats(channel: ChannelName<A>, options?: RequestOptions): Promise<PresenceStatsResult> {
    return this.#presenceStats(channel, options);
  }

  /**
   * The history of `channel`: the latest `limit` publications, or those after
   * `since` — all of them, however many pages the server sends it in.
   */
  history<C extends ChannelName<A>>(channel: C, query?: HistoryQuery, options?: RequestOptions): Promise<TypedHistory<PublicationData<A, C>>> {
    return this.#history(channel, query, options) as Promise<TypedHistory<PublicationData<A, C>>>;
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
    return this.#historyPages(channel, query, options) as AsyncGenerator<TypedHistory<PublicationData<A, C>>, void, undefined>;
  }

  // ------------------------------------------------------------ requests

  #publish(channel: string, data: unknown, options: RequestOptions | undefined): Promise<PublishResult> {
    return this.#request('publish', { channel, data }, options) as Promise<PublishResult>;
  }

  #presence(channel: string, options: RequestOptions | undefined): Promise<PresenceMember[]> {
    return this.#request('presence', { channel }, options).then((result) => (result as PresenceResult).members);
  }

  #presenceStats(channel: string, options: RequestOptions | undefined): Promise<PresenceStatsResult> {
    return this.#request('presence_stats', { channel }, options) as Promise<PresenceStatsResult>;
  }

  /**
   * A history query, paged: when the server's byte budget cuts a reply
   * short (`more`), the next page is asked for `since` the last publication
   * received, until the query is answered in full (docs/protocol.md §4.8).
   */
  async #history(channel: string, query: HistoryQuery | undefined, options: RequestOptions | undefined): Promise<HistoryResult> {
    const publications: HistoryResult['publications'] = [];
    let last: HistoryResult | undefined;
    for await (const page of this.#historyPages(channel, query, options)) {
      publications.push(...page.publications);
      last = page;
    }
    return { publications, offset: last!.offset, epoch: last!.epoch };
  }

  /** The pages of a history query: the next one asked `since` the last publication received, while the server says `more`. */
  async *#historyPages(channel: string, query: HistoryQuery | undefined, options: RequestOptions | undefined): AsyncGenerator<HistoryResult, void, undefined> {
    let page = await this.#historyPage(channel, query?.since, query?.limit, options);
    const epoch = page.epoch;
    let received = page.publications.length;
    yield { publications: page.publications, offset: page.offset, epoch };
    while (page.more === true && page.publications.length > 0) {
      const remaining = query?.limit === undefined ? undefined : query.limit - received;
      if (remaining !== undefined && remaining <= 0) return;
      const since = { offset: page.publications[page.publications.length - 1]!.offset, epoch };
      page = await this.#historyPage(channel, since, remaining, options);
      // A stream that lost its history meanwhile ends the query where it got to.
      if (page.epoch !== epoch) return;
      received += page.publications.length;
      yield { publications: page.publications, offset: page.offset, epoch };
    }
  }

  #historyPage(channel: string, since: StreamPosition | undefined, limit: number | undefined, options: RequestOptions | undefined): Promise<HistoryResult> {
    const fields: Record<string, unknown> = { channel };
    if (since !== undefined) fields['since'] = since;
    if (limit !== undefined) fields['limit'] = limit;
    return this.#request('history', fields, options) as Promise<HistoryResult>;
  }

  /** Sends a command now when connected, else queues it; the timeout runs from now. */
  #request(type: string, fields: Record<string, unknown>, options: RequestOptions | undefined): Promise<unknown> {
    if (this.#state === 'closed') return Promise.reject(new RealtimeError(ClientErrorCode.Closed, 'the client was closed'));
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
      const connection = this.#connection;
      if (connection?.phase === 'connected') {
        this.#sendRequest(connection, request);
      } else if (!this.#queue.push(request)) {
        reject(this.#queueFull());
        return;
      }
      if (!request.settled) request.timer = this.#timers.setTimeout(() => this.#timeOut(request, timeout), timeout);
    });
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
    this.#transmit(connection, payload);
  }

  #settle(request: UserRequest, error: RealtimeError | undefined, result?: unknown): void {
    if (request.settled) return;
    request.settled = true;
    this.#clearTimer(request.timer);
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

  #rejectQueue(error: RealtimeError): void {
    for (const item of this.#queue.drain()) {
      if (item.kind === 'request') this.#settle(item, error);
    }
  }

  /** Sends what waited in the offline queue, in order. */
  #flushQueue(connection: Connection): void {
    for (const item of this.#queue.drain()) {
      if (item.kind === 'send') this.#write(connection, { type: 'send', data: item.data });
      else if (!item.settled) this.#sendRequest(connection, item);
    }
  }

  // ------------------------------------------------------------ connection lifecycle

  /** The state, read again after listeners may have changed it. */
  #stateNow(): ClientState {
    return this.#state;
  }

  #setState(state: ClientState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', state, previous);
  }

  /** The endpoint of the current (or next) connection attempt. */
  get url(): string {
    return this.urls[this.#urlIndex] as string;
  }

  /**
   * Opens a connection over the transport `TransportChoice` picks, and
   * starts fetching the token alongside. A reconnect moves to the next
   * endpoint; a fallback (`sameEndpoint`) tries another transport at the same one.
   */
  #open(first: boolean, sameEndpoint = false): void {
    this.#reconnectTimer = undefined;
    if (!first && !sameEndpoint) this.#urlIndex = (this.#urlIndex + 1) % this.urls.length;
    const transport = this.#transports.next();
    this.#lastTransport = transport;
    let ws: WebSocketLike;
    try {
      ws = this.#createSocket(transport);
    } catch (error) {
      // The class refused the URL or the subprotocols: no attempt can succeed.
      this.#setState('disconnected');
      this.#rejectQueue(new RealtimeError(ClientErrorCode.Disconnected, `cannot open a WebSocket: ${asError(error).message}`));
      if (first) throw error;
      this.emit('error', asError(error));
      return;
    }
    ws.binaryType = 'arraybuffer';
    const connection: Connection = {
      ws,
      transport,
      heard: false,
      codec: negotiatedCodec('')!,
      phase: 'opening',
      nextId: 1,
      pending: new Map(),
      token: this.#fetchToken(),
      lastActivity: this.#now(),
      connectTimer: undefined,
      heartbeatTimer: undefined,
      refreshTimer: undefined,
      disconnect: undefined,
      maxMessageSize: undefined,
    };
    this.#connection = connection;
    ws.onopen = () => void this.#onOpen(connection);
    ws.onmessage = (event: MessageEventLike) => this.#onMessage(connection, event);
    ws.onclose = (event: CloseEventLike) => this.#lose(connection, { code: event.code, reason: event.reason });
    ws.onerror = (event: unknown) => this.#onSocketError(connection, event);
    const connectTimeout = this.#transports.hasAlternative(transport) ? this.#fallbackTimeout : this.#timeout;
    connection.connectTimer = this.#timers.setTimeout(
      () => this.#lose(connection, { code: 4004, reason: `not connected within ${connectTimeout} ms` }),
      connectTimeout,
    );
  }

  /** A socket of `transport` to the current endpoint. */
  #createSocket(transport: TransportName): WebSocketLike {
    if (transport === 'http') return new HttpSocket(this.url, { fetch: this.#fetch!, timers: this.#timers, now: this.#now });
    return new this.#WebSocket!(this.url, offeredSubprotocols(this.#protocol));
  }

  /**
   * The token for the next connect: `getToken()` when there is no fixed token
   * or the current one expired, else the current one (the fixed token, or the
   * last one a refresh installed).
   */
  #fetchToken(): Promise<TokenOutcome> {
    if (this.#tokenExpires !== undefined && this.#now() >= this.#tokenExpires) this.#tokenStale = true;
    if (this.#getToken !== undefined && (!this.#fixedToken || this.#tokenStale)) return this.#callGetToken();
    return Promise.resolve({ ok: true, token: this.#token });
  }

  async #onOpen(connection: Connection): Promise<void> {
    if (connection !== this.#connection) return;
    connection.lastActivity = this.#now();
    const codec = negotiatedCodec(connection.ws.protocol);
    if (codec === undefined) {
      this.#lose(connection, { code: 4500, reason: `the server selected an unknown subprotocol "${connection.ws.protocol}"`, reconnect: false });
      return;
    }
    connection.codec = codec;
    const outcome = await connection.token;
    if (connection !== this.#connection) return;
    if (!outcome.ok) {
      this.#onTokenFailure(connection, outcome.error);
      return;
    }
    if (outcome.token !== this.#token) {
      this.#token = outcome.token;
      this.#tokenStale = false;
      this.#tokenExpires = undefined;
    }
    this.#sendConnect(connection, outcome.token);
    for (const record of this.#subscriptions.values()) {
      if (connection !== this.#connection) return;
      this.#sendSubscribe(connection, record, false);
    }
  }

  #onTokenFailure(connection: Connection, error: unknown): void {
    const failure = asError(error);
    connection.heard = true; // the token failed, not the transport
    this.emit('error', failure);
    const refused = failure instanceof RealtimeError && failure.code === ErrorCode.Unauthorized;
    this.#lose(connection, refused
      ? { code: 4501, reason: `getToken refused: ${failure.message}`, reconnect: false }
      : { code: 4000, reason: `getToken failed: ${failure.message}`, reconnect: true });
  }

  #sendConnect(connection: Connection, token: string | undefined): void {
    const message: Record<string, unknown> = { type: 'connect', id: connection.nextId++, name: this.#name, version: SDK_VERSION };
    if (token !== undefined && token !== '') message['token'] = token;
    if (this.#data !== undefined) message['data'] = this.#data;
    connection.phase = 'handshaking';
    connection.pending.set(message['id'] as number, {
      onResult: (result) => this.#onConnected(connection, result as ConnectResult),
      onError: (error) => this.#onConnectRefused(connection, error),
    });
    this.#write(connection, message);
  }

  #onConnected(connection: Connection, result: ConnectResult): void {
    if (connection !== this.#connection) return;
    this.#clearTimer(connection.connectTimer);
    connection.phase = 'connected';
    connection.maxMessageSize = typeof result.limits?.message === 'number' ? result.limits.message : undefined;
    this.#clientId = result.client;
    this.#user = result.user;
    this.#backoff?.reset();
    this.#transports.succeeded(connection.transport);
    this.#tokenExpires = typeof result.expires === 'number' ? result.expires : undefined;
    this.#armHeartbeat(connection, result);
    this.#scheduleRefresh(connection, result.expires);
    // Before any listener runs, so that commands issued from listeners queue behind these.
    this.#flushQueue(connection);
    if (connection !== this.#connection) return;
    this.#setState('connected');
    this.#announceTransport(connection.transport);
    if (connection !== this.#connection) return;
    this.emit('connected', result);
  }

  #announceTransport(transport: TransportName): void {
    const previous = this.#connectedTransport;
    this.#connectedTransport = transport;
    if (previous !== transport) this.emit('transport', transport, previous);
  }

  /** `connect` was refused: the server closes next (4501, or 4001 for an expired token). */
  #onConnectRefused(connection: Connection, error: RealtimeError): void {
    if (error.code === ClientErrorCode.Disconnected || error.code === ClientErrorCode.Closed) return;
    if (error.code === ErrorCode.TokenExpired) this.#tokenStale = true;
    this.emit('error', error);
  }

  #onSocketError(connection: Connection, event: unknown): void {
    if (connection !== this.#connection) return;
    const cause = isRecord(event) && event['error'] instanceof Error ? event['error'] : undefined;
    this.emit('error', cause ?? new Error('WebSocket error'));
  }

  /**
   * The connection is gone (closed by either side, dead, or abandoned): reject
   * what was in flight, put the subscriptions back to 'subscribing', and
   * reconnect or stop.
   */
  #lose(connection: Connection, info: LossInfo): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    const wasConnected = connection.phase === 'connected';
    const pushed = connection.disconnect;
    const code = pushed?.code ?? info.code;
    const reason = pushed?.reason ?? info.reason;
    if (code === 4001) this.#tokenStale = true;
    const lost = new RealtimeError(ClientErrorCode.Disconnected, `the connection was lost (${code}${reason === '' ? '' : ` ${reason}`})`, { code, reason });
    this.#shutDown(connection, 1000, '', lost);
    this.#serverSubscriptions.clear();
    for (const record of this.#subscriptions.values()) {
      this.#clearTimer(record.retryTimer);
      record.retryTimer = undefined;
      record.pendingId = undefined;
      if (record.control.subscription.state !== 'unsubscribed') record.control.subscribing();
    }
    this.#clientId = undefined;
    this.#user = undefined;
    if (this.#state === 'closed') return;
    if (!connection.heard && this.#transports.failed(connection.transport)) {
      this.#fallBack(code, reason);
      return;
    }
    const reconnect = this.#mayReconnect(code, info.reconnect ?? pushed?.reconnect);
    if (!reconnect) {
      // State first, so that a 'disconnected' listener may call connect() again.
      this.#setState('disconnected');
      this.#rejectQueue(lost);
      this.emit('disconnected', { code, reason, reconnect });
      return;
    }
    this.#setState('connecting');
    if (wasConnected) this.emit('disconnected', { code, reason, reconnect });
    if (this.#stateNow() !== 'connecting' || this.#connection !== undefined) return;
    this.#scheduleReconnect(code, reason);
  }

  #mayReconnect(code: number, override: boolean | undefined): boolean {
    if (this.#backoff === undefined) return false;
    // An expired fixed token cannot get any fresher.
    if (code === 4001 && this.#getToken === undefined) return false;
    return override ?? shouldReconnect(code);
  }

  /** Detaches from the socket, closes it and fails whatever waited for its replies. */
  #shutDown(connection: Connection, code: number, reason: string, error: RealtimeError): void {
    const ws = connection.ws;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = () => undefined;
    try {
      ws.close(code, reason);
    } catch {
      // already closing or closed
    }
    this.#clearTimer(connection.connectTimer);
    this.#clearTimer(connection.heartbeatTimer);
    this.#clearTimer(connection.refreshTimer);
    const pending = [...connection.pending.values()];
    connection.pending.clear();
    for (const entry of pending) entry.onError(error);
  }

  /** The transport failed before anything came back: try the next one at once, at the same endpoint. */
  #fallBack(code: number, reason: string): void {
    this.#setState('connecting');
    this.emit('connecting', { attempt: this.#backoff?.attempt ?? 0, delay: 0, code, reason });
    if (this.#stateNow() !== 'connecting' || this.#connection !== undefined || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = this.#timers.setTimeout(() => this.#open(false, true), 0);
  }

  #scheduleReconnect(code: number, reason: string): void {
    const delay = this.#backoff!.next();
    this.#setState('connecting');
    this.emit('connecting', { attempt: this.#backoff!.attempt, delay, code, reason });
    if (this.#stateNow() !== 'connecting' || this.#connection !== undefined || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = this.#timers.setTimeout(() => this.#open(false), delay);
  }

  // ------------------------------------------------------------ heartbeats and token refresh

  /** Watches for silence: nothing at all for `ping + pong` ms means the connection is dead. */
  #armHeartbeat(connection: Connection, result: ConnectResult): void {
    const ping = Number(result.ping);
    if (!(ping > 0)) return;
    const limit = ping + (Number(result.pong) > 0 ? Number(result.pong) : 0);
    const check = (): void => {
      if (connection !== this.#connection) return;
      const silent = this.#now() - connection.lastActivity;
      if (silent >= limit) {
        this.#lose(connection, { code: 4003, reason: `nothing from the server for ${silent} ms` });
        return;
      }
      connection.heartbeatTimer = this.#timers.setTimeout(check, limit - silent);
    };
    connection.heartbeatTimer = this.#timers.setTimeout(check, limit);
  }

  #scheduleRefresh(connection: Connection, expires: number | undefined): void {
    this.#clearTimer(connection.refreshTimer);
    connection.refreshTimer = undefined;
    if (typeof expires !== 'number' || this.#getToken === undefined) return;
    const lifetime = expires - this.#now();
    const margin = this.#refreshMargin ?? Math.max(MIN_REFRESH_MARGIN, lifetime * DEFAULT_REFRESH_RATIO);
    this.#refreshAfter(connection, Math.max(0, lifetime - margin), expires);
  }

  #refreshAfter(connection: Connection, delay: number, expires: number): void {
    const step = Math.min(delay, MAX_TIMER_DELAY);
    connection.refreshTimer = this.#timers.setTimeout(() => {
      if (connection !== this.#connection) return;
      if (step < delay) this.#refreshAfter(connection, delay - step, expires);
      else void this.#refresh(connection, expires);
    }, step);
  }

  /** Gets a fresh token and sends `refresh`; tries again later on transient failures. */
  async #refresh(connection: Connection, expires: number): Promise<void> {
    const outcome = await this.#callGetToken();
    if (connection !== this.#connection) return;
    if (!outcome.ok) {
      this.emit('error', asError(outcome.error));
      this.#retryRefresh(connection, expires);
      return;
    }
    const token = outcome.token ?? '';
    const id = connection.nextId++;
    connection.pending.set(id, {
      onResult: (result) => {
        this.#token = token;
        this.#tokenStale = false;
        const expires = (result as RefreshResult).expires;
        this.#tokenExpires = typeof expires === 'number' ? expires : undefined;
        this.#scheduleRefresh(connection, expires);
      },
      onError: (error) => {
        if (error.code === ClientErrorCode.Disconnected || error.code === ClientErrorCode.Closed) return;
        this.emit('error', error);
        if (!TOKEN_REFUSALS.has(error.code)) this.#retryRefresh(connection, expires);
      },
    });
    this.#write(connection, { type: 'refresh', id, token });
  }

  #callGetToken(): Promise<TokenOutcome> {
    const getToken = this.#getToken!;
    return Promise.resolve()
      .then(() => getToken())
      .then(
        (token): TokenOutcome => ({ ok: true, token }),
        (error: unknown): TokenOutcome => ({ ok: false, error }),
      );
  }

  #retryRefresh(connection: Connection, expires: number): void {
    if (connection !== this.#connection || this.#now() >= expires) return;
    this.#clearTimer(connection.refreshTimer);
    connection.refreshTimer = this.#timers.setTimeout(() => {
      if (connection === this.#connection) void this.#refresh(connection, expires);
    }, DEFAULT_REFRESH_RETRY);
  }

  // ------------------------------------------------------------ subscriptions

  #sendSubscribe(connection: Connection, record: SubscriptionRecord, recover: boolean): void {
    const fields = record.control.subscribeFields(recover);
    const id = connection.nextId++;
    record.pendingId = id;
    record.control.subscribing();
    const current = (): boolean => connection === this.#connection && this.#subscriptions.get(fields.channel) === record && record.pendingId === id;
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
    this.#write(connection, { type: 'subscribe', id, ...fields });
  }

  #onSubscribeError(connection: Connection, record: SubscriptionRecord, error: RealtimeError): void {
    // The connection is going away; the subscription is sent again on the next one.
    if (error.code === ErrorCode.NotConnected || error.code === ClientErrorCode.Disconnected) return;
    if (RETRYABLE_SUBSCRIBE_ERRORS.has(error.code)) {
      record.control.failed(error);
      const delay = record.retry.next();
      record.retryTimer = this.#timers.setTimeout(() => {
        record.retryTimer = undefined;
        if (connection === this.#connection && this.#subscriptions.get(record.control.subscription.channel) === record) {
          this.#sendSubscribe(connection, record, false);
        }
      }, delay);
      return;
    }
    this.#subscriptions.delete(record.control.subscription.channel);
    record.control.ended(error.code, error.message, error);
  }

  #unsubscribe(subscription: Subscription<unknown>): void {
    const channel = subscription.channel;
    const record = this.#subscriptions.get(channel);
    if (record === undefined || record.control.subscription !== subscription) return;
    this.#subscriptions.delete(channel);
    this.#clearTimer(record.retryTimer);
    const connection = this.#connection;
    const onServer = subscription.state === 'subscribed' || record.pendingId !== undefined;
    if (connection !== undefined && connection.phase !== 'opening' && onServer) this.#sendUnsubscribe(connection, channel);
    record.control.ended('client', 'unsubscribe() was called');
  }

  #sendUnsubscribe(connection: Connection, channel: string): void {
    const id = connection.nextId++;
    connection.pending.set(id, { onResult: () => undefined, onError: () => undefined });
    this.#write(connection, { type: 'unsubscribe', id, channel });
  }

  /** A gap in the offsets: unsubscribe and subscribe again with `since` the last offset seen. */
  #recover(connection: Connection, record: SubscriptionRecord): void {
    record.control.subscribing();
    this.#sendUnsubscribe(connection, record.control.subscription.channel);
    this.#sendSubscribe(connection, record, true);
  }

  // ------------------------------------------------------------ incoming messages

  #onMessage(connection: Connection, event: MessageEventLike): void {
    if (connection !== this.#connection) return;
    connection.lastActivity = this.#now();
    connection.heard = true;
    const payload = toPayload(event.data);
    let message: Record<string, unknown>;
    try {
      if (payload === undefined) throw new Error('a message of an unexpected kind (set binaryType to "arraybuffer")');
      message = connection.codec.decode(payload);
    } catch (error) {
      this.emit('error', new RealtimeError(ErrorCode.BadRequest, `malformed message from the server: ${asError(error).message}`));
      this.#lose(connection, { code: 4500, reason: 'malformed message from the server', reconnect: true });
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
        this.#onPublication(connection, message as unknown as PublicationPush);
        break;
      case 'join':
      case 'leave':
        this.#onPresenceEvent(message);
        break;
      case 'unsubscribed':
        this.#onUnsubscribedPush(message);
        break;
      case 'subscribed':
        this.#onSubscribedPush(message);
        break;
      case 'call':
        this.#onServerCall(connection, message as unknown as ServerCallMessage);
        break;
      case 'message':
        this.emit('message', message['data']);
        break;
      case 'ping':
        this.#write(connection, { type: 'pong' });
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

  #onPublication(connection: Connection, push: PublicationPush): void {
    const record = this.#subscriptions.get(push.channel);
    if (record === undefined) {
      if (this.#serverSubscriptions.has(push.channel)) {
        const event: ServerPublicationEvent = { channel: push.channel, offset: push.offset, data: push.data };
        if (push.info !== undefined) event.info = push.info;
        this.emit('publication', event);
      }
      return;
    }
    if (record.control.publication(push) === 'gap' && connection === this.#connection) this.#recover(connection, record);
  }

  #onPresenceEvent(message: Record<string, unknown>): void {
    const record = typeof message['channel'] === 'string' ? this.#subscriptions.get(message['channel']) : undefined;
    const member = message['member'];
    if (record === undefined || !isRecord(member)) return;
    if (message['type'] === 'join') record.control.join(member as unknown as PresenceMember);
    else record.control.leave(member as unknown as PresenceMember);
  }

  #onUnsubscribedPush(message: Record<string, unknown>): void {
    const channel = message['channel'];
    const record = typeof channel === 'string' ? this.#subscriptions.get(channel) : undefined;
    if (record === undefined) {
      if (typeof channel === 'string' && this.#serverSubscriptions.delete(channel)) {
        this.emit('unsubscribed', { channel, code: String(message['code'] ?? 'server'), reason: String(message['reason'] ?? '') });
      }
      return;
    }
    this.#subscriptions.delete(channel as string);
    this.#clearTimer(record.retryTimer);
    record.control.ended(String(message['code'] ?? 'server'), String(message['reason'] ?? ''));
  }

  #onSubscribedPush(message: Record<string, unknown>): void {
    const channel = message['channel'];
    if (typeof channel !== 'string' || this.#subscriptions.has(channel)) return;
    this.#serverSubscriptions.add(channel);
    const offset = typeof message['offset'] === 'number' ? message['offset'] : 0;
    const epoch = typeof message['epoch'] === 'string' ? message['epoch'] : '';
    this.emit('subscribed', { channel, offset, epoch, recoverable: message['recoverable'] === true });
  }

  #onServerCall(connection: Connection, message: ServerCallMessage): void {
    const id = message.id;
    if (typeof id !== 'number') return;
    const handler = this.#handlers.get(message.method);
    if (handler === undefined) {
      this.#write(connection, { type: 'reply', id, error: { code: ErrorCode.NotFound, message: `no handler for "${message.method}"` } });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.data))
      .then(
        (result) => {
          if (connection === this.#connection) this.#reply(connection, id, result);
        },
        (error: unknown) => {
          if (connection === this.#connection) this.#write(connection, { type: 'reply', id, error: toErrorBody(error) });
        },
      );
  }

  /** Answers a server call with `result` (null for undefined), or with 'internal' when it cannot be encoded. */
  #reply(connection: Connection, id: number, result: unknown): void {
    let payload: string | Uint8Array;
    try {
      payload = connection.codec.encode({ type: 'reply', id, result: result ?? null });
    } catch (error) {
      this.#write(connection, { type: 'reply', id, error: { code: ErrorCode.Internal, message: `the result cannot be encoded: ${asError(error).message}` } });
      return;
    }
    const size = oversize(payload, connection.maxMessageSize);
    if (size !== null) {
      this.#write(connection, { type: 'reply', id, error: { code: ErrorCode.LimitExceeded, message: `the result is ${size} bytes; the server takes at most ${connection.maxMessageSize!}` } });
      return;
    }
    this.#transmit(connection, payload);
  }

  #onDisconnectPush(connection: Connection, message: Record<string, unknown>): void {
    const code = typeof message['code'] === 'number' ? message['code'] : 4000;
    const reason = typeof message['reason'] === 'string' ? message['reason'] : '';
    const reconnect = typeof message['reconnect'] === 'boolean' ? message['reconnect'] : shouldReconnect(code);
    connection.disconnect = { type: 'disconnect', code, reason, reconnect };
    // The close frame follows; act now rather than wait for it.
    this.#lose(connection, { code, reason, reconnect });
  }

  // ------------------------------------------------------------ output

  /** Encodes and sends one message; encoding failures are reported as 'error'. */
  #write(connection: Connection, message: Record<string, unknown>): void {
    if (connection !== this.#connection) return;
    let payload: string | Uint8Array;
    try {
      payload = connection.codec.encode(message);
    } catch (error) {
      this.emit('error', new RealtimeError(ErrorCode.BadRequest, `a ${String(message['type'])} message cannot be encoded: ${asError(error).message}`));
      return;
    }
    this.#transmit(connection, payload);
  }

  #transmit(connection: Connection, payload: string | Uint8Array): void {
    try {
      connection.ws.send(payload);
    } catch (error) {
      // The socket refused (it is going away): end the connection once the current work is done.
      this.emit('error', asError(error));
      queueMicrotask(() => this.#lose(connection, { code: 1006, reason: `send failed: ${asError(error).message}` }));
    }
  }

  #clearTimer(handle: unknown): void {
    if (handle !== undefined) this.#timers.clearTimeout(handle);
  }
}

/**
 * The size in bytes of a payload over `limit`, or null when it fits (or
 * there is no limit). Text is measured as UTF-8 only when it could be over.
 */
function oversize(payload: string | Uint8Array, limit: number | undefined): number | null {
  if (limit === undefined) return null;
  if (typeof payload !== 'string') return payload.length > limit ? payload.length : null;
  if (payload.length * 3 <= limit) return null;
  const size = utf8Length(payload);
  return size > limit ? size : null;
}

/** Bytes of a string in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length && (text.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}
