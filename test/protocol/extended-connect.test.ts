// RFC 8441 extended CONNECT validation, without I/O: each malformed request
// gets its status; a good one is answered with the negotiated fields.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HandshakeError } from '../../src/protocol/errors.js';
import { acceptExtendedConnect, http2Fields, isExtendedConnect } from '../../src/protocol/extended-connect.js';
import { ClientHandshake } from '../../src/protocol/handshake.js';
import type { HeaderMap } from '../../src/protocol/headers.js';
import { PerMessageDeflateClient, PerMessageDeflateServer } from '../../src/protocol/permessage-deflate.js';

const GOOD: HeaderMap = {
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':path': '/chat?room=1',
  ':authority': 'example.com:8443',
  'sec-websocket-version': '13',
};

function accept(headers: HeaderMap, options = {}) {
  return acceptExtendedConnect({ method: 'CONNECT', httpVersion: '2.0', headers }, options);
}

function without(name: string): HeaderMap {
  const copy = { ...GOOD };
  delete copy[name];
  return copy;
}

describe('acceptExtendedConnect', () => {
  const cases: Array<[string, HeaderMap, number, string]> = [
    ['GET instead of CONNECT', { ...GOOD, ':method': 'GET' }, 405, 'SB_ERR_HTTP_METHOD'],
    ['missing :protocol', without(':protocol'), 400, 'SB_ERR_NOT_UPGRADE'],
    ['other :protocol', { ...GOOD, ':protocol': 'connect-udp' }, 400, 'SB_ERR_NOT_UPGRADE'],
    ['missing :scheme', without(':scheme'), 400, 'SB_ERR_HTTP_SYNTAX'],
    ['bad :scheme', { ...GOOD, ':scheme': 'ftp' }, 400, 'SB_ERR_HTTP_SYNTAX'],
    ['missing :path', without(':path'), 400, 'SB_ERR_HTTP_SYNTAX'],
    ['missing :authority', without(':authority'), 400, 'SB_ERR_MISSING_HOST'],
    ['malformed :authority', { ...GOOD, ':authority': 'exa mple.com' }, 400, 'SB_ERR_INVALID_HOST'],
    ['missing version', without('sec-websocket-version'), 426, 'SB_ERR_UNSUPPORTED_VERSION'],
    ['version 8', { ...GOOD, 'sec-websocket-version': '8' }, 426, 'SB_ERR_UNSUPPORTED_VERSION'],
    ['malformed subprotocol list', { ...GOOD, 'sec-websocket-protocol': 'a, a' }, 400, 'SB_ERR_INVALID_SUBPROTOCOL'],
    ['malformed extensions', { ...GOOD, 'sec-websocket-extensions': 'permessage-deflate; =' }, 400, 'SB_ERR_INVALID_EXTENSION'],
  ];
  for (const [name, headers, status, code] of cases) {
    test(`${name} → ${status}`, () => {
      assert.throws(
        () => accept(headers, { subprotocols: ['a'], extensions: [new PerMessageDeflateServer()] }),
        (error: unknown) => error instanceof HandshakeError && error.status === status && error.code === code,
      );
    });
  }

  test('426 names the version; no field HTTP/2 forbids is ever answered', () => {
    try {
      accept(without('sec-websocket-version'));
      assert.fail('accepted');
    } catch (error) {
      assert.deepEqual((error as HandshakeError).headers, [['sec-websocket-version', '13']]);
    }
    assert.deepEqual(http2Fields([['Connection', 'close'], ['Upgrade', 'websocket'], ['X-A', '1'], ['Keep-Alive', 'x'], ['Transfer-Encoding', 'chunked']]), [['X-A', '1']]);
  });

  test('a good request: no Sec-WebSocket-Accept, the subprotocol and permessage-deflate negotiated', () => {
    const accepted = accept(
      { ...GOOD, 'sec-websocket-protocol': 'x, a', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits', 'sec-websocket-key': 'ignored' },
      { subprotocols: ['a'], extensions: [new PerMessageDeflateServer()] },
    );
    assert.equal(accepted.protocol, 'a');
    assert.equal(accepted.key, '');
    assert.equal(accepted.extensions.length, 1);
    const names = accepted.headers.map(([name]) => name);
    assert.deepEqual(names, ['sec-websocket-protocol', 'sec-websocket-extensions']);
    assert.match(accepted.extensionsHeader, /^permessage-deflate/);
    for (const extension of accepted.extensions) extension.dispose?.();
  });

  test('isExtendedConnect tells RFC 8441 requests from plain CONNECTs and GETs', () => {
    assert.equal(isExtendedConnect(GOOD), true);
    assert.equal(isExtendedConnect(without(':protocol')), false);
    assert.equal(isExtendedConnect({ ...GOOD, ':method': 'GET' }), false);
  });
});

describe('ClientHandshake over HTTP/2', () => {
  test('request headers: pseudo-headers, version, offers, no key and no connection-specific field', () => {
    const handshake = new ClientHandshake({
      host: 'example.com',
      path: '/chat',
      protocols: ['a', 'b'],
      extensions: [new PerMessageDeflateClient()],
      origin: 'https://example.com',
      headers: [['Authorization', 'Bearer t'], ['Connection', 'keep-alive']],
    });
    const headers = Object.fromEntries(handshake.extendedConnectHeaders('https'));
    assert.deepEqual(
      { ...headers, 'sec-websocket-extensions': undefined },
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'https',
        ':path': '/chat',
        ':authority': 'example.com',
        'sec-websocket-version': '13',
        origin: 'https://example.com',
        'sec-websocket-protocol': 'a, b',
        'sec-websocket-extensions': undefined,
        authorization: 'Bearer t',
      },
    );
    assert.match(headers['sec-websocket-extensions']!, /^permessage-deflate/);
  });

  test('response: a 2xx with offered fields is accepted; other statuses and unoffered answers are not', () => {
    const handshake = new ClientHandshake({ host: 'h', path: '/', protocols: ['a'], extensions: [new PerMessageDeflateClient()] });
    const result = handshake.receiveExtendedConnectResponse(200, { 'sec-websocket-protocol': 'a', 'sec-websocket-extensions': 'permessage-deflate' });
    assert.equal(result.protocol, 'a');
    assert.equal(result.extensions.length, 1);
    for (const extension of result.extensions) extension.dispose?.();
    const fails = (status: number, headers: HeaderMap, code: string): void => {
      assert.throws(() => handshake.receiveExtendedConnectResponse(status, headers), (error: unknown) => error instanceof HandshakeError && error.code === code && error.status === status);
    };
    fails(403, {}, 'SB_ERR_UNEXPECTED_STATUS');
    fails(101, {}, 'SB_ERR_UNEXPECTED_STATUS');
    fails(200, { 'sec-websocket-protocol': 'z' }, 'SB_ERR_UNEXPECTED_SUBPROTOCOL');
    fails(200, { 'sec-websocket-extensions': 'x-other' }, 'SB_ERR_UNEXPECTED_EXTENSION');
  });
});
