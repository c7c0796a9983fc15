/**
 * `WebSocketServer`: accepts WebSocket connections on a Node HTTP(S) server.
 *
 * Three modes: standalone (`port`: it listens itself, by default on a
 * `net.Server` whose request heads it reads with the protocol core's parser,
 * see `raw-server.ts`; or on an http, https or `http2` server it creates and
 * owns), attached (`server`: it listens to the 'upgrade' event of the
 * user's server and leaves its other requests alone) and `noServer` (the user
 * calls `handleUpgrade`). Every upgrade goes through the same steps, in order:
 * path (404), origin (403), RFC 6455 validation (`acceptHandshake`: 400, 405,
 * 426 ...), the `authenticate` hook, then the 101 response and a
 * `ServerWebSocket` on a `SocketBinding`.
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from 'node:http2';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import { Socket, type AddressInfo, type Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as TlsServer, type SecureContextOptions } from 'node:tls';
import { encodeClosePayload } from '../protocol/close.js';
import { ReadyState } from '../protocol/connection.js';
import { CloseCode, HandshakeError } from '../protocol/errors.js';
import { acceptExtendedConnect } from '../protocol/extended-connect.js';
import type { ServerExtension } from '../protocol/extension.js';
import {
  acceptHandshake,
  formatAcceptResponse,
  formatRejectResponse,
  type AcceptedHandshake,
  type SubprotocolSelector,
  type UpgradeRequest,
} from '../protocol/handshake.js';
import type { MessageLimits } from '../protocol/limits.js';
import { PerMessageDeflateServer, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { AddressLimiter, DEFAULT_MAX_CONNECTIONS_PER_IP, isLocalNetworkAddress, type AddressExemption } from './address-limit.js';
import { DEFAULT_CLOSE_TIMEOUT, type BackpressurePolicy } from './binding.js';
import { broadcastMessage } from './broadcast.js';
import { ConnectionError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { createStandaloneServer } from './http-server.js';
import { acceptHeaders, PendingStream, remoteAddressOfStream, requestOfStream } from './http2-handshake.js';
import {
  createStandaloneHttp2Server,
  DEFAULT_MAX_STREAMS_PER_CONNECTION,
  Http2Attachment,
  isHttp2Server,
  type AnyHttp2Server,
} from './http2-server.js';
import { DEFAULT_IDLE_TIMEOUT, IdleSweeper } from './idle.js';
import { RawUpgradeServer } from './raw-server.js';
import { bindingOf, ServerWebSocket, type ConnectionOwner, type ConnectionSettings, type MessageData } from './server-connection.js';
import { ServerError } from './server-errors.js';
import {
  asHandshakeError,
  checkedHeaders,
  checkRequestHost,
  endWith,
  internalError,
  isOriginAllowed,
  PendingUpgrade,
  rejectionOf,
  requestPath,
  type AuthAccept,
  type Authenticate,
  type HostCheck,
  type OriginCheck,
} from './server-handshake.js';

export type { AuthAccept, AuthReject, AuthResult, Authenticate, HostCheck, OriginCheck } from './server-handshake.js';

/** Picks a subprotocol among those the client offered (in its order); null or undefined for none. */
export type SubprotocolChoice = readonly string[] | ((offered: string[], request: IncomingMessage) => string | null | undefined);

