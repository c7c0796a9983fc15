// RFC 6455 §4: the opening handshake, server and client side, without sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandshakeError } from '../../src/protocol/errors.js';
import type { ClientExtension, Extension, ServerExtension } from '../../src/protocol/extension.js';
import type { HeaderMap } from '../../src/protocol/headers.js';
import {
  acceptHandshake,
  ClientHandshake,
  computeAccept,
  formatAcceptResponse,
  formatRejectResponse,
  isValidKey,
} from '../../src/protocol/handshake.js';

const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const goodHeaders = (): HeaderMap => ({
  host: 'server.example.com',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': RFC_KEY,
  'sec-websocket-version': '13',
});

function rejection(headers: HeaderMap, method = 'GET', httpVersion = '1.1'): { code: string; status: number; headers: string } {
  try {
    acceptHandshake({ method, httpVersion, headers });
  } catch (error) {
    assert.ok(error instanceof HandshakeError);
    return { code: error.code, status: error.status, headers: error.headers.map(([n, v]) => `${n}: ${v}`).join('|') };
  }
  assert.fail('the request was accepted');
}

describe('§4.2.2 the RFC example', () => {
  it('computes the accept value of §1.3', () => assert.equal(computeAccept(RFC_KEY), RFC_ACCEPT));
  it('answers the §1.2 request with 101 and the accept value', () => {
    const accepted = acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: goodHeaders() });
    assert.equal(
      formatAcceptResponse(accepted).toString('latin1'),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n\r\n`,
    );
    assert.equal(accepted.protocol, '');
  });
});

describe('§4.2.1 server-side validation', () => {
  const table: Array<{ name: string; change: (h: HeaderMap) => void; method?: string; version?: string; code: string; status: number; headers?: string }> = [
    { name: 'POST', change: () => {}, method: 'POST', code: 'SB_ERR_HTTP_METHOD', status: 405, headers: 'Allow: GET' },
    { name: 'HTTP/1.0', change: () => {}, version: '1.0', code: 'SB_ERR_HTTP_VERSION', status: 400 },
    { name: 'no Upgrade', change: (h) => delete h.upgrade, code: 'SB_ERR_NOT_UPGRADE', status: 426, headers: 'Upgrade: websocket|Connection: Upgrade' },
    { name: 'Upgrade: h2c', change: (h) => (h.upgrade = 'h2c'), code: 'SB_ERR_NOT_UPGRADE', status: 426, headers: 'Upgrade: websocket|Connection: Upgrade' },
    { name: 'no Connection', change: (h) => delete h.connection, code: 'SB_ERR_NOT_UPGRADE', status: 400 },
    { name: 'Connection: keep-alive only', change: (h) => (h.connection = 'keep-alive'), code: 'SB_ERR_NOT_UPGRADE', status: 400 },
    { name: 'no Host', change: (h) => delete h.host, code: 'SB_ERR_MISSING_HOST', status: 400 },
    { name: 'version 8', change: (h) => (h['sec-websocket-version'] = '8'), code: 'SB_ERR_UNSUPPORTED_VERSION', status: 426, headers: 'Sec-WebSocket-Version: 13' },
    { name: 'no version', change: (h) => delete h['sec-websocket-version'], code: 'SB_ERR_UNSUPPORTED_VERSION', status: 426, headers: 'Sec-WebSocket-Version: 13' },
    { name: 'no key', change: (h) => delete h['sec-websocket-key'], code: 'SB_ERR_INVALID_KEY', status: 400 },
    { name: 'key of 15 bytes', change: (h) => (h['sec-websocket-key'] = Buffer.alloc(15).toString('base64')), code: 'SB_ERR_INVALID_KEY', status: 400 },
    { name: 'key of 17 bytes', change: (h) => (h['sec-websocket-key'] = Buffer.alloc(17).toString('base64')), code: 'SB_ERR_INVALID_KEY', status: 400 },
    { name: 'key not base64', change: (h) => (h['sec-websocket-key'] = '!!!!!!!!!!!!!!!!!!!!!!=='), code: 'SB_ERR_INVALID_KEY', status: 400 },
    { name: 'two keys', change: (h) => (h['sec-websocket-key'] = [RFC_KEY, RFC_KEY]), code: 'SB_ERR_INVALID_KEY', status: 400 },
  ];
  for (const { name, change, method, version, code, status, headers } of table) {
    it(`${name} → ${status}`, () => {
      const h = goodHeaders();
      change(h);
      const result = rejection(h, method, version);
      assert.equal(result.code, code);
      assert.equal(result.status, status);
      if (headers !== undefined) assert.equal(result.headers, headers);
    });
  }

  it('Upgrade and Connection are case-insensitive token lists', () => {
    const h = goodHeaders();
    h.upgrade = 'foo/1, WebSocket';
    h.connection = 'keep-alive, UPGRADE';
    assert.doesNotThrow(() => acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: h }));
  });

  it('a rejection is a complete HTTP response that closes the connection', () => {
    const text = formatRejectResponse(426, [['Sec-WebSocket-Version', '13']], 'use version 13').toString();
    assert.match(text, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.match(text, /\r\nConnection: close\r\n/);
    assert.match(text, /\r\nContent-Length: 14\r\n/);
    assert.match(text, /\r\nSec-WebSocket-Version: 13\r\n\r\nuse version 13$/);
  });
});

describe('§4.2.2 subprotocols', () => {
  const offer = (value: string, subprotocols: Parameters<typeof acceptHandshake>[1] extends infer O ? O extends { subprotocols?: infer S } ? S : never : never) =>
    acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: { ...goodHeaders(), 'sec-websocket-protocol': value } }, { subprotocols });

  it('a list picks the server preference among those offered', () => {
    assert.equal(offer('chat, superchat', ['superchat', 'chat']).protocol, 'superchat');
    assert.equal(offer('mqtt', ['chat']).protocol, '');
  });
  it('a selector receives the offers in the client order', () => {
    let seen: string[] = [];
    const accepted = offer('a, b, c', (offered) => {
      seen = offered;
      return 'b';
    });
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.equal(accepted.protocol, 'b');
    assert.ok(accepted.headers.some(([n, v]) => n === 'Sec-WebSocket-Protocol' && v === 'b'));
  });
  it('a selector returning a protocol not offered is a server error (500)', () => {
    assert.throws(() => offer('a', () => 'z'), (error: HandshakeError) => error.status === 500);
  });
  it('an offer that is not a token list is a bad request', () => {
    assert.throws(() => offer('a b', ['a']), (error: HandshakeError) => error.status === 400);
  });
});

describe('§9 extension negotiation framework', () => {
  const fake = (name: string, rsvBits: number): Extension => ({
    name,
    rsvBits,
    sharedEncodingKey: null,
    decode: (data) => data,
    encode: (data) => ({ data, rsv: 0 }),
  });
  const server = (name: string, rsvBits: number, acceptParam?: string): ServerExtension & { seen: unknown[] } => {
    const seen: unknown[] = [];
    return {
      name,
      seen,
      negotiate(offers) {
        seen.push(...offers);
        const chosen = offers.find((params) => acceptParam === undefined || params.some(([n]) => n === acceptParam));
        return chosen ? { params: chosen, extension: fake(name, rsvBits) } : null;
      },
    };
  };
  const request = (value: string): HeaderMap => ({ ...goodHeaders(), 'sec-websocket-extensions': value });

  it('passes all offers of a name, in order, and answers the accepted parameters', () => {
    const ext = server('x-test', 0x40, 'b');
    const accepted = acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: request('x-test; a, x-test; b=1, other') }, { extensions: [ext] });
    assert.deepEqual(ext.seen, [[['a', true]], [['b', '1']]]);
    assert.equal(accepted.extensionsHeader, 'x-test; b=1');
    assert.equal(accepted.extensions.length, 1);
  });
  it('a malformed header is a bad request when the server negotiates extensions', () => {
    assert.throws(
      () => acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: request('x-test; =') }, { extensions: [server('x-test', 0x40)] }),
      (error: HandshakeError) => error.code === 'SB_ERR_INVALID_EXTENSION' && error.status === 400,
    );
  });
  it('the header is ignored when the server negotiates none', () => {
    assert.equal(acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: request('x-test; =') }).extensionsHeader, '');
  });
  it('declined offers produce no header', () => {
    const accepted = acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: request('x-test; a') }, { extensions: [server('x-test', 0x40, 'zzz')] });
    assert.equal(accepted.extensionsHeader, '');
    assert.ok(!accepted.headers.some(([n]) => n === 'Sec-WebSocket-Extensions'));
  });
  it('two extensions may not claim the same RSV bit', () => {
    const accepted = acceptHandshake(
      { method: 'GET', httpVersion: '1.1', headers: request('x-one, x-two') },
      { extensions: [server('x-one', 0x40), server('x-two', 0x40)] },
    );
    assert.equal(accepted.extensionsHeader, 'x-one');
  });
});

describe('§4.1 client side', () => {
  const respond = (lines: string[]): string => lines.join('\r\n') + '\r\n\r\n';
  const ok = (extra: string[] = []): string =>
    respond(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${RFC_ACCEPT}`, ...extra]);

  it('builds the request of §1.2', () => {
    const hs = new ClientHandshake({ host: 'server.example.com', path: '/chat', key: RFC_KEY, origin: 'http://example.com', protocols: ['chat', 'superchat'] });
    assert.equal(
      hs.request().toString(),
      'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${RFC_KEY}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n` +
        'Sec-WebSocket-Protocol: chat, superchat\r\n\r\n',
    );
  });
  it('a random key is base64 of 16 bytes', () => assert.ok(isValidKey(new ClientHandshake({ host: 'h', path: '/' }).key)));

  it('accepts a valid response arriving byte by byte and keeps the bytes after it', () => {
    const hs = new ClientHandshake({ host: 'h', path: '/', key: RFC_KEY, protocols: ['chat'] });
    const bytes = Buffer.concat([Buffer.from(ok(['Sec-WebSocket-Protocol: chat'])), Buffer.from([0x81, 0x00])]);
    let result = null;
    for (let i = 0; i < bytes.length && !result; i++) result = hs.receiveData(bytes.subarray(i, i + 1));
    assert.ok(result);
    assert.equal(result.protocol, 'chat');
    assert.equal(result.response.status, 101);
    // The last byte fed completed the head; the frame bytes came after it.
    const all = Buffer.concat([result.rest]);
    assert.equal(all.length, 0);
  });

  it('returns bytes after the head in the same chunk', () => {
    const hs = new ClientHandshake({ host: 'h', path: '/', key: RFC_KEY });
    const result = hs.receiveData(Buffer.concat([Buffer.from(ok()), Buffer.from([0x81, 0x00])]));
    assert.equal(result?.rest.toString('hex'), '8100');
  });

  const failures: Array<{ name: string; response: string; code: string; protocols?: string[]; extensions?: ClientExtension[] }> = [
    { name: 'status 200', response: respond(['HTTP/1.1 200 OK', 'Content-Length: 0']), code: 'SB_ERR_UNEXPECTED_STATUS' },
    { name: 'status 403', response: respond(['HTTP/1.1 403 Forbidden']), code: 'SB_ERR_UNEXPECTED_STATUS' },
    {
      name: 'no Upgrade header',
      response: respond(['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${RFC_ACCEPT}`]),
      code: 'SB_ERR_NOT_UPGRADE',
    },
    {
      name: 'no Connection header',
      response: respond(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', `Sec-WebSocket-Accept: ${RFC_ACCEPT}`]),
      code: 'SB_ERR_NOT_UPGRADE',
    },
    {
      name: 'wrong accept',
      response: respond(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: xxx']),
      code: 'SB_ERR_INVALID_ACCEPT',
    },
    { name: 'subprotocol not offered', response: ok(['Sec-WebSocket-Protocol: chat']), code: 'SB_ERR_UNEXPECTED_SUBPROTOCOL' },
    { name: 'subprotocol other than offered', response: ok(['Sec-WebSocket-Protocol: mqtt']), code: 'SB_ERR_UNEXPECTED_SUBPROTOCOL', protocols: ['chat'] },
    { name: 'extension not offered', response: ok(['Sec-WebSocket-Extensions: permessage-deflate']), code: 'SB_ERR_UNEXPECTED_EXTENSION' },
    {
      name: 'extension rejected by its offer',
      response: ok(['Sec-WebSocket-Extensions: x-test; bad']),
      code: 'SB_ERR_INVALID_EXTENSION',
      extensions: [
        {
          name: 'x-test',
          offer: () => [],
          accept: () => {
            throw new Error('unexpected parameter');
          },
        },
      ],
    },
    { name: 'malformed status line', response: respond(['HTTP/1.1 1O1 Switching']), code: 'SB_ERR_HTTP_SYNTAX' },
  ];
  for (const { name, response, code, protocols, extensions } of failures) {
    it(`fails on ${name}`, () => {
      const hs = new ClientHandshake({ host: 'h', path: '/', key: RFC_KEY, protocols, extensions });
      assert.throws(() => hs.receiveData(Buffer.from(response)), (error: HandshakeError) => error.code === code);
    });
  }
});
