/**
 * The raw-socket path of a standalone `WebSocketServer`: it accepts on a
 * `net.Server` (a `tls.Server` for `wss://`) and reads each connection's
 * request head itself with the protocol core's bounded `HttpRequestParser`,
 * so that an upgrade costs no HTTP parser, request/response machinery or
 * connection tracking of `http.Server`.
 *
 * What Node's HTTP server guarded before the upgrade is guarded here too:
 * the head must arrive within the handshake timeout (else 408, see
 * `head-deadline.ts`; counted from the connection, and again from the first
 * byte, as Node counts), it is bounded in size (431 for a head over 16 KiB or
 * more than 100 fields, 414 for a request line over 8 KiB) and must be
 * well-formed (400). A complete head that is an upgrade (an `Upgrade`
 * field and `Connection: upgrade`, as for Node's 'upgrade' event) goes to
 * `upgrade` with an `IncomingMessage` built from it (`raw-request.ts`);
 * any other request is handed, with the bytes already read put back in
 * front of the socket, to an internal `http.Server` (`fallback`) that never
 * listens itself, so ordinary HTTP keeps Node's full treatment.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { HandshakeError } from '../protocol/errors.js';
import { formatRejectResponse } from '../protocol/handshake.js';
import { HttpRequestParser, type HttpRequestHead } from '../protocol/http.js';
import { HeadDeadlines } from './head-deadline.js';
import { DEFAULT_TLS_MIN_VERSION, headTimeouts } from './http-server.js';
import { isUpgradeRequest, requestOfHead } from './raw-request.js';
import { endWith } from './server-handshake.js';

/** Where the raw-socket path delivers what it read. */
export interface RawServerHandlers {
  /** A complete upgrade request head arrived on `socket`; `head` holds the bytes that followed it. */
  upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void;
  /** An ordinary request, as the fallback `http.Server` emits it. */
  request(request: IncomingMessage, response: ServerResponse): void;
}

export interface RawServerOptions {
  /** Serve TLS with these options; TLS 1.2 at least and ALPN `http/1.1` unless they say otherwise. */
  tls: HttpsServerOptions | undefined;
  /** Most time for the request head (408 after it); 0 = no limit. Also bounds the TLS handshake and an idle fallback connection. */
  handshakeTimeout: number;
  /** Most time a refused client has to take its answer before its socket is destroyed. */
  linger: number;
}

/** A socket reading its request head. */
class HeadReader {
  readonly socket: Socket;
  private readonly owner: RawUpgradeServer;
  private readonly parser = new HttpRequestParser();
  /** The bytes read, for the fallback server (which parses the head again). */
  private readonly chunks: Buffer[] = [];

  constructor(socket: Socket, owner: RawUpgradeServer) {
    this.socket = socket;
    this.owner = owner;
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('end', destroyThis);
    socket.on('error', ignore);
  }

  /** Stops reading the head: the socket's listeners are removed, it is still flowing. */
  detach(): void {
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.off('close', this.onClose);
    socket.off('end', destroyThis);
    socket.off('error', ignore);
    this.owner.forget(this);
  }

  private readonly onData = (chunk: Buffer): void => {
    let parsed;
    try {
      parsed = this.parser.feed(chunk);
    } catch (error) {
      this.owner.refuse(this, error instanceof HandshakeError ? error : new HandshakeError('SB_ERR_HTTP_SYNTAX', 400, 'malformed request head'));
      return;
    }
    if (parsed === null) {
      // As Node's clock: from the connection until the first byte, then from the first byte.
      if (this.chunks.length === 0) this.owner.restartClock(this);
      this.chunks.push(chunk);
      return;
    }
    this.detach();
    if (isUpgradeRequest(parsed.head)) {
      this.owner.upgrade(parsed.head, this.socket, parsed.rest);
    } else {
      this.chunks.push(chunk);
      this.owner.handOver(this.socket, this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks));
    }
  };

  private readonly onClose = (): void => this.owner.forget(this);
}

function destroyThis(this: Socket): void {
  this.destroy();
}

function ignore(): void {}

