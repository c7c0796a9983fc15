// permessage-deflate through real sockets: our server and client with ws, compress-once broadcast,
// per-message opt-out, the user-agent refusal, and a decompression bomb that hurts no one else.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import WebSocketPeer, { WebSocketServer as WsServer } from 'ws';
import { WebSocket } from '../../src/node/client.js';
import { WebSocketServer, type ServerOptions } from '../../src/node/server.js';
import { PerMessageDeflate } from '../../src/protocol/permessage-deflate.js';
import { Opcode, RSV1 } from '../../src/protocol/frame.js';
import { RawPeer, clientFrame } from './server-helpers.js';

const compressible = (size: number): string => {
  let text = '';
  for (let i = 0; text.length < size; i++) text += `{"id":${i},"name":"item-${i % 50}","ok":true},`;
  return text.slice(0, size);
};

async function startServer(options: ServerOptions): Promise<WebSocketServer> {
  const wss = new WebSocketServer<undefined>({ port: 0, host: '127.0.0.1', heartbeatInterval: 0, ...options });
  await wss.ready();
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

function wsEcho(url: string, options: WebSocketPeer.ClientOptions): Promise<WebSocketPeer> {
  const socket = new WebSocketPeer(url, options);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

const nextWsMessage = (socket: WebSocketPeer): Promise<[Buffer, boolean]> =>
  new Promise((resolve) => socket.once('message', (data, isBinary) => resolve([data as Buffer, isBinary])));

describe('our server with deflate, ws as client', () => {
  let wss: WebSocketServer;
  before(async () => {
    wss = await startServer({ perMessageDeflate: true, maxMessageSize: 4 << 20 });
  });
  after(() => wss.close());

  it('negotiates and round-trips text, binary, 1 MiB+ and fragmented compressed messages', async () => {
    const client = await wsEcho(`ws://127.0.0.1:${wss.port}/`, { perMessageDeflate: { threshold: 0 } });
    assert.match(client.extensions, /permessage-deflate/);
    for (const [data, binary] of [
      [Buffer.from('héllo €𝄞'), false],
      [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), true],
      [Buffer.from(compressible(1_500_000)), false],
      [Buffer.alloc(0), true],
    ] as Array<[Buffer, boolean]>) {
      const echoed = nextWsMessage(client);
      client.send(data, { binary });
      const [got, isBinary] = await echoed;
      assert.equal(isBinary, binary);
      assert.ok(got.equals(data));
    }
    // ws compresses each fragment of a message sent in pieces (RSV1 on the first frame only).
    const text = compressible(200_000);
    const echoed = nextWsMessage(client);
    client.send(text.slice(0, 100_000), { fin: false });
    client.send(text.slice(100_000), { fin: true });
    assert.equal((await echoed)[0].toString(), text);
    client.close();
    await once(client, 'close');
  });

  it('ws with context takeover on both sides', async () => {
    const server = await startServer({ perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false } });
    const client = await wsEcho(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { threshold: 0 } });
    assert.equal(client.extensions, 'permessage-deflate', 'no context-takeover restrictions');
    for (let i = 0; i < 20; i++) {
      const echoed = nextWsMessage(client);
      const message = compressible(2000 + i);
      client.send(message);
      assert.equal((await echoed)[0].toString(), message);
    }
    client.close();
    await once(client, 'close');
    await server.close();
  });
});

describe('our client with deflate, ws as server', () => {
  it('offers deflate by default and round-trips through a ws server with context takeover', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    await once(server, 'listening');
    server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`, [], { maxMessageSize: 4 << 20 });
    socket.binaryType = 'nodebuffer';
    await once(socket, 'open');
    assert.match(socket.extensions, /^permessage-deflate/);
    for (const message of ['Hello', compressible(3000), compressible(1_200_000), 'Hello']) {
      const echoed = once(socket, 'message');
      socket.send(message);
      const [event] = (await echoed) as [MessageEvent];
      assert.equal(event.data, message);
    }
    socket.close();
    await once(socket, 'close');
    server.close();
  });

  it('perMessageDeflate: false makes no offer', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    await once(server, 'listening');
    const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`, [], { perMessageDeflate: false });
    await once(socket, 'open');
    assert.equal(socket.extensions, '');
    socket.close();
    await once(socket, 'close');
    server.close();
  });
});

