/**
 * The opening handshake (RFC 6455 §4), both roles, without I/O.
 *
 * Server: `acceptHandshake()` validates an upgrade request (as parsed by any
 * HTTP server, or by `HttpRequestParser`) and returns what to answer, or
 * throws a `HandshakeError` carrying the HTTP status and headers to reject
 * with. Client: `ClientHandshake` builds the request bytes, then parses and
 * checks the response bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HandshakeError, LocalProtocolError, type HeaderList } from './errors.js';
import type { ClientExtension, Extension, ServerExtension } from './extension.js';
import {
  formatExtensions,
  headerValue,
  isToken,
  listHasToken,
  parseExtensions,
  parseHost,
  parseList,
  type ExtensionOffer,
  type ExtensionParam,
  type HeaderMap,
} from './headers.js';
import {
  formatRequestHead,
  formatResponseHead,
  HttpResponseParser,
  type HttpHeadLimits,
  type HttpResponseHead,
} from './http.js';

/** The GUID of RFC 6455 §1.3, appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const WEBSOCKET_VERSION = '13';

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`. */
export function computeAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

const BASE64_KEY = /^[A-Za-z0-9+/]{22}==$/;

/** True when the key is base64 of exactly 16 bytes. */
export function isValidKey(key: string): boolean {
  return BASE64_KEY.test(key) && Buffer.from(key, 'base64').length === 16;
}

// ---------------------------------------------------------------- server

/** What the server needs to know of the request. */
export interface UpgradeRequest {
  method: string;
  /** "1.1" for HTTP/1.1. */
  httpVersion: string;
  /** Lower-case names (Node's `IncomingMessage.headers` fits). */
  headers: HeaderMap;
}

/** Picks a subprotocol among those offered (in the client's order); return null for none. */
export type SubprotocolSelector<R extends UpgradeRequest = UpgradeRequest> = (
  offered: string[],
  request: R,
) => string | null | undefined;

export interface ServerHandshakeOptions<R extends UpgradeRequest = UpgradeRequest> {
  /**
   * Subprotocols the server speaks, in its order of preference (the first one
   * the client offered wins), or a selector function.
   */
  subprotocols?: readonly string[] | SubprotocolSelector<R>;
  /** Extensions the server can negotiate, in the order they apply. */
  extensions?: readonly ServerExtension[];
}

export interface AcceptedHandshake {
  key: string;
  /** The selected subprotocol, or "" for none. */
  protocol: string;
  /** Negotiated extensions, in the order they apply. */
  extensions: Extension[];
  /** The `Sec-WebSocket-Extensions` answer, or "" for none. */
  extensionsHeader: string;
  /** Headers of the 101 response. */
  headers: HeaderList;
}

function reject(code: ConstructorParameters<typeof HandshakeError>[0], status: number, message: string, headers: HeaderList = []): never {
  throw new HandshakeError(code, status, message, headers);
}

/** Validates an upgrade request; throws `HandshakeError` with the status to answer. */
export function acceptHandshake<R extends UpgradeRequest>(request: R, options: ServerHandshakeOptions<R> = {}): AcceptedHandshake {
  if (request.method !== 'GET') {
    reject('SB_ERR_HTTP_METHOD', 405, `method ${request.method} is not GET`, [['Allow', 'GET']]);
  }
  const [major, minor] = request.httpVersion.split('.').map(Number);
  if (!(major! > 1 || (major === 1 && minor! >= 1))) {
    reject('SB_ERR_HTTP_VERSION', 400, `HTTP/${request.httpVersion} cannot upgrade (HTTP/1.1 required)`);
  }
  const headers = request.headers;
  if (!listHasToken(headerValue(headers, 'upgrade'), 'websocket')) {
    reject('SB_ERR_NOT_UPGRADE', 426, 'expected "Upgrade: websocket"', [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
    ]);
  }
  if (!listHasToken(headerValue(headers, 'connection'), 'upgrade')) {
    reject('SB_ERR_NOT_UPGRADE', 400, 'expected "Connection: Upgrade"');
  }
  checkHost(headerValue(headers, 'host'));
  const version = headerValue(headers, 'sec-websocket-version');
  if (version?.trim() !== WEBSOCKET_VERSION) {
    reject('SB_ERR_UNSUPPORTED_VERSION', 426, `unsupported Sec-WebSocket-Version "${version ?? ''}"`, [
      ['Sec-WebSocket-Version', WEBSOCKET_VERSION],
    ]);
  }
  const key = headerValue(headers, 'sec-websocket-key')?.trim() ?? '';
  if (!isValidKey(key)) reject('SB_ERR_INVALID_KEY', 400, 'Sec-WebSocket-Key is not base64 of 16 bytes');

  const protocol = selectSubprotocol(request, options.subprotocols);
  const { extensions, offers } = negotiateExtensions(headerValue(headers, 'sec-websocket-extensions'), options.extensions ?? []);

  const responseHeaders: HeaderList = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', computeAccept(key)],
  ];
  if (protocol) responseHeaders.push(['Sec-WebSocket-Protocol', protocol]);
  const extensionsHeader = offers.length > 0 ? formatExtensions(offers) : '';
  if (extensionsHeader) responseHeaders.push(['Sec-WebSocket-Extensions', extensionsHeader]);
  return { key, protocol, extensions, extensionsHeader, headers: responseHeaders };
}

