/**
 * The connection state machine of a `RealtimeClient`: one connection at a
 * time, over the transport `TransportChoice` picks, to the next endpoint at
 * each reconnect. Each connect pipelines `connect` and the subscriptions'
 * `subscribe` commands, then flushes the offline queue; a lost connection
 * fails what was in flight and reconnects with backoff unless its close code
 * says not to; a transport that never answered falls back to the next one.
 * It also reads the server's messages and writes the client's.
 */
import { ErrorCode, shouldReconnect } from '../wire/errors.js';
import type { ConnectResult, PresenceMember, PresenceResult, PresenceStatsResult, PublishResult } from '../wire/messages.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { ClientEmit, ClientState } from './client-events.js';
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
import { asError, ClientErrorCode, RealtimeError } from './errors.js';
import { history } from './history.js';
import { Incoming } from './incoming.js';
import { ServerSubscriptions } from './server-subscriptions.js';
import { globalFetch, HttpSocket, type FetchLike } from './http-transport.js';
import { DEFAULT_MAX_OFFLINE_QUEUE } from './offline-queue.js';
import { Requests } from './requests.js';
import { ServerCalls } from './server-calls.js';
import type { RequestOptions } from './subscription.js';
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
import { checkTransports, DEFAULT_WEBSOCKET_RETRY_AFTER, TransportChoice, type TransportName } from './transport-choice.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The connection of a `RealtimeClient`, and the parts of the client that live on it. */
export class Connector {
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
  readonly requests: Requests;
  readonly #tokens: TokenKeeper;
  readonly #emit: ClientEmit;
  readonly subscriptions: SubscriptionRegistry;
  readonly serverCalls: ServerCalls;
  readonly serverSubscriptions: ServerSubscriptions;
  readonly #incoming: Incoming;

  #state: ClientState = 'disconnected';
  #connection: Connection | undefined;
  #reconnectTimer: unknown;
  #clientId: string | undefined;
  #user: string | undefined;

  /** Checks the options; `emit` raises the client's events. Nothing happens until `connect()`. */
  constructor(url: string | readonly string[], options: RealtimeClientOptions, emit: ClientEmit) {
    this.#emit = emit;
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
      error: (error) => this.#emit('error', error),
    };
    this.requests = new Requests(this.#connectionHost, this.#timeout, options.maxOfflineQueue ?? DEFAULT_MAX_OFFLINE_QUEUE);
    this.#tokens = new TokenKeeper(this.#connectionHost, options.token, options.getToken, options.refreshMargin);
    this.subscriptions = new SubscriptionRegistry(
      this.#connectionHost,
      {
        publishTo: (channel, data, requestOptions) => this.publish(channel, data, requestOptions),
        presenceOf: (channel, requestOptions) => this.presence(channel, requestOptions),
        presenceStatsOf: (channel, requestOptions) => this.presenceStats(channel, requestOptions),
        historyOf: (channel, query, requestOptions) => history(this.request, channel, query, requestOptions),
      },
      reconnectOptions,
      random,
    );
    this.serverCalls = new ServerCalls(this.#connectionHost);
    this.serverSubscriptions = new ServerSubscriptions(emit);
    this.#incoming = new Incoming(this.#connectionHost, {
      subscriptions: this.subscriptions,
      serverSubscriptions: this.serverSubscriptions,
      serverCalls: this.serverCalls,
      emit,
      lose: (connection, info) => this.#lose(connection, info),
    });
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
  /** The current connection, if any. */
  get current(): Connection | undefined {
    return this.#connection;
  }

  get transport(): TransportName | undefined {
    return this.#connection?.transport ?? this.#lastTransport;
  }