export const DEFAULT_HEARTBEAT_INTERVAL = 30_000;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT = 5_000;
/** Upgrade requests waiting for their 101 at once (e.g. in `authenticate`) before new ones get 503. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;

export interface ServerOptions<Data = undefined> extends MessageLimits {
  /** Standalone mode: create a server listening on this port (0 for any free port). */
  port?: number;
  /** Standalone mode: address to listen on. Default: Node's (all interfaces). */
  host?: string;
  /** Standalone mode: serve TLS (wss://) with these options (`key`, `cert`, ...). */
  tls?: HttpsServerOptions;
  /**
   * Standalone mode: serve WebSockets over HTTP/2 (RFC 8441) too. With `tls`,
   * h2 and HTTP/1.1 share the port (ALPN); without, the server speaks
   * cleartext h2 with prior knowledge only (for proxies that speak h2c).
   */
  http2?: boolean;
  /**
   * Standalone mode without `http2`: accept on a `net.Server` (`tls.Server`
   * with `tls`) and read the request heads with Switchboard's own bounded
   * HTTP/1.1 parser (true, the default), or create a Node `http`/`https`
   * server and take its 'upgrade' events (false). The guards are the same
   * (head timeout 408, head size 431/414, malformed 400, then every check of
   * the upgrade); ordinary requests go to an internal `http.Server` either
   * way. With true, the hooks' `request` is an `IncomingMessage` built from
   * the parsed head: no body, and an empty `headersDistinct`.
   */
  rawSocket?: boolean;
  /** Standalone mode with `http2`: streams one HTTP/2 connection may hold at once (SETTINGS_MAX_CONCURRENT_STREAMS). Default 100. */
  maxStreamsPerConnection?: number;
  /**
   * Attached mode: handle the 'upgrade' requests of this server; its other
   * requests are left alone. An `http2` server also gets its extended
   * CONNECT streams handled (RFC 8441; SETTINGS_ENABLE_CONNECT_PROTOCOL is
   * turned on).
   */
  server?: HttpServer | HttpsServer | AnyHttp2Server;
  /** No-server mode: the caller passes upgrade requests to `handleUpgrade`. */
  noServer?: boolean;
  /** Accepted request pathnames (the query is ignored). Default: every path. Others get 404. */
  paths?: readonly string[];
  /** Subprotocols in order of preference, or a function that picks one. Default: none. */
  subprotocols?: SubprotocolChoice;
  /** Origins that may connect (others get 403), or a function deciding. Default: any origin. */
  allowedOrigins?: readonly string[] | OriginCheck;
  /**
   * `Host` values served (others get 421): `example.com` (any port),
   * `example.com:8443`, `.example.com` (the domain and its subdomains), or a
   * function deciding. Default: any well-formed host (a missing, repeated or
   * malformed `Host` always gets 400). Guards against DNS rebinding.
   */
  allowedHosts?: readonly string[] | HostCheck;
  /** Runs last before the 101; decides whether to accept and what `ws.data` holds. */
  authenticate?: Authenticate<Data>;
  /**
   * Most time between the upgrade request and the 101 (the `authenticate`
   * run); then 503. Standalone mode also gives the request head this long to
   * arrive after the connection opened (Node's `headersTimeout`); then 408.
   * Default 10000 ms.
   */
  handshakeTimeout?: number;
  /** Upgrade requests awaiting their 101 at once; more get 503 with `Retry-After`. Default 1024; 0 = no limit. */
  maxPendingHandshakes?: number;
  /**
   * Connections (open, or in their handshake) per client address; more get
   * 429. Default 256; 0 = no limit. Addresses for which
   * `connectionLimitExempt` returns true are not counted.
   */
  maxConnectionsPerIp?: number;
  /** Addresses exempt from `maxConnectionsPerIp`. Default: loopback, private and link-local addresses (where proxies sit). */
  connectionLimitExempt?: AddressExemption;
  /** Pings answered per second and connection; the others get no pong. Default 20; 0 = no limit. */
  maxPingsPerSecond?: number;
  /** A peer whose pings stay over `maxPingsPerSecond` for this long is closed with 1008. Default 3000 ms. */
  pingFloodTimeout?: number;
  /**
   * Close a connection with 1001 when no frame (message, ping or pong) came
   * from the peer for this long. Default 120000 ms (longer than two
   * heartbeat intervals, so live peers always answer a ping before); 0 = off.
   */
  idleTimeout?: number;
  /** Wait this long for the peer during a closing handshake, then destroy. Default 5000 ms. */
  closeTimeout?: number;
  /** Most bytes buffered for one connection before `backpressurePolicy` applies. Default 16 MiB. */
  maxBufferedAmount?: number;
  /** 'close' (default) disconnects a consumer over `maxBufferedAmount`; 'drop' drops its messages. */
  backpressurePolicy?: BackpressurePolicy;
  /** `send()` reports 'backpressure' above this many buffered bytes. Default 64 KiB. */
  highWaterMark?: number;
  /** Ping every connection this often and terminate those that stayed silent since the last ping. Default 30000 ms; 0 = off. */
  heartbeatInterval?: number;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, or options. Off by
   * default. By default the server asks for no context takeover both ways, so
   * an idle connection holds no zlib memory and broadcasts are compressed once.
   */
  perMessageDeflate?: boolean | ServerDeflateOptions;
  /** More extensions the server can negotiate, in the order they apply (after permessage-deflate). */
  extensions?: readonly ServerExtension[];
}

export interface ServerDeflateOptions extends PerMessageDeflateOptions {
  /**
   * Clients whose `User-Agent` matches are not offered compression (e.g. a
   * browser release with broken compressed frames).
   */
  refuseUserAgent?: RegExp;
}

export interface BroadcastOptions<Data> {
  /** Send as binary (true) or text (false). Default: text for strings, binary for bytes. */
  binary?: boolean;
  /** Only connections for which this returns true receive the message. */
  filter?: (ws: ServerWebSocket<Data>) => boolean;
}

