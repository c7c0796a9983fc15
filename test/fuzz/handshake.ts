// Fuzz harness of the opening handshake, both sides. Server: upgrade
// requests (valid ones with varied headers, mutated, or random bytes) fed in
// arbitrary chunks to `HttpRequestParser` with random limits, then to
// `acceptHandshake` with random subprotocols and permessage-deflate. Allowed:
// a 101 whose accept key matches and whose head parses back with exactly the
// headers meant (no injection), or a `HandshakeError` with a documented
// status. Client: 101 responses (valid, mutated, random) through
// `ClientHandshake`: a result or a `HandshakeError`.
import { HandshakeError, type HandshakeErrorCode } from '../../src/protocol/errors.js';
import { acceptHandshake, ClientHandshake, computeAccept, formatAcceptResponse, generateKey } from '../../src/protocol/handshake.js';
import { HttpRequestParser, HttpResponseParser, type HttpHeadLimits } from '../../src/protocol/http.js';
import { PerMessageDeflateClient, PerMessageDeflateServer } from '../../src/protocol/permessage-deflate.js';
import { expect, type Harness } from './harness.js';
import { chunks, mutate, type Random } from './random.js';

/** Statuses and codes the server side documents (docs/errors.md). */
const SERVER_REFUSALS: ReadonlyMap<HandshakeErrorCode, readonly number[]> = new Map<HandshakeErrorCode, readonly number[]>([
  ['SB_ERR_HTTP_METHOD', [405]],
  ['SB_ERR_HTTP_VERSION', [400]],
  ['SB_ERR_HTTP_SYNTAX', [400]],
  ['SB_ERR_HTTP_HEADERS_TOO_LARGE', [431]],
  ['SB_ERR_HTTP_URI_TOO_LONG', [414]],
  ['SB_ERR_MISSING_HOST', [400]],
  ['SB_ERR_INVALID_HOST', [400]],
  ['SB_ERR_NOT_UPGRADE', [400, 426]],
  ['SB_ERR_UNSUPPORTED_VERSION', [426]],
  ['SB_ERR_INVALID_KEY', [400]],
  ['SB_ERR_INVALID_SUBPROTOCOL', [400]],
  ['SB_ERR_INVALID_EXTENSION', [400]],
]);

const CLIENT_FAILURES: ReadonlySet<HandshakeErrorCode> = new Set<HandshakeErrorCode>([
  'SB_ERR_HTTP_SYNTAX',
  'SB_ERR_HTTP_HEADERS_TOO_LARGE',
  'SB_ERR_UNEXPECTED_STATUS',
  'SB_ERR_NOT_UPGRADE',
  'SB_ERR_INVALID_ACCEPT',
  'SB_ERR_UNEXPECTED_SUBPROTOCOL',
  'SB_ERR_UNEXPECTED_EXTENSION',
  'SB_ERR_INVALID_EXTENSION',
]);

const PROTOCOLS = ['chat', 'superchat', 'v2.json', 'switchboard.v1.json', 'x'];
const EXTENSION_OFFERS = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits',
  'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  'permessage-deflate; server_max_window_bits=10, permessage-deflate',
  'permessage-deflate; client_max_window_bits=9; server_max_window_bits="12"',
  'x-webkit-deflate-frame, permessage-deflate; unknown=1',
];

function pickSome<T>(random: Random, items: readonly T[]): T[] {
  return items.filter(() => random.chance(0.4));
}

