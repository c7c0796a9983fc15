/**
 * The server API over HTTP (docs/server-api.md): `POST {path}/<method>` with
 * a JSON object as the body, answered `{"result": …}` or
 * `{"error": {"code", "message"}}`, for callers that hold the API key (the
 * `X-API-Key` header, or `Authorization: apikey KEY`).
 *
 * The key is compared in constant time (the SHA-256 digests of both, with
 * `timingSafeEqual`), before the body is read; the body is read up to
 * `maxBodySize` bytes (413 over it). HTTP statuses: 200 with a result; 400
 * for a request the method refuses (malformed JSON, a wrong field, an
 * unknown namespace, data over the publish limit…); 401 without the right
 * key; 404 for an unknown method; 405 for another HTTP method than POST;
 * 413 for a body too large; 503 while the broker is unreachable; 500 when
 * the server failed. The body always says the same in `error.code`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { responseFields } from '../../node/http2-server.js';
import { ErrorCode } from '../wire/errors.js';
import { asError, errorBodyOf, RpcError } from './errors.js';
import { isApiMethod, type ServerApi } from './server-api.js';

/** Largest request body by default (bytes). */
export const DEFAULT_API_MAX_BODY_SIZE = 1024 * 1024;
/** Shortest API key accepted: a guessable key would open every method to anyone who reaches the port. */
export const MIN_API_KEY_LENGTH = 16;
/** The path under which the methods are served by default. */
export const DEFAULT_API_PATH = '/api';

export interface ServerApiOptions {
  /** The API key (at least 16 characters); callers send it as `X-API-Key` or `Authorization: apikey KEY`. */
  key: string;
  /** The methods are served at `{path}/<method>`. Default '/api'. */
  path?: string;
  /** Largest request body in bytes; a larger one gets 413. Default 1 MiB. */
  maxBodySize?: number;
}

/** Serves a server API request and returns true; returns false, touching nothing, for any other request. */
export type ApiRequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/** The HTTP status of an error code. */
function statusOf(code: string): number {
  switch (code) {
    case ErrorCode.Unauthorized:
      return 401;
    case ErrorCode.BrokerUnavailable:
      return 503;
    case ErrorCode.Internal:
      return 500;
    default:
      return 400;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The key a request carries, if any. */
function keyOf(request: IncomingMessage): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  const authorization = request.headers.authorization;
  const match = authorization === undefined ? null : /^apikey\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(
    status,
    responseFields(response, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    }),
  );
  response.end(text);
}

function refuse(response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  answer(response, status, { error: { code, message } }, headers);
}

/** Creates the HTTP handler of `api`; throws `TypeError` for a missing or short key or a bad option. */
export function createApiHandler(api: ServerApi, options: ServerApiOptions, reportError: (error: Error) => void): ApiRequestHandler {
  if (typeof options.key !== 'string' || options.key.length < MIN_API_KEY_LENGTH) {
    throw new TypeError(`the server API key must be a string of at least ${MIN_API_KEY_LENGTH} characters`);
  }
  const path = (options.path ?? DEFAULT_API_PATH).replace(/\/+$/, '');
  if (!path.startsWith('/')) throw new TypeError(`the server API path must start with "/", got "${path}"`);
  const maxBodySize = options.maxBodySize ?? DEFAULT_API_MAX_BODY_SIZE;
  if (!Number.isSafeInteger(maxBodySize) || maxBodySize < 1) throw new TypeError(`maxBodySize must be a positive integer, got ${String(maxBodySize)}`);
  const expected = digest(options.key);
  const prefix = `${path}/`;

  return (request, response) => {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const pathname = query === -1 ? url : url.slice(0, query);
    if (!pathname.startsWith(prefix)) return false;
    let method: string;
    try {
      method = decodeURIComponent(pathname.slice(prefix.length));
    } catch {
      method = pathname.slice(prefix.length);
    }
    if (request.method !== 'POST') {
      refuse(response, 405, ErrorCode.BadRequest, 'the server API takes POST requests', { Allow: 'POST' });
      request.resume();
      return true;
    }
    const key = keyOf(request);
    if (key === undefined || !timingSafeEqual(digest(key), expected)) {
      const message = key === undefined ? 'the API key is missing (send it as X-API-Key)' : 'wrong API key';
      refuse(response, 401, ErrorCode.Unauthorized, message, { 'WWW-Authenticate': 'apikey', Connection: 'close' });
      request.resume();
      return true;
    }
    if (!isApiMethod(method)) {
      refuse(response, 404, ErrorCode.NotFound, `unknown method "${method.slice(0, 64)}"`);
      request.resume();
      return true;
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > maxBodySize) {
      refuse(response, 413, ErrorCode.LimitExceeded, `the request body is over ${maxBodySize} bytes`, { Connection: 'close' });
      request.resume();
      return true;
    }
    readBody(request, maxBodySize).then(
      (body) => {
        if (body === null) {
          refuse(response, 413, ErrorCode.LimitExceeded, `the request body is over ${maxBodySize} bytes`, { Connection: 'close' });
          return;
        }
        let params: unknown = {};
        if (body.trim() !== '') {
          try {
            params = JSON.parse(body);
          } catch (error) {
            refuse(response, 400, ErrorCode.BadRequest, `the body is not valid JSON: ${asError(error).message}`);
            return;
          }
        }
        api.call(method, params).then(
          (result) => answer(response, 200, { result }),
          (error: unknown) => {
            if (!(error instanceof RpcError)) reportError(asError(error));
            const body = errorBodyOf(error);
            answer(response, statusOf(body.code), { error: { code: body.code, message: body.message } });
          },
        );
      },
      () => {
        // The request failed (the client went away): there is nobody to answer.
      },
    );
    return true;
  };
}

/** The body as UTF-8 text, or null once it passes `max` bytes (the rest is drained unread). */
function readBody(request: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', reject);
  });
}