/**
 * A request needs exactly one well-formed `Host` (RFC 9112 §3.2): none, an
 * empty one, several (joined by a comma) or a malformed one get 400.
 */
function checkHost(host: string | undefined): void {
  if (!host) reject('SB_ERR_MISSING_HOST', 400, 'missing Host header');
  if (parseHost(host) === null) reject('SB_ERR_INVALID_HOST', 400, 'invalid Host header');
}

/** The subprotocol to answer with ("" for none); throws `HandshakeError` for a malformed offer. */
export function selectSubprotocol<R extends UpgradeRequest>(request: R, choice: ServerHandshakeOptions<R>['subprotocols']): string {
  const offered = parseList(headerValue(request.headers, 'sec-websocket-protocol'));
  if (offered.length === 0 || choice === undefined) return '';
  if (!offered.every(isToken) || new Set(offered).size !== offered.length) {
    reject('SB_ERR_INVALID_SUBPROTOCOL', 400, 'Sec-WebSocket-Protocol holds an invalid or repeated token');
  }
  if (typeof choice !== 'function') return choice.find((name) => offered.includes(name)) ?? '';
  const selected = choice(offered, request) ?? '';
  if (selected !== '' && !offered.includes(selected)) {
    reject('SB_ERR_INVALID_SUBPROTOCOL', 500, `selected subprotocol "${selected}" was not offered`);
  }
  return selected;
}

/** The extensions accepted among those offered, and the answer's offers; throws `HandshakeError` for a malformed header. */
export function negotiateExtensions(
  header: string | undefined,
  available: readonly ServerExtension[],
): { extensions: Extension[]; offers: ExtensionOffer[] } {
  const extensions: Extension[] = [];
  const offers: ExtensionOffer[] = [];
  if (!header || available.length === 0) return { extensions, offers };
  let requested: ExtensionOffer[];
  try {
    requested = parseExtensions(header);
  } catch (error) {
    reject('SB_ERR_INVALID_EXTENSION', 400, `invalid Sec-WebSocket-Extensions: ${(error as Error).message}`);
  }
  let claimedRsv = 0;
  for (const candidate of available) {
    const params = requested.filter((offer) => offer.name === candidate.name).map((offer) => offer.params);
    if (params.length === 0) continue;
    const accepted = candidate.negotiate(params);
    if (!accepted || (accepted.extension.rsvBits & claimedRsv) !== 0) continue;
    claimedRsv |= accepted.extension.rsvBits;
    extensions.push(accepted.extension);
    offers.push({ name: candidate.name, params: accepted.params });
  }
  return { extensions, offers };
}

