// RFC 6455 §5.5.1 and §7.4: close codes and close payloads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeClosePayload, encodeClosePayload, isValidWireCloseCode } from '../../src/protocol/close.js';
import { LocalProtocolError, RemoteProtocolError } from '../../src/protocol/errors.js';

describe('§7.4 close codes on the wire', () => {
  const allowed = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  const forbidden = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  for (const code of allowed) it(`${code} is allowed`, () => assert.equal(isValidWireCloseCode(code), true));
  for (const code of forbidden) it(`${code} is a protocol error`, () => assert.equal(isValidWireCloseCode(code), false));
});

describe('close payloads', () => {
  it('decodes code and reason', () => {
    assert.deepEqual(decodeClosePayload(Buffer.from([0x03, 0xe8, 0x6f, 0x6b])), { code: 1000, reason: 'ok' });
    assert.deepEqual(decodeClosePayload(Buffer.alloc(0)), { code: 1005, reason: '' });
  });
  it('rejects a 1-byte payload, a forbidden code and a non-UTF-8 reason', () => {
    const codes = [Buffer.from([0x03]), Buffer.from([0x03, 0xee]), Buffer.from([0x03, 0xe8, 0xc0, 0x80])].map((payload) => {
      try {
        decodeClosePayload(payload);
        return 'accepted';
      } catch (error) {
        assert.ok(error instanceof RemoteProtocolError);
        return `${error.code}/${error.closeCode}`;
      }
    });
    assert.deepEqual(codes, ['SB_ERR_INVALID_CLOSE_PAYLOAD/1002', 'SB_ERR_INVALID_CLOSE_CODE/1002', 'SB_ERR_INVALID_UTF8/1007']);
  });
  it('encodes, with a 123-byte reason at most (counted in UTF-8 bytes)', () => {
    assert.equal(encodeClosePayload(4001, 'é').toString('hex'), '0fa1c3a9');
    assert.equal(encodeClosePayload().length, 0);
    assert.equal(encodeClosePayload(1000, 'x'.repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, 'é'.repeat(62)), LocalProtocolError);
    assert.throws(() => encodeClosePayload(1006), LocalProtocolError);
    assert.throws(() => encodeClosePayload(undefined, 'reason without code'), LocalProtocolError);
  });
});
