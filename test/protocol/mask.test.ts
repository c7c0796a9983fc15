// Masking (RFC 6455 §5.3): the word loop and the SIMD routine agree with a plain byte-wise XOR.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyMask, simdMasking } from '../../src/protocol/mask.js';

function reference(data: Uint8Array, key: Uint8Array, keyOffset: number): Uint8Array {
  return data.map((byte, i) => byte ^ key[(keyOffset + i) & 3]!);
}

describe('applyMask', () => {
  it('uses WebAssembly SIMD for long runs on this runtime', () => assert.equal(simdMasking, true));

  it('runs of 1 KiB and more (SIMD path, across its 1 MiB window) equal byte-wise XOR for any alignment and key offset', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1024, max: 70_000 }), fc.integer({ min: 64 * 1024, max: 2_600_000 })),
        fc.nat({ max: 15 }),
        fc.nat({ max: 3 }),
        fc.boolean(),
        (length, pad, keyOffset, inPlace) => {
          const data = randomBytes(length);
          const key = randomBytes(4);
          const source = Buffer.alloc(pad + length);
          data.copy(source, pad);
          const expected = reference(data, key, keyOffset);
          if (inPlace) {
            applyMask(source, pad, pad + length, source, pad, key, keyOffset);
            assert.ok(Buffer.from(source.subarray(pad)).equals(Buffer.from(expected)));
          } else {
            const target = Buffer.alloc(length + 3);
            applyMask(source, pad, pad + length, target, 3, key, keyOffset);
            assert.ok(target.subarray(3).equals(Buffer.from(expected)));
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a payload unmasked in pieces of any size equals one pass', () => {
    const data = randomBytes(300_000);
    const key = randomBytes(4);
    const whole = Buffer.from(data);
    applyMask(whole, 0, whole.length, whole, 0, key, 0);
    const pieces = Buffer.from(data);
    for (const [from, to] of [[0, 7], [7, 70_000], [70_000, 70_001], [70_001, 299_990], [299_990, 300_000]] as const) {
      applyMask(pieces, from, to, pieces, from, key, from);
    }
    assert.ok(pieces.equals(whole));
  });

  it('in-place runs in shared, new and detached memory one after another equal byte-wise XOR (word loop below 1 KiB, SIMD above)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ memory: fc.nat({ max: 3 }), start: fc.nat({ max: 2000 }), length: fc.integer({ min: 32, max: 2000 }), keyOffset: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 20 }),
        (runs) => {
          let memories = [new ArrayBuffer(4096), new ArrayBuffer(4096), new ArrayBuffer(4096), new ArrayBuffer(4096)];
          const key = randomBytes(4);
          for (const [n, run] of runs.entries()) {
            if (n % 5 === 4) {
              // Detach one (its views become empty) and give its slot new memory.
              const slot = run.memory;
              structuredClone(memories[slot]!, { transfer: [memories[slot]!] });
              memories = memories.map((m, i) => (i === slot ? new ArrayBuffer(4096) : m));
            }
            const bytes = new Uint8Array(memories[run.memory]!, run.start, run.length);
            bytes.set(randomBytes(run.length));
            const expected = reference(bytes, key, run.keyOffset);
            applyMask(bytes, 0, run.length, bytes, 0, key, run.keyOffset);
            assert.deepEqual(bytes, expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
