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
 */import type {
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
import { ErrorCode, shouldReconnect } from '../wire/errors.js';
import type {
  CallResult,
  ConnectResult,
  PresenceMember,
  PresenceResult,
  PresenceStatsResult,
  PublicationPush,
  PublishResult,
  ServerCallMessage,
} from '../wire/messages.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { CallArgs, CallHandler, ClientEvents, ClientState } from './client-events.js';
import {
  checkTimeout,
  DEFAULT_CLIENT_NAME,
  DEFAULT_FALLBACK_TIMEOUT,
  DEFAULT_PROTOCOL,
  DEFAULT_TIMEOUT,
  SDK_VERSION,
  type RealtimeClientOptions,
} from './client-options.js';
import type { Connection, ConnectionHost, LossInfo } from './connection.js';
import { Emitter } from './emitter.js';
import { asError, ClientErrorCode, isErrorBody, RealtimeError } from './errors.js';
import { history, historyPages } from './history.js';
import { globalFetch, HttpSocket, type FetchLike } from './http-transport.js';
import { DEFAULT_MAX_OFFLINE_QUEUE } from './offline-queue.js';
import { Requests } from './requests.js';
import { ServerCalls } from './server-calls.js';
import type { HistoryQuery, RequestOptions, SubscribeOptions, Subscription, TypedHistory } from './subscription.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import { clearTimer, defaultTimers, type Timers } from './timers.js';
import { TokenKeeper } from './tokens.js';
import {
  globalWebSocket,
  negotiatedCodec,
  offeredSubprotocols,
  type CloseEventLike,
  type MessageEventLike,
  type ProtocolName,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport.js';
import { toPayload } from './transport.js';
import { checkTransports, DEFAULT_WEBSOCKET_RETRY_AFTER, TransportChoice, type TransportName } from './transport-choice.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

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
  readonly #data: unknown;
  readonly #name: string;
  readonly #timeout: number;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #backoff: Backoff | undefined;
  readonly #connectionHost: ConnectionHost;
  readonly #requests: Requests;
  readonly #tokens: TokenKeeper;
  readonly #subscriptions: SubscriptionRegistry;
  readonly #serverCalls: ServerCalls;

  #state: ClientState = 'disconnected';
  #connection: Connection | undefined;
  #reconnectTimer: unknown;
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
    this.#data = options.data;
    this.#name = options.name ?? DEFAULT_CLIENT_NAME;
    this.#timeout = checkTimeout('timeout', options.timeout ?? DEFAULT_TIMEOUT);
    this.#timers = options.timers ?? defaultTimers;
    this.#now = options.now ?? Date.now;
    const random = options.random ?? Math.random;
    this.#transports = new TransportChoice(transports, options.websocketRetryAfter ?? DEFAULT_WEBSOCKET_RETRY_AFTER, this.#now);
    this.#fallbackTimeout = Math.min(this.#timeout, checkTimeout('fallbackTimeout', options.fallbackTimeout ?? DEFAULT_FALLBACK_TIMEOUT));
    const reconnectOptions: BackoffOptions = options.reconnect === false ? {} : (options.reconnect ?? {});
    this.#backoff = options.reconnect === false ? undefined : new Backoff(reconnectOptions, random);
    this.#connectionHost = {
      timers: this.#timers,
      now: () => this.#now(),
      current: () => this.#connection,
      write: (connection, message) => this.#write(connection, message),
      transmit: (connection, payload) => this.#transmit(connection, payload),
      error: (error) => this.emit('error', error),
    };
    this.#requests = new Requests(this.#connectionHost, this.#timeout, options.maxOfflineQueue ?? DEFAULT_MAX_OFFLINE_QUEUE);
    this.#tokens = new TokenKeeper(this.#connectionHost, options.token, options.getToken, options.refreshMargin);
    this.#subscriptions = new SubscriptionRegistry(
      this.#connectionHost,
      {
        publishTo: (channel, data, requestOptions) => this.#publish(channel, data, requestOptions),
        presenceOf: (channel, requestOptions) => this.#presence(channel, requestOptions),
        presenceStatsOf: (channel, requestOptions) => this.#presenceStats(channel, requestOptions),
        historyOf: (channel, query, requestOptions) => history(this.#request, channel, query, requestOptions),
      },
      reconnectOptions,
      random,
    );
    this.#serverCalls = new ServerCalls(this.#connectionHost);
  }

  // ------------------------------------------------------------ public API

  get state(): ClientState {
    return this.#state;
  }

  /** The server's id of the current connection (while connected). */
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
    this.#requests.rejectQueue(closed);
    this.#subscriptions.closeAll();
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
    const existing = this.#subscriptions.get<PublicationData<A, C>>(channel);
    if (existing !== undefined) return existing;
    if (this.#state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    return this.#subscriptions.add<PublicationData<A, C>>(channel, options, this.#connection);
  }

  /** The subscription of `channel`, if any. */
  getSubscription<C extends ChannelName<A>>(channel: C): Subscription<PublicationData<A, C>> | undefined {
    return this.#subscriptions.get<PublicationData<A, C>>(channel);
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
    this.#serverCalls.handle(method, handler as (params: unknown) => unknown);
    return this;
  }

  /** Stops answering calls of `method` (they get `not_found`). */
  unhandle(method: ClientMethodName<A>): this {
    this.#serverCalls.unhandle(method);
    return this;
  }

  /** Sends a one-way message to the server's `message` handler. Queued while offline; throws 'queue_full' or 'closed'. */
  send(data: unknown): void {
    if (this.#state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    this.#requests.send(data);
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
    return history(this.#request, channel, query, options) as Promise<TypedHistory<PublicationData<A, C>>>;
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
    return historyPages(this.#request, channel, query, options) as AsyncGenerator<TypedHistory<PublicationData<A, C>>, void, undefined>;
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

  /** Sends a command now when connected, else queues it; the timeout runs from now. */
  readonly #request = (type: string, fields: Record<string, unknown>, options: RequestOptions | undefined): Promise<unknown> => {
    if (this.#state === 'closed') return Promise.reject(new RealtimeError(ClientErrorCode.Closed, 'the client was closed'));
    return this.#requests.request(type, fields, options);
  };

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
      this.#requests.rejectQueue(new RealtimeError(ClientErrorCode.Disconnected, `cannot open a WebSocket: ${asError(error).message}`));
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
      token: this.#tokens.next(),
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
    this.#tokens.use(outcome.token);
    this.#sendConnect(connection, outcome.token);
    this.#subscriptions.subscribeAll(connection);
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
    this.#armHeartbeat(connection, result);
    this.#tokens.connected(connection, result.expires);
    // Before any listener runs, so that commands issued from listeners queue behind these.
    this.#requests.flush(connection);
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
    if (error.code === ErrorCode.TokenExpired) this.#tokens.markStale();
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
    if (code === 4001) this.#tokens.markStale();
    const lost = new RealtimeError(ClientErrorCode.Disconnected, `the connection was lost (${code}${reason === '' ? '' : ` ${reason}`})`, { code, reason });
    this.#shutDown(connection, 1000, '', lost);
    this.#subscriptions.connectionLost();
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
      this.#requests.rejectQueue(lost);
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
    if (code === 4001 && !this.#tokens.renewable) return false;
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

  // ------------------------------------------------------------ heartbeats

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
        this.#subscriptions.onPublication(connection, message as unknown as PublicationPush);
        break;
      case 'join':
      case 'leave':
        this.#subscriptions.onPresenceEvent(message);
        break;
      case 'unsubscribed':
        this.#subscriptions.onUnsubscribedPush(message);
        break;
      case 'call':
        this.#serverCalls.onCall(connection, message as unknown as ServerCallMessage);
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
    clearTimer(this.#timers, handle);
  }
}
