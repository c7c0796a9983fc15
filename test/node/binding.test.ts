// SocketBinding: the buffered-bytes cap counts bytes on the wire (UTF-8), not string length.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { SocketBinding, type BindingEvents } from '../../src/node/binding.js';

const quiet: BindingEvents = {
  message: () => {},
  ping: () => {},
  pong: () => {},
  closeFrame: () => {},
  violation: () => {},
  drain: () => {},
  error: () => {},
  closed: () => {},
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
});
