// SocketBinding: the buffered-bytes cap counts bytes on the wire (UTF-8), not string length.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { onCloseFrame, onClosed, onDrain, onError, onMessage, onPing, onPong, onViolation, SocketBinding, type BindingEvents } from '../../src/node/binding.js';
import { FRAME_POOL_BLOCK } from '../../src/node/frame-pool.js';
import { parseFrame, type RawFrame } from './server-helpers.js';

const quiet: BindingEvents = {
  [onMessage]: () => {},
  [onPing]: () => {},
  [onPong]: () => {},
  [onCloseFrame]: () => {},
  [onViolation]: () => {},
  [onDrain]: () => {},
  [onError]: () => {},
  [onClosed]: () => {},
};

async function socketPair(): Promise<{ server: Socket; client: Socket; close: () => void }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as { port: number }).port;
  const accepted = once(listener, 'connection');
  const client = connect(port, '127.0.0.1');
  const [server] = (await accepted) as [Socket];
  return {
    server,
    client,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

describe('SocketBinding', () => {
  it('applies maxBufferedAmount to the UTF-8 size of text', async () => {
    const pair = await socketPair();
    try {
      const binding = new SocketBinding(pair.server, null, { role: 'server', maxBufferedAmount: 10, backpressurePolicy: 'drop' }, quiet);
      assert.equal(binding.send('é'.repeat(6), false), 'dropped', '6 characters are 12 bytes');
      assert.notEqual(binding.send('é'.repeat(5), false), 'dropped', '10 bytes fit');
    } finally {
      pair.close();
    }
  });

  it('keeps the frames of connections writing in turns apart, in order, across pool blocks', async () => {
    const pairs = await Promise.all([socketPair(), socketPair()]);
    try {
      const bindings = pairs.map((pair) => new SocketBinding(pair.server, null, { role: 'server' }, quiet));
      // Each connection gets small frames (pooled), a large one (written as it is) and more small ones,
      // the two connections writing in turns, for more bytes than one pool block holds.
      const expected: Buffer[][] = [[], []];
      let total = 0;
      for (let i = 0; total < 3 * FRAME_POOL_BLOCK; i++) {
        for (const [n, binding] of bindings.entries()) {
          const size = i % 7 === 3 ? 40_000 : [0, 5, 125, 126, 1000, 9000, 16_384][i % 7]!;
          const payload = Buffer.alloc(size, (i * 2 + n) & 0xff);
          if (size >= 4) payload.writeUInt32BE(i * 2 + n, 0);
          expected[n]!.push(Buffer.from(payload));
          assert.notEqual(binding.send(payload, true), 'dropped');
          if (size <= 16 * 1024) payload.fill(0xee); // small payloads are copied before send() returns
          total += size;
        }
      }
      const received = await Promise.all(pairs.map((pair, n) => readFrames(pair.client, expected[n]!.length)));
      for (const n of [0, 1]) {
        assert.equal(received[n]!.length, expected[n]!.length);
        for (const [i, frame] of received[n]!.entries()) {
          assert.equal(frame.opcode, 2);
          assert.equal(frame.fin, true);
          assert.ok(frame.payload.equals(expected[n]![i]!), `connection ${n}, message ${i}`);
        }
      }
    } finally {
      for (const pair of pairs) pair.close();
    }
  });
});

/** Reads `count` unmasked frames from a socket. */
async function readFrames(socket: Socket, count: number): Promise<RawFrame[]> {
  const frames: RawFrame[] = [];
  let buffer = Buffer.alloc(0);
  for await (const chunk of socket) {
    buffer = Buffer.concat([buffer, chunk as Buffer]);
    for (let frame = parseFrame(buffer); frame !== null; frame = parseFrame(buffer)) {
      frames.push({ ...frame, payload: Buffer.from(frame.payload) });
      buffer = buffer.subarray(frame.bytes.length);
    }
    if (frames.length >= count) break;
  }
  return frames;
}
