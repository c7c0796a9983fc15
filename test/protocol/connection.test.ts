// RFC 6455 §5.5 and §7: control frames, the closing handshake and the sending API of the sans-I/O connection.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadyState } from '../../src/protocol/connection.js';
import { LocalProtocolError } from '../../src/protocol/errors.js';
import { Opcode } from '../../src/protocol/frame.js';
import { clientFrame, frame, Recorder } from './recorder.js';

describe('§7 closing handshake, server role', () => {
  it('the peer closes first: the server echoes code and reason, then closes the transport', () => {
    const rec = new Recorder('server').receive(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])));
    assert.deepEqual(rec.events, [{ type: 'close', code: 1000, reason: 'bye' }, { type: 'end' }]);
    assert.equal(rec.output(), '880503e8627965');
    assert.equal(rec.connection.state, ReadyState.CLOSING);
    rec.connection.receiveEof();
    assert.equal(rec.connection.state, ReadyState.CLOSED);
    assert.deepEqual(rec.connection.closeStatus, { code: 1000, reason: 'bye', wasClean: true });
  });

  it('an empty close is answered with an empty close and reported as 1005', () => {
    const rec = new Recorder('server').receive(clientFrame(Opcode.CLOSE, ''));
    assert.deepEqual(rec.events, [{ type: 'close', code: 1005, reason: '' }, { type: 'end' }]);
    assert.equal(rec.output(), '8800');
  });

  it('the server closes first: it waits for the peer close, then closes the transport', () => {
    const rec = new Recorder('server');
    rec.connection.sendClose(4000, 'done');
    assert.equal(rec.output(), '8806' + '0fa0' + Buffer.from('done').toString('hex'));
    assert.equal(rec.connection.state, ReadyState.CLOSING);
    assert.deepEqual(rec.events, []);
    rec.receive(clientFrame(Opcode.CLOSE, Buffer.from([0x0f, 0xa0])));
    assert.deepEqual(rec.events, [{ type: 'close', code: 4000, reason: '' }, { type: 'end' }]);
    assert.equal(rec.output(), '', 'no second close frame');
  });

  it('data frames after the peer close are ignored', () => {
    const rec = new Recorder('server').receive(Buffer.concat([clientFrame(Opcode.CLOSE, ''), clientFrame(Opcode.TEXT, 'late')]));
    assert.deepEqual(rec.events, [{ type: 'close', code: 1005, reason: '' }, { type: 'end' }]);
  });

  it('messages still arrive while our close is in flight (CLOSING)', () => {
    const rec = new Recorder('server');
    rec.connection.sendClose(1000);
    rec.receive(clientFrame(Opcode.TEXT, 'in flight'));
    assert.deepEqual(rec.events, [{ type: 'text', data: 'in flight' }]);
  });

  it('EOF without a close frame is abnormal (1006)', () => {
    const rec = new Recorder('server');
    rec.connection.receiveEof();
    assert.deepEqual(rec.connection.closeStatus, { code: 1006, reason: '', wasClean: false });
  });

  it('after a violation the close status reports no clean close', () => {
    const rec = new Recorder('server').receive(frame(Opcode.TEXT, 'unmasked'));
    rec.connection.receiveEof();
    assert.equal(rec.connection.closeStatus.wasClean, false);
    assert.equal(rec.connection.error?.closeCode, 1002);
    assert.deepEqual(rec.connection.sentClose, { code: 1002, reason: '' });
  });
});

describe('§7 closing handshake, client role', () => {
  it('the client closes first and waits for the server to close the transport', () => {
    const rec = new Recorder('client');
    rec.connection.sendClose(1000, '');
    assert.equal(rec.output(), '888237fa213d3412');
    rec.receive('880203e8');
    assert.deepEqual(rec.events, [{ type: 'close', code: 1000, reason: '' }], 'no end: the server closes TCP first');
  });

  it('the server closes first: the client echoes, masked', () => {
    const rec = new Recorder('client').receive('88050bb8627965');
    assert.deepEqual(rec.events, [{ type: 'close', code: 3000, reason: 'bye' }]);
    // 0bb8 627965 masked with 37fa213d
    assert.equal(rec.output(), '888537fa213d3c42434452');
  });
});

