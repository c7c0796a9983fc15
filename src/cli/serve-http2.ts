/**
 * The HTTPS server of `switchboard serve` when it has TLS: h2 and HTTP/1.1
 * on one port (ALPN), so that a browser loads the pages and opens their
 * WebSockets (RFC 8441) and fallback streams on one connection. The h2 side
 * keeps the guarantees of the HTTP/1.1 server (serve-http.ts):
 *
 * - HTTP/1.1 connections get the same head, request and keep-alive
 *   timeouts, and every TLS handshake the handshake timeout;
 * - an h2 connection that holds no stream for the keep-alive timeout (at
 *   most the handshake timeout) is closed, a fresh one that never opens a
 *   stream included;
 * - an h2 connection holds at most `maxStreams` streams at once
 *   (SETTINGS_MAX_CONCURRENT_STREAMS; Node's default is 2^32 - 1);
 * - a request whose body has not fully arrived within the handshake timeout
 *   is reset, as HTTP/1.1's `requestTimeout` answers 408 (WebSocket
 *   streams aside: their handshake has its own timeout);
 * - the socket caps (`limitSockets`) count TCP connections, whichever
 *   protocol they speak; the `Host` check reads `:authority`
 *   (`hostVerdict`); responses carry the same security headers, without
 *   the fields HTTP/2 forbids (`responseFields`).
 */
import { constants as h2, createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { DEFAULT_TLS_MIN_VERSION } from '../node/http-server.js';
import { Http2Connections, withHttp1HeadTimeouts } from '../node/http2-server.js';
import { isExtendedConnect } from '../protocol/extended-connect.js';
import { KEEP_ALIVE_TIMEOUT } from './serve-http.js';

/** An h2 + HTTP/1.1 server and the h2 connections it holds (for shutdown). */
export interface HardenedHttp2Server {
  server: Http2SecureServer;
  connections: Http2Connections;
}

/** Creates the TLS server of `serve`: h2 and HTTP/1.1 on one port, with the bounds above. */
export function createHardenedHttp2Server(tls: { cert: Buffer; key: Buffer }, handshakeTimeout: number, maxStreams: number): HardenedHttp2Server {
  const server = createSecureServer({
    ...tls,
    minVersion: DEFAULT_TLS_MIN_VERSION,
    handshakeTimeout,
    allowHTTP1: true,
    settings: { enableConnectProtocol: true, maxConcurrentStreams: maxStreams },
  });
  withHttp1HeadTimeouts(server, handshakeTimeout);
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
  boundRequestBodies(server, handshakeTimeout);
  return { server, connections: new Http2Connections(server, Math.min(KEEP_ALIVE_TIMEOUT, handshakeTimeout)) };
}

/** Resets an h2 request stream (not a WebSocket) whose client has not finished sending within `timeout` ms. */
function boundRequestBodies(server: Http2SecureServer, timeout: number): void {
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    if (stream.endAfterHeaders || isExtendedConnect(headers)) return;
    const timer = setTimeout(() => {
      if (!stream.destroyed && !remoteEnded(stream)) stream.close(h2.NGHTTP2_CANCEL);
    }, timeout);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  });
}

/** True once the client sent its END_STREAM (the request is complete). */
function remoteEnded(stream: ServerHttp2Stream): boolean {
  const state = stream.state.state;
  return state === h2.NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE || state === h2.NGHTTP2_STREAM_STATE_CLOSED;
}
