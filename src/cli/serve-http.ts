/**
 * The HTTP(S) servers of `switchboard serve`, hardened as the standalone
 * WebSocket server is (src/node/http-server.ts) and a bit further:
 *
 * - the request head (and a whole plain request) within the handshake
 *   timeout, checked every quarter of it (≤ 1 s); idle keep-alive sockets
 *   closed after `KEEP_ALIVE_TIMEOUT`; a TLS handshake within the handshake
 *   timeout too (Node's default is 120 s);
 * - at most `maxSockets` sockets at once (`server.maxConnections`) and
 *   `maxSocketsPerIp` per client address, with the same exemption as the
 *   WebSocket guard's `maxConnectionsPerIp` (loopback, private and
 *   link-local addresses by default, where proxies sit);
 * - which `Host` and `Origin` values are served: bound to a loopback
 *   address, only loopback names (a DNS-rebinding defence, as Vite's dev
 *   server has), unless `allowedHosts` says more.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { BlockList, isIP, isIPv6, type Socket } from 'node:net';
import { AddressLimiter, isLocalNetworkAddress, type AddressExemption } from '../node/address-limit.js';
import { DEFAULT_TLS_MIN_VERSION, headTimeouts } from '../node/http-server.js';
import type { HostCheck, OriginCheck } from '../node/server-handshake.js';
import { hostMatches, requestHost } from '../node/server-handshake.js';
import { parseHost, type HostParts } from '../protocol/headers.js';

/** How long an idle keep-alive socket stays open between requests (ms). */
export const KEEP_ALIVE_TIMEOUT = 5_000;
/** Sockets one process holds at once on its public port, by default. */
export const DEFAULT_MAX_SOCKETS = 10_000;
/**
 * Sockets per client address, by default: twice the WebSocket guard's 256
 * per address, so that its 429 answers first and pages and fallback
 * requests keep room.
 */
export const DEFAULT_MAX_SOCKETS_PER_IP = 512;
/** Sockets the metrics listener holds at once. */
export const METRICS_MAX_SOCKETS = 64;

/** The socket caps of one listener. */
export interface SocketLimits {
  /** Sockets at once; 0 = no limit. */
  maxSockets: number;
  /** Sockets per client address; 0 = no limit. */
  maxSocketsPerIp: number;
  exempt: AddressExemption;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for an IP address in 127.0.0.0/8 or ::1 (IPv4-mapped included). */
function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** True for a listening address that only this machine reaches: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackBind(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase() === 'localhost' || isLoopbackAddress(bare);
}

/** A `Host` name that only reaches this machine: localhost, *.localhost, 127.0.0.0/8, [::1]. */
function isLoopbackName(hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  return isLoopbackAddress(hostname.startsWith('[') ? hostname.slice(1, -1) : hostname);
}

/** What `allowedHosts` / `allowedOrigins` can be in the settings: a list, or any. */
export type AllowList = readonly string[] | 'any';

/**
 * Which `Host` values are served: with a list, its entries (`example.com`,
 * `example.com:8443`, `.example.com`) and loopback names; without one,
 * bound to a loopback address, loopback names only; otherwise (or with
 * 'any') every host — undefined.
 */
export function hostCheckFor(allowed: AllowList | undefined, bindHost: string): ((host: HostParts) => boolean) | undefined {
  if (allowed === 'any') return undefined;
  if (allowed === undefined) return isLoopbackBind(bindHost) ? (host) => isLoopbackName(host.hostname) : undefined;
  return (host) => isLoopbackName(host.hostname) || hostMatches(allowed, host);
}

/** The same check in the shape the WebSocket server's `allowedHosts` takes. */
export function wsHostCheck(check: ((host: HostParts) => boolean) | undefined): HostCheck | undefined {
  if (check === undefined) return undefined;
  return (value) => {
    const host = parseHost(value);
    return host !== null && check(host);
  };
}

/**
 * A request's `Host` verdict (an HTTP/2 request's `:authority`, or its
 * `Host` when it has one and both agree): 'ok', 'invalid' (missing,
 * repeated, conflicting or malformed: 400) or 'forbidden' (not served: 421).
 */
export function hostVerdict(check: ((host: HostParts) => boolean) | undefined, request: IncomingMessage): 'ok' | 'invalid' | 'forbidden' {
  const value = requestHost(request);
  const host = value === undefined || value === 'conflict' ? null : parseHost(value);
  let fields = 0;
  for (let i = 0; i < request.rawHeaders.length; i += 2) if (request.rawHeaders[i]!.toLowerCase() === 'host') fields++;
  if (host === null || fields > 1) return 'invalid';
  return check === undefined || check(host) ? 'ok' : 'forbidden';
}

/**
 * Which `Origin` values may connect (WebSocket and the fallback's CORS):
 * with a list, its entries (case-insensitive); without one, the origins
 * whose host is served (`hostCheck`), or any when every host is. A request
 * without `Origin` (not a browser) is let in: it could send any value.
 * `null` is refused unless listed.
 */
export function originCheckFor(allowed: AllowList | undefined, hostCheck: ((host: HostParts) => boolean) | undefined): OriginCheck | undefined {
  if (allowed === 'any') return undefined;
  if (allowed !== undefined) {
    const entries = new Set(allowed.map((entry) => entry.toLowerCase()));
    return (origin) => origin === undefined || entries.has(origin.trim().toLowerCase());
  }
  if (hostCheck === undefined) return undefined;
  return (origin) => origin === undefined || originHostServed(origin, hostCheck);
}

function originHostServed(origin: string, hostCheck: (host: HostParts) => boolean): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = parseHost(url.host);
  return host !== null && hostCheck(host);
}

