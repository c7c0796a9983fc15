// RFC 6455 §5: what the parser accepts and rejects, bytes in, events and close frames out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Opcode, RSV1, RSV2, RSV3 } from '../../src/protocol/frame.js';
import { clientFrame, frame, Recorder } from './recorder.js';

/** The close frame a server sends for a close code (unmasked, no reason). */
const serverClose = (code: number): string => '8802' + code.toString(16).padStart(4, '0');

describe('§5.2 / §5.5 / §5.4 violations fail the connection with the right close code (server role)', () => {
  const table: Array<{ name: string; input: Buffer; code: string; closeCode: number }> = [
    { name: 'RSV1 without extension', input: clientFrame(Opcode.TEXT, 'x', { rsv: RSV1 }), code: 'SB_ERR_RESERVED_BITS', closeCode: 1002 },
    { name: 'RSV2 without extension', input: clientFrame(Opcode.TEXT, 'x', { rsv: RSV2 }), code: 'SB_ERR_RESERVED_BITS', closeCode: 1002 },
    { name: 'RSV3 without extension', input: clientFrame(Opcode.BINARY, 'x', { rsv: RSV3 }), code: 'SB_ERR_RESERVED_BITS', closeCode: 1002 },
    { name: 'RSV1 on a ping', input: clientFrame(Opcode.PING, '', { rsv: RSV1 }), code: 'SB_ERR_RESERVED_BITS', closeCode: 1002 },
    ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => ({
      name: `reserved opcode ${opcode}`,
      input: clientFrame(opcode, ''),
      code: 'SB_ERR_INVALID_OPCODE',
      closeCode: 1002,
    })),
    { name: 'unmasked frame from a client', input: frame(Opcode.TEXT, 'x'), code: 'SB_ERR_UNMASKED_FRAME', closeCode: 1002 },
    { name: 'ping of 126 bytes', input: clientFrame(Opcode.PING, Buffer.alloc(126)), code: 'SB_ERR_CONTROL_FRAME_TOO_LONG', closeCode: 1002 },
    { name: 'fragmented ping', input: clientFrame(Opcode.PING, 'x', { fin: false }), code: 'SB_ERR_FRAGMENTED_CONTROL_FRAME', closeCode: 1002 },
    { name: 'fragmented close', input: clientFrame(Opcode.CLOSE, '', { fin: false }), code: 'SB_ERR_FRAGMENTED_CONTROL_FRAME', closeCode: 1002 },
    { name: 'continuation without a message', input: clientFrame(Opcode.CONTINUATION, 'x'), code: 'SB_ERR_UNEXPECTED_CONTINUATION', closeCode: 1002 },
    {
      name: 'new text frame inside a fragmented message',
      input: Buffer.concat([clientFrame(Opcode.TEXT, 'a', { fin: false }), clientFrame(Opcode.TEXT, 'b')]),
      code: 'SB_ERR_EXPECTED_CONTINUATION',
      closeCode: 1002,
    },
    {
      name: '64-bit length with the most significant bit set',
      input: Buffer.from('82ff8000000000000000' + '12345678', 'hex'),
      code: 'SB_ERR_INVALID_LENGTH',
      closeCode: 1002,
    },
    {
      name: '2^62 byte length is over every limit',
      input: Buffer.from('82ff4000000000000000' + '12345678', 'hex'),
      code: 'SB_ERR_FRAME_TOO_LARGE',
      closeCode: 1009,
    },
    { name: 'invalid UTF-8 in a text frame', input: clientFrame(Opcode.TEXT, Buffer.from([0xce, 0xba, 0xff])), code: 'SB_ERR_INVALID_UTF8', closeCode: 1007 },
    { name: 'close payload of 1 byte', input: clientFrame(Opcode.CLOSE, Buffer.from([0x03])), code: 'SB_ERR_INVALID_CLOSE_PAYLOAD', closeCode: 1002 },
    { name: 'close code 1005 on the wire', input: clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xed])), code: 'SB_ERR_INVALID_CLOSE_CODE', closeCode: 1002 },
    {
      name: 'close reason not UTF-8',
      input: clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8, 0xff])),
      code: 'SB_ERR_INVALID_UTF8',
      closeCode: 1007,
    },
  ];
  for (const { name, input, code, closeCode } of table) {
    it(name, () => {
      const rec = new Recorder('server').receive(input);
      assert.deepEqual(rec.events, [{ type: 'violation', code, closeCode }, { type: 'end' }]);
      assert.equal(rec.output(), serverClose(closeCode));
      // Everything after the violation is ignored.
      rec.receive(clientFrame(Opcode.TEXT, 'later'));
      assert.equal(rec.events.length, 2);
      assert.equal(rec.output(), '');
    });
  }
});

