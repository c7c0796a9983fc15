// RFC 6455 §5.2 / §5.7: frame encoding, byte for byte, starting with the RFC's own examples.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyMask, encodeFrame, encodeFrameToBuffer, headerSize, Opcode, RSV1 } from '../../src/protocol/frame.js';
import { hex, Recorder } from './recorder.js';

const HELLO = Buffer.from('Hello');
const RFC_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

describe('§5.7 examples: encoding', () => {
  const cases: Array<{ name: string; bytes: () => Buffer; expected: string }> = [
    { name: 'single-frame unmasked text', bytes: () => encodeFrameToBuffer(Opcode.TEXT, HELLO), expected: '810548656c6c6f' },
    { name: 'single-frame masked text', bytes: () => encodeFrameToBuffer(Opcode.TEXT, HELLO, { maskKey: RFC_KEY }), expected: '818537fa213d7f9f4d5158' },
    { name: 'fragmented unmasked text, first', bytes: () => encodeFrameToBuffer(Opcode.TEXT, Buffer.from('Hel'), { fin: false }), expected: '010348656c' },
    { name: 'fragmented unmasked text, last', bytes: () => encodeFrameToBuffer(Opcode.CONTINUATION, Buffer.from('lo')), expected: '80026c6f' },
    { name: 'unmasked ping', bytes: () => encodeFrameToBuffer(Opcode.PING, HELLO), expected: '890548656c6c6f' },
    { name: 'masked pong', bytes: () => encodeFrameToBuffer(Opcode.PONG, HELLO, { maskKey: RFC_KEY }), expected: '8a8537fa213d7f9f4d5158' },
  ];
  for (const { name, bytes, expected } of cases) {
    it(name, () => assert.equal(hex(bytes()), expected));
  }

  it('256 bytes binary in a single unmasked frame: 16-bit length', () => {
    const frame = encodeFrameToBuffer(Opcode.BINARY, Buffer.alloc(256, 7));
    assert.equal(hex(frame.subarray(0, 4)), '827e0100');
    assert.equal(frame.length, 4 + 256);
  });

  it('64 KiB binary in a single unmasked frame: 64-bit length', () => {
    const frame = encodeFrameToBuffer(Opcode.BINARY, Buffer.alloc(65536, 7));
    assert.equal(hex(frame.subarray(0, 10)), '827f0000000000010000');
    assert.equal(frame.length, 10 + 65536);
  });
});

describe('§5.2 length encodings at their boundaries', () => {
  const table: Array<[length: number, header: string]> = [
    [0, '8200'],
    [125, '827d'],
    [126, '827e007e'],
    [65535, '827effff'],
    [65536, '827f0000000000010000'],
    [0x1000000, '827f0000000001000000'],
  ];
  for (const [length, header] of table) {
    it(`length ${length}`, () => {
      const out = encodeFrame(Opcode.BINARY, Buffer.alloc(length));
      const head = Array.isArray(out) ? out[0] : out.subarray(0, header.length / 2);
      assert.equal(hex(head), header);
      assert.equal(headerSize(length, false), header.length / 2);
      assert.equal(headerSize(length, true), header.length / 2 + 4);
    });
  }

  it('large unmasked payloads are not copied', () => {
    const payload = Buffer.alloc(100_000, 1);
    const out = encodeFrame(Opcode.BINARY, payload);
    assert.ok(Array.isArray(out));
    assert.equal(out[1], payload);
  });

  it('RSV bits and FIN go in the first byte', () => {
    assert.equal(hex(encodeFrameToBuffer(Opcode.TEXT, Buffer.alloc(0), { rsv: RSV1 })), 'c100');
    assert.equal(hex(encodeFrameToBuffer(Opcode.BINARY, Buffer.alloc(0), { fin: false })), '0200');
  });

  it('masking never modifies the caller payload', () => {
    const payload = Buffer.from('Hello');
    encodeFrameToBuffer(Opcode.TEXT, payload, { maskKey: RFC_KEY });
    assert.equal(payload.toString(), 'Hello');
  });
});

describe('§5.3 masking', () => {
  it('unmasks in pieces with the key offset carried over', () => {
    const masked = Buffer.from('7f9f4d5158', 'hex');
    const out = Buffer.alloc(5);
    applyMask(masked, 0, 2, out, 0, RFC_KEY, 0);
    applyMask(masked, 2, 5, out, 2, RFC_KEY, 2);
    assert.equal(out.toString(), 'Hello');
  });

  it('word-at-a-time masking equals byte-wise XOR for any alignment, length, key offset, in place or not (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat({ max: 7 }),
        fc.nat({ max: 7 }),
        fc.nat({ max: 3 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.boolean(),
        (data, sourcePad, targetPad, keyOffset, key, inPlace) => {
          const expected = data.map((byte, i) => byte ^ key[(keyOffset + i) & 3]!);
          const source = new Uint8Array(sourcePad + data.length);
          source.set(data, sourcePad);
          if (inPlace) {
            applyMask(source, sourcePad, sourcePad + data.length, source, sourcePad, key, keyOffset);
            assert.deepEqual(source.subarray(sourcePad), expected);
          } else {
            const target = new Uint8Array(targetPad + data.length);
            applyMask(source, sourcePad, sourcePad + data.length, target, targetPad, key, keyOffset);
            assert.deepEqual(target.subarray(targetPad), expected);
            assert.deepEqual(source.subarray(sourcePad), data, 'the source is left alone');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('in place, every length 0..40 round-trips', () => {
    for (let n = 0; n <= 40; n++) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) & 0xff));
      const copy = Buffer.from(data);
      applyMask(copy, 0, n, copy, 0, RFC_KEY, 0);
      applyMask(copy, 0, n, copy, 0, RFC_KEY, 0);
      assert.deepEqual(copy, data);
    }
  });
});

describe('§5.7 examples: decoding, both roles', () => {
  it('a client reads the unmasked single-frame text', () => {
    assert.deepEqual(new Recorder('client').receive('810548656c6c6f').events, [{ type: 'text', data: 'Hello' }]);
  });
  it('a server reads the masked single-frame text', () => {
    assert.deepEqual(new Recorder('server').receive('818537fa213d7f9f4d5158').events, [{ type: 'text', data: 'Hello' }]);
  });
  it('a client reads the fragmented text', () => {
    assert.deepEqual(new Recorder('client').receive('010348656c').receive('80026c6f').events, [{ type: 'text', data: 'Hello' }]);
  });
  it('a client answers the unmasked ping with a masked pong carrying the same payload', () => {
    const rec = new Recorder('client').receive('890548656c6c6f');
    assert.deepEqual(rec.events, [{ type: 'ping', data: hex(HELLO) }]);
    assert.equal(rec.output(), '8a8537fa213d7f9f4d5158');
  });
  it('a server reads the masked pong', () => {
    assert.deepEqual(new Recorder('server').receive('8a8537fa213d7f9f4d5158').events, [{ type: 'pong', data: hex(HELLO) }]);
  });
  it('a client reads 256 bytes and 64 KiB binary messages', () => {
    const rec = new Recorder('client');
    rec.receive(Buffer.concat([Buffer.from('827e0100', 'hex'), Buffer.alloc(256, 0xab)]));
    rec.receive(Buffer.concat([Buffer.from('827f0000000000010000', 'hex'), Buffer.alloc(65536, 0xcd)]));
    assert.equal(rec.events.length, 2);
    assert.equal(rec.events[0]!.type, 'binary');
    assert.equal((rec.events[0] as { data: string }).data, 'ab'.repeat(256));
    assert.equal((rec.events[1] as { data: string }).data, 'cd'.repeat(65536));
  });
});
