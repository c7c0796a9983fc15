/**
 * The server's side of the opening handshake around `acceptHandshake`: the
 * request path, the origin allowlist, what the `authenticate` hook may answer,
 * and the socket between the upgrade request and the 101 (or the refusal).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HandshakeError, type HeaderList } from '../protocol/errors.js';
import { headerValue, isToken, parseHost, type HostParts } from '../protocol/headers.js';

/** Decides whether an `Origin` (undefined when the request has none) may connect. */
export type OriginCheck = (origin: string | undefined, request: IncomingMessage) => boolean;

/** The `authenticate` hook let the client in, with `data` for `ws.data` and extra 101 headers. */
export interface AuthAccept<Data> {
  accept: true;
  data?: Data;
  headers?: HeaderList;
}

/** The `authenticate` hook refused the client with this HTTP response (status 400-599). */
export interface AuthReject {
  accept: false;
  status: number;
  headers?: HeaderList;
  body?: string;
}

export type AuthResult<Data> = AuthAccept<Data> | AuthReject;

/** Runs before the 101; a thrown error or rejected promise refuses the upgrade with 500. */
export type Authenticate<Data> = (request: IncomingMessage) => Promise<AuthResult<Data>> | AuthResult<Data>;

/** Pathname of a request target (origin-form or absolute-form), without the query. */
export function requestPath(target: string | undefined): string {
  const url = target ?? '/';
  if (url.startsWith('/')) {
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}

/**
 * True when the request's `Origin` may connect: always without an allowlist;
 * with a list, only an origin in it (compared case-insensitively; a request
 * without `Origin` is refused); with a function, what it returns.
 */
export function isOriginAllowed(
  allowed: readonly string[] | OriginCheck | undefined,
  request: IncomingMessage,
): boolean {
  if (allowed === undefined) return true;
  const origin = headerValue(request.headers, 'origin');
  if (typeof allowed === 'function') return allowed(origin, request) === true;
  if (origin === undefined) return false;
  const wanted = origin.trim().toLowerCase();
  return allowed.some((entry) => entry.toLowerCase() === wanted);
}

/** Decides whether a `Host` (well-formed, as the client sent it) may be served. */
export type HostCheck = (host: string, request: IncomingMessage) => boolean;

/**
 * Matches a host against allowlist entries: `example.com` (any port),
 * `example.com:8443` (that port only), `.example.com` (the domain and its
 * subdomains), `[::1]` (an IPv6 literal); case-insensitive.
 */
export function hostMatches(entries: readonly string[], host: HostParts): boolean {
  const withPort = host.port === '' ? host.hostname : `${host.hostname}:${host.port}`;
  for (const raw of entries) {
    const entry = raw.toLowerCase();
    if (entry === host.hostname || entry === withPort) return true;
    if (entry.startsWith('.') && (host.hostname === entry.slice(1) || host.hostname.endsWith(entry))) return true;
  }
  return false;
}

/** How many `Host` fields the request carried (Node keeps only the first in `headers`). */
function hostFieldCount(request: IncomingMessage): number {
  const raw = request.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') count++;
  return count;
}

/**
 * The host a request names: its `Host` field, or the `:authority` of an
 * HTTP/2 request (Node's compatibility API, `Http2ServerRequest`, keeps the
 * pseudo-headers in `headers` and adds no `host`). 'conflict' for an HTTP/2
 * request whose `Host` and `:authority` differ (malformed, RFC 9113 §8.3.1).
 */
export function requestHost(request: IncomingMessage): string | undefined | 'conflict' {
  const host = headerValue(request.headers, 'host');
  if (request.httpVersionMajor < 2) return host;
  const authority = headerValue(request.headers, ':authority');
  if (host !== undefined && authority !== undefined && host.toLowerCase() !== authority.toLowerCase()) return 'conflict';
  return host ?? authority;
}

/**
 * Checks the request's `Host` (an HTTP/2 request's `:authority`): exactly
 * one, well-formed (400 otherwise), and in `allowed` when there is an
 * allowlist (421 Misdirected Request otherwise). Throws `HandshakeError`.
 */
export function checkRequestHost(allowed: readonly string[] | HostCheck | undefined, request: IncomingMessage): void {
  const value = requestHost(request);
  if (!value) throw new HandshakeError('SB_ERR_MISSING_HOST', 400, 'missing Host header');
  const host = value === 'conflict' ? null : parseHost(value);
  if (host === null || hostFieldCount(request) > 1) throw new HandshakeError('SB_ERR_INVALID_HOST', 400, 'invalid Host header');
  if (allowed === undefined) return;
  let ok: boolean;
  try {
    ok = typeof allowed === 'function' ? allowed(value, request) === true : hostMatches(allowed, host);
  } catch (error) {
    throw internalError('allowedHosts', error);
  }
  if (!ok) throw new HandshakeError('SB_ERR_FORBIDDEN_HOST', 421, 'host not served here');
}

/** A 500 refusal for a failure of the server's own code (a hook that threw). */
export function internalError(what: string, cause: unknown): HandshakeError {
  const error = new HandshakeError('SB_ERR_REJECTED', 500, `${what} failed`);
  error.cause = cause;
  return error;
}

/** Errors of the handshake pass through; anything else is a hook's failure (500). */
export function asHandshakeError(error: unknown, what: string): HandshakeError {
  return error instanceof HandshakeError ? error : internalError(what, error);
}

/** The refusal an `AuthReject` stands for. A status outside 400-599 or a malformed header becomes a 500. */
export function rejectionOf(result: AuthReject): HandshakeError {
  const { status } = result;
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    return internalError('authenticate', new RangeError(`authenticate refused with status ${status} (400-599 expected)`));
  }
  const headers = checkedHeaders(result.headers ?? [], 'authenticate');
  return new HandshakeError('SB_ERR_REJECTED', status, result.body ?? `upgrade refused with status ${status}`, headers);
}