/**
 * Addresses exempt from the per-address limits: the WebSocket guard's
 * default (loopback, private, link-local) without a list; with one, exactly
 * its addresses and subnets (`10.0.0.0/8`, `::1`, …; `[]` exempts none).
 * Throws `TypeError` for an entry that is neither.
 */
export function exemptionFor(entries: readonly string[] | undefined): AddressExemption {
  if (entries === undefined) return isLocalNetworkAddress;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? undefined : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
    const prefixOk = prefix === undefined || prefix <= (family === 6 ? 128 : 32);
    if (family === 0 || extra !== undefined || !prefixOk) {
      throw new TypeError(`"${entry}" is not an IP address or subnet (e.g. 10.0.0.0/8 or ::1)`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped !== null && list.check(mapped[1]!, 'ipv4')) return true;
    return list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  };
}

/** An HTTP(S) server with the head, request, keep-alive and TLS handshake timeouts of `handshakeTimeout` (with TLS, `serve` uses serve-http2.ts instead). */
export function createHardenedServer(tls: { cert: Buffer; key: Buffer } | undefined, handshakeTimeout: number): HttpServer | HttpsServer {
  const options = { ...headTimeouts(handshakeTimeout), keepAliveTimeout: KEEP_ALIVE_TIMEOUT };
  const server =
    tls === undefined ? createHttpServer(options) : createHttpsServer({ ...options, ...tls, minVersion: DEFAULT_TLS_MIN_VERSION, handshakeTimeout });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
  return server;
}

/**
 * Caps the sockets of `server`: `maxConnections` in all (Node closes the
 * ones over it at once), and a count per client address from 'connection'
 * to 'close' (over it, the socket is destroyed before a byte is read).
 */
export function limitSockets(server: HttpServer | HttpsServer | Http2SecureServer, limits: SocketLimits): void {
  if (limits.maxSockets > 0) server.maxConnections = limits.maxSockets;
  if (limits.maxSocketsPerIp <= 0) return;
  const limiter = new AddressLimiter(limits.maxSocketsPerIp, limits.exempt);
  server.on('connection', (socket: Socket) => {
    if (!limiter.admit(socket)) socket.destroy();
  });
}
