/**
 * The request object of an upgrade read by the raw-socket path (see
 * `raw-server.ts`): a real `IncomingMessage`, so that the hooks and
 * 'connection' see the same type as on the `http.Server` path, built from
 * the head that the protocol core's `HttpRequestParser` parsed.
 */
import { IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { HeaderList } from '../protocol/errors.js';
import { listHasToken } from '../protocol/headers.js';
import type { HttpRequestHead } from '../protocol/http.js';

/**
 * True when Node's HTTP server would treat the request as an upgrade (its
 * 'upgrade' event): an `Upgrade` field and a `Connection` field listing
 * `upgrade`. Anything else is an ordinary request.
 */
export function isUpgradeRequest(head: HttpRequestHead): boolean {
  const { headers } = head;
  if (headers.upgrade === undefined) return false;
  const connection = headers.connection;
  return Array.isArray(connection) ? connection.some((value) => listHasToken(value, 'upgrade')) : listHasToken(connection, 'upgrade');
}

/** Fields of which Node keeps the first and drops repeats (documented under `message.headers`). */
const SINGLE_FIELDS: ReadonlySet<string> = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * `message.headers` as Node builds it from the fields in order: lower-case
 * names; repeats of the fields in `SINGLE_FIELDS` dropped, `set-cookie` an
 * array, repeated `cookie` joined with "; ", other repeats with ", ".
 */
export function nodeHeaders(fields: HeaderList): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of fields) {
    const key = name.toLowerCase();
    const present = headers[key];
    if (key === 'set-cookie') {
      if (Array.isArray(present)) present.push(value);
      else headers[key] = [value];
    } else if (present === undefined) {
      headers[key] = value;
    } else if (!SINGLE_FIELDS.has(key)) {
      headers[key] = `${present as string}${key === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return headers as IncomingHttpHeaders;
}

/**
 * The `IncomingMessage` of an upgrade request read from `socket`: method,
 * `url` (the request target as sent), HTTP version, `headers` (Node's
 * rules) and `rawHeaders` (flat, as sent), `socket` the
 * connection's socket. The message has no body (it has ended), and
 * `headersDistinct` is empty: Node fills it only for requests its own
 * parser read.
 */
export function requestOfHead(head: HttpRequestHead, socket: Socket): IncomingMessage {
  const request = new IncomingMessage(socket);
  const dot = head.httpVersion.indexOf('.');
  request.httpVersionMajor = Number(head.httpVersion.slice(0, dot));
  request.httpVersionMinor = Number(head.httpVersion.slice(dot + 1));
  request.httpVersion = head.httpVersion;
  request.method = head.method;
  request.url = head.target;
  const raw: string[] = [];
  for (const [name, value] of head.rawHeaders) raw.push(name, value);
  request.headers = nodeHeaders(head.rawHeaders);
  request.rawHeaders = raw;
  request.complete = true;
  request.push(null);
  return request;
}
