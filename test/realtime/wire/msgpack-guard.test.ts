// The MessagePack size check before decoding: every encoding of a value
// passes; headers declaring more items than the bytes left are refused before
// the decoder allocates them (a 6-byte header once cost ~200 MB and 400 ms).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { DecodeError, msgpackCodec } from '../../../src/realtime/wire/codec.js';
import { msgpackSizeProblem } from '../../../src/realtime/wire/msgpack-guard.js';

describe('msgpackSizeProblem', () => {
  test('every encoded value passes, whatever it holds', () => {
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).map((n) => Number(n)),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.date({ noInvalidDate: true }),
        fc.array(tie('any'), { maxLength: 20 }),
        fc.dictionary(fc.string({ maxLength: 10 }), tie('any'), { maxKeys: 10 }),
      ),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encode(v);
        assert.equal(msgpackSizeProblem(bytes), null);
      }),
      { numRuns: 2000 },
    );
    // Long strings, binaries and containers use the 16- and 32-bit headers.
    for (const v of ['x'.repeat(70_000), new Uint8Array(70_000), Array.from({ length: 70_000 }, (_, i) => i & 0x7f), Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))]) {
      assert.equal(msgpackSizeProblem(encode(v)), null);
    }
  });

  test('declared sizes that cannot fit are refused before decoding', () => {
    const attacks: Array<[string, Buffer]> = [
      ['array32 of 23 million in 6 bytes', Buffer.from([0xdd, 0x01, 0x62, 0xa6, 0x6d, 0xc0])],
      ['map32 of 2^32-1', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])],
      ['array16 of 65535 with 3 items', Buffer.from([0xdc, 0xff, 0xff, 1, 2, 3])],
      ['fixarray of 15 with 14 items', Buffer.from([0x9f, ...Array.from({ length: 14 }, () => 1)])],
      ['nested array32 headers, each claiming the whole payload', Buffer.concat(Array.from({ length: 10_000 }, () => Buffer.from([0xdd, 0x00, 0x00, 0xc3, 0x50])))],
      ['str32 longer than the payload', Buffer.from([0xdb, 0x00, 0x10, 0x00, 0x00, 0x61])],
      ['a truncated uint64', Buffer.from([0xcf, 1, 2])],
      ['the never-used byte 0xc1', Buffer.from([0xc1])],
      ['nothing', Buffer.alloc(0)],
    ];
    for (const [name, bytes] of attacks) assert.notEqual(msgpackSizeProblem(bytes), null, name);
  });

  test('the codec refuses them fast, without allocating', () => {
    const bomb = Buffer.concat([Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xdd, 0x01, 0xff, 0xff, 0xff]), Buffer.alloc(180, 0xc0)]);
    const before = process.memoryUsage().rss;
    // CPU time, not wall time: the claim is about the work the decoder does, and on a loaded
    // machine the process can wait for a core longer than the whole loop takes (~1-10 ms).
    const started = process.cpuUsage();
    for (let i = 0; i < 100; i++) assert.throws(() => msgpackCodec.decode(bomb), DecodeError);
    const cpu = process.cpuUsage(started);
    const elapsed = (cpu.user + cpu.system) / 1000;
    const grown = (process.memoryUsage().rss - before) / (1 << 20);
    assert.ok(elapsed < 100, `${elapsed.toFixed(1)} ms of CPU for 100 decodes`);
    assert.ok(grown < 16, `RSS grew by ${grown.toFixed(1)} MiB`);
    assert.deepEqual(msgpackCodec.decode(encode({ type: 'pong' })), { type: 'pong' });
  });
});