/** The 101 response bytes for an accepted handshake, with optional extra headers. */
export function formatAcceptResponse(accepted: AcceptedHandshake, extraHeaders: HeaderList = []): Buffer {
  return formatResponseHead(101, 'Switching Protocols', [...accepted.headers, ...extraHeaders]);
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  414: 'URI Too Long',
  421: 'Misdirected Request',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A complete HTTP rejection (closes the connection), with a plain-text body. */
export function formatRejectResponse(status: number, headers: HeaderList = [], body = REASONS[status] ?? 'Error'): Buffer {
  const bodyBytes = Buffer.from(body, 'utf8');
  const head = formatResponseHead(status, REASONS[status] ?? 'Error', [
    ['Connection', 'close'],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(bodyBytes.length)],
    ...headers,
  ]);
  return Buffer.concat([head, bodyBytes]);
}

// ---------------------------------------------------------------- client

export interface ClientHandshakeOptions {
  /** Host header value (host, and port when not the default). */
  host: string;
  /** Request target: path and query. */
  path: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** Extensions to offer. */
  extensions?: readonly ClientExtension[];
  /** Origin header, if any. */
  origin?: string;
  /** More request headers. */
  headers?: HeaderList;
  /** The key to send; random by default (fixed keys are for tests). */
  key?: string;
  /** Limits on the response head. */
  limits?: HttpHeadLimits;
}

export interface ClientHandshakeResult {
  response: HttpResponseHead;
  /** The subprotocol the server selected, or "". */
  protocol: string;
  extensions: Extension[];
  extensionsHeader: string;
  /** Bytes after the response head: the first frames. */
  rest: Buffer;
}

/** The client side of the opening handshake. */
export class ClientHandshake {
  readonly key: string;
  private readonly options: ClientHandshakeOptions;
  private readonly parser: HttpResponseParser;

  constructor(options: ClientHandshakeOptions) {
    const protocols = options.protocols ?? [];
    if (!protocols.every(isToken) || new Set(protocols).size !== protocols.length) {
      throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', 'subprotocols must be distinct tokens');
    }
    this.options = options;
    this.key = options.key ?? generateKey();
    this.parser = new HttpResponseParser(options.limits);
  }

  /** The request bytes to send. */
  request(): Buffer {
    const { options } = this;
    const headers: HeaderList = [
      ['Host', options.host],
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', this.key],
      ['Sec-WebSocket-Version', WEBSOCKET_VERSION],
    ];
    if (options.origin) headers.push(['Origin', options.origin]);
    if (options.protocols && options.protocols.length > 0) {
      headers.push(['Sec-WebSocket-Protocol', options.protocols.join(', ')]);
    }
    const offers = (options.extensions ?? []).map((extension) => ({ name: extension.name, params: extension.offer() }));
    if (offers.length > 0) headers.push(['Sec-WebSocket-Extensions', formatExtensions(offers)]);
    headers.push(...(options.headers ?? []));
    return formatRequestHead('GET', options.path, headers);
  }

  /**
   * Feeds response bytes. Returns null until the head is complete, then the
   * result; throws `HandshakeError` when the response does not accept.
   */
  receiveData(chunk: Uint8Array): ClientHandshakeResult | null {
    const parsed = this.parser.feed(chunk);
    if (!parsed) return null;
    const { head: response, rest } = parsed;
    const fail = (code: ConstructorParameters<typeof HandshakeError>[0], message: string): never => {
      throw new HandshakeError(code, response.status, message);
    };
    if (response.status !== 101) fail('SB_ERR_UNEXPECTED_STATUS', `expected status 101, got ${response.status}`);
    const headers = response.headers;
    if (!listHasToken(headerValue(headers, 'upgrade'), 'websocket')) fail('SB_ERR_NOT_UPGRADE', 'response lacks "Upgrade: websocket"');
    if (!listHasToken(headerValue(headers, 'connection'), 'upgrade')) fail('SB_ERR_NOT_UPGRADE', 'response lacks "Connection: Upgrade"');
    if (headerValue(headers, 'sec-websocket-accept')?.trim() !== computeAccept(this.key)) {
      fail('SB_ERR_INVALID_ACCEPT', 'Sec-WebSocket-Accept does not match the key');
    }
    const protocol = this.checkProtocol(headers, fail);
    const { extensions, extensionsHeader } = this.checkExtensions(headers, fail);
    return { response, protocol, extensions, extensionsHeader, rest };
  }

