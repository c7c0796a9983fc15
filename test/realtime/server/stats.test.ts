// RealtimeServer.stats(): connections, messages and payload bytes in and out
// (replies, pushes, fan-out, pings), and local subscribers per channel —
// checked against what the clients actually sent and received.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { RealtimeServer } from '../../../src/realtime/server/index.js';
import { isPush, JSON_PROTOCOL, MSGPACK_PROTOCOL, startServer, WireClient } from './wire-client.js';

/** A client whose sent and received messages and bytes are counted on the wire. */
async function countedClient(url: string, protocol: string): Promise<{ client: WireClient; sent: { messages: number; bytes: number }; received: { messages: number; bytes: number } }> {
  const client = await WireClient.open(url, { protocols: [protocol] });
  const sent = { messages: 0, bytes: 0 };
  const received = { messages: 0, bytes: 0 };
  const send = client.ws.send.bind(client.ws);
  client.ws.send = (data: string | ArrayBufferLike | ArrayBufferView | Blob) => {
    sent.messages++;
    sent.bytes += typeof data === 'string' ? Buffer.byteLength(data) : (data as ArrayBufferView).byteLength;
    send(data);
  };
  client.ws.addEventListener('message', (event) => {
    const data = (event as MessageEvent).data as string | ArrayBuffer;
    received.messages++;
    received.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  });
  await client.request('connect', {});
  return { client, sent, received };
}

describe('RealtimeServer.stats()', () => {
  const servers: RealtimeServer[] = [];
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it('starts at zero', async () => {
    const { server } = await startServer();
    servers.push(server);
    assert.deepEqual(server.stats(), {
      connections: 0,
      transports: { websocket: { http1: 0, http2: 0 }, http: { http1: 0, http2: 0 } },
      messagesIn: 0,
      bytesIn: 0,
      messagesOut: 0,
      bytesOut: 0,
      channels: new Map(),
    });
  });

  it('counts what clients sent and received, fan-out included, and the subscribers per channel', async () => {
    const { server, url } = await startServer({ namespaces: { chat: { history: { size: 10 } } } });
    servers.push(server);
    const json = await countedClient(url, JSON_PROTOCOL);
    const msgpack = await countedClient(url, MSGPACK_PROTOCOL);
    await json.client.request('subscribe', { channel: 'chat:a' });
    await msgpack.client.request('subscribe', { channel: 'chat:a' });
    await json.client.request('subscribe', { channel: 'chat:b' });
    await json.client.request('publish', { channel: 'chat:a', data: { text: 'héllo' } });
    await json.client.nextPush(isPush('publication', 'chat:a'));
    await msgpack.client.nextPush(isPush('publication', 'chat:a'));

    const stats = server.stats();
    assert.equal(stats.connections, 2);
    assert.deepEqual(stats.channels, new Map([['chat:a', 2], ['chat:b', 1]]));
    assert.equal(stats.messagesIn, json.sent.messages + msgpack.sent.messages);
    assert.equal(stats.bytesIn, json.sent.bytes + msgpack.sent.bytes);
    assert.equal(stats.messagesOut, json.received.messages + msgpack.received.messages);
    assert.equal(stats.bytesOut, json.received.bytes + msgpack.received.bytes);
    assert.equal(stats.messagesOut, 8, '6 replies (2 connect, 3 subscribe, 1 publish) and the publication to 2 subscribers');

    await json.client.close();
    await msgpack.client.request('unsubscribe', { channel: 'chat:a' });
    const later = server.stats();
    assert.equal(later.connections, 1);
    assert.deepEqual(later.channels, new Map());
    await msgpack.client.close();
  });

  it('counts the protocol pings', async () => {
    const { server, url } = await startServer({ ping: 50, pong: 1000 });
    servers.push(server);
    const { client, received } = await countedClient(url, JSON_PROTOCOL);
    await client.nextPush(isPush('ping'));
    await client.nextPush(isPush('ping'), 5000, client.pushes.length);
    const stats = server.stats();
    assert.ok(stats.messagesOut >= 3);
    // A ping written after the client's last one arrived may be counted already.
    const inFlight = stats.messagesOut - received.messages;
    assert.ok(inFlight === 0 || inFlight === 1, `${stats.messagesOut} counted, ${received.messages} received`);
    assert.equal(stats.bytesOut, received.bytes + inFlight * Buffer.byteLength('{"type":"ping"}'));
    await client.close();
  });
});
