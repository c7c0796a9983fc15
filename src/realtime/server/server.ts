/**
 * `RealtimeServer`: the Switchboard real-time protocol (docs/protocol.md) on
 * a `WebSocketServer`. It negotiates the subprotocol, makes a session per
 * connection, relays the broker's publications and presence events to local
 * subscribers, and drives the server-level timers: protocol pings and
 * presence refreshes. Next to the WebSocket endpoint it serves the HTTP
 * fallback transport (fallback/http-transport.ts) on the same HTTP server.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { createStandaloneServer } from '../../node/http-server.js';
import { createStandaloneHttp2Server, DEFAULT_MAX_STREAMS_PER_CONNECTION, Http2Connections } from '../../node/http2-server.js';
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, HandshakeError, WebSocketServer } from '../../node/server-index.js';
import type { Broker } from '../broker/broker.js';
import { MemoryBroker } from '../broker/memory-broker.js';
import type { ApiShape, ChannelName, MethodName, MethodParams, MethodResult, PublicationData, UntypedApi } from '../wire/api.js';
import { codecFor, jsonCodec, msgpackCodec, type Codec } from '../wire/codec.js';
import { containsBytes, decodePublication, encodedBytes, encodeValue } from '../wire/encoded.js';
import { DisconnectCode, ErrorCode } from '../wire/errors.js';
import type { HistoryResult, PresenceMember, PublishResult, StreamPosition } from '../wire/messages.js';
import { createApiHandler, type ApiRequestHandler, type ServerApiOptions } from './api-http.js';
import { channelMatcher } from './channel-pattern.js';
import { ChannelHub } from './channels.js';
import { ShapedDelivery, type ShapedCounters } from './shaped-delivery.js';
import { ControlPlane, DEFAULT_CLUSTER_TIMEOUT, MAX_PAGE_ENTRIES, type ConnectionInfo, type PageQuery, type ConnectionOperation, type ConnectionTarget, type ControlHost, type NodeInfo } from './cluster-control.js';
import { clientInfoOf, Commands } from './commands.js';
import { ConnectionGroup, type ConnectionGroupHost } from './connection-group.js';
import { CredentialChecker } from './credentials.js';
import { asError, fail, RpcError } from './errors.js';
import type { SessionLink, Subscriber } from './fanout.js';
import { closeServer, interceptRequests, listen, refusePlainRequest, type AnyHttpServer } from './fallback/http-mount.js';
import { HttpTransport, resolveDownlinkTimeout, resolveReplayBytes } from './fallback/http-transport.js';
import { ProtocolHeartbeat } from './heartbeat.js';
import { Namespaces } from './namespaces.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  resolveLimits,
  resolveTimings,
  type RealtimeServerOptions,
  type ResolvedLimits,
  type ResolvedTimings,
} from './options.js';
import { ProcessSubscriptions } from './process-subscriptions.js';
import type { PublishTurn } from './publish-pipeline.js';
import { MethodRegistry, type MethodHandler } from './rpc.js';
import { DEFAULT_CHANNELS_LIMIT, DEFAULT_CONNECTIONS_LIMIT, ServerApi, type ServerApiHost } from './server-api.js';
import { checkClose, ServerSession, type ChannelCommand, type Session, type SessionHost } from './session.js';
import { hasProtoKey } from './validate.js';
import { Traffic, TransportCounter, type RealtimeStats } from './stats.js';

/** Events of a `RealtimeServer`, with their arguments. */
export interface RealtimeServerEvents<A extends ApiShape = UntypedApi> {
  /** A client's `connect` succeeded. */
  connect: [session: Session<A>];
  /** A connected client left (either side closed). */
  disconnect: [session: Session<A>, code: number, reason: string];
  subscribe: [session: Session<A>, channel: string];
  unsubscribe: [session: Session<A>, channel: string];
  /** A `send` from a client. */
  message: [session: Session<A>, data: unknown];
  /** The broker lost or regained its backing service. */
  broker: [state: 'up' | 'down', error?: Error];
  /** A failure of application code (hooks, handlers) or of the broker; emitted only when listened to. */
  error: [error: Error];
}

