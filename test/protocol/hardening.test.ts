// Hardening of the sans-I/O core against hostile input: what the parser
// holds is bounded by the limits (and reported by `bufferedInput`), a frame
// dribbled a byte at a time costs about its size in memory (not an object per
// byte), HTTP heads cost linear time when sent a byte at a time, and header
// names cannot reach the prototype of the header map.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Connection } from '../../src/protocol/connection.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { encodeFrameToBuffer, Opcode, RSV1 } from '../../src/protocol/frame.js';
import { acceptHandshake } from '../../src/protocol/handshake.js';
import { HttpRequestParser } from '../../src/protocol/http.js';
import { PerMessageDeflateServer, type PerMessageDeflate } from '../../src/protocol/permessage-deflate.js';

const MASK = Buffer.from([1, 2, 3, 4]);

function server(maxMessageSize: number, onMessage: (data: Buffer) => void = () => {}): Connection {
  return new Connection({ role: 'server', maxMessageSize }, { write() {}, end() {}, message: onMessage });
}

describe('what the parser holds', () => {
  it('bufferedInput counts unparsed bytes, the frame in progress and earlier fragments, and drops to 0', () => {
    const connection = server(1 << 20);
    const first = encodeFrameToBuffer(Opcode.TEXT, Buffer.from('hello '), { fin: false, maskKey: MASK });
    const second = encodeFrameToBuffer(Opcode.CONTINUATION, Buffer.from('world'), { maskKey: MASK });
    connection.receiveData(Buffer.from(first));
    assert.equal(connection.bufferedInput, 6);
    connection.receiveData(Buffer.from(second.subarray(0, 4)));
    assert.equal(connection.bufferedInput, 6 + 4, 'an incomplete header is held');
    connection.receiveData(Buffer.from(second.subarray(4, 8)));
    assert.equal(connection.bufferedInput, 6 + 2);
    connection.receiveData(Buffer.from(second.subarray(8)));
    assert.equal(connection.bufferedInput, 0);
  });

  it('a 1 MiB frame fed one byte at a time holds about 1 MiB, not an object per byte', () => {
    const size = 1 << 20;
    const frame = encodeFrameToBuffer(Opcode.BINARY, Buffer.alloc(size, 7), { maskKey: MASK });
    let received = 0;
    const connection = server(size, (data) => (received = data.length));
    const before = process.memoryUsage().rss;
    for (let i = 0; i < frame.length - 1; i++) connection.receiveData(Buffer.from(frame.subarray(i, i + 1)));
    const grown = (process.memoryUsage().rss - before) / (1 << 20);
    assert.equal(connection.bufferedInput, frame.length - 1 - 14);
    // Kept as a list of one-byte buffers it took over 140 MiB.
    assert.ok(grown < 32, `RSS grew by ${grown.toFixed(1)} MiB`);
    connection.receiveData(Buffer.from(frame.subarray(frame.length - 1)));
    assert.equal(received, size);
  });

  it('a frame in odd-sized pieces, small and large, is reassembled and unmasked exactly', () => {
    const payload = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31) & 0xff));
    const frame = encodeFrameToBuffer(Opcode.BINARY, payload, { maskKey: MASK });
    let received: Buffer | null = null;
    const connection = server(1 << 20, (data) => (received = Buffer.from(data)));
    const sizes = [1, 3, 4095, 4096, 5000, 2, 1, 9000, 17, 4097];
    for (let offset = 0, i = 0; offset < frame.length; i++) {
      const size = sizes[i % sizes.length]!;
      connection.receiveData(Buffer.from(frame.subarray(offset, offset + size)));
      offset += size;
    }
    assert.ok(received !== null && payload.equals(received));
  });
});

describe('HTTP heads', () => {
  it('a 16 KiB head sent one byte at a time parses in linear time', () => {
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ${'a'.repeat(16 * 1024 - 60)}\r\n\r\n`);
    const parser = new HttpRequestParser();
    // CPU time, not wall time: the claim is about the work the parser does (~40-70 ms), which a
    // loaded machine does not change, while it can keep the process waiting for a core.
    const started = process.cpuUsage();
    let parsed = null;
    for (let i = 0; i < head.length && parsed === null; i++) parsed = parser.feed(head.subarray(i, i + 1));
    assert.ok(parsed !== null);
    const cpu = process.cpuUsage(started);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    assert.ok(cpuMs < 500, `${cpuMs.toFixed(0)} ms of CPU`);
  });

  it('header names like __proto__ and constructor are plain fields', () => {
    const request = 'GET / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\nconstructor: y\r\nhasOwnProperty: z\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const parsed = new HttpRequestParser().feed(Buffer.from(request))!;
    assert.equal(Object.getPrototypeOf(parsed.head.headers), null);
    assert.equal(parsed.head.headers['__proto__'], 'x');
    assert.equal(parsed.head.headers.constructor, 'y');
    assert.equal(acceptHandshake(parsed.head).key, 'dGhlIHNhbXBsZSBub25jZQ==');
  });

  it('acceptHandshake refuses a malformed or doubled Host with 400', () => {
    const base = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    for (const host of ['a b', 'a.example, b.example', 'user@a.example', 'a.example/x', 'a.example:70000']) {
      assert.throws(
        () => acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: { ...base, host } }),
        (error: unknown) => error instanceof HandshakeError && error.code === 'SB_ERR_INVALID_HOST' && error.status === 400,
        host,
      );
    }
    assert.throws(() => acceptHandshake({ method: 'GET', httpVersion: '1.1', headers: { ...base, host: ['a', 'b'] } }), (error: unknown) => error instanceof HandshakeError && error.code === 'SB_ERR_INVALID_HOST');
  });
});

describe('shared inflater', () => {
  const negotiate = (): PerMessageDeflate => new PerMessageDeflateServer().negotiate([[]])!.extension as PerMessageDeflate;

  it("one peer's corrupt message does not fail another peer's valid one on a later tick", async () => {
    const valid = zlib.deflateRawSync(Buffer.from('hello world'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    for (let round = 0; round < 3; round++) {
      assert.throws(() => negotiate().decode(Buffer.from([0xff, 0xff, 0xff, 0x01]), RSV1, true, 1000), { code: 'SB_ERR_INFLATE_FAILED' });
      // zlib emits the corrupt stream's 'error' a tick later, when the shared engine already runs a new stream.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(negotiate().decode(Buffer.from(valid), RSV1, true, 1000).toString(), 'hello world');
    }
  });
});
