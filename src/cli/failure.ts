/**
 * Turns the reasons a WebSocket connection fails (socket errors, TLS errors,
 * refused handshakes) into one line that says what went wrong and what to try.
 */
import { DEFAULT_HANDSHAKE_TIMEOUT } from '../node/client.js';
import { HandshakeError } from '../protocol/errors.js';

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** "host:port" of a ws:// or wss:// URL, with the scheme's default port filled in. */
export function hostPort(url: URL): string {
  const port = url.port !== '' ? url.port : url.protocol === 'wss:' ? '443' : '80';
  return `${url.hostname}:${port}`;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A duration for people: "800 ms", "10 s", "1.5 s". */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(3))} s`;
}

function explainHandshake(error: HandshakeError, url: URL, handshakeTimeoutMs: number): string {
  if (error.code === 'SB_ERR_HANDSHAKE_TIMEOUT') {
    return `no handshake response from ${hostPort(url)} within ${formatDuration(handshakeTimeoutMs)} — is it a WebSocket server (and is the scheme right: ws:// or wss://)?`;
  }
  if (error.code === 'SB_ERR_UNEXPECTED_STATUS') {
    const hint =
      error.status === 404 ? 'check the path in the URL'
      : error.status === 401 || error.status === 403 ? 'the server refused: credentials may be missing (try --header "Authorization: …")'
      : error.status === 400 || error.status === 426 ? 'the server refused the upgrade request (a subprotocol it requires? try --protocol)'
      : error.status >= 300 && error.status < 400 ? 'the server redirects: use the URL it points to'
      : 'the server did not accept a WebSocket connection on this URL';
    return `the server answered HTTP ${error.status} instead of switching to WebSocket — ${hint}`;
  }
  if (error.code === 'SB_ERR_HTTP_SYNTAX') {
    return `the server did not answer with HTTP (${error.message}) — is ${hostPort(url)} a WebSocket server${url.protocol === 'ws:' ? ', or does it expect wss://' : ''}?`;
  }
  return `the server's handshake response was not acceptable: ${error.message}`;
}

/**
 * One line explaining why a connection to `url` could not be opened, with a
 * hint on what to do; `handshakeTimeoutMs` is the client's handshake timeout
 * (how long it waited when it gave up).
 */
export function explainConnectFailure(error: unknown, url: URL, handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT): string {
  if (error instanceof HandshakeError) return explainHandshake(error, url, handshakeTimeoutMs);
  const code = errorCode(error);
  const where = hostPort(url);
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused — is a server listening on ${where}?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host "${url.hostname}" — check the host name in the URL`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach ${where} (${code}) — check the address, the network or a firewall`;
    case 'ECONNRESET':
    case 'SB_ERR_CONNECTION_LOST':
      return `${where} closed the connection during the handshake${url.protocol === 'ws:' ? ' — does it expect wss://?' : ''}`;
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files — raise the limit (ulimit -n) or open fewer connections';
    case 'EADDRNOTAVAIL':
      return `no local port left to reach ${where} — open fewer connections, or wait for closed ones to time out`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS handshake with ${where} failed (${errorMessage(error)}) — does the server speak plain ws:// instead of wss://?`;
  }
  if (code !== undefined && TLS_TRUST_CODES.has(code)) {
    return `TLS: ${errorMessage(error)} — the server's certificate is not trusted; pass --insecure to skip the check (for testing only)`;
  }
  return `cannot connect to ${where}: ${errorMessage(error)}`;
}