/** The message a client that offers only unknown subprotocols is refused with (HTTP 400). */
const UNSUPPORTED_SUBPROTOCOL = 'none of the offered subprotocols is supported (switchboard.v1.json, switchboard.v1.msgpack)';

/**
 * Picks the first offered subprotocol the server speaks; a client that
 * offers only others is refused with 400 (one that offers none is not asked).
 */
export function selectSubprotocol(offered: readonly string[]): string {
  const supported = offered.find((name) => codecFor(name) !== undefined);
  if (supported === undefined) throw new HandshakeError('SB_ERR_INVALID_SUBPROTOCOL', 400, UNSUPPORTED_SUBPROTOCOL);
  return supported;
}

/** A real-time server. Create it with `createRealtimeServer`. */
export class RealtimeServer<A extends ApiShape = UntypedApi> extends EventEmitter<RealtimeServerEvents<A>> {
  /** The WebSocket server underneath. */
  readonly wss: WebSocketServer<Subscriber | undefined>;
  /** The HTTP fallback transport, unless `httpFallback: false`. */
  private readonly http: HttpTransport | null;
  /** The HTTP server created in standalone mode when the fallback is on. */
  private readonly ownServer: AnyHttpServer | null;
  /** The connections of `ownServer` when it is an `http2` one (`http2: true`). */
  private readonly ownHttp2: Http2Connections | null;
  private readonly listening: Promise<void>;
  private readonly unmount: () => void;
  private readonly broker: Broker;
  private readonly namespaces: Namespaces;
  private readonly timings: ResolvedTimings;
  private readonly limits: ResolvedLimits;
  private readonly credentials: CredentialChecker;
  private readonly hub: ChannelHub;
  private readonly heartbeat: ProtocolHeartbeat;
  private readonly methods = new MethodRegistry<Session<A>>();
  private readonly traffic = new Traffic();
  private readonly transports = new TransportCounter();
  private readonly commands: Commands<A>;
  private readonly host: SessionHost<A>;
  private readonly brokerStarted: Promise<void>;
  /** Connected sessions by client id. */
  private readonly connected = new Map<string, ServerSession<A>>();
  /** When each connected session connected (ms since the epoch). */
  private readonly connectedAt = new WeakMap<ServerSession<A>, number>();
  /** Connected sessions by user id. */
  private readonly byUser = new Map<string, Set<ServerSession<A>>>();
  /** Operations on users and connections across the cluster, and the nodes' answers. */
  private readonly control: ControlPlane;
  private readonly nodeName: string;
  private readonly startedAt = Date.now();
  /** Every session not closed yet (connected or awaiting `connect`). */
  private readonly live = new Set<ServerSession<A>>();
  /** Broker calls to finish before the broker closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly presenceTimer: NodeJS.Timeout;
  private refreshing = false;
  private brokerDown = false;
  private closing: Promise<void> | null = null;

  /** The largest message a client may send (the WebSocket's limit, and each message of a fallback batch). */
  private readonly maxMessageSize: number;

