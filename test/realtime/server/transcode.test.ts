// The byte-to-byte transcoders give a client of the other codec exactly what
// decoding and encoding again would: property tests against that reference
// on arbitrary JSON values (and binary for MessagePack → JSON), the RFC-style
// edge cases of numbers and strings, and the hostile payload in one pass.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { jsonToMsgpack, msgpackToJson, transcode } from '../../../src/realtime/server/transcode.js';

/** What decoding and encoding again gives, as a value a JSON client would parse. */
function viaJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** True when a "__proto__" key appears anywhere: MessagePack decoders refuse it, so the reference cannot be computed. */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some(hasProtoKey);
}

const jsonValues = fc.jsonValue({ maxDepth: 6 }).filter((value) => !hasProtoKey(value));

describe('transcode', () => {
  it('MessagePack → JSON parses to what JSON.stringify(decode(bytes)) parses to', () => {
    fc.assert(
      fc.property(jsonValues, (value) => {
        const bytes = encode(value);
        assert.deepEqual(JSON.parse(msgpackToJson(bytes)), viaJson(decode(bytes)));
      }),
      { numRuns: 500 },
    );
  });

  it('MessagePack → JSON writes binary, floats and wide integers as JSON.stringify does', () => {
    fc.assert(
      fc.property(
        fc.record({
          bytes: fc.uint8Array({ maxLength: 40 }),
          double: fc.double(),
          wide: fc.maxSafeInteger(),
          small: fc.integer(),
          text: fc.string({ unit: 'grapheme', maxLength: 60 }),
        }),
        (value) => {
          const bytes = encode(value);
          assert.equal(msgpackToJson(bytes), JSON.stringify(decode(bytes)));
        },
      ),
      { numRuns: 300 },
    );
    assert.equal(msgpackToJson(encode({ f32: 1.5 }, { forceFloat32: true })), '{"f32":1.5}');
    assert.equal(msgpackToJson(Uint8Array.of(0x81, 0x01, 0xa1, 0x78)), '{"1":"x"}', 'a number key becomes its string');
  });

  it('JSON → MessagePack decodes to what encode(JSON.parse(text)) decodes to', () => {
    fc.assert(
      fc.property(jsonValues, (value) => {
        const text = JSON.stringify(value);
        assert.deepEqual(decode(jsonToMsgpack(text)), decode(encode(JSON.parse(text))));
      }),
      { numRuns: 500 },
    );
  });

  it('JSON → MessagePack: numbers, escapes, whitespace, duplicate keys and __proto__ as JSON.parse sees them', () => {
    const cases = [
      '0', '-0', '1', '-1', '127', '128', '255', '256', '65535', '65536', '4294967295', '4294967296', '9007199254740991',
      '9007199254740993', '-31', '-32', '-33', '-128', '-129', '-32768', '-32769', '-2147483648', '-2147483649', '-9007199254740991',
      '1.5', '-2.5e-7', '1e400', '-1e400', '1E2', '0.1', '123456789012345678901234567890',
      '"plain"', '"tab\\tquote\\"slash\\\\ unicode \\u00e9 \\ud83d\\ude00"', '"é ☕ 𝄞"',
      ' { "a" : [ 1 , true , false , null ] , "b" : { } } ', '{"k":1,"k":2}', '[]', '{}',
    ];
    for (const text of cases) assert.deepEqual(decode(jsonToMsgpack(text)), decode(encode(JSON.parse(text))), text);
    // JSON.parse keeps a "__proto__" key as data, and so do both encodings (which MessagePack decoders then refuse alike).
    const proto = '{"__proto__":{"x":1}}';
    assert.throws(() => decode(encode(JSON.parse(proto))), /__proto__/);
    assert.throws(() => decode(jsonToMsgpack(proto)), /__proto__/);
  });

  it('text that is not JSON is refused as JSON.parse refuses it', () => {
    for (const text of ['', '{', '[1,]', '01', '"\u0001"', 'nul', '{"a" 1}', '1 2']) assert.throws(() => jsonToMsgpack(text), SyntaxError, text);
  });

  it('what the walkers leave alone (extension types) still transcodes, the slow way', () => {
    const date = new Date(Date.UTC(2026, 11, 5, 1, 2, 3));
    const bytes = encode({ at: date });
    assert.equal(msgpackToJson(bytes), JSON.stringify({ at: date }));
  });

  it('the hostile payload (32,000 empty maps in 32 KB) in one pass, both ways', () => {
    const maps = Array.from({ length: 32_000 }, () => ({}));
    const packed = encode(maps);
    assert.equal(packed.length, 32_003);
    const json = msgpackToJson(packed);
    assert.equal(json, JSON.stringify(maps));
    assert.deepEqual(decode(jsonToMsgpack(json)), maps);
    assert.equal(transcode(json, { binary: false }), json, 'the same encoding is left as it is');
    assert.equal(transcode(packed, { binary: true }), packed);
  });
});
