// RFC 3629 / RFC 6455 §8.1: the incremental UTF-8 validator agrees with the native whole-buffer check for any split.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isValidUtf8, Utf8Validator } from '../../src/protocol/utf8.js';

const valid: Array<[string, number[]]> = [
  ['empty', []],
  ['ASCII', [0x48, 0x69]],
  ['2-byte U+00E9', [0xc3, 0xa9]],
  ['3-byte U+20AC', [0xe2, 0x82, 0xac]],
  ['4-byte U+1F600', [0xf0, 0x9f, 0x98, 0x80]],
  ['U+D7FF (last before surrogates)', [0xed, 0x9f, 0xbf]],
  ['U+E000 (first after surrogates)', [0xee, 0x80, 0x80]],
  ['U+10FFFF (last code point)', [0xf4, 0x8f, 0xbf, 0xbf]],
  ['U+FFFF noncharacter (valid UTF-8)', [0xef, 0xbf, 0xbf]],
];
const invalid: Array<[string, number[]]> = [
  ['lone continuation byte', [0x80]],
  ['C0 overlong', [0xc0, 0xaf]],
  ['C1 overlong', [0xc1, 0xbf]],
  ['E0 overlong', [0xe0, 0x80, 0xaf]],
  ['F0 overlong', [0xf0, 0x80, 0x80, 0xaf]],
  ['UTF-16 surrogate U+D800', [0xed, 0xa0, 0x80]],
  ['UTF-16 surrogate U+DFFF', [0xed, 0xbf, 0xbf]],
  ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['F5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
  ['FE and FF', [0xfe, 0xff]],
  ['truncated 3-byte sequence', [0xe2, 0x82]],
  ['missing continuation', [0xc3, 0x28]],
  ['Autobahn 6.4.1 (0x110000 encoded)', [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90, 0x80, 0x80]],
];

function validateInPieces(bytes: Uint8Array, cuts: number[]): boolean {
  const validator = new Utf8Validator();
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (!validator.write(bytes, start, cut)) return false;
    start = cut;
  }
  return validator.complete;
}

describe('Utf8Validator', () => {
  for (const [name, bytes] of valid) {
    it(`accepts ${name}`, () => {
      assert.equal(validateInPieces(Buffer.from(bytes), []), true);
      assert.equal(isValidUtf8(Buffer.from(bytes)), true);
    });
  }
  for (const [name, bytes] of invalid) {
    it(`rejects ${name}`, () => {
      assert.equal(validateInPieces(Buffer.from(bytes), []), false);
      assert.equal(isValidUtf8(Buffer.from(bytes)), false);
    });
  }

  it('agrees with the native check for any bytes cut anywhere (property)', () => {
    const interesting = fc.constantFrom(0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), interesting), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (bytes, rawCuts) => {
          const data = Buffer.from(bytes);
          const cuts = [...new Set(rawCuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
          return validateInPieces(data, cuts) === isValidUtf8(data);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('accepts any JavaScript string encoded as UTF-8, however cut (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.nat(), (text, cut) => {
        const data = Buffer.from(text);
        return validateInPieces(data, [cut % (data.length + 1)]);
      }),
      { numRuns: 2000 },
    );
  });
});