export interface ServerCloseOptions {
  /** Close code sent to every client. Default 1001 (going away). */
  code?: number;
  reason?: string;
  /** Wait this long for the closing handshakes, then terminate the rest. Default 5000 ms. */
  timeout?: number;
}

/** Events of a `WebSocketServer`, with their arguments. */
export interface WebSocketServerEvents<Data> {
  /** A connection is open (after the 101). */
  connection: [ws: ServerWebSocket<Data>, request: IncomingMessage];
  /** Standalone mode: the server listens. */
  listening: [];
  /** An error of the HTTP server it created (e.g. EADDRINUSE). */
  error: [error: Error];
  /** An upgrade request was refused with `error.status`. */
  rejected: [error: HandshakeError, request: IncomingMessage];
  /** `close()` finished. */
  close: [];
}

type Mode = 'standalone' | 'attached' | 'noServer';

/** A WebSocket server. `Data` is the type of `ws.data`, as `authenticate` returns it. */
export class WebSocketServer<Data = undefined> extends EventEmitter<WebSocketServerEvents<Data>> {
  private readonly mode: Mode;
  private readonly httpServer: HttpServer | HttpsServer | AnyHttp2Server | null;
  /** Standalone mode on the raw-socket path (then `httpServer` is null). */
  private readonly raw: RawUpgradeServer | null;
  private readonly http2: Http2Attachment | null;
  private readonly paths: ReadonlySet<string> | null;
  private readonly subprotocols: SubprotocolChoice | undefined;
  private readonly allowedOrigins: readonly string[] | OriginCheck | undefined;
  private readonly authenticate: Authenticate<Data> | undefined;
  private readonly extensions: readonly ServerExtension[];
  private readonly deflate: PerMessageDeflateServer | null;
  private readonly refuseDeflate: RegExp | null;
  private readonly handshakeTimeout: number;
  private readonly settings: ConnectionSettings;
  private readonly heartbeat: Heartbeat<ServerWebSocket<Data>> | null;
  private readonly idle: IdleSweeper<ServerWebSocket<Data>> | null;
  private readonly allowedHosts: readonly string[] | HostCheck | undefined;
  private readonly maxPendingHandshakes: number;
  private readonly addressLimiter: AddressLimiter | null;
  private readonly listening: Promise<void>;
  /** Every connection not yet closed. */
  private readonly connections = new Set<ServerWebSocket<Data>>();
  /** The OPEN ones; also the members of the heartbeat and the idle sweeper (one set entry per connection for all three). */
  private readonly openClients = new Set<ServerWebSocket<Data>>();
  private readonly pending = new Set<PendingUpgrade | PendingStream>();
  /** What every connection of this server reports to it (one object, not closures per connection). */
  private readonly owner: ConnectionOwner<Data> = {
    leftOpen: (ws) => {
      this.openClients.delete(ws);
      this.heartbeat?.delete(ws);
      this.idle?.delete(ws);
    },
    closed: (ws) => this.forget(ws),
  };
  private readonly idleWaiters: Array<() => void> = [];
  private readyObserved = false;
  private closing: Promise<void> | null = null;

