// The sans-I/O HTTP/1.1 head parser: any chunking, limits (414/431) and syntax errors (400).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandshakeError } from '../../src/protocol/errors.js';
import { HttpRequestParser, HttpResponseParser } from '../../src/protocol/http.js';

const REQUEST = 'GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nX-Twice: a\r\nx-twice: b\r\n\r\n';

describe('HttpRequestParser', () => {
  it('parses a request fed one byte at a time, keeping what follows', () => {
    const parser = new HttpRequestParser();
    const bytes = Buffer.from(REQUEST + 'tail');
    let parsed = null;
    let i = 0;
    for (; i < bytes.length && !parsed; i++) parsed = parser.feed(bytes.subarray(i, i + 1));
    assert.ok(parsed);
    assert.equal(parsed.head.method, 'GET');
    assert.equal(parsed.head.target, '/chat?x=1');
    assert.equal(parsed.head.httpVersion, '1.1');
    assert.equal(parsed.head.headers.host, 'example.com');
    assert.deepEqual(parsed.head.headers['x-twice'], ['a', 'b']);
    assert.equal(parsed.head.rawHeaders.length, 4);
    assert.equal(Buffer.concat([parsed.rest, bytes.subarray(i)]).toString(), 'tail');
  });

  const failures: Array<[string, string, number]> = [
    ['a request line over 8 KiB', `GET /${'a'.repeat(9000)} HTTP/1.1\r\n\r\n`, 414],
    ['an unfinished request line over 8 KiB', `GET /${'a'.repeat(9000)}`, 414],
    ['a head over 16 KiB', `GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`, 431],
    ['more than 100 headers', `GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(101)}\r\n`, 431],
    ['a header without colon', 'GET / HTTP/1.1\r\nBroken\r\n\r\n', 400],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
    ['a malformed request line', 'GET/HTTP/1.1\r\n\r\n', 400],
    ['a control character in a header value', 'GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n', 400],
    ['DEL in a header value', 'GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n', 400],
    ['a control character in the request target', 'GET /a\x01b HTTP/1.1\r\n\r\n', 400],
  ];
  for (const [name, input, status] of failures) {
    it(`answers ${status} for ${name}`, () => {
      assert.throws(() => new HttpRequestParser().feed(Buffer.from(input)), (error: HandshakeError) => error.status === status);
    });
  }
});

describe('HttpResponseParser', () => {
  it('parses a status line with and without a reason', () => {
    assert.equal(new HttpResponseParser().feed(Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n'))?.head.status, 101);
    assert.equal(new HttpResponseParser().feed(Buffer.from('HTTP/1.1 204\r\n\r\n'))?.head.reason, '');
  });
});
