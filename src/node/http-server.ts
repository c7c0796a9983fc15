/**
 * The HTTP(S) server a standalone `WebSocketServer` creates, with safe
 * defaults for the phase before the upgrade: the request head must arrive
 * within the handshake timeout (Node's `headersTimeout`; a slow or silent
 * client gets 408 and is disconnected), checked often enough for that bound
 * to hold, and TLS 1.2 as the lowest version served.
 */
import { createServer as createHttpServer, type Server as HttpServer, type ServerOptions as HttpServerOptions } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import { headCheckInterval } from './head-deadline.js';

/** The lowest TLS version a standalone `wss://` server accepts unless `tls.minVersion` says otherwise. */
export const DEFAULT_TLS_MIN_VERSION = 'TLSv1.2';

/**
 * Node's timeouts of the request head for a handshake timeout: the head (and
 * a whole plain request) within `timeout` ms, checked every quarter of it
 * (between 50 ms and 1 s). Node's own defaults are 60 s for the head, 300 s
 * for a request, checked every 30 s.
 */
export function headTimeouts(timeout: number): Pick<HttpServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  return {
    headersTimeout: timeout,
    requestTimeout: timeout,
    connectionsCheckingInterval: headCheckInterval(timeout),
  };
}

/** Creates the server of standalone mode; `tls` options (e.g. `minVersion` or the timeouts) override the defaults. */
export function createStandaloneServer(tls: HttpsServerOptions | undefined, handshakeTimeout: number): HttpServer | HttpsServer {
  const timeouts = headTimeouts(handshakeTimeout);
  if (tls === undefined) return createHttpServer(timeouts);
  return createHttpsServer({ minVersion: DEFAULT_TLS_MIN_VERSION, ...timeouts, ...tls });
}
