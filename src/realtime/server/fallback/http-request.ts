/**
 * The HTTP side of the fallback transport's requests (docs/protocol.md §11):
 * reading a bounded body, turning it into a batch of client messages with
 * the per-message size limit, the request headers the transport reads, CORS
 * for browser pages on other origins, and short plain-text answers.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { isHttp2Response } from '../../../node/http2-server.js';
import { isOriginAllowed, requestHost, type OriginCheck } from '../../../node/server-handshake.js';
import { HTTP_FALLBACK_VERSION, HTTP_HEADERS, SESSION_ID_PATTERN } from '../../wire/http.js';
import type { UplinkMessage } from './http-relay.js';
import { MAX_MESSAGE_DEPTH, nestsDeeperThan } from '../validate.js';

/** A batch read from a request body, or why it was refused (with the HTTP status to answer). */
export type BatchResult = { ok: true; messages: UplinkMessage[] } | { ok: false; status: 400 | 413; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Headers a browser page may send with the fallback's requests. */
const ALLOWED_REQUEST_HEADERS = ['Content-Type', 'Authorization', 'Last-Event-ID', 'X-Switchboard-Fallback', 'X-Switchboard-Session', 'X-Switchboard-Seq', 'X-Switchboard-Ack'];
/** Response headers a browser page may read. */
const EXPOSED_RESPONSE_HEADERS = ['X-Switchboard-Session', 'X-Switchboard-Downlink-Timeout'];
/** How long a browser may cache a preflight answer (s). */
const PREFLIGHT_MAX_AGE = 600;

/** The uplink window a body being read counts against (a session's, `FallbackSession`). */
export interface BodyWindow {
  /** Counts `bytes` more; false (nothing counted) when they do not fit. */
  reserve(bytes: number): boolean;
  unreserve(bytes: number): void;
}

/**
 * Reads the whole body, at most `limit` bytes; 'too_large' as soon as it is
 * known to be larger, 'window_full' as soon as it does not fit in `window`
 * (the rest is not read: answer with `Connection: close`). While it is read,
 * the body counts against `window`; once the promise settles, no longer.
 */
export function readBody(request: IncomingMessage, limit: number, window?: BodyWindow): Promise<Buffer | 'too_large' | 'aborted' | 'window_full'> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too_large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let reserved = 0;
    const settle = (result: Buffer | 'too_large' | 'aborted' | 'window_full'): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onAborted);
      request.off('close', onAborted);
      window?.unreserve(reserved);
      if (typeof result === 'string' && result !== 'aborted') request.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return settle('too_large');
      if (window !== undefined) {
        if (!window.reserve(chunk.length)) return settle('window_full');
        reserved += chunk.length;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => settle(Buffer.concat(chunks, size));
    const onAborted = (): void => settle('aborted');
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onAborted);
    request.on('close', onAborted);
  });
}

/**
 * A body as a batch: a JSON array (UTF-8) of objects, each one protocol
 * message of at most `maxMessageSize` bytes when encoded as compact JSON and
 * nested at most `MAX_MESSAGE_DEPTH` levels (so that it can be encoded again).
 */
export function parseBatch(body: Buffer | string, maxMessageSize: number): BatchResult {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : utf8.decode(body));
  } catch {
    return { ok: false, status: 400, reason: 'the body is not JSON' };
  }
  if (!Array.isArray(value)) return { ok: false, status: 400, reason: 'the body is not a JSON array of messages' };
  const messages: UplinkMessage[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return { ok: false, status: 400, reason: 'a protocol message must be an object' };
    if (nestsDeeperThan(item, MAX_MESSAGE_DEPTH)) return { ok: false, status: 400, reason: `a message nested more than ${MAX_MESSAGE_DEPTH} levels deep` };
    const bytes = Buffer.byteLength(JSON.stringify(item), 'utf8');
    if (bytes > maxMessageSize) return { ok: false, status: 413, reason: `a message over ${maxMessageSize} bytes` };
    messages.push({ fields: item as Record<string, unknown>, bytes });
  }
  return { ok: true, messages };
}