describe('our client and our server', () => {
  it('context takeover both ways, many messages', async () => {
    const server = await startServer({ perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false, threshold: 0 } });
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/`, [], { perMessageDeflate: { threshold: 0 } });
    await once(socket, 'open');
    assert.equal(socket.extensions, 'permessage-deflate');
    for (let i = 0; i < 50; i++) {
      const echoed = once(socket, 'message');
      const message = `${i}: ${compressible(100 + i * 37)}`;
      socket.send(message);
      assert.equal(((await echoed) as [MessageEvent])[0].data, message);
    }
    socket.close();
    await once(socket, 'close');
    await server.close();
  });
});

describe('maxMessageSize applies to the decoded message', () => {
  const LIMIT = 64 * 1024;

  it('a message of exactly maxMessageSize that grows when compressed (random bytes) round-trips, both ways', async () => {
    const server = await startServer({ perMessageDeflate: { threshold: 0 }, maxMessageSize: LIMIT });
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/`, [], { perMessageDeflate: { threshold: 0 }, maxMessageSize: LIMIT });
    socket.binaryType = 'arraybuffer';
    await once(socket, 'open');
    assert.match(socket.extensions, /^permessage-deflate/);
    const data = randomBytes(LIMIT);
    assert.ok(zlib.deflateRawSync(data).length > LIMIT, 'random bytes grow when deflated');
    const echoed = Promise.race([
      once(socket, 'message'),
      once(socket, 'close').then(([event]) => Promise.reject(new Error(`closed with ${(event as CloseEvent).code} instead of echoing`))),
    ]);
    socket.send(data);
    const got = Buffer.from(((await echoed) as [MessageEvent])[0].data as ArrayBuffer);
    assert.ok(got.equals(data));
    const closed = once(socket, 'close');
    socket.send(randomBytes(LIMIT + 1));
    assert.equal(((await closed) as [CloseEvent])[0].code, 1009, 'one byte more is refused');
    await server.close();
  });

  it('the same from ws, which compresses whatever the size', async () => {
    const server = await startServer({ perMessageDeflate: true, maxMessageSize: LIMIT });
    const client = await wsEcho(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { threshold: 0 } });
    const data = randomBytes(LIMIT);
    const echoed = Promise.race([
      nextWsMessage(client),
      once(client, 'close').then(([code]) => Promise.reject(new Error(`closed with ${String(code)} instead of echoing`))),
    ]);
    client.send(data, { binary: true });
    assert.ok((await echoed)[0].equals(data));
    client.close();
    await once(client, 'close');
    await server.close();
  });

  it('on the wire a compressed message is bounded too: a frame past the deflated bound of the limit closes 1009 unread', async () => {
    const server = await startServer({ perMessageDeflate: true, maxMessageSize: 1024 });
    const { peer } = await rawDeflatePeer(server.port);
    // Empty stored blocks inflate to nothing: only the wire limit stops them.
    const emptyBlocks = Buffer.concat(Array.from({ length: 400 }, () => Buffer.from('000000ffff', 'hex')));
    const frame = clientFrame(Opcode.BINARY, emptyBlocks);
    frame[0] = frame[0]! | RSV1;
    peer.send(frame);
    const close = await peer.frame();
    assert.equal(close.opcode, Opcode.CLOSE);
    assert.equal(close.payload.readUInt16BE(0), 1009);
    await peer.closed;
    await server.close();
  });
});

