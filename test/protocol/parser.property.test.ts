// Property tests of the frame parser: any chunking of a valid stream gives the same events; random and
// mutated bytes never throw or hang and end, if at all, in a documented close code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Opcode } from '../../src/protocol/frame.js';
import { frame, Recorder, type RecordedEvent } from './recorder.js';

interface Message {
  binary: boolean;
  data: Buffer;
  /** Sizes of the fragments (the last one takes the rest). */
  cuts: number[];
  /** Pings interleaved after fragment i. */
  pings: number[];
}

const messageArb: fc.Arbitrary<Message> = fc
  .record({
    binary: fc.boolean(),
    text: fc.string({ unit: 'grapheme', maxLength: 60 }),
    bytes: fc.uint8Array({ maxLength: 300 }),
    cuts: fc.array(fc.nat({ max: 80 }), { maxLength: 4 }),
    pings: fc.array(fc.nat({ max: 4 }), { maxLength: 2 }),
  })
  .map(({ binary, text, bytes, cuts, pings }) => ({ binary, data: binary ? Buffer.from(bytes) : Buffer.from(text), cuts, pings }));

const keyArb = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });

/** Encodes messages as a client would (masked), fragmented and with pings interleaved; returns the stream and the expected events. */
function encode(messages: Message[], key: number[]): { stream: Buffer; expected: RecordedEvent[] } {
  const frames: Buffer[] = [];
  const expected: RecordedEvent[] = [];
  for (const [index, message] of messages.entries()) {
    const pieces: Buffer[] = [];
    let offset = 0;
    for (const cut of message.cuts) {
      const end = Math.min(message.data.length, offset + cut);
      pieces.push(message.data.subarray(offset, end));
      offset = end;
    }
    pieces.push(message.data.subarray(offset));
    pieces.forEach((piece, i) => {
      const opcode = i === 0 ? (message.binary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
      frames.push(frame(opcode, piece, { fin: i === pieces.length - 1, maskKey: key }));
      if (i < pieces.length - 1 && message.pings.includes(i)) {
        const payload = Buffer.from(`p${index}.${i}`);
        frames.push(frame(Opcode.PING, payload, { maskKey: key }));
        expected.push({ type: 'ping', data: payload.toString('hex') });
      }
    });
    expected.push(message.binary ? { type: 'binary', data: message.data.toString('hex') } : { type: 'text', data: message.data.toString('utf8') });
  }
  return { stream: Buffer.concat(frames), expected };
}

function feedInChunks(rec: Recorder, stream: Buffer, cuts: number[]): void {
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, stream.length]) {
    rec.receive(stream.subarray(start, point));
    start = point;
  }
}

const DOCUMENTED_CLOSE_CODES = new Set([1002, 1007, 1009]);

/** Checks the outcome of arbitrary input: no throw happened (we got here), violations map to documented codes and a close frame. */
function checkOutcome(rec: Recorder): void {
  const violations = rec.events.filter((event) => event.type === 'violation');
  assert.ok(violations.length <= 1, 'at most one violation is reported');
  const violation = violations[0];
  if (violation && violation.type === 'violation') {
    assert.ok(DOCUMENTED_CLOSE_CODES.has(violation.closeCode), `close code ${violation.closeCode}`);
    // The last bytes written are a close frame carrying that code (no reason), masked by a client.
    const code = Buffer.from([violation.closeCode >> 8, violation.closeCode & 0xff]);
    const close = frame(Opcode.CLOSE, code, { maskKey: rec.connection.role === 'client' ? [0x37, 0xfa, 0x21, 0x3d] : null });
    assert.ok(rec.output().endsWith(close.toString('hex')));
    assert.deepEqual(rec.events.at(-1), { type: 'end' });
  }
}

describe('FrameParser properties', () => {
  it('any split of a valid stream into chunks gives the same events', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 6 }), keyArb, fc.array(fc.nat(), { maxLength: 12 }), (messages, key, cuts) => {
        const { stream, expected } = encode(messages, key);
        const rec = new Recorder('server');
        feedInChunks(rec, stream, cuts);
        assert.deepEqual(rec.events, expected);
      }),
      { numRuns: 1500 },
    );
  });

  it('byte-by-byte feeding gives the same events', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 3 }), keyArb, (messages, key) => {
        const { stream, expected } = encode(messages, key);
        const rec = new Recorder('server');
        for (let i = 0; i < stream.length; i++) rec.receive(stream.subarray(i, i + 1));
        assert.deepEqual(rec.events, expected);
      }),
      { numRuns: 200 },
    );
  });

  it('random bytes never throw and end, if at all, in 1002, 1007 or 1009 (both roles)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), (bytes, cuts, server) => {
        const rec = new Recorder(server ? 'server' : 'client', { maxMessageSize: 256 });
        feedInChunks(rec, Buffer.from(bytes), cuts);
        checkOutcome(rec);
      }),
      { numRuns: 5000 },
    );
  });

  it('mutated valid streams never throw and end, if at all, in a documented close code', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 4 }),
        keyArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (messages, key, mutations, cuts) => {
          const { stream } = encode(messages, key);
          if (stream.length === 0) return;
          for (const [position, value] of mutations) stream[position % stream.length] = value;
          const rec = new Recorder('server', { maxMessageSize: 4096 });
          feedInChunks(rec, stream, cuts);
          checkOutcome(rec);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