  constructor(options: RealtimeServerOptions<A>) {
    super();
    this.timings = resolveTimings(options);
    this.limits = resolveLimits(options.limits);
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.namespaces = new Namespaces(options.namespaces);
    this.credentials = new CredentialChecker(options.auth);
    this.broker = options.broker ?? new MemoryBroker();
    this.hub = new ChannelHub(
      new ProcessSubscriptions(this.broker, (error) => this.reportError(asError(error))),
      this.traffic,
      new ShapedDelivery(this.namespaces, this.limits.maxQueuedBytes),
    );
    this.heartbeat = new ProtocolHeartbeat(this.timings.ping, this.timings.pong, this.traffic);
    this.commands = new Commands<A>({
      broker: this.broker,
      hub: this.hub,
      namespaces: this.namespaces,
      limits: this.limits,
      timings: this.timings,
      methods: this.methods,
      schemas: options.schemas ?? {},
      authorize: options.authorize,
      fallbackMethod: options.fallbackMethod,
      reportError: (error) => this.reportError(error),
      track: (work) => this.track(work),
      subscribed: (session, channel) => this.emit('subscribe', session, channel),
      unsubscribed: (session, channel) => this.emit('unsubscribe', session, channel),
    });
    this.host = this.sessionHost();
    this.nodeName = options.nodeName ?? `${hostname()}:${process.pid}`;
    const clusterTimeout = options.clusterTimeout ?? DEFAULT_CLUSTER_TIMEOUT;
    if (!(clusterTimeout > 0) || !Number.isFinite(clusterTimeout)) throw new TypeError(`clusterTimeout must be a positive number of ms, got ${String(clusterTimeout)}`);
    this.control = new ControlPlane(this.broker, this.controlHost(), randomBytes(9).toString('base64url'), clusterTimeout);
    this.http = this.createHttpTransport(options);
    const own = this.http !== null && options.port !== undefined ? createOwnServer(options) : null;
    this.ownServer = own?.server ?? null;
    this.ownHttp2 = own?.http2 ?? null;
    this.wss = this.createWebSocketServer(options);
    this.listening = this.ownServer === null ? Promise.resolve() : this.listenOwnServer(this.ownServer, options);
    this.unmount = this.mountHttpTransport(options);
    this.brokerStarted = this.startBroker();
    this.heartbeat.start();
    this.presenceTimer = setInterval(() => this.refreshPresence(), this.timings.presenceTtl / 3);
    this.presenceTimer.unref();
  }

  /** Resolves once the server listens (standalone mode) and the broker is started. */
  async ready(): Promise<void> {
    await Promise.all([this.wss.ready(), this.listening, this.brokerStarted]);
  }

  /** The port listened on (standalone or attached mode). */
  get port(): number {
    return this.wss.port;
  }

  /** Connected sessions of this process, by client id. */
  get sessions(): ReadonlyMap<string, Session<A>> {
    return this.connected;
  }

  /** Connections, messages and bytes in and out since start, and local subscribers per channel. */
  stats(): RealtimeStats {
    const { messagesIn, bytesIn, messagesOut, bytesOut } = this.traffic;
    return {
      connections: this.connected.size,
      transports: this.transports.snapshot(),
      messagesIn,
      bytesIn,
      messagesOut,
      bytesOut,
      channels: this.hub.subscriberCounts(),
    };
  }

  /** What conflation and delta compression did in this process (docs/realtime.md): counters since start. */
  shapingStats(): ShapedCounters {
    return { ...this.hub.shaping!.counters };
  }