describe('client role', () => {
  it('a masked frame from a server is a protocol error; the client answers with a masked close', () => {
    const rec = new Recorder('client').receive(clientFrame(Opcode.TEXT, 'x'));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_MASKED_FRAME', closeCode: 1002 }, { type: 'end' }]);
    // 0x88 0x82 + key 37fa213d + (03ea ^ 37fa) = 3410
    assert.equal(rec.output(), '888237fa213d3410');
  });
});

describe('§5.4 fragmentation', () => {
  it('control frames interleaved inside a fragmented message are delivered in order', () => {
    const rec = new Recorder('server').receive(
      Buffer.concat([
        clientFrame(Opcode.TEXT, 'frag', { fin: false }),
        clientFrame(Opcode.PING, 'p1'),
        clientFrame(Opcode.CONTINUATION, 'men', { fin: false }),
        clientFrame(Opcode.PONG, 'p2'),
        clientFrame(Opcode.CONTINUATION, 'ted'),
      ]),
    );
    assert.deepEqual(rec.events, [
      { type: 'ping', data: Buffer.from('p1').toString('hex') },
      { type: 'pong', data: Buffer.from('p2').toString('hex') },
      { type: 'text', data: 'fragmented' },
    ]);
    assert.equal(rec.output(), '8a027031'); // the pong answering p1
  });

  it('empty fragments and empty messages', () => {
    const rec = new Recorder('server').receive(
      Buffer.concat([
        clientFrame(Opcode.TEXT, ''),
        clientFrame(Opcode.BINARY, '', { fin: false }),
        clientFrame(Opcode.CONTINUATION, '', { fin: false }),
        clientFrame(Opcode.CONTINUATION, ''),
      ]),
    );
    assert.deepEqual(rec.events, [{ type: 'text', data: '' }, { type: 'binary', data: '' }]);
  });

  it('a binary message of 1000 fragments', () => {
    const frames = [clientFrame(Opcode.BINARY, 'a', { fin: false })];
    for (let i = 1; i < 999; i++) frames.push(clientFrame(Opcode.CONTINUATION, 'a', { fin: false }));
    frames.push(clientFrame(Opcode.CONTINUATION, 'a'));
    const rec = new Recorder('server').receive(Buffer.concat(frames));
    assert.deepEqual(rec.events, [{ type: 'binary', data: '61'.repeat(1000) }]);
  });
});

