/**
 * WritePacer over a real TCP connection: the socket is given at most the
 * rate (plus one slice), the rest waits and is counted; `release` hands it
 * over at once; rates under MIN_PACE_RATE are refused.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, test } from 'node:test';
import { MIN_PACE_RATE, WritePacer } from '../../src/node/write-pacer.js';

async function socketPair(): Promise<{ sender: net.Socket; receiver: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const receiver = net.connect(port, '127.0.0.1');
  const [sender] = await accepted;
  return {
    sender,
    receiver,
    close: () => {
      sender.destroy();
      receiver.destroy();
      server.close();
    },
  };
}

describe('WritePacer', () => {
  test('gives the socket no more than the rate allows, and the rest once released', async () => {
    const { sender, receiver, close } = await socketPair();
    try {
      let received = 0;
      receiver.on('data', (chunk: Buffer) => (received += chunk.length));
      let emptied = 0;
      const rate = 20_000;
      const pacer = new WritePacer(sender, rate, () => emptied++);
      const started = Date.now();
      for (let i = 0; i < 100; i++) pacer.write(Buffer.alloc(1000, i));
      assert.equal(pacer.bytes, 100_000);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const elapsed = Date.now() - started;
      // At most the rate over the time elapsed.
      assert.ok(received <= (rate * elapsed) / 1000, `${received} bytes in ${elapsed} ms`);
      assert.ok(received > 0, 'nothing was written');
      // Every byte is either still in the pacer or handed to the socket
      // (bytesWritten counts what the socket took, sent or not).
      assert.equal(pacer.bytes + sender.bytesWritten, 100_000);
      assert.ok(sender.bytesWritten <= (rate * elapsed) / 1000, `${sender.bytesWritten} bytes handed over in ${elapsed} ms`);
      assert.equal(emptied, 0);
      pacer.release();
      assert.equal(pacer.bytes, 0);
      const deadline = Date.now() + 5000;
      while (received < 100_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(received, 100_000);
    } finally {
      close();
    }
  });

  test('keeps the order of the bytes across slices, and says when it emptied', async () => {
    const { sender, receiver, close } = await socketPair();
    try {
      const chunks: Buffer[] = [];
      receiver.on('data', (chunk: Buffer) => chunks.push(chunk));
      const emptied = new Promise<void>((resolve) => {
        const pacer = new WritePacer(sender, 64 * 1024, resolve);
        for (let i = 0; i < 40; i++) pacer.write(Buffer.alloc(997, i));
      });
      await emptied;
      const deadline = Date.now() + 5000;
      while (Buffer.concat(chunks).length < 40 * 997 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      const all = Buffer.concat(chunks);
      assert.equal(all.length, 40 * 997);
      for (let i = 0; i < 40; i++) assert.ok(all.subarray(i * 997, (i + 1) * 997).every((byte) => byte === i), `chunk ${i}`);
    } finally {
      close();
    }
  });

  test('refuses a rate under MIN_PACE_RATE or not an integer', async () => {
    const { sender, close } = await socketPair();
    try {
      assert.throws(() => new WritePacer(sender, MIN_PACE_RATE - 1, () => {}), RangeError);
      assert.throws(() => new WritePacer(sender, 4096.5, () => {}), RangeError);
      assert.throws(() => new WritePacer(sender, Number.NaN, () => {}), RangeError);
    } finally {
      close();
    }
  });
});