const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Returns the headers when every name is a token and no value holds a control character (no header injection). */
export function checkedHeaders(headers: HeaderList, what: string): HeaderList {
  for (const [name, value] of headers) {
    if (!isToken(name) || !HEADER_VALUE.test(value)) {
      throw internalError(what, new TypeError(`invalid response header ${JSON.stringify(name)}`));
    }
  }
  return headers;
}

/**
 * Writes a final answer (a refusal) and ends the socket, ignoring what the
 * client still sends; destroys it once written, at the latest after
 * `linger` ms (a client that does not read).
 */
export function endWith(socket: Duplex, response: Buffer, linger: number): void {
  socket.on('error', () => {});
  if (socket.destroyed) return;
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), linger);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('finish', () => socket.destroy());
  socket.end(response);
}

/** Bytes a client may send before its 101 that are kept for the connection; beyond, reading pauses. */
export const MAX_EARLY_DATA = 64 * 1024;

/**
 * An upgrade request between its arrival and the answer. Keeps the socket
 * reading so that a client that goes away during an async `authenticate` is
 * noticed, keeps any bytes that came early (after the request head) for the
 * connection, and cuts the wait short on timeout or server shutdown.
 */
export class PendingUpgrade {
  readonly socket: Duplex;
  private readonly early: Buffer[] = [];
  private earlySize = 0;
  private gone = false;
  private readonly timer: NodeJS.Timeout;
  private interrupt: (error: HandshakeError) => void = () => {};
  private readonly interrupted: Promise<never>;

  constructor(socket: Duplex, head: Buffer, timeout: number) {
    this.socket = socket;
    this.interrupted = new Promise<never>((_, reject) => {
      this.interrupt = reject;
    });
    this.interrupted.catch(() => {});
    if (head !== undefined && head.length > 0) this.keep(head);
    socket.on('data', this.onData);
    socket.on('end', this.onGone);
    socket.on('close', this.onGone);
    socket.on('error', this.onError);
    this.timer = setTimeout(() => {
      this.cancel(new HandshakeError('SB_ERR_HANDSHAKE_TIMEOUT', 503, `the handshake took more than ${timeout} ms`));
    }, timeout);
    this.timer.unref();
  }

  /** True once the client closed or reset its side. */
  get isGone(): boolean {
    return this.gone || this.socket.destroyed;
  }

  /** Settles like `work`, unless the handshake is cut short first (then rejects with the refusal). */
  within<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.interrupted]);
  }

  /** Cuts the wait short with this refusal. */
  cancel(error: HandshakeError): void {
    this.interrupt(error);
  }

  /** Hands the socket over to the connection: paused, with the early bytes back in front of its stream. */
  release(): void {
    this.detach();
    this.socket.pause();
    if (this.early.length > 0) this.socket.unshift(Buffer.concat(this.early, this.earlySize));
  }

  /** Writes the refusal, then destroys the socket (at the latest after `linger` ms). */
  refuse(response: Buffer, linger: number): void {
    this.detach();
    endWith(this.socket, response, linger);
  }

  /** Destroys the socket without answering (the client is gone). */
  drop(): void {
    this.detach();
    this.socket.on('error', () => {});
    this.socket.destroy();
  }

  private detach(): void {
    clearTimeout(this.timer);
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onGone);
    this.socket.off('close', this.onGone);
    this.socket.off('error', this.onError);
  }

  private keep(chunk: Buffer): void {
    this.early.push(chunk);
    this.earlySize += chunk.length;
    if (this.earlySize > MAX_EARLY_DATA) this.socket.pause();
  }

  private readonly onData = (chunk: Buffer): void => this.keep(chunk);

  private readonly onGone = (): void => {
    if (this.gone) return;
    this.gone = true;
    this.cancel(new HandshakeError('SB_ERR_REJECTED', 0, 'the client went away during the handshake'));
  };

  private readonly onError = (): void => {
    this.socket.destroy();
    this.onGone();
  };
}