  constructor(options: ServerOptions<Data>) {
    super();
    this.mode = modeOf(options);
    checkLimits(options);
    this.paths = options.paths ? new Set(options.paths) : null;
    this.subprotocols = options.subprotocols;
    this.allowedOrigins = options.allowedOrigins;
    this.allowedHosts = options.allowedHosts;
    this.authenticate = options.authenticate;
    this.extensions = options.extensions ?? [];
    const deflate = options.perMessageDeflate;
    this.deflate = deflate ? new PerMessageDeflateServer(deflate === true ? {} : deflate) : null;
    this.refuseDeflate = typeof deflate === 'object' ? (deflate.refuseUserAgent ?? null) : null;
    this.handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.settings = {
      maxMessageSize: options.maxMessageSize,
      maxFrameSize: options.maxFrameSize,
      maxFragments: options.maxFragments,
      closeTimeout: options.closeTimeout,
      maxBufferedAmount: options.maxBufferedAmount,
      backpressurePolicy: options.backpressurePolicy,
      highWaterMark: options.highWaterMark,
      maxPingsPerSecond: options.maxPingsPerSecond,
      pingFloodTimeout: options.pingFloodTimeout,
    };
    const interval = options.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL;
    this.heartbeat = interval > 0 ? new Heartbeat<ServerWebSocket<Data>>(interval, { ping: (ws) => ws.ping(), expire: (ws, error) => bindingOf(ws).abort(error), takeSignOfLife }, this.openClients) : null;
    const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.idle = idleTimeout > 0 ? new IdleSweeper<ServerWebSocket<Data>>(idleTimeout, { expire: (ws) => expireIdle(ws, idleTimeout) }, this.openClients) : null;
    const pendingLimit = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    this.maxPendingHandshakes = pendingLimit > 0 ? pendingLimit : Infinity;
    const perAddress = options.maxConnectionsPerIp ?? DEFAULT_MAX_CONNECTIONS_PER_IP;
    this.addressLimiter = perAddress > 0 ? new AddressLimiter(perAddress, options.connectionLimitExempt ?? isLocalNetworkAddress) : null;

    this.raw = null;
    if (this.mode === 'standalone' && options.http2 !== true && options.rawSocket !== false) {
      const raw = new RawUpgradeServer(
        { tls: options.tls, handshakeTimeout: this.handshakeTimeout, linger: options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT },
        { upgrade: this.onUpgrade, request: this.onFallbackRequest },
      );
      this.raw = raw;
      this.httpServer = null;
      this.listening = this.listen(raw.server, options.port!, options.host);
    } else if (this.mode === 'standalone' && options.http2 === true) {
      const server = createStandaloneHttp2Server(options.tls, options.maxStreamsPerConnection ?? DEFAULT_MAX_STREAMS_PER_CONNECTION, this.handshakeTimeout);
      this.httpServer = server;
      this.listening = this.listen(server, options.port!, options.host);
      server.on('request', this.onAnyRequest);
    } else if (this.mode === 'standalone') {
      const server = createStandaloneServer(options.tls, this.handshakeTimeout);
      this.httpServer = server;
      this.listening = this.listen(server, options.port!, options.host);
      server.on('request', this.onRequest);
    } else {
      this.httpServer = options.server ?? null;
      this.listening = Promise.resolve();
    }
    const server = this.httpServer;
    this.http2 = server !== null && isHttp2Server(server) ? new Http2Attachment(server, this.onStream, this.mode === 'standalone', this.mode === 'standalone' ? this.handshakeTimeout : 0) : null;
    server?.on('upgrade', this.onUpgrade);
  }

  /** Resolves once the server listens (at once when attached or in `noServer` mode); rejects if listening failed. */
  ready(): Promise<void> {
    this.readyObserved = true;
    return this.listening;
  }

  /** Address of the server listened on (created or attached), or null (`noServer`, not listening, or a pipe). */
  address(): AddressInfo | null {
    const address = (this.raw?.server ?? this.httpServer)?.address();
    return address !== null && typeof address === 'object' ? address : null;
  }

  /** The port listened on. Throws `ServerError` SB_ERR_NOT_LISTENING when there is none. */
  get port(): number {
    const address = this.address();
    if (address === null) throw new ServerError('SB_ERR_NOT_LISTENING', 'the server does not listen on a port');
    return address.port;
  }

  /** Open connections. */
  get clients(): ReadonlySet<ServerWebSocket<Data>> {
    return this.openClients;
  }

  /**
   * Handles an upgrade request (what the 'upgrade' event of an HTTP server
   * gives): validates it, writes the 101 or the refusal, emits 'connection'
   * and resolves the connection; resolves null when it was refused or the
   * client went away before the 101.
   */
  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<ServerWebSocket<Data> | null> {
    if (this.authenticate === undefined) return this.upgradeAtOnce(request, socket, head);
    const pending = new PendingUpgrade(socket, head, this.handshakeTimeout);
    const refusal = this.closing !== null ? shuttingDown() : this.admission(socket);
    if (refusal !== null) {
      this.refuse(pending, request, refusal);
      return null;
    }
    const vetted = await this.vet(request, pending, (error) => this.refuse(pending, request, error));
    if (vetted === null) return null;
    return this.open(request, pending, vetted.path, vetted.accepted, vetted.auth);
  }

  /**
   * `handleUpgrade` without an `authenticate` hook: with nothing to wait
   * for, the same checks in the same order, then the 101 or the refusal,
   * happen at once, without the bookkeeping of a pending upgrade (its
   * timer, listeners and promises).
   */
  private upgradeAtOnce(request: IncomingMessage, socket: Duplex, head: Buffer): ServerWebSocket<Data> | null {
    let step: { path: string; accepted: AcceptedHandshake };
    try {
      const refusal = this.closing !== null ? shuttingDown() : this.admission(socket);
      if (refusal !== null) throw refusal;
      step = this.validate(request);
    } catch (error) {
      if (socket.destroyed) return null;
      const refusal = asHandshakeError(error, 'the upgrade');
      endWith(socket, formatRejectResponse(refusal.status, refusal.headers, refusal.message), this.settings.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT);
      this.emit('rejected', refusal, request);
      return null;
    }
    if (socket.destroyed) {
      for (const extension of step.accepted.extensions) extension.dispose?.();
      return null;
    }
    socket.write(formatAcceptResponse(step.accepted));
    // Paused with the early bytes in front: `adopt` resumes once the connection listens.
    socket.pause();
    if (head.length > 0) socket.unshift(head);
    if (socket instanceof Socket) {
      socket.setNoDelay(true);
      socket.setTimeout(0);
    }
    return this.adopt(socket, request, step.path, step.accepted, { accept: true }, undefined);
  }

