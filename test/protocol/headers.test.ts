// RFC 6455 §9.1 extension header grammar and RFC 9110 token lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatExtensions, HeaderSyntaxError, listHasToken, parseExtensions, parseList } from '../../src/protocol/headers.js';

describe('Sec-WebSocket-Extensions', () => {
  const table: Array<[string, unknown]> = [
    ['permessage-deflate', [{ name: 'permessage-deflate', params: [] }]],
    [
      'permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10',
      [
        { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
        { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
      ],
    ],
    ['foo ;  bar = "baz" ,qux', [{ name: 'foo', params: [['bar', 'baz']] }, { name: 'qux', params: [] }]],
    ['a; b="\\c"', [{ name: 'a', params: [['b', 'c']] }]],
    [', a ,, b', [{ name: 'a', params: [] }, { name: 'b', params: [] }]],
    ['', []],
  ];
  for (const [input, expected] of table) it(`parses "${input}"`, () => assert.deepEqual(parseExtensions(input), expected));

  for (const bad of ['a;', 'a; =1', 'a; b=', 'a b', 'a; b="c d"', 'a; b="unterminated', '"a"', 'a; b=1 c']) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseExtensions(bad), HeaderSyntaxError));
  }

  it('formats back', () => {
    assert.equal(formatExtensions(parseExtensions('a; b=1; c, d')), 'a; b=1; c, d');
  });
});

describe('token lists', () => {
  it('splits and trims', () => assert.deepEqual(parseList(' a ,b,, c '), ['a', 'b', 'c']));
  it('matches case-insensitively', () => {
    assert.equal(listHasToken('keep-alive, Upgrade', 'upgrade'), true);
    assert.equal(listHasToken('upgrade-insecure', 'upgrade'), false);
    assert.equal(listHasToken(undefined, 'upgrade'), false);
  });
});
