/**
 * WebSockets over HTTP/2 (RFC 8441) on a Node `http2` server: the server a
 * standalone `WebSocketServer` creates with `http2: true` (h2 and HTTP/1.1 on
 * one TLS port, chosen by ALPN; or cleartext h2 with prior knowledge), and
 * the listeners that take the extended CONNECT streams of a server, created
 * or given, while leaving its other streams alone.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type SecureServerOptions,
  type ServerHttp2Stream,
} from 'node:http2';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import { isConnectionSpecificField, isExtendedConnect } from '../protocol/extended-connect.js';
import { DEFAULT_TLS_MIN_VERSION, headTimeouts } from './http-server.js';

/** An HTTP/2 server, with TLS (h2, and HTTP/1.1 with `allowHTTP1`) or cleartext (h2c with prior knowledge). */
export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** Streams (WebSockets, or requests) one HTTP/2 connection may hold at once on a standalone server, by default. */
export const DEFAULT_MAX_STREAMS_PER_CONNECTION = 100;

/**
 * The server of standalone mode with `http2: true`: with `tls`, h2 and
 * HTTP/1.1 on one port (ALPN); without, cleartext h2 with prior knowledge
 * only. Both advertise SETTINGS_ENABLE_CONNECT_PROTOCOL.
 */
export function createStandaloneHttp2Server(tls: HttpsServerOptions | undefined, maxStreams: number, handshakeTimeout: number): AnyHttp2Server {
  const settings = { enableConnectProtocol: true, maxConcurrentStreams: maxStreams };
  if (tls === undefined) return createH2cServer({ settings });
  const options: SecureServerOptions = {
    minVersion: DEFAULT_TLS_MIN_VERSION,
    // A TLS handshake must end within the WebSocket handshake's time, as on HTTP/1.1.
    handshakeTimeout,
    ...(tls as SecureServerOptions),
    allowHTTP1: true,
    settings,
  };
  return withHttp1HeadTimeouts(createSecureServer(options), handshakeTimeout);
}

/**
 * The HTTP/1.1 side of an `allowHTTP1` server gets the head timeouts of an
 * HTTP/1.1 server (`headTimeouts`): Node's http2 module ignores those
 * options and keeps 60 s for the head, 300 s for a request, but reads the
 * server's properties when it starts listening.
 */
export function withHttp1HeadTimeouts(server: Http2SecureServer, handshakeTimeout: number): Http2SecureServer {
  const timeouts = headTimeouts(handshakeTimeout);
  Object.assign(server, timeouts);
  return server;
}

/** True for a response to an HTTP/2 request (an `Http2ServerResponse` of Node's compatibility API, seen as a `ServerResponse`). */
export function isHttp2Response(response: { req: { httpVersionMajor: number } }): boolean {
  return response.req.httpVersionMajor >= 2;
}

/** Response fields without those HTTP/2 forbids (`Connection`, `Upgrade` …) when the response goes over h2. */
export function responseFields(response: { req: { httpVersionMajor: number } }, headers: Record<string, string>): Record<string, string> {
  if (!isHttp2Response(response)) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isConnectionSpecificField(name)));
}

/** True for a Node `http2` server (as opposed to an `http`/`https` one). */
export function isHttp2Server(server: object): server is AnyHttp2Server {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/** Handles one extended CONNECT stream. */
export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]) => void;

/**
 * Listens to the extended CONNECT streams of an HTTP/2 server: turns
 * SETTINGS_ENABLE_CONNECT_PROTOCOL on, hands each such stream to `handler`,
 * and keeps Node's compatibility layer (active once the server has a
 * 'request' listener) from answering them 405. Tracks the connections of a
 * server it owns (`Http2Connections`), for the idle timeout and shutdown.
 */
export class Http2Attachment {
  private readonly server: AnyHttp2Server;
  private readonly handler: StreamHandler;
  private readonly connections: Http2Connections | null;

  /** `idleTimeout`: how long a connection of an owned server may hold no stream (a fresh one included) before it is closed (ms). */
  constructor(server: AnyHttp2Server, handler: StreamHandler, owned: boolean, idleTimeout = 0) {
    this.server = server;
    this.handler = handler;
    server.updateSettings({ enableConnectProtocol: true });
    server.on('stream', this.onStream);
    server.on('connect', this.onCompatConnect);
    this.connections = owned ? new Http2Connections(server, idleTimeout) : null;
  }

  /** Stops taking streams. */
  detach(): void {
    this.server.off('stream', this.onStream);
    this.server.off('connect', this.onCompatConnect);
  }

  /** Sends GOAWAY on every session of an owned server: no new streams; open ones go on until they end. */
  closeSessions(): void {
    this.connections?.closeSessions();
  }

  /** Destroys whatever connection of an owned server is left. */
  destroyAll(): void {
    this.connections?.destroyAll();
  }

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    if (isExtendedConnect(headers)) this.handler(stream, headers, rawHeaders ?? []);
  };

  /** The compatibility layer's 'connect' event: extended CONNECTs are ours; a plain CONNECT gets 405 if nobody else listens. */
  private readonly onCompatConnect = (request: { headers: IncomingHttpHeaders }, response: { statusCode: number; end(): void }): void => {
    if (isExtendedConnect(request.headers)) return;
    if (this.server.listenerCount('connect') === 1) {
      response.statusCode = 405;
      response.end();
    }
  };
}

/**
 * The connections of an HTTP/2 server its creator owns: every h2 session
 * (with the idle timeout below) and every socket, HTTP/1.1 ones of an
 * `allowHTTP1` server included, so that shutdown can close them all.
 */
export class Http2Connections {
  private readonly sessions = new Set<Http2Session>();
  private readonly sockets = new Set<Socket>();

  /** `idleTimeout`: close a session that holds no stream for this long (ms); 0 = never. */
  constructor(
    server: AnyHttp2Server,
    private readonly idleTimeout: number,
  ) {
    server.on('session', this.onSession);
    server.on('connection', this.onConnection);
  }

  /** Open HTTP/2 sessions (connections that chose h2). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Sends GOAWAY on every session: no new streams; open ones go on until they end. */
  closeSessions(): void {
    for (const session of this.sessions) if (!session.closed) session.close();
  }

  /** Destroys every connection left. */
  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
  }

  private readonly onSession = (session: Http2Session): void => {
    this.sessions.add(session);
    const idle = this.idleTimeout > 0 ? new IdleSession(session, this.idleTimeout) : null;
    session.once('close', () => {
      this.sessions.delete(session);
      idle?.stop();
    });
  };

  private readonly onConnection = (socket: Socket): void => {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  };
}

/**
 * Closes an HTTP/2 connection that holds no stream for `timeout` ms: one that
 * never opens a stream (Node's http2 has no head timeout of its own), and one
 * whose WebSockets and requests all ended. Its open streams keep it alive,
 * however quiet they are.
 */
class IdleSession {
  private open = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: Http2Session,
    private readonly timeout: number,
  ) {
    session.on('stream', this.onStream);
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.stop();
    this.timer = setTimeout(() => {
      // GOAWAY first: a request the client sent meanwhile is known unprocessed, and safe to retry elsewhere.
      if (this.open === 0) this.session.close();
    }, this.timeout);
    this.timer.unref();
  }

  private readonly onStream = (stream: ServerHttp2Stream): void => {
    this.open++;
    this.stop();
    stream.once('close', () => {
      this.open--;
      if (this.open === 0 && !this.session.destroyed) this.arm();
    });
  };
}
