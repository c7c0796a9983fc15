/**
 * The server's side of the RFC 8441 opening handshake (WebSockets over
 * HTTP/2), without I/O: an extended CONNECT (`:method CONNECT`,
 * `:protocol websocket`) is validated from its header block, pseudo-headers
 * included, and answered with `:status 200`. Subprotocol and extension
 * negotiation are those of the HTTP/1.1 handshake (`acceptHandshake`); there
 * is no `Sec-WebSocket-Key`/`Accept` and no `Upgrade`/`Connection` (HTTP/2
 * forbids connection-specific fields).
 */
import { HandshakeError, type HeaderList } from './errors.js';
import {
  negotiateExtensions,
  selectSubprotocol,
  WEBSOCKET_VERSION,
  type AcceptedHandshake,
  type ServerHandshakeOptions,
  type UpgradeRequest,
} from './handshake.js';
import { formatExtensions, headerValue, parseHost, type HeaderMap } from './headers.js';

/** An HTTP/2 request's header block, pseudo-headers (`:method`, `:path` …) included. */
export interface ExtendedConnectRequest extends UpgradeRequest {
  headers: HeaderMap;
}

/** Fields HTTP/2 forbids (RFC 9113 §8.2.2); a response or refusal must not carry them. */
const CONNECTION_SPECIFIC = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

/** True when a field may not appear in an HTTP/2 message. */
export function isConnectionSpecificField(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

/** The headers without the fields HTTP/2 forbids. */
export function http2Fields(headers: HeaderList): HeaderList {
  return headers.filter(([name]) => !isConnectionSpecificField(name));
}

function reject(code: ConstructorParameters<typeof HandshakeError>[0], status: number, message: string, headers: HeaderList = []): never {
  throw new HandshakeError(code, status, message, headers);
}

/**
 * True when a header block is an RFC 8441 WebSocket request (`CONNECT` with
 * `:protocol`), as opposed to an ordinary request or a plain CONNECT tunnel.
 */
export function isExtendedConnect(headers: HeaderMap): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined;
}

/**
 * Validates an extended CONNECT (RFC 8441 §4-5); throws `HandshakeError`
 * with the status to answer: 405 for another method, 400 for a missing or
 * other `:protocol`, a missing `:scheme`, `:path` or `:authority`, or a
 * malformed `:authority`, 426 (with `sec-websocket-version: 13`) for another
 * version, 400 for a malformed subprotocol or extension offer. The answer's
 * headers are `:status 200` and the negotiated fields; `key` is "".
 */
export function acceptExtendedConnect<R extends ExtendedConnectRequest>(request: R, options: ServerHandshakeOptions<R> = {}): AcceptedHandshake {
  const headers = request.headers;
  const method = headerValue(headers, ':method');
  if (method !== 'CONNECT') reject('SB_ERR_HTTP_METHOD', 405, `method ${method ?? ''} is not CONNECT`, [['allow', 'CONNECT']]);
  const protocol = headerValue(headers, ':protocol');
  if (protocol === undefined) reject('SB_ERR_NOT_UPGRADE', 400, 'a CONNECT without :protocol is not a WebSocket request');
  if (protocol.toLowerCase() !== 'websocket') reject('SB_ERR_NOT_UPGRADE', 400, `unsupported :protocol "${protocol}"`);
  const scheme = headerValue(headers, ':scheme');
  if (scheme !== 'https' && scheme !== 'http') reject('SB_ERR_HTTP_SYNTAX', 400, `missing or invalid :scheme "${scheme ?? ''}"`);
  const path = headerValue(headers, ':path');
  if (!path) reject('SB_ERR_HTTP_SYNTAX', 400, 'missing :path');
  const authority = headerValue(headers, ':authority');
  if (!authority) reject('SB_ERR_MISSING_HOST', 400, 'missing :authority');
  if (parseHost(authority) === null) reject('SB_ERR_INVALID_HOST', 400, 'invalid :authority');
  const version = headerValue(headers, 'sec-websocket-version');
  if (version?.trim() !== WEBSOCKET_VERSION) {
    reject('SB_ERR_UNSUPPORTED_VERSION', 426, `unsupported sec-websocket-version "${version ?? ''}"`, [['sec-websocket-version', WEBSOCKET_VERSION]]);
  }
  const selected = selectSubprotocol(request, options.subprotocols);
  const { extensions, offers } = negotiateExtensions(headerValue(headers, 'sec-websocket-extensions'), options.extensions ?? []);
  const responseHeaders: HeaderList = [];
  if (selected) responseHeaders.push(['sec-websocket-protocol', selected]);
  const extensionsHeader = offers.length > 0 ? formatExtensions(offers) : '';
  if (extensionsHeader) responseHeaders.push(['sec-websocket-extensions', extensionsHeader]);
  return { key: '', protocol: selected, extensions, extensionsHeader, headers: responseHeaders };
}