/** Upgrades a raw socket offering deflate; returns it. */
async function rawDeflatePeer(port: number, userAgent = 'test'): Promise<{ peer: RawPeer; head: string }> {
  return RawPeer.upgrade(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits', 'User-Agent': userAgent });
}

describe('server features', () => {
  it('broadcast compresses once for every recipient with the same parameters', async () => {
    const wss = await startServer({ perMessageDeflate: true });
    const deflating = await Promise.all(Array.from({ length: 5 }, () => rawDeflatePeer(wss.port)));
    const plain = await RawPeer.upgrade(wss.port);
    while (wss.clients.size < 6) await new Promise((resolve) => setImmediate(resolve));
    const original = PerMessageDeflate.prototype.encode;
    let encodes = 0;
    PerMessageDeflate.prototype.encode = function (this: PerMessageDeflate, ...args: Parameters<typeof original>) {
      encodes++;
      return original.apply(this, args);
    };
    const message = compressible(10_000);
    try {
      assert.equal(wss.broadcast(message), 6);
    } finally {
      PerMessageDeflate.prototype.encode = original;
    }
    assert.equal(encodes, 1, 'one compression for the five deflate recipients');
    const frames = await Promise.all(deflating.map(({ peer }) => peer.frame()));
    for (const frame of frames) {
      assert.ok(frame.bytes.equals(frames[0]!.bytes), 'identical bytes for every deflate recipient');
      assert.equal(frame.bytes[0]! & RSV1, RSV1);
    }
    assert.ok(frames[0]!.payload.length < message.length / 3);
    assert.equal(zlib.inflateRawSync(frames[0]!.payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString(), message);
    const plainFrame = await plain.peer.frame();
    assert.equal(plainFrame.payload.toString(), message);
    assert.equal(plainFrame.bytes[0]! & RSV1, 0);
    for (const { peer } of [...deflating, plain]) peer.destroy();
    await wss.close();
  });

  it('send(data, { compress: false }) skips compression for that message', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0, perMessageDeflate: { threshold: 0 } });
    await wss.ready();
    wss.on('connection', (ws) => {
      ws.send(compressible(1000), { compress: false });
      ws.send(compressible(1000));
    });
    const { peer, head } = await rawDeflatePeer(wss.port);
    assert.match(head, /Sec-WebSocket-Extensions: permessage-deflate/);
    const first = await peer.frame();
    const second = await peer.frame();
    assert.equal(first.bytes[0]! & RSV1, 0);
    assert.equal(first.payload.toString(), compressible(1000));
    assert.equal(second.bytes[0]! & RSV1, RSV1);
    peer.destroy();
    await wss.close();
  });

  it('refuseUserAgent: matching clients are not offered compression', async () => {
    const wss = await startServer({ perMessageDeflate: { refuseUserAgent: /Version\/1[5-7].* Safari/ } });
    const safari = await rawDeflatePeer(wss.port, 'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.4 Safari/605.1.15');
    assert.doesNotMatch(safari.head, /Sec-WebSocket-Extensions/i);
    const other = await rawDeflatePeer(wss.port, 'Mozilla/5.0 Chrome/126.0');
    assert.match(other.head, /Sec-WebSocket-Extensions: permessage-deflate/);
    safari.peer.destroy();
    other.peer.destroy();
    await wss.close();
  });

  it('a decompression bomb closes with 1009; another client keeps being served', async () => {
    const wss = await startServer({ perMessageDeflate: true, maxMessageSize: 1 << 20 });
    const bystander = new WebSocket(`ws://127.0.0.1:${wss.port}/`);
    await once(bystander, 'open');
    const { peer } = await rawDeflatePeer(wss.port);
    const bomb = zlib.deflateRawSync(Buffer.alloc(64 << 20));
    assert.ok(bomb.length < 128 * 1024);
    const frame = clientFrame(Opcode.BINARY, bomb);
    frame[0] = frame[0]! | RSV1;
    peer.send(frame);
    const close = await peer.frame();
    assert.equal(close.opcode, Opcode.CLOSE);
    assert.equal(close.payload.readUInt16BE(0), 1009);
    await peer.closed;
    const echoed = once(bystander, 'message');
    bystander.send('still here');
    assert.equal(((await echoed) as [MessageEvent])[0].data, 'still here');
    bystander.close();
    await once(bystander, 'close');
    await wss.close();
  });
});