describe('§5.5.2 / §5.5.3 ping and pong', () => {
  it('pings are answered with the same payload unless autoPong is off', () => {
    const rec = new Recorder('server').receive(clientFrame(Opcode.PING, 'abc'));
    assert.equal(rec.output(), '8a03616263');
    const quiet = new Recorder('server', { autoPong: false }).receive(clientFrame(Opcode.PING, 'abc'));
    assert.equal(quiet.output(), '');
    assert.deepEqual(quiet.events, [{ type: 'ping', data: '616263' }]);
  });

  it('pings are not answered after our close frame', () => {
    const rec = new Recorder('server');
    rec.connection.sendClose(1000);
    rec.output();
    rec.receive(clientFrame(Opcode.PING, 'x'));
    assert.equal(rec.output(), '');
  });

  it('an unsolicited pong is reported and not answered', () => {
    const rec = new Recorder('server').receive(clientFrame(Opcode.PONG, 'x'));
    assert.deepEqual(rec.events, [{ type: 'pong', data: '78' }]);
    assert.equal(rec.output(), '');
  });
});

describe('parser state of a connection that only exchanges control frames', () => {
  /** The connection's parser, or null when it holds none. */
  const parserOf = (rec: Recorder): unknown => (rec.connection as unknown as { parser: unknown }).parser;

  it('holds no parser before the first byte, nor between pongs, and parses frames split across those gaps', () => {
    const rec = new Recorder('server');
    assert.equal(parserOf(rec), null, 'nothing received, no parser');
    rec.receive(clientFrame(Opcode.PONG, 'a'));
    assert.equal(parserOf(rec), null, 'a heartbeat answer leaves no parser behind');
    const split = clientFrame(Opcode.PONG, 'bc');
    rec.receive(split.subarray(0, 3));
    assert.notEqual(parserOf(rec), null, 'a frame in progress keeps its parser');
    assert.equal(rec.connection.bufferedInput, 3);
    rec.receive(split.subarray(3));
    assert.equal(parserOf(rec), null);
    const first = clientFrame(Opcode.TEXT, 'he', { fin: false });
    rec.receive(first);
    assert.notEqual(parserOf(rec), null, 'a fragmented message in progress keeps its parser');
    rec.receive(clientFrame(Opcode.PING, 'p'));
    rec.receive(clientFrame(Opcode.CONTINUATION, 'llo'));
    assert.deepEqual(rec.events, [
      { type: 'pong', data: '61' },
      { type: 'pong', data: '6263' },
      { type: 'ping', data: '70' },
      { type: 'text', data: 'hello' },
    ]);
    assert.notEqual(parserOf(rec), null, 'after a data message the parser is kept');
  });
});

describe('sending', () => {
  it('text, binary, fragments, ping and pong', () => {
    const rec = new Recorder('server');
    const c = rec.connection;
    c.sendText('Hi');
    c.sendBinary(Buffer.from([1, 2]));
    c.sendText('Hel', { fin: false });
    c.sendPing(Buffer.from('p'));
    c.sendContinuation(Buffer.from('lo'), true);
    c.sendPong();
    assert.equal(rec.output(), ['81024869', '82020102', '010348656c', '890170', '80026c6f', '8a00'].join(''));
  });

  it('misuse throws LocalProtocolError with a stable code', () => {
    const c = new Recorder('server').connection;
    const code = (fn: () => void): string => {
      try {
        fn();
      } catch (error) {
        assert.ok(error instanceof LocalProtocolError);
        return error.code;
      }
      return 'no error';
    };
    assert.equal(code(() => c.sendContinuation(Buffer.from('x'), true)), 'SB_ERR_NOT_IN_MESSAGE');
    assert.equal(code(() => c.sendPing(Buffer.alloc(126))), 'SB_ERR_CONTROL_PAYLOAD_TOO_LONG');
    assert.equal(code(() => c.sendClose(1005)), 'SB_ERR_INVALID_CLOSE_CODE');
    assert.equal(code(() => c.sendClose(1000, 'x'.repeat(124))), 'SB_ERR_CLOSE_REASON_TOO_LONG');
    c.sendText('a', { fin: false });
    assert.equal(code(() => c.sendText('b')), 'SB_ERR_IN_MESSAGE');
    c.sendContinuation(Buffer.from('c'), true);
    c.sendClose(1000);
    assert.equal(code(() => c.sendText('after close')), 'SB_ERR_INVALID_STATE');
    c.sendClose(1000); // a second close is a no-op
  });

  it('fail() sends the code, stops reading and closes the transport', () => {
    const rec = new Recorder('server');
    rec.connection.fail(1008, 'policy');
    assert.equal(rec.output(), '88' + '08' + '03f0' + Buffer.from('policy').toString('hex'));
    assert.deepEqual(rec.events, [{ type: 'end' }]);
    rec.receive(clientFrame(Opcode.TEXT, 'ignored'));
    assert.deepEqual(rec.events, [{ type: 'end' }]);
  });
});