/** True for a JSON request body (`Content-Type: application/json`, any parameters). */
export function isJsonBody(request: IncomingMessage): boolean {
  const type = request.headers['content-type'];
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type.trim());
}

/**
 * True when a request that opens a session names the fallback version this
 * server speaks (`X-Switchboard-Fallback: 2`). A version 1 client names
 * none, and would read no event of a version 2 stream (it takes each
 * event's number from its `id:` line, which version 2 does not send).
 */
export function speaksFallbackVersion(request: IncomingMessage): boolean {
  const value = request.headers[HTTP_HEADERS.version];
  return typeof value === 'string' && value.trim() === String(HTTP_FALLBACK_VERSION);
}

/** The answer to a client of another fallback version. */
export const WRONG_VERSION = `this server speaks version ${HTTP_FALLBACK_VERSION} of the HTTP fallback (X-Switchboard-Fallback: ${HTTP_FALLBACK_VERSION}), whose events carry no id: update the client`;

/** The session id of a request, if it has a well-formed one. */
export function sessionIdOf(request: IncomingMessage): string | undefined {
  const value = request.headers[HTTP_HEADERS.session];
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value) ? value : undefined;
}

/** A non-negative integer header; undefined when absent, NaN when malformed. */
export function countHeader(request: IncomingMessage, name: string): number | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value.trim())) return Number.NaN;
  return Number(value.trim());
}

/**
 * CORS headers for a request, or null when its origin may not use the
 * fallback (answer 403). `Origin: null` (sandboxed frames, files, some
 * redirects) is always refused. With `allowedOrigins`, the WebSocket's rule
 * (`isOriginAllowed`) decides, and an allowed origin is answered by name in
 * `Access-Control-Allow-Origin`. Without it, only requests without an
 * `Origin` (not from a browser page) and same-origin ones (the `Origin`
 * names the request's own `Host`) pass, and no CORS header is sent: pages
 * of other origins need `allowedOrigins`. No
 * `Access-Control-Allow-Credentials`: the fallback needs no cookies, and
 * browsers then refuse to send them cross-origin.
 */
export function corsHeaders(request: IncomingMessage, allowed: readonly string[] | OriginCheck | undefined): OutgoingHttpHeaders | null {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin.trim().toLowerCase() === 'null') return null;
  if (allowed === undefined) return origin === undefined || isSameOrigin(origin, request) ? {} : null;
  if (!isOriginAllowed(allowed, request)) return null;
  if (typeof origin !== 'string') return {};
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': EXPOSED_RESPONSE_HEADERS.join(', '), Vary: 'Origin' };
}

/** True when `origin` (an http or https origin) names the host the request was sent to (its `Host`, default ports aside). */
export function isSameOrigin(origin: string, request: IncomingMessage): boolean {
  const host = requestHost(request);
  if (host === undefined || host === '' || host === 'conflict') return false;
  try {
    const url = new URL(origin.trim());
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin === 'null') return false;
    return url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** The answer to a CORS preflight (`OPTIONS`) of an allowed origin. */
export function answerPreflight(response: ServerResponse, cors: OutgoingHttpHeaders, methods: string): void {
  response.writeHead(204, {
    ...cors,
    'Access-Control-Allow-Methods': methods,
    'Access-Control-Allow-Headers': ALLOWED_REQUEST_HEADERS.join(', '),
    'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE),
  });
  response.end();
}

/**
 * A short plain-text answer; `close` ends the connection after it (a body
 * left unread) on HTTP/1.1; an HTTP/2 stream ends alone, its connection stays.
 */
export function answer(response: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}, close = false): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  if (status === 204) {
    response.writeHead(204, { ...headers, 'Cache-Control': 'no-store' });
    response.end();
    return;
  }
  const body = text === '' ? '' : `${text}\n`;
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...(close && !isHttp2Response(response) && { Connection: 'close' }),
  });
  response.end(body);
}

/** The headers of an event-stream response. */
export function eventStreamHeaders(cors: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return {
    ...cors,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store, no-transform',
    // Proxies that buffer responses (nginx) pass this one through at once.
    'X-Accel-Buffering': 'no',
  };
}