describe('limits (1009)', () => {
  it('a frame over maxFrameSize fails before its payload arrives', () => {
    const rec = new Recorder('server', { maxFrameSize: 100 }).receive(clientFrame(Opcode.BINARY, Buffer.alloc(101)).subarray(0, 8));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_FRAME_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
  });
  it('a message over maxMessageSize fails at the frame that crosses it', () => {
    const rec = new Recorder('server', { maxMessageSize: 10 });
    rec.receive(clientFrame(Opcode.TEXT, '123456', { fin: false }));
    assert.deepEqual(rec.events, []);
    rec.receive(clientFrame(Opcode.CONTINUATION, '12345').subarray(0, 6));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_MESSAGE_TOO_LARGE', closeCode: 1009 }, { type: 'end' }]);
  });
  it('a message of exactly maxMessageSize is accepted', () => {
    const rec = new Recorder('server', { maxMessageSize: 10 }).receive(clientFrame(Opcode.TEXT, '0123456789'));
    assert.deepEqual(rec.events, [{ type: 'text', data: '0123456789' }]);
  });
  it('more fragments than maxFragments', () => {
    const rec = new Recorder('server', { maxFragments: 3 }).receive(
      Buffer.concat([
        clientFrame(Opcode.TEXT, 'a', { fin: false }),
        clientFrame(Opcode.CONTINUATION, 'b', { fin: false }),
        clientFrame(Opcode.CONTINUATION, 'c', { fin: false }),
        clientFrame(Opcode.CONTINUATION, 'd'),
      ]),
    );
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_TOO_MANY_FRAGMENTS', closeCode: 1009 }, { type: 'end' }]);
  });
  it('the default message limit is 1 MiB', () => {
    const ok = new Recorder('server').receive(clientFrame(Opcode.BINARY, Buffer.alloc(1024 * 1024)));
    assert.equal(ok.events[0]!.type, 'binary');
    const tooBig = new Recorder('server').receive(clientFrame(Opcode.BINARY, Buffer.alloc(1024 * 1024 + 1)).subarray(0, 14));
    assert.equal(tooBig.events[0]!.type, 'violation');
  });
});

describe('§8.1 UTF-8 fails fast', () => {
  it('inside one frame still arriving: at the first invalid byte', () => {
    const bytes = clientFrame(Opcode.TEXT, Buffer.concat([Buffer.from('valid '), Buffer.from([0xf4, 0x90]), Buffer.alloc(1000, 0x61)]));
    const rec = new Recorder('server');
    // Header (2 + 2 + 4 bytes) and the 6 valid bytes: nothing yet.
    rec.receive(bytes.subarray(0, 14));
    assert.deepEqual(rec.events, []);
    // The next byte starts a 4-byte sequence; the one after (0x90 after 0xf4) is out of range.
    rec.receive(bytes.subarray(14, 16));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_INVALID_UTF8', closeCode: 1007 }, { type: 'end' }]);
  });
  it('across fragments: in the fragment holding the bad byte, before the message ends', () => {
    const rec = new Recorder('server');
    rec.receive(clientFrame(Opcode.TEXT, Buffer.from([0xce]), { fin: false }));
    assert.deepEqual(rec.events, []);
    rec.receive(clientFrame(Opcode.CONTINUATION, Buffer.from([0xba, 0xe1]), { fin: false }));
    assert.deepEqual(rec.events, []);
    rec.receive(clientFrame(Opcode.CONTINUATION, Buffer.from([0x28]), { fin: false }));
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_INVALID_UTF8', closeCode: 1007 }, { type: 'end' }]);
  });
  it('a sequence split across fragments is valid', () => {
    const euro = Buffer.from('€'); // e2 82 ac
    const rec = new Recorder('server').receive(
      Buffer.concat([
        clientFrame(Opcode.TEXT, euro.subarray(0, 1), { fin: false }),
        clientFrame(Opcode.CONTINUATION, euro.subarray(1, 2), { fin: false }),
        clientFrame(Opcode.CONTINUATION, euro.subarray(2)),
      ]),
    );
    assert.deepEqual(rec.events, [{ type: 'text', data: '€' }]);
  });
  it('a message that ends inside a sequence is invalid', () => {
    const rec = new Recorder('server').receive(
      Buffer.concat([clientFrame(Opcode.TEXT, Buffer.from([0xe2, 0x82]), { fin: false }), clientFrame(Opcode.CONTINUATION, '')]),
    );
    assert.deepEqual(rec.events, [{ type: 'violation', code: 'SB_ERR_INVALID_UTF8', closeCode: 1007 }, { type: 'end' }]);
  });
  it('binary messages are not validated', () => {
    const rec = new Recorder('server').receive(clientFrame(Opcode.BINARY, Buffer.from([0xff, 0xfe])));
    assert.deepEqual(rec.events, [{ type: 'binary', data: 'fffe' }]);
  });
});
