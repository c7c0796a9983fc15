/**
 * `fetch` functions for the SDK's HTTP fallback transport that choose the
 * HTTP version, for the tests of the fallback over HTTP/2: one over a Node
 * `http2` client session (every request a stream of that one connection),
 * one over `https.request` (HTTP/1.1, trusting a test certificate).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { FetchInitLike, FetchLike, FetchResponseLike } from '../../../src/realtime/sdk/http-transport.js';

function headerGetter(headers: IncomingHttpHeaders): FetchResponseLike['headers'] {
  return {
    get(name: string): string | null {
      const value = headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : String(value);
    },
  };
}

function lowercased(headers: Record<string, string>): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** A `fetch` whose requests are streams of `session` (h2 or h2c); `onResponse` sees each response's stream (e.g. to pause it). */
export function http2Fetch(session: ClientHttp2Session, onResponse?: (stream: ClientHttp2Stream, headers: IncomingHttpHeaders) => void): FetchLike {
  return (url: string, init: FetchInitLike) =>
    new Promise<FetchResponseLike>((resolve, reject) => {
      const target = new URL(url);
      const stream = session.request({ ':method': init.method, ':path': `${target.pathname}${target.search}`, ...lowercased(init.headers) }, { endStream: init.body === undefined });
      if (init.body !== undefined) stream.end(init.body);
      init.signal?.addEventListener('abort', () => stream.close(h2.NGHTTP2_CANCEL), { once: true });
      stream.once('error', reject);
      stream.once('response', (headers) => {
        onResponse?.(stream, headers);
        resolve({ status: Number(headers[':status']), headers: headerGetter(headers), body: Readable.toWeb(stream) as ReadableStream<Uint8Array> });
      });
    });
}

/** A `fetch` over HTTPS with HTTP/1.1 (Node's https client offers no ALPN: an `allowHTTP1` server answers in HTTP/1.1), trusting `ca`. */
export function https1Fetch(ca: Buffer): FetchLike {
  return (url: string, init: FetchInitLike) =>
    new Promise<FetchResponseLike>((resolve, reject) => {
      const request = httpsRequest(url, { method: init.method, headers: init.headers, ca, agent: false });
      init.signal?.addEventListener('abort', () => request.destroy(), { once: true });
      request.once('error', reject);
      request.once('response', (response) => {
        resolve({ status: response.statusCode ?? 0, headers: headerGetter(response.headers), body: Readable.toWeb(response) as ReadableStream<Uint8Array> });
      });
      request.end(init.body);
    });
}