  /**
   * The request headers of an RFC 8441 extended CONNECT (WebSockets over
   * HTTP/2): the pseudo-headers, then the same `Sec-WebSocket-*` fields as
   * the HTTP/1.1 request but no key (HTTP/2 carries no
   * `Sec-WebSocket-Key`/`Accept`) and no connection-specific fields.
   */
  extendedConnectHeaders(scheme: 'http' | 'https'): HeaderList {
    const { options } = this;
    const headers: HeaderList = [
      [':method', 'CONNECT'],
      [':protocol', 'websocket'],
      [':scheme', scheme],
      [':path', options.path],
      [':authority', options.host],
      ['sec-websocket-version', WEBSOCKET_VERSION],
    ];
    if (options.origin) headers.push(['origin', options.origin]);
    if (options.protocols && options.protocols.length > 0) headers.push(['sec-websocket-protocol', options.protocols.join(', ')]);
    const offers = (options.extensions ?? []).map((extension) => ({ name: extension.name, params: extension.offer() }));
    if (offers.length > 0) headers.push(['sec-websocket-extensions', formatExtensions(offers)]);
    for (const [name, value] of options.headers ?? []) {
      const lower = name.toLowerCase();
      if (lower !== 'host' && lower !== 'connection' && lower !== 'upgrade' && lower !== 'keep-alive') headers.push([lower, value]);
    }
    return headers;
  }

  /**
   * Checks the answer to an extended CONNECT: a 2xx status (RFC 8441 §5),
   * a subprotocol and extensions that were offered. Throws `HandshakeError`.
   */
  receiveExtendedConnectResponse(status: number, headers: HeaderMap): Omit<ClientHandshakeResult, 'response' | 'rest'> {
    const fail = (code: ConstructorParameters<typeof HandshakeError>[0], message: string): never => {
      throw new HandshakeError(code, status, message);
    };
    if (status < 200 || status > 299) fail('SB_ERR_UNEXPECTED_STATUS', `expected a 2xx status, got ${status}`);
    const protocol = this.checkProtocol(headers, fail);
    const { extensions, extensionsHeader } = this.checkExtensions(headers, fail);
    return { protocol, extensions, extensionsHeader };
  }

  private checkProtocol(headers: HeaderMap, fail: (code: 'SB_ERR_UNEXPECTED_SUBPROTOCOL', message: string) => never): string {
    const value = headerValue(headers, 'sec-websocket-protocol');
    if (value === undefined) return '';
    const selected = value.trim();
    if (!(this.options.protocols ?? []).includes(selected)) {
      fail('SB_ERR_UNEXPECTED_SUBPROTOCOL', `server selected subprotocol "${selected}" that was not offered`);
    }
    return selected;
  }

  private checkExtensions(
    headers: HeaderMap,
    fail: (code: 'SB_ERR_UNEXPECTED_EXTENSION' | 'SB_ERR_INVALID_EXTENSION', message: string) => never,
  ): { extensions: Extension[]; extensionsHeader: string } {
    const value = headerValue(headers, 'sec-websocket-extensions');
    if (value === undefined || value.trim() === '') return { extensions: [], extensionsHeader: '' };
    let answers: ExtensionOffer[] = [];
    try {
      answers = parseExtensions(value);
    } catch (error) {
      fail('SB_ERR_INVALID_EXTENSION', `invalid Sec-WebSocket-Extensions: ${(error as Error).message}`);
    }
    const extensions: Extension[] = [];
    const seen = new Set<string>();
    for (const answer of answers) {
      const offered = (this.options.extensions ?? []).find((extension) => extension.name === answer.name);
      if (!offered || seen.has(answer.name)) fail('SB_ERR_UNEXPECTED_EXTENSION', `server accepted extension "${answer.name}" that was not offered`);
      seen.add(answer.name);
      try {
        extensions.push(offered!.accept(answer.params as ExtensionParam[]));
      } catch (error) {
        fail('SB_ERR_INVALID_EXTENSION', `extension "${answer.name}": ${(error as Error).message}`);
      }
    }
    return { extensions, extensionsHeader: value.trim() };
  }
}