  /**
   * The steps an upgrade and an extended CONNECT share once admitted:
   * validate, authenticate (within the handshake timeout), and check that
   * neither the client nor the server went away meanwhile. On failure the
   * negotiated extensions are disposed and the client refused (or dropped,
   * when gone); resolves null then.
   */
  private async vet(
    request: IncomingMessage,
    pending: PendingUpgrade | PendingStream,
    refuse: (error: HandshakeError) => void,
    http2Headers?: IncomingHttpHeaders,
  ): Promise<{ path: string; accepted: AcceptedHandshake; auth: AuthAccept<Data> } | null> {
    let step: { path: string; accepted: AcceptedHandshake } | null = null;
    this.pending.add(pending);
    try {
      step = this.validate(request, http2Headers);
      const auth = await pending.within(this.runAuthenticate(request));
      if (pending.isGone) throw new HandshakeError('SB_ERR_REJECTED', 0, 'the client went away during the handshake');
      if (this.closing !== null) throw shuttingDown();
      return { ...step, auth };
    } catch (error) {
      for (const extension of step?.accepted.extensions ?? []) extension.dispose?.();
      if (pending.isGone) pending.drop();
      else refuse(asHandshakeError(error, 'the upgrade'));
      return null;
    } finally {
      this.pending.delete(pending);
    }
  }

