// The SDK knows the server's size limits from the connect result and refuses
// a message the server would not read (the server would close the whole
// connection with 1009): the command is rejected with limit_exceeded, and the
// connection, its subscriptions and presence stay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RealtimeClient, RealtimeError } from '../../../src/realtime/sdk/node.js';
import { startServer } from '../server/wire-client.js';

describe('SDK size limits', () => {
  for (const protocol of ['json', 'msgpack'] as const) {
    it(`rejects a publish over the server's message size with limit_exceeded and stays connected (${protocol})`, async () => {
      const { server, url } = await startServer({ maxMessageSize: 64 * 1024, namespaces: { chat: { publish: 'clients', presence: true } } });
      const client = new RealtimeClient(url, { protocol, reconnect: false });
      let disconnects = 0;
      client.on('disconnected', () => disconnects++);
      try {
        const connected = new Promise<Record<string, unknown>>((resolve) => client.once('connected', (result) => resolve(result as unknown as Record<string, unknown>)));
        client.connect();
        const result = await connected;
        assert.deepEqual(result.limits, { message: 64 * 1024, publish: 32 * 1024 }, 'the connect result says the limits');
        const room = client.subscribe('chat:big');
        await room.ready();
        await assert.rejects(room.publish({ text: 'x'.repeat(100_000) }), (error: unknown) => {
          assert.ok(error instanceof RealtimeError);
          assert.equal(error.code, 'limit_exceeded');
          assert.match(error.message, /the publish message is \d+ bytes; the server takes at most 65536/);
          return true;
        });
        // Under the message size but over the publication limit: the server answers, the connection stays too.
        await assert.rejects(room.publish({ text: 'y'.repeat(40_000) }), (error: unknown) => error instanceof RealtimeError && error.code === 'limit_exceeded');
        assert.deepEqual(Object.keys(await room.publish({ text: 'small' })).sort(), ['epoch', 'offset']);
        assert.equal(client.state, 'connected');
        assert.equal(disconnects, 0, 'never disconnected');
        assert.equal(server.sessions.size, 1);
      } finally {
        client.close();
        await server.close();
      }
    });
  }
});