export class RawUpgradeServer {
  /** The listening server: connections arrive here. */
  readonly server: NetServer | TlsServer;
  /** Answers the ordinary requests; it never listens, connections are handed to it. */
  readonly fallback: HttpServer;
  private readonly handlers: RawServerHandlers;
  private readonly linger: number;
  private readonly handshakeTimeout: number;
  /** Sockets reading their head, with their deadlines. */
  private readonly reading: HeadDeadlines<HeadReader>;
  /** Sockets handed to the fallback server, until they close. */
  private readonly handedOver = new Set<Socket>();

  constructor(options: RawServerOptions, handlers: RawServerHandlers) {
    this.handlers = handlers;
    this.linger = options.linger;
    this.handshakeTimeout = options.handshakeTimeout;
    this.reading = new HeadDeadlines(options.handshakeTimeout, this.expire);
    this.server = createListener(options.tls, options.handshakeTimeout);
    this.server.on(this.server instanceof TlsServer ? 'secureConnection' : 'connection', this.onConnection);
    this.fallback = createHttpServer(headTimeouts(options.handshakeTimeout), (request, response) => this.handlers.request(request, response));
    // An idle connection of the fallback is closed after the handshake timeout (no 'timeout' listener: Node destroys it).
    this.fallback.timeout = options.handshakeTimeout;
  }

  /** Connections reading their head or handed to the fallback server now. */
  get waiting(): number {
    return this.reading.size + this.handedOver.size;
  }

  /** Stops accepting; resolves once every connection of the listener has closed. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Destroys the connections that are not WebSocket ones: those reading their head and those of the fallback server. */
  destroyWaiting(): void {
    for (const reader of this.reading.drain()) {
      reader.detach();
      reader.socket.destroy();
    }
    for (const socket of this.handedOver) socket.destroy();
    this.handedOver.clear();
  }

  /** @internal A reader's upgrade head: to the handler. */
  upgrade(head: HttpRequestHead, socket: Socket, rest: Buffer): void {
    this.handlers.upgrade(requestOfHead(head, socket), socket, rest);
  }

  /** @internal An ordinary request: its bytes back in front of the socket, the socket to the fallback server. */
  handOver(socket: Socket, received: Buffer): void {
    socket.pause();
    socket.unshift(received);
    this.handedOver.add(socket);
    socket.once('close', () => this.handedOver.delete(socket));
    this.fallback.emit('connection', socket);
    // The fallback's parser reads the socket's handle directly from now on; the bytes put back flow to it
    // first, on the next tick, before any later read (those come from a later turn of the event loop).
    socket.resume();
  }

  /** @internal A head that could not be parsed, or too large: the status of the error, and the socket closed. */
  refuse(reader: HeadReader, error: HandshakeError): void {
    reader.detach();
    endWith(reader.socket, formatRejectResponse(error.status, error.headers, error.message), this.linger);
  }

  /** @internal The request began: the head has the whole handshake timeout from now. */
  restartClock(reader: HeadReader): void {
    this.reading.delete(reader);
    this.reading.add(reader);
  }

  /** @internal Stops watching a reader. */
  forget(reader: HeadReader): void {
    this.reading.delete(reader);
  }

  private readonly onConnection = (socket: Socket): void => {
    this.reading.add(new HeadReader(socket, this));
  };

  private readonly expire = (reader: HeadReader): void => {
    reader.detach();
    const message = `no complete request head within ${this.handshakeTimeout} ms`;
    endWith(reader.socket, formatRejectResponse(408, [], message), this.linger);
  };
}

/**
 * The listener, with the socket options of the server Node's `http` or
 * `https` would create: plain TCP with half-open connections allowed (a
 * client's FIN does not end the server's side), as `http.Server` has it; or
 * TLS (1.2 at least, ALPN `http/1.1`, no half-open connections, as an
 * `https.Server` has them; `allowHalfOpen` on a TLS server would also leak
 * the count of a connection reset during its TLS handshake, and `close()`
 * would never finish), the TLS handshake bounded by the handshake timeout,
 * unless `tls` says otherwise.
 */
function createListener(tls: HttpsServerOptions | undefined, handshakeTimeout: number): NetServer | TlsServer {
  if (tls === undefined) return new NetServer({ allowHalfOpen: true, noDelay: true });
  const bounded = handshakeTimeout > 0 ? { handshakeTimeout } : {};
  return new TlsServer({ minVersion: DEFAULT_TLS_MIN_VERSION, ALPNProtocols: ['http/1.1'], noDelay: true, ...bounded, ...tls });
}