  /** Connects; from then on the client reconnects by itself until `close()`. No-op unless disconnected. */
  connect(): void {
    if (this.#state === 'closed') throw new RealtimeError(ClientErrorCode.Closed, 'the client was closed');
    if (this.#state !== 'disconnected') return;
    this.#backoff?.reset();
    this.#setState('connecting');
    this.#emit('connecting', { attempt: 0, delay: 0 });
    if (this.#stateNow() === 'connecting' && this.#connection === undefined) this.#open(true);
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
    this.requests.rejectQueue(closed);
    this.subscriptions.closeAll();
    this.#clientId = undefined;
    this.#user = undefined;
    this.#setState('closed');
    if (connection !== undefined) this.#emit('disconnected', { code: 1000, reason: 'client closed', reconnect: false });
  }

  // ------------------------------------------------------------ requests

  publish(channel: string, data: unknown, options: RequestOptions | undefined): Promise<PublishResult> {
    return this.request('publish', { channel, data }, options) as Promise<PublishResult>;
  }

  presence(channel: string, options: RequestOptions | undefined): Promise<PresenceMember[]> {
    return this.request('presence', { channel }, options).then((result) => (result as PresenceResult).members);
  }

  presenceStats(channel: string, options: RequestOptions | undefined): Promise<PresenceStatsResult> {
    return this.request('presence_stats', { channel }, options) as Promise<PresenceStatsResult>;
  }

  /** Sends a command now when connected, else queues it; the timeout runs from now. */
  readonly request = (type: string, fields: Record<string, unknown>, options: RequestOptions | undefined): Promise<unknown> => {
    if (this.#state === 'closed') return Promise.reject(new RealtimeError(ClientErrorCode.Closed, 'the client was closed'));
    return this.requests.request(type, fields, options);
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
    this.#emit('state', state, previous);
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
      this.requests.rejectQueue(new RealtimeError(ClientErrorCode.Disconnected, `cannot open a WebSocket: ${asError(error).message}`));
      if (first) throw error;
      this.#emit('error', asError(error));
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
    ws.onmessage = (event: MessageEventLike) => this.#incoming.onMessage(connection, event);
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
    this.subscriptions.subscribeAll(connection);
  }

  #onTokenFailure(connection: Connection, error: unknown): void {
    const failure = asError(error);
    connection.heard = true; // the token failed, not the transport
    this.#emit('error', failure);
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
    this.requests.flush(connection);
    if (connection !== this.#connection) return;
    this.#setState('connected');
    this.#announceTransport(connection.transport);
    if (connection !== this.#connection) return;
    this.#emit('connected', result);
  }

  #announceTransport(transport: TransportName): void {
    const previous = this.#connectedTransport;
    this.#connectedTransport = transport;
    if (previous !== transport) this.#emit('transport', transport, previous);
  }

  /** `connect` was refused: the server closes next (4501, or 4001 for an expired token). */
  #onConnectRefused(connection: Connection, error: RealtimeError): void {
    if (error.code === ClientErrorCode.Disconnected || error.code === ClientErrorCode.Closed) return;
    if (error.code === ErrorCode.TokenExpired) this.#tokens.markStale();
    this.#emit('error', error);
  }

  #onSocketError(connection: Connection, event: unknown): void {
    if (connection !== this.#connection) return;
    const cause = isRecord(event) && event['error'] instanceof Error ? event['error'] : undefined;
    this.#emit('error', cause ?? new Error('WebSocket error'));
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
    this.subscriptions.connectionLost();
    this.serverSubscriptions.connectionLost();
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
      this.requests.rejectQueue(lost);
      this.#emit('disconnected', { code, reason, reconnect });
      return;
    }
    this.#setState('connecting');
    if (wasConnected) this.#emit('disconnected', { code, reason, reconnect });
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
    this.#emit('connecting', { attempt: this.#backoff?.attempt ?? 0, delay: 0, code, reason });
    if (this.#stateNow() !== 'connecting' || this.#connection !== undefined || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = this.#timers.setTimeout(() => this.#open(false, true), 0);
  }

  #scheduleReconnect(code: number, reason: string): void {
    const delay = this.#backoff!.next();
    this.#setState('connecting');
    this.#emit('connecting', { attempt: this.#backoff!.attempt, delay, code, reason });
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

  // ------------------------------------------------------------ output

  /** Encodes and sends one message; encoding failures are reported as 'error'. */
  #write(connection: Connection, message: Record<string, unknown>): void {
    if (connection !== this.#connection) return;
    let payload: string | Uint8Array;
    try {
      payload = connection.codec.encode(message);
    } catch (error) {
      this.#emit('error', new RealtimeError(ErrorCode.BadRequest, `a ${String(message['type'])} message cannot be encoded: ${asError(error).message}`));
      return;
    }
    this.#transmit(connection, payload);
  }

  #transmit(connection: Connection, payload: string | Uint8Array): void {
    try {
      connection.ws.send(payload);
    } catch (error) {
      // The socket refused (it is going away): end the connection once the current work is done.
      this.#emit('error', asError(error));
      queueMicrotask(() => this.#lose(connection, { code: 1006, reason: `send failed: ${asError(error).message}` }));
    }
  }

  #clearTimer(handle: unknown): void {
    clearTimer(this.#timers, handle);
  }
}