/** A plausible upgrade request with varied spelling. */
function validRequest(random: Random): Buffer {
  const headers: Array<[string, string]> = [
    [random.pick(['Host', 'host', 'HOST']), random.pick(['example.com', 'example.com:8080', '127.0.0.1:9001', '[::1]:80', 'a.b.c'])],
    [random.pick(['Upgrade', 'upgrade']), random.pick(['websocket', 'WebSocket', 'h2c, websocket'])],
    ['Connection', random.pick(['Upgrade', 'keep-alive, Upgrade', 'upgrade'])],
    ['Sec-WebSocket-Key', generateKey()],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (random.chance(0.5)) headers.push(['Sec-WebSocket-Protocol', pickSome(random, PROTOCOLS).join(random.pick([', ', ',', ' , ']))]);
  if (random.chance(0.5)) headers.push(['Sec-WebSocket-Extensions', random.pick(EXTENSION_OFFERS)]);
  if (random.chance(0.3)) headers.push(['Origin', random.pick(['https://app.example', 'null', 'http://localhost:3000'])]);
  if (random.chance(0.3)) headers.push([random.pick(['Cookie', 'User-Agent', 'X-Forwarded-For', '__proto__', 'constructor']), random.pick(['a=b; c=d', 'Mozilla/5.0', '1.2.3.4'])]);
  for (let i = headers.length - 1; i > 0; i--) {
    if (!random.chance(0.3)) continue;
    const j = random.int(i + 1);
    [headers[i], headers[j]] = [headers[j]!, headers[i]!];
  }
  const target = random.pick(['/', '/chat?room=1', '/ws', 'http://example.com/x', '*']);
  const lines = [`${random.pick(['GET', 'GET', 'GET', 'POST'])} ${target} HTTP/${random.pick(['1.1', '1.1', '1.0', '2.0'])}`];
  for (const [name, value] of headers) lines.push(`${name}:${random.pick([' ', '', '  ', '\t'])}${value}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

function randomLimits(random: Random): HttpHeadLimits {
  if (random.chance(0.7)) return {};
  return { maxHeadSize: random.pick([64, 256, 1024, 16384]), maxHeaders: random.pick([1, 5, 100]), maxRequestLine: random.pick([16, 64, 8192]) };
}

/** The server side of one case. */
function serverCase(random: Random): string {
  const roll = random.int(10);
  const input = roll === 0 ? random.bytes(random.size(2048)) : roll <= 2 ? validRequest(random) : mutate(random, validRequest(random), validRequest(random));
  const parser = new HttpRequestParser(randomLimits(random));
  let parsed = null;
  try {
    for (const chunk of chunks(random, input)) {
      parsed = parser.feed(chunk);
      if (parsed !== null) break;
    }
    if (parsed === null) return 'incomplete';
    const subprotocols = random.chance(0.5) ? pickSome(random, PROTOCOLS) : undefined;
    const extensions = random.chance(0.5) ? [new PerMessageDeflateServer()] : [];
    const accepted = acceptHandshake(parsed.head, { subprotocols, extensions });
    const key = String(parsed.head.headers['sec-websocket-key']).trim();
    expect(accepted.headers.some(([name, value]) => name === 'Sec-WebSocket-Accept' && value === computeAccept(key)), 'accept key does not match', input);
    if (accepted.protocol !== '') expect(subprotocols?.includes(accepted.protocol) === true, `selected ${accepted.protocol}, not offered by the server`, input);
    // The 101 parses back with exactly the headers meant: nothing injected.
    const response = new HttpResponseParser().feed(formatAcceptResponse(accepted));
    expect(response !== null && response.head.status === 101 && response.head.rawHeaders.length === accepted.headers.length && response.rest.length === 0, 'the 101 does not parse back as written', input);
    for (const extension of accepted.extensions) extension.dispose?.();
    return 'accepted';
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    const statuses = SERVER_REFUSALS.get(error.code);
    expect(statuses !== undefined && statuses.includes(error.status), `undocumented refusal ${error.code} ${error.status}`, input);
    return `status:${error.status}`;
  }
}

/** A 101 a server could answer to `handshake`. */
function validResponse(random: Random, key: string, protocols: string[]): Buffer {
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${computeAccept(key)}`];
  if (protocols.length > 0 && random.chance(0.6)) lines.push(`Sec-WebSocket-Protocol: ${random.pick(protocols)}`);
  if (random.chance(0.5)) lines.push(`Sec-WebSocket-Extensions: ${random.pick(['permessage-deflate', 'permessage-deflate; server_no_context_takeover', 'permessage-deflate; client_max_window_bits=10', 'permessage-deflate; server_max_window_bits=9'])}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The client side of one case. */
function clientCase(random: Random): string {
  const protocols = pickSome(random, PROTOCOLS);
  const handshake = new ClientHandshake({ host: 'example.com', path: '/', protocols, extensions: [new PerMessageDeflateClient()], limits: randomLimits(random) });
  const roll = random.int(10);
  const valid = validResponse(random, handshake.key, protocols);
  const input = roll === 0 ? random.bytes(random.size(1024)) : roll <= 2 ? valid : mutate(random, valid);
  try {
    for (const chunk of chunks(random, input)) {
      const result = handshake.receiveData(chunk);
      if (result === null) continue;
      expect(result.protocol === '' || protocols.includes(result.protocol), 'accepted a subprotocol that was not offered', input);
      for (const extension of result.extensions) extension.dispose?.();
      return 'client-open';
    }
    return 'client-incomplete';
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    expect(CLIENT_FAILURES.has(error.code), `undocumented client failure ${error.code}`, input);
    return `client:${error.code}`;
  }
}

export const handshakeHarness: Harness = {
  name: 'handshake',
  run(random) {
    return random.chance(0.7) ? serverCase(random) : clientCase(random);
  },
};