  /** `noServer` mode: hands an upgrade request (an HTTP server's 'upgrade' event) to the server. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    void this.wss.handleUpgrade(request, socket, head);
  }

  /**
   * `noServer` mode: hands an RFC 8441 extended CONNECT (WebSockets over
   * HTTP/2: the 'stream' event of an `http2` server, for a request with
   * `:protocol`) to the server.
   */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[] = []): void {
    void this.wss.handleStream(stream, headers, rawHeaders);
  }

  /**
   * Serves a request of the HTTP fallback transport (`{path}/http…`) and
   * returns true; returns false, touching nothing, for any other request.
   * Needed only in `noServer` mode: with `port` or `server`, the real-time
   * server sees the HTTP server's requests itself. An `http2` server's
   * requests (`Http2ServerRequest`, h2 or HTTP/1.1) are served too.
   */
  handleRequest(request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse): boolean {
    // Node's HTTP/2 compatibility API has the parts of IncomingMessage and ServerResponse the transport reads.
    return this.http?.handle(request as IncomingMessage, response as ServerResponse) ?? false;
  }

  /** Registers the handler of a client-to-server method (replacing any previous one). */
  method<M extends MethodName<A>>(name: M, handler: (params: MethodParams<A, M>, session: Session<A>) => MethodResult<A, M> | Promise<MethodResult<A, M>>): this {
    this.methods.set(name, handler as MethodHandler<Session<A>>);
    return this;
  }

  /**
   * Publishes from server code (no publisher info, no schema or authorization
   * checks). The data is encoded once, as JSON — or as MessagePack when it
   * holds bytes (`Uint8Array`s), which JSON cannot carry.
   */
  async publish<C extends ChannelName<A>>(channel: C, data: PublicationData<A, C>): Promise<PublishResult> {
    const namespace = this.commands.namespaceOf(channel);
    await this.brokerStarted;
    const encoded = encodeValue(data, containsBytes(data) ? msgpackCodec : jsonCodec);
    const published = await this.broker.publish(channel, { data: encoded }, { history: namespace.history ?? undefined });
    return { offset: published.offset, epoch: published.epoch };
  }

  /**
   * Every connection of user `id` (`''`: the anonymous ones), on every node
   * of the cluster: `disconnect`, server-side `subscribe` / `unsubscribe`,
   * `send` (docs/realtime.md).
   */
  user(id: string): ConnectionGroup {
    if (typeof id !== 'string') throw new TypeError('a user id is a string');
    return new ConnectionGroup(this.groupHost(), { user: id });
  }

  /** The connection with client id `id`, on whichever node holds it (as `user`). */
  client(id: string): ConnectionGroup {
    if (typeof id !== 'string' || id === '') throw new TypeError('a client id is a non-empty string');
    return new ConnectionGroup(this.groupHost(), { client: id });
  }

  /**
   * The channels with subscribers on any node, with their subscriber counts
   * summed over the nodes (sorted by name); `pattern` keeps those it
   * matches (`*`: any run of characters, e.g. `chat:*`). Asks every node
   * and waits for their answers, at most `clusterTimeout` ms.
   */
  async channels(options: { pattern?: string } = {}): Promise<Map<string, number>> {
    await this.brokerStarted;
    return this.control.channels(options.pattern);
  }

  /**
   * One page of `channels()`: at most `limit` channels (default 1,000, at
   * most 10,000) whose names come after `after`, in name order, with their
   * subscribers summed over the nodes; `next` (the last name) when more may
   * follow — pass it as `after`. A channel is on one page only, with its
   * whole count. Throws `RangeError` for a `limit` out of range.
   */
  async channelPage(options: { pattern?: string | undefined; after?: string | undefined; limit?: number | undefined } = {}): Promise<{ channels: Map<string, number>; next?: string }> {
    const query = pageQueryOf(options, DEFAULT_CHANNELS_LIMIT);
    await this.brokerStarted;
    const page = await this.control.channelPage(options.pattern, query);
    return { channels: new Map(page.entries), ...(page.next !== undefined && { next: page.next }) };
  }

  /**
   * The connections of every node (only those of `user` when given), a page
   * at a time in client id order: at most `limit` (default 100, at most
   * 10,000) after the client id `after`; `next` when more may follow.
   * Each shows what presence shows (client, user, info) and how it is
   * connected — never its token or connect data. Throws `RangeError` for a
   * `limit` out of range.
   */
  async connections(options: { user?: string | undefined; after?: string | undefined; limit?: number | undefined } = {}): Promise<{ connections: ConnectionInfo[]; next?: string }> {
    const query = pageQueryOf(options, DEFAULT_CONNECTIONS_LIMIT);
    await this.brokerStarted;
    const page = await this.control.connectionPage(options.user, query);
    return { connections: page.entries, ...(page.next !== undefined && { next: page.next }) };
  }

  /** The nodes of the cluster (every real-time server sharing the broker) that answered within `clusterTimeout`, with their counts. */
  async nodes(): Promise<NodeInfo[]> {
    await this.brokerStarted;
    return this.control.nodes();
  }

  /** This node's id in `nodes()`. */
  get nodeId(): string {
    return this.control.nodeId;
  }

  /**
   * The server API over HTTP (docs/server-api.md), as a request handler:
   * mount it in the application's HTTP server (it returns false for
   * requests that are not the API's). Throws `TypeError` for a key shorter
   * than 16 characters.
   */
  api(options: ServerApiOptions): ApiRequestHandler {
    return createApiHandler(new ServerApi(this.apiHost()), options, (error) => this.reportError(error));
  }

  /** Forgets the kept publications of a channel; its position stays (clients that missed them learn `recovered: false`). */
  async removeHistory(channel: string): Promise<void> {
    this.commands.namespaceOf(channel);
    await this.brokerStarted;
    await this.broker.removeHistory(channel);
  }

  /**
   * Kept publications of a channel, decoded: the latest `limit`, or those
   * after `since`, oldest first — a page of at most `maxBytes` of kept data
   * (default `limits.maxReplyBytes`); `more` says that later ones follow:
   * ask again `since` the last one given.
   */
  async history(channel: string, query: { since?: StreamPosition; limit?: number; maxBytes?: number } = {}): Promise<HistoryResult> {
    this.commands.namespaceOf(channel);
    await this.brokerStarted;
    const history = await this.broker.history(channel, { ...query, maxBytes: query.maxBytes ?? this.limits.maxReplyBytes });
    const result: HistoryResult = { publications: history.publications.map(decodePublication), offset: history.position.offset, epoch: history.position.epoch };
    if (history.truncated) result.more = true;
    return result;
  }

  /** The presence members of a channel. */
  async presence(channel: string): Promise<PresenceMember[]> {
    this.commands.namespaceOf(channel);
    await this.brokerStarted;
    return this.broker.presence(channel);
  }

  /**
   * Shuts down: every client gets `disconnect` 4006 (reconnect: true) and the
   * close, the timers stop, the WebSocket server closes, then the broker.
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ------------------------------------------------------------ internals

  private createWebSocketServer(options: RealtimeServerOptions<A>): WebSocketServer<Subscriber | undefined> {
    const own = this.ownServer;
    const wss = new WebSocketServer<Subscriber | undefined>({
      ...options.websocket,
      ...(own === null
        ? {
            port: options.port,
            host: options.host,
            tls: options.tls,
            http2: options.http2,
            maxStreamsPerConnection: options.maxStreamsPerConnection,
            server: options.server,
            noServer: options.noServer,
          }
        : { server: own }),
      paths: options.path === undefined ? undefined : [options.path],
      subprotocols: selectSubprotocol,
      allowedOrigins: options.allowedOrigins,
      perMessageDeflate: options.perMessageDeflate,
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      maxBufferedAmount: this.limits.maxQueuedBytes,
      backpressurePolicy: 'drop',
      // Liveness is the protocol's own ping/pong (docs/protocol.md §6).
      heartbeatInterval: 0,
    });
    wss.on('connection', (ws, request) => this.accept(ws, codecFor(ws.protocol) ?? jsonCodec, request));
    wss.on('error', (error) => this.reportError(error));
    return wss;
  }

  private createHttpTransport(options: RealtimeServerOptions<A>): HttpTransport | null {
    if (options.httpFallback === false) return null;
    const fallback = typeof options.httpFallback === 'object' ? options.httpFallback : {};
    return new HttpTransport({
      broker: this.broker,
      basePath: options.path ?? '',
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      maxQueuedBytes: this.limits.maxQueuedBytes,
      // The replay is part of the session's downlink budget: never more than maxQueuedBytes.
      replayBytes: Math.min(resolveReplayBytes(fallback), this.limits.maxQueuedBytes),
      closeTimeout: options.websocket?.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      allowedOrigins: options.allowedOrigins,
      allowedHosts: options.websocket?.allowedHosts,
      downlinkTimeout: resolveDownlinkTimeout(fallback),
      // One budget per address for both transports: the WebSocket server's (created after the transport).
      reserveConnection: (address) => this.wss.reserveConnection(address),
      brokerReady: () => this.brokerStarted,
      openSession: (link, request) => this.accept(link, jsonCodec, request),
      reportError: (error) => this.reportError(error),
    });
  }

  /** Standalone mode with the fallback: the server's own HTTP server, which refuses other plain requests as a WebSocket endpoint does. */
  private listenOwnServer(server: AnyHttpServer, options: RealtimeServerOptions<A>): Promise<void> {
    server.on('request', refusePlainRequest(options.path));
    server.on('error', (error: Error) => this.reportError(error));
    return listen(server, options.port!, options.host);
  }

  /**
   * Lets the transport see the requests of the HTTP server (its own, or the
   * application's); returns the undo. Attached to an application's server,
   * the undo waits for that server to close: until then the fallback's
   * requests (a client's last `DELETE`, a reconnect) still get the
   * transport's 503 and `Connection: close`, not the application's routes.
   */
  private mountHttpTransport(options: RealtimeServerOptions<A>): () => void {
    const http = this.http;
    const server = this.ownServer ?? options.server;
    if (http === null || server === undefined) return () => {};
    const undo = interceptRequests(server, (request, response) => http.handle(request, response));
    if (server === this.ownServer) return undo;
    return () => {
      if (server.listening) server.once('close', undo);
      else undo();
    };
  }

  private startBroker(): Promise<void> {
    const started = this.broker.start({
      publication: (channel, publication, epoch) => this.hub.publication(channel, publication, epoch),
      join: (channel, member) => this.presenceEvent('join', channel, member),
      leave: (channel, member) => this.presenceEvent('leave', channel, member),
      state: (state, error) => this.brokerState(state, error),
      relay: (target, message) => {
        if (!this.control.handle(target, message)) this.http?.relayed(target, message);
      },
    }).then(() => this.control.start());
    started.catch((error: unknown) => this.reportError(asError(error)));
    return started;
  }

  /**
   * The broker lost its backing service (Redis) and got it back. Publications
   * fanned out meanwhile never reached this process, so every client is sent
   * away with 4000 (reconnect): it comes back, resubscribes with its last
   * positions and recovers what it missed from history — or learns
   * `recovered: false` when the history itself was lost.
   */
  private brokerState(state: 'up' | 'down', error?: Error): void {
    if (state === 'down') this.brokerDown = true;
    else if (this.brokerDown) {
      this.brokerDown = false;
      for (const session of [...this.connected.values()]) session.disconnect(DisconnectCode.Disconnect, 'broker reconnected');
    }
    this.emit('broker', state, error);
  }

  private presenceEvent(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    if (this.namespaces.of(channel)?.joinLeave === true) this.hub.member(type, channel, member);
  }

  /** A new session on `link` (a WebSocket, or the HTTP fallback's event stream). */
  private accept(link: SessionLink, codec: Codec, request: IncomingMessage): ServerSession<A> {
    const session = new ServerSession<A>(this.host, link, codec, request);
    this.live.add(session);
    if (this.closing !== null) session.close(DisconnectCode.Shutdown, 'server shutdown');
    return session;
  }

  private sessionHost(): SessionHost<A> {
    return {
      timings: this.timings,
      limits: this.limits,
      maxMessageSize: this.maxMessageSize,
      credentials: this.credentials,
      traffic: this.traffic,
      brokerReady: () => this.brokerStarted,
      newClientId: () => randomBytes(12).toString('base64url'),
      runCommand: (session: ServerSession<A>, command: ChannelCommand, turn?: PublishTurn) => this.commands.run(session, command, turn),
      dropSubscription: (session: ServerSession<A>, channel: string) => this.commands.drop(session, channel),
      serverSubscribe: (session: ServerSession<A>, channel: string) => this.commands.serverSubscribe(session, channel),
      connected: (session: ServerSession<A>) => this.sessionConnected(session),
      closed: (session: ServerSession<A>, code: number, reason: string, wasConnected: boolean) => this.sessionClosed(session, code, reason, wasConnected),
      message: (session: ServerSession<A>, data: unknown) => this.emit('message', session, data),
      reportError: (error: Error) => this.reportError(error),
    };
  }

  private sessionConnected(session: ServerSession<A>): void {
    this.connected.set(session.id, session);
    this.connectedAt.set(session, Date.now());
    let sessions = this.byUser.get(session.user);
    if (sessions === undefined) this.byUser.set(session.user, (sessions = new Set()));
    sessions.add(session);
    this.transports.add(session);
    this.heartbeat.add(session);
    this.emit('connect', session);
  }

  private sessionClosed(session: ServerSession<A>, code: number, reason: string, wasConnected: boolean): void {
    this.live.delete(session);
    if (!wasConnected) return;
    this.heartbeat.delete(session);
    this.transports.remove(session);
    this.connected.delete(session.id);
    const sessions = this.byUser.get(session.user);
    if (sessions !== undefined && sessions.delete(session) && sessions.size === 0) this.byUser.delete(session.user);
    for (const channel of [...session.subscriptions]) this.track(this.commands.drop(session, channel));
    this.emit('disconnect', session, code, reason);
  }

  // ------------------------------------------------------------ cluster operations

  /** The connected sessions of this node that `target` names. */
  private sessionsOf(target: ConnectionTarget): ServerSession<A>[] {
    if ('client' in target) {
      const session = this.connected.get(target.client);
      return session === undefined ? [] : [session];
    }
    return [...(this.byUser.get(target.user) ?? [])];
  }

  /** Carries out a cluster operation on this node's connections; resolves how many it affected. */
  private async applyLocally(operation: ConnectionOperation): Promise<number> {
    const sessions = this.sessionsOf(operation.target);
    switch (operation.op) {
      case 'disconnect':
        for (const session of sessions) session.disconnect(operation.code, operation.reason);
        return sessions.length;
      case 'send':
        for (const session of sessions) session.send(operation.data);
        return sessions.length;
      case 'subscribe':
      case 'unsubscribe': {
        const { channel } = operation;
        const done = await Promise.all(
          sessions.map((session) =>
            (operation.op === 'subscribe' ? session.subscribe(channel) : session.unsubscribeQueued(channel)).catch((error: unknown) => {
              this.reportError(asError(error));
              return false;
            }),
          ),
        );
        return done.filter(Boolean).length;
      }
    }
  }

  /** What this node tells `nodes()`. */
  private nodeInfo(): NodeInfo {
    let subscriptions = 0;
    for (const session of this.connected.values()) subscriptions += session.subscriptions.size;
    return {
      id: this.control.nodeId,
      name: this.nodeName,
      connections: this.connected.size,
      users: this.byUser.size,
      channels: this.hub.size,
      subscriptions,
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
    };
  }

  /** A connection as `connections` lists it: what presence shows, and how it is connected (no token, no connect data). */
  private connectionInfo(session: ServerSession<A>): ConnectionInfo {
    const { client, user, info } = clientInfoOf(session);
    return {
      client,
      user,
      ...(info !== undefined && { info }),
      node: this.control.nodeId,
      nodeName: this.nodeName,
      transport: session.transport,
      httpVersion: session.httpVersion === 2 ? 2 : 1,
      connectedAt: this.connectedAt.get(session) ?? this.startedAt,
      subscriptions: session.subscriptions.size,
    };
  }

  private controlHost(): ControlHost {
    return {
      apply: (operation) => this.applyLocally(operation),
      node: () => this.nodeInfo(),
      channels: (pattern) => {
        const matches = pattern === undefined ? () => true : channelMatcher(pattern);
        return [...this.hub.subscriberCounts()].filter(([channel]) => matches(channel));
      },
      connections: (user) => [...(user === undefined ? this.connected.values() : (this.byUser.get(user) ?? []))].map((session) => this.connectionInfo(session)),
      reportError: (error) => this.reportError(error),
    };
  }

  /** Data a `message` push can carry to every node's clients: JSON, within the publish limit. */
  private checkMessage(data: unknown): void {
    if (data === undefined) throw fail.badRequest('the data of a message is missing');
    if (containsBytes(data)) throw new RpcError(ErrorCode.InvalidData, 'a message to users is sent as JSON: it cannot hold bytes');
    if (hasProtoKey(data)) throw new RpcError(ErrorCode.InvalidData, 'a "__proto__" key cannot be sent (MessagePack clients could not decode it)');
    const size = encodedBytes(encodeValue(data, jsonCodec));
    if (size > this.limits.maxPublishSize) throw new RpcError(ErrorCode.LimitExceeded, `message data over ${this.limits.maxPublishSize} bytes`);
  }

  /** Runs a cluster-wide step once the broker is up; a broker failure becomes `broker_unavailable`. */
  private async viaBroker<T>(step: () => Promise<T>): Promise<T> {
    try {
      await this.brokerStarted;
      return await step();
    } catch (error) {
      if (error instanceof RpcError) throw error;
      this.reportError(asError(error));
      throw fail.brokerUnavailable();
    }
  }

  private groupHost(): ConnectionGroupHost {
    return {
      checkChannel: (channel) => void this.commands.namespaceOf(channel),
      checkClose,
      checkMessage: (data) => this.checkMessage(data),
      everywhere: async (operation) => {
        await this.brokerStarted;
        return this.control.everywhere(operation);
      },
    };
  }

  private apiHost(): ServerApiHost {
    return {
      namespaceOf: (channel) => this.commands.namespaceOf(channel),
      checkPublication: (channel, data) => this.commands.checkServerPublication(channel, data),
      publishChecked: (checked) => this.viaBroker(() => this.commands.publishChecked(checked)),
      checkClose,
      checkMessage: (data) => this.checkMessage(data),
      everywhere: (operation) => this.viaBroker(() => this.control.everywhere(operation)),
      presence: (channel) => this.viaBroker(() => this.broker.presence(channel)),
      history: (channel, query) => this.viaBroker(() => this.history(channel, query)),
      removeHistory: (channel) => this.viaBroker(() => this.broker.removeHistory(channel)),
      channelPage: (pattern, query) => this.viaBroker(() => this.control.channelPage(pattern, query)),
      connectionPage: (user, query) => this.viaBroker(() => this.control.connectionPage(user, query)),
      nodes: () => this.viaBroker(() => this.control.nodes()),
      maxHistoryLimit: this.limits.maxHistoryLimit,
    };
  }

  /** Re-adds every local presence member (so that it outlives its ttl), one round at a time. */
  private refreshPresence(): void {
    if (this.refreshing || this.closing !== null) return;
    const ttl = this.timings.presenceTtl;
    const refreshes: Array<Promise<void>> = [];
    for (const session of this.connected.values()) {
      for (const channel of session.presenceChannels) {
        refreshes.push(this.broker.addPresence(channel, clientInfoOf(session), ttl).catch((error: unknown) => this.reportError(asError(error))));
      }
    }
    if (refreshes.length === 0) return;
    this.refreshing = true;
    this.track(Promise.all(refreshes).finally(() => (this.refreshing = false)));
  }

  private track(work: Promise<unknown>): void {
    const settled = work.catch((error: unknown) => this.reportError(asError(error)));
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private async shutdown(): Promise<void> {
    this.heartbeat.stop();
    clearInterval(this.presenceTimer);
    this.control.close();
    for (const session of [...this.live]) session.close(DisconnectCode.Shutdown, 'server shutdown');
    this.http?.close();
    this.unmount();
    await this.wss.close({ code: DisconnectCode.Shutdown, reason: 'server shutdown' });
    if (this.ownServer !== null) await closeServer(this.ownServer, this.ownHttp2);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.brokerStarted.catch(() => {});
    await this.broker.close();
  }
}