  /**
   * Handles an RFC 8441 extended CONNECT (what the 'stream' event of an
   * `http2` server gives, for a request with `:protocol`): the same steps as
   * `handleUpgrade`, answered with `:status 200` or the refusal's status;
   * emits 'connection' (the request has `httpVersion` "2.0") and resolves
   * the connection, or null.
   */
  async handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[] = []): Promise<ServerWebSocket<Data> | null> {
    const request = requestOfStream(stream, headers, rawHeaders);
    const pending = new PendingStream(stream, this.handshakeTimeout);
    const refusal = this.closing !== null ? shuttingDown() : this.streamAdmission(stream);
    if (refusal !== null) {
      this.refuseStream(pending, request, refusal);
      return null;
    }
    const vetted = await this.vet(request, pending, (error) => this.refuseStream(pending, request, error), headers);
    if (vetted === null) return null;
    pending.accept(acceptHeaders(vetted.accepted.headers, vetted.auth.headers ?? []));
    return this.adopt(stream, request, vetted.path, vetted.accepted, vetted.auth, remoteAddressOfStream(stream));
  }

  /**
   * Counts a connection of another transport (the real-time server's HTTP
   * fallback sessions) against `maxConnectionsPerIp` of `address`, with the
   * same `connectionLimitExempt`, until the returned release runs: one
   * budget per address for every transport. Null when the address is at
   * its limit. Throws what `connectionLimitExempt` throws.
   */
  reserveConnection(address: string | undefined): (() => void) | null {
    if (address === undefined || this.addressLimiter === null) return () => {};
    return this.addressLimiter.reserve(address);
  }

  /**
   * Replaces the TLS credentials (`key`, `cert`, `ca`, … any secure context
   * option) of the server without a restart: new connections get them, open
   * ones keep theirs. Works in standalone `tls` mode and when attached to an
   * `https` server. Throws `ServerError` SB_ERR_NOT_TLS otherwise; Node throws
   * for credentials it cannot load (the old ones then stay in use).
   */
  reloadTls(options: SecureContextOptions): void {
    const server = this.raw?.server ?? this.httpServer;
    if (!(server instanceof TlsServer)) throw new ServerError('SB_ERR_NOT_TLS', 'the server does not serve TLS');
    server.setSecureContext(options);
  }

  /**
   * Sends a message to every OPEN client (that passes `filter`), framing it
   * once and writing the same bytes to each. Returns how many took it.
   */
  broadcast(data: MessageData, options: BroadcastOptions<Data> = {}): number {
    return broadcastMessage(this.openClients, data, options.binary ?? typeof data !== 'string', options.filter);
  }

  /**
   * Graceful shutdown: stops accepting (refusing pending upgrades with 503),
   * sends a close frame to every client, waits until all are closed or
   * `timeout` passes, terminates the rest, then closes the HTTP server it
   * created (one it was given is only detached from). Calling it again
   * returns the same promise. Throws `LocalProtocolError` for a code that
   * may not be sent.
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    if (this.closing !== null) return this.closing;
    const code = options.code ?? CloseCode.GOING_AWAY;
    const reason = options.reason ?? '';
    encodeClosePayload(code, reason);
    this.closing = this.shutdown(code, reason, options.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT);
    return this.closing;
  }

  // ------------------------------------------------------------ handshake

  /**
   * The limits on connections a new upgrade must fit in: pending handshakes
   * (503) and connections per client address (429). Returns the refusal, or
   * null once the upgrade is counted against its address.
   */
  private admission(socket: Duplex): HandshakeError | null {
    if (this.pending.size >= this.maxPendingHandshakes) return tooManyHandshakes();
    let admitted = true;
    try {
      admitted = this.addressLimiter?.admit(socket) ?? true;
    } catch (error) {
      return internalError('connectionLimitExempt', error);
    }
    return admitted ? null : tooManyConnections();
  }

  /** `admission` for an HTTP/2 stream: each WebSocket stream counts against its client's address until the stream closes. */
  private streamAdmission(stream: ServerHttp2Stream): HandshakeError | null {
    if (this.pending.size >= this.maxPendingHandshakes) return tooManyHandshakes();
    const address = remoteAddressOfStream(stream);
    if (address === undefined || this.addressLimiter === null) return null;
    let release: (() => void) | null;
    try {
      release = this.addressLimiter.reserve(address);
    } catch (error) {
      return internalError('connectionLimitExempt', error);
    }
    if (release === null) return tooManyConnections();
    stream.once('close', release);
    return null;
  }

  /** The extensions offered to this client: permessage-deflate unless refused for its user agent, then the others. */
  private extensionsFor(request: IncomingMessage): readonly ServerExtension[] {
    if (this.deflate === null) return this.extensions;
    const userAgent = request.headers['user-agent'];
    if (this.refuseDeflate !== null && userAgent !== undefined && this.refuseDeflate.test(userAgent)) return this.extensions;
    return [this.deflate, ...this.extensions];
  }

  /**
   * Path, host, origin and RFC 6455 checks (synchronous), or RFC 8441 ones
   * for an HTTP/2 request given its header block; throws `HandshakeError`.
   */
  private validate(request: IncomingMessage, http2Headers?: IncomingHttpHeaders): { path: string; accepted: AcceptedHandshake } {
    const path = requestPath(request.url);
    if (this.paths !== null && !this.paths.has(path)) {
      throw new HandshakeError('SB_ERR_REJECTED', 404, `no WebSocket endpoint at ${path}`);
    }
    checkRequestHost(this.allowedHosts, request);
    let allowed: boolean;
    try {
      allowed = isOriginAllowed(this.allowedOrigins, request);
    } catch (error) {
      throw internalError('allowedOrigins', error);
    }
    if (!allowed) throw new HandshakeError('SB_ERR_FORBIDDEN_ORIGIN', 403, 'origin not allowed');
    try {
      const options = { subprotocols: this.selector(request), extensions: this.extensionsFor(request) };
      if (http2Headers !== undefined) {
        return { path, accepted: acceptExtendedConnect({ method: 'CONNECT', httpVersion: '2.0', headers: http2Headers }, options) };
      }
      return { path, accepted: acceptHandshake(upgradeRequestOf(request), options) };
    } catch (error) {
      throw asHandshakeError(error, 'subprotocol selection');
    }
  }

  private selector(request: IncomingMessage): readonly string[] | SubprotocolSelector | undefined {
    const choice = this.subprotocols;
    if (typeof choice !== 'function') return choice;
    return (offered) => choice(offered, request);
  }

  private async runAuthenticate(request: IncomingMessage): Promise<AuthAccept<Data>> {
    if (this.authenticate === undefined) return { accept: true };
    let result;
    try {
      result = await this.authenticate(request);
    } catch (error) {
      throw internalError('authenticate', error);
    }
    if (result.accept === true) return { ...result, headers: checkedHeaders(result.headers ?? [], 'authenticate') };
    throw rejectionOf(result);
  }

  private open(
    request: IncomingMessage,
    pending: PendingUpgrade,
    path: string,
    accepted: AcceptedHandshake,
    auth: AuthAccept<Data>,
  ): ServerWebSocket<Data> {
    const { socket } = pending;
    socket.write(formatAcceptResponse(accepted, auth.headers));
    pending.release();
    if (socket instanceof Socket) {
      socket.setNoDelay(true);
      socket.setTimeout(0);
    }
    return this.adopt(socket, request, path, accepted, auth, undefined);
  }

  /** Makes the connection on an accepted socket or stream, tracks it and emits 'connection'. */
  private adopt(
    socket: Duplex,
    request: IncomingMessage,
    path: string,
    accepted: AcceptedHandshake,
    auth: AuthAccept<Data>,
    remoteAddress: string | undefined,
  ): ServerWebSocket<Data> {
    const ws = new ServerWebSocket<Data>({
      socket,
      remoteAddress,
      request,
      path,
      protocol: accepted.protocol,
      extensionsHeader: accepted.extensionsHeader,
      extensions: accepted.extensions,
      data: auth.data as Data,
      settings: this.settings,
      owner: this.owner,
    });
    this.connections.add(ws);
    this.openClients.add(ws);
    this.idle?.add(ws);
    this.heartbeat?.add(ws);
    // The early bytes and whatever follows flow from the next tick on, once 'connection' listeners are attached.
    socket.resume();
    this.emit('connection', ws, request);
    return ws;
  }

  private refuseStream(pending: PendingStream, request: IncomingMessage, error: HandshakeError): void {
    pending.refuse(error);
    this.emit('rejected', error, request);
  }

  private refuse(pending: PendingUpgrade, request: IncomingMessage, error: HandshakeError): void {
    pending.refuse(formatRejectResponse(error.status, error.headers, error.message), this.settings.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT);
    this.emit('rejected', error, request);
  }

  /**
   * Standalone mode: an ordinary HTTP request gets the refusal an upgrade
   * would get (426 for a plain GET), and the connection is closed after it.
   */
  private readonly onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    let error: HandshakeError;
    try {
      const { accepted } = this.validate(request);
      for (const extension of accepted.extensions) extension.dispose?.();
      error = new HandshakeError('SB_ERR_NOT_UPGRADE', 400, 'expected a WebSocket upgrade');
    } catch (caught) {
      error = asHandshakeError(caught, 'the request');
    }
    response.statusCode = error.status;
    for (const [name, value] of error.headers) response.setHeader(name, value);
    response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    response.setHeader('Connection', 'close');
    response.end(error.message);
  };

  /** The raw-socket path's ordinary requests: `onRequest`, or 503 once the server is closing. */
  private readonly onFallbackRequest = (request: IncomingMessage, response: ServerResponse): void => {
    if (this.closing !== null) refuseDuringShutdown(request, response);
    else this.onRequest(request, response);
  };

  /**
   * Standalone mode with `http2`: an HTTP/1.1 request gets what `onRequest`
   * answers; an ordinary HTTP/2 request gets 400 (HTTP/2 has no Upgrade).
   */
  private readonly onAnyRequest = (request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse): void => {
    if (request.httpVersionMajor < 2) {
      this.onRequest(request as IncomingMessage, response as ServerResponse);
      return;
    }
    response.statusCode = 400;
    response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    response.end('expected a WebSocket extended CONNECT (RFC 8441)');
  };

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void => {
    void this.handleStream(stream, headers, rawHeaders);
  };

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void this.handleUpgrade(request, socket, head);
  };

  // ------------------------------------------------------------ lifecycle

  private listen(server: NetServer, port: number, host: string | undefined): Promise<void> {
    const listening = new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      server.once('listening', () => {
        server.off('error', onError);
        resolve();
        this.emit('listening');
      });
    });
    listening.catch(() => {});
    server.on('error', (error: Error) => this.reportError(error));
    server.listen(port, host);
    return listening;
  }

  /** Emits 'error' when someone listens, or when nobody awaits `ready()` (then Node's unhandled-error rule applies). */
  private reportError(error: Error): void {
    if (this.listenerCount('error') > 0 || !this.readyObserved) this.emit('error', error);
  }

  private forget(ws: ServerWebSocket<Data>): void {
    this.connections.delete(ws);
    this.openClients.delete(ws);
    this.heartbeat?.delete(ws);
    this.idle?.delete(ws);
    if (this.connections.size === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves when no connection is left, or after `timeout` ms. */
  private allClosed(timeout: number): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(timeout) ? setTimeout(done, timeout) : null;
      function done(): void {
        if (timer !== null) clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  private async shutdown(code: number, reason: string, timeout: number): Promise<void> {
    const serverClosed = this.stopAccepting();
    for (const pending of this.pending) pending.cancel(shuttingDown());
    this.heartbeat?.stop();
    this.idle?.stop();
    for (const ws of this.connections) {
      if (ws.readyState === ReadyState.OPEN) ws.close(code, reason);
    }
    await this.allClosed(timeout);
    for (const ws of this.connections) ws.terminate();
    await this.allClosed(Infinity);
    if (this.mode === 'standalone') {
      if (this.raw !== null) this.raw.destroyWaiting();
      else if (this.http2 !== null) this.http2.destroyAll();
      else if (this.httpServer !== null && 'closeAllConnections' in this.httpServer) this.httpServer.closeAllConnections();
    }
    await serverClosed;
    this.emit('close');
  }

  /** Stops taking new upgrades; resolves when the server it created has closed. */
  private stopAccepting(): Promise<void> {
    if (this.raw !== null) return this.raw.close();
    const server = this.httpServer;
    if (server === null) return Promise.resolve();
    server.off('upgrade', this.onUpgrade);
    this.http2?.detach();
    if (this.mode !== 'standalone') return Promise.resolve();
    server.off('request', this.onRequest);
    server.off('request', this.onAnyRequest);
    this.http2?.closeSessions();
    server.on('request', refuseDuringShutdown);
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Closes a connection that sent no frame for `timeout` ms: 1001, with the closing handshake. */
/** The heartbeat's sign of life: bytes arrived since the last tick (the binding records it per chunk). */
function takeSignOfLife(ws: ServerWebSocket<unknown>): boolean {
  const binding = bindingOf(ws);
  const received = binding.received;
  binding.received = false;
  return received;
}

function expireIdle(ws: ServerWebSocket<unknown>, timeout: number): void {
  bindingOf(ws).closeWith(new ConnectionError('SB_ERR_IDLE_TIMEOUT', `no frame from the peer for ${timeout} ms`, CloseCode.GOING_AWAY), 'idle timeout');
}

function tooManyHandshakes(): HandshakeError {
  return new HandshakeError('SB_ERR_TOO_MANY_HANDSHAKES', 503, 'too many handshakes in progress', [['Retry-After', '1']]);
}

function tooManyConnections(): HandshakeError {
  return new HandshakeError('SB_ERR_TOO_MANY_CONNECTIONS', 429, 'too many connections from this address', [['Retry-After', '5']]);
}

function shuttingDown(): HandshakeError {
  return new HandshakeError('SB_ERR_REJECTED', 503, 'the server is shutting down');
}

function refuseDuringShutdown(_request: IncomingMessage, response: ServerResponse): void {
  response.statusCode = 503;
  response.setHeader('Connection', 'close');
  response.end('the server is shutting down');
}

/** What `acceptHandshake` needs of a Node request. */
function upgradeRequestOf(request: IncomingMessage): UpgradeRequest {
  return { method: request.method ?? '', httpVersion: request.httpVersion, headers: request.headers };
}

function modeOf(options: ServerOptions<unknown>): Mode {
  const given = [options.port !== undefined, options.server !== undefined, options.noServer === true].filter(Boolean).length;
  if (given !== 1) throw new ServerError('SB_ERR_INVALID_OPTIONS', 'exactly one of `port`, `server` and `noServer: true` is required');
  if (options.port !== undefined) {
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new ServerError('SB_ERR_INVALID_OPTIONS', `invalid port ${options.port}`);
    }
    if (options.rawSocket === true && options.http2 === true) {
      throw new ServerError('SB_ERR_INVALID_OPTIONS', '`rawSocket` reads HTTP/1.1 only: it cannot be combined with `http2`');
    }
    return 'standalone';
  }
  if (options.tls !== undefined) throw new ServerError('SB_ERR_INVALID_OPTIONS', '`tls` only applies to a server created by `port`');
  if (options.rawSocket !== undefined) throw new ServerError('SB_ERR_INVALID_OPTIONS', '`rawSocket` only applies to a server created by `port`');
  if (options.http2 !== undefined) throw new ServerError('SB_ERR_INVALID_OPTIONS', '`http2` only applies to a server created by `port` (attach to an `http2` server instead)');
  return options.server !== undefined ? 'attached' : 'noServer';
}

const NUMERIC_OPTIONS = [
  'maxMessageSize',
  'maxFrameSize',
  'maxFragments',
  'handshakeTimeout',
  'closeTimeout',
  'maxBufferedAmount',
  'highWaterMark',
  'heartbeatInterval',
  'maxPendingHandshakes',
  'maxConnectionsPerIp',
  'maxPingsPerSecond',
  'pingFloodTimeout',
  'idleTimeout',
  'maxStreamsPerConnection',
] as const;

function checkLimits(options: ServerOptions<unknown>): void {
  for (const name of NUMERIC_OPTIONS) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && !Number.isNaN(value))) {
      throw new ServerError('SB_ERR_INVALID_OPTIONS', `\`${name}\` must be a number >= 0`);
    }
  }
  const policy = options.backpressurePolicy;
  if (policy !== undefined && policy !== 'close' && policy !== 'drop') {
    throw new ServerError('SB_ERR_INVALID_OPTIONS', '`backpressurePolicy` must be "close" or "drop"');
  }
}
