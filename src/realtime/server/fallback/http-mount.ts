/**
 * Where the HTTP fallback transport meets an HTTP server. In standalone mode
 * the real-time server creates its HTTP(S) server itself, as a standalone
 * `WebSocketServer` would (node/http-server.ts: same timeouts and TLS
 * floor), so that it can serve the fallback's requests next to the
 * WebSocket upgrades; attached to
 * an application's server, it sees that server's requests before the
 * application's own 'request' listeners, and takes only the fallback's.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { isHttp2Response, type AnyHttp2Server, type Http2Connections } from '../../../node/http2-server.js';
import { requestPath } from '../../../node/server-handshake.js';

/** A server whose requests the fallback can serve: HTTP/1.1, or HTTP/2 (h2 and HTTP/1.1 through Node's compatibility API). */
export type AnyHttpServer = HttpServer | HttpsServer | AnyHttp2Server;

/** Handles a request it recognizes (true) or leaves it alone (false). */
export type RequestRoute = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * Routes the 'request' events of `server` through `route` first, whenever
 * the application added its own listeners: the requests `route` takes never
 * reach them (a listener cannot stop the others, so the event itself is
 * intercepted, on this server object only). Returns the undo. On an
 * `http2` server the requests are `Http2ServerRequest`s, which the routes
 * read through the parts they share with `IncomingMessage`.
 */
export function interceptRequests(server: AnyHttpServer, route: RequestRoute): () => void {
  const emit = server.emit as (this: AnyHttpServer, event: string | symbol, ...args: unknown[]) => boolean;
  const intercepting = function (this: AnyHttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request' && route(args[0] as IncomingMessage, args[1] as ServerResponse)) return true;
    return emit.apply(this, [event, ...args]);
  };
  server.emit = intercepting as typeof server.emit;
  return () => {
    if (server.emit === intercepting) server.emit = emit as typeof server.emit;
  };
}

/** Listens; resolves once listening, rejects when it cannot. */
export function listen(server: AnyHttpServer, port: number, host: string | undefined): Promise<void> {
  const listening = new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
  });
  listening.catch(() => {});
  server.listen(port, host);
  return listening;
}

/** Stops listening and drops every connection left (those `h2` tracks, on an `http2` server); resolves once closed. */
export function closeServer(server: AnyHttpServer, h2: Http2Connections | null): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
    h2?.destroyAll();
  });
}

/**
 * What standalone mode answers to a plain request that is not the
 * fallback's: 426 at the WebSocket path (or anywhere when it has none), 404
 * elsewhere — what a WebSocket-only endpoint answers.
 */
export function refusePlainRequest(path: string | undefined): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const here = path === undefined || requestPath(request.url) === path;
    const body = here ? 'expected a WebSocket upgrade (or the HTTP fallback under /http)\n' : 'not found\n';
    response.writeHead(here ? 426 : 404, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      // HTTP/2 has no Upgrade: there a WebSocket is an extended CONNECT (RFC 8441).
      ...(here && !isHttp2Response(response) && { Upgrade: 'websocket' }),
    });
    response.end(body);
  };
}