/**
 * The server standalone mode creates when the fallback is on (it serves the
 * fallback's requests next to the upgrades): HTTP(S), or with `http2` an
 * `http2` one (h2 and HTTP/1.1 with TLS, h2c without) whose connections it
 * tracks, closing those that hold no stream for the handshake timeout.
 */
function createOwnServer(options: Pick<RealtimeServerOptions, 'tls' | 'http2' | 'maxStreamsPerConnection' | 'websocket'>): { server: AnyHttpServer; http2: Http2Connections | null } {
  const handshakeTimeout = options.websocket?.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (options.http2 !== true) return { server: createStandaloneServer(options.tls, handshakeTimeout), http2: null };
  const server = createStandaloneHttp2Server(options.tls, options.maxStreamsPerConnection ?? DEFAULT_MAX_STREAMS_PER_CONNECTION, handshakeTimeout);
  return { server, http2: new Http2Connections(server, handshakeTimeout) };
}

/** Creates a real-time server (standalone on `port`, attached to `server`, or `noServer`). */
export function createRealtimeServer<A extends ApiShape = UntypedApi>(options: RealtimeServerOptions<A>): RealtimeServer<A> {
  return new RealtimeServer<A>(options);
}

/** The page a library listing asks for: `limit` from 1 to `MAX_PAGE_ENTRIES` (`RangeError` otherwise). */
function pageQueryOf(options: { after?: string | undefined; limit?: number | undefined }, fallback: number): PageQuery {
  const limit = options.limit ?? fallback;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_ENTRIES) throw new RangeError(`limit must be an integer from 1 to ${MAX_PAGE_ENTRIES}, got ${String(limit)}`);
  if (options.after !== undefined && typeof options.after !== 'string') throw new TypeError('after is a string (the next of the page before)');
  return options.after === undefined || options.after === '' ? { limit } : { after: options.after, limit };
}
