// WebSocketServer through real sockets on port 0: `ws` and undici clients for
// interoperability, raw TCP peers for byte-level checks.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { WebSocket as UndiciWebSocket } from 'undici';
import WS from 'ws';
import { Opcode } from '../../src/protocol/frame.js';
import { bindingOf } from '../../src/node/server-connection.js';
import {
  ConnectionError,
  HandshakeError,
  LocalProtocolError,
  RemoteProtocolError,
  ServerError,
  ServerWebSocket,
  WebSocketServer,
  type ServerOptions,
} from '../../src/node/server-index.js';
import { connect as connectTcp, type Socket } from 'node:net';
import { generateKey } from '../../src/protocol/handshake.js';
import { clientFrame, rawExchange, RawPeer, selfSignedCertificate, upgradeRequest } from './server-helpers.js';

type Options<Data> = Omit<ServerOptions<Data>, 'port' | 'server' | 'noServer'>;

/** A standalone server on a free port of 127.0.0.1, closed after the test. */
async function startServer<Data = undefined>(t: TestContext, options: Options<Data> = {}): Promise<WebSocketServer<Data>> {
  const wss = new WebSocketServer<Data>({ port: 0, host: '127.0.0.1', ...options });
  t.after(() => wss.close({ timeout: 200 }));
  await wss.ready();
  return wss;
}

/** An echo server: every message goes back as it came. */
async function startEcho(t: TestContext, options: Options<undefined> = {}): Promise<WebSocketServer> {
  const wss = await startServer(t, options);
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

/** A `ws` client, open, closed after the test. */
async function openClient(t: TestContext, url: string, protocols?: string | string[], options?: WS.ClientOptions): Promise<WS> {
  const client = new WS(url, protocols, options);
  t.after(() => client.terminate());
  await once(client, 'open');
  return client;
}

function urlOf(wss: WebSocketServer<unknown>, path = '/'): string {
  return `ws://127.0.0.1:${wss.port}${path}`;
}

/** The next 'connection' of a server. */
async function nextConnection<Data>(wss: WebSocketServer<Data>): Promise<ServerWebSocket<Data>> {
  const [ws] = await once(wss, 'connection');
  return ws as ServerWebSocket<Data>;
}

/** The 'close' event of a server connection. */
function closeOf(ws: ServerWebSocket<unknown>): Promise<{ code: number; reason: string; wasClean: boolean }> {
  // Not events.once: it listens to 'error' too (and rejects on it).
  return new Promise((resolve) => ws.once('close', (code, reason, wasClean) => resolve({ code, reason, wasClean })));
}

/** A 'ws' client's handshake refusal: the HTTP status and headers. */
async function refusalOf(client: WS): Promise<IncomingMessage> {
  client.on('error', () => {});
  const [, response] = (await once(client, 'unexpected-response')) as [unknown, IncomingMessage];
  response.resume();
  client.terminate();
  return response;
}

/** A plain HTTP GET through node:http; resolves status and body. */
async function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const req = httpRequest({ host: '127.0.0.1', port, path, headers: { Connection: 'close', ...headers } });
  req.end();
  const [response] = (await once(req, 'response')) as [IncomingMessage];
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk;
  return { status: response.statusCode!, body };
}

async function listen(t: TestContext, server: Server): Promise<number> {
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

describe('messages', () => {
  test('echoes text and binary with a ws client', async (t) => {
    const wss = await startEcho(t);
    const client = await openClient(t, urlOf(wss));
    client.send('hello');
    const [text, textIsBinary] = await once(client, 'message');
    assert.equal(text.toString(), 'hello');
    assert.equal(textIsBinary, false);
    client.send(Buffer.from([0, 1, 2, 255]));
    const [bytes, bytesIsBinary] = await once(client, 'message');
    assert.deepEqual([...bytes], [0, 1, 2, 255]);
    assert.equal(bytesIsBinary, true);
  });

  test('multi-byte UTF-8 survives both ways, and large messages too', async (t) => {
    const wss = await startEcho(t);
    const client = await openClient(t, urlOf(wss));
    const text = 'héllo — 世界 🎉 ∑';
    client.send(text);
    const [echoed] = await once(client, 'message');
    assert.equal(echoed.toString('utf8'), text);
    const big = Buffer.alloc(300_000, 7);
    client.send(big);
    const [bigEcho] = await once(client, 'message');
    assert.ok(big.equals(bigEcho));
  });

  test('echoes with undici WebSocket', async (t) => {
    const wss = await startEcho(t);
    const client = new UndiciWebSocket(urlOf(wss));
    t.after(() => client.close());
    client.binaryType = 'arraybuffer';
    await once(client, 'open');
    client.send('ünïcödé ✓');
    const [text] = (await once(client, 'message')) as [MessageEvent];
    assert.equal(text.data, 'ünïcödé ✓');
    client.send(new Uint8Array([9, 8, 7]));
    const [binary] = (await once(client, 'message')) as [MessageEvent];
    assert.deepEqual([...new Uint8Array(binary.data as ArrayBuffer)], [9, 8, 7]);
    client.close(1000, 'done');
    const [close] = (await once(client, 'close')) as [CloseEvent];
    assert.equal(close.code, 1000);
    assert.equal(close.wasClean, true);
  });

  test('send() options: bytes as text, strings as binary, invalid UTF-8 as text throws', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    const client = await openClient(t, urlOf(wss));
    const ws = await connected;
    assert.equal(ws.send(Buffer.from('as text'), { binary: false }), 'sent');
    let [data, isBinary] = await once(client, 'message');
    assert.equal(isBinary, false);
    assert.equal(data.toString(), 'as text');
    ws.send('as binary', { binary: true });
    [data, isBinary] = await once(client, 'message');
    assert.equal(isBinary, true);
    assert.equal(data.toString(), 'as binary');
    ws.send(new Uint16Array([1]).buffer);
    [data, isBinary] = await once(client, 'message');
    assert.equal(isBinary, true);
    assert.equal(data.length, 2);
    assert.throws(() => ws.send(Buffer.from([0xff]), { binary: false }), (error: unknown) => error instanceof LocalProtocolError && error.code === 'SB_ERR_INVALID_ARGUMENT');
  });

  test('bytes sent right behind the request head reach the connection after "connection"', async (t) => {
    const wss = await startServer(t);
    const received: string[] = [];
    const connected = new Promise<ServerWebSocket>((resolve) =>
      wss.on('connection', (ws) => {
        ws.on('message', (data) => received.push(data.toString()));
        resolve(ws);
      }),
    );
    const early = Buffer.concat([clientFrame(Opcode.TEXT, 'one'), clientFrame(Opcode.TEXT, 'two')]);
    const { peer } = await RawPeer.upgrade(wss.port, '/', {}, early);
    t.after(() => peer.destroy());
    const ws = await connected;
    if (received.length < 2) await once(ws, 'message');
    if (received.length < 2) await once(ws, 'message');
    assert.deepEqual(received, ['one', 'two']);
  });
});

describe('handshake', () => {
  test('paths: other paths get 404, the query is ignored, ws.path is the pathname', async (t) => {
    const wss = await startServer(t, { paths: ['/chat'] });
    const rejected = once(wss, 'rejected');
    const refusal = await refusalOf(new WS(urlOf(wss, '/other')));
    assert.equal(refusal.statusCode, 404);
    const [error] = (await rejected) as [HandshakeError];
    assert.equal(error.status, 404);
    const connected = nextConnection(wss);
    await openClient(t, urlOf(wss, '/chat?room=1'));
    const ws = await connected;
    assert.equal(ws.path, '/chat');
    assert.equal(ws.url, '/chat?room=1');
  });

  test('origin allowlist: listed origins connect, others and none get 403', async (t) => {
    const wss = await startServer(t, { allowedOrigins: ['https://app.example'] });
    await openClient(t, urlOf(wss), undefined, { origin: 'https://APP.example' });
    const rejected = once(wss, 'rejected');
    assert.equal((await refusalOf(new WS(urlOf(wss), { origin: 'https://evil.example' }))).statusCode, 403);
    const [error] = (await rejected) as [HandshakeError];
    assert.equal(error.code, 'SB_ERR_FORBIDDEN_ORIGIN');
    assert.equal((await refusalOf(new WS(urlOf(wss)))).statusCode, 403);
  });

  test('origin check as a function', async (t) => {
    const wss = await startServer(t, { allowedOrigins: (origin) => origin?.endsWith('.trusted') ?? false });
    await openClient(t, urlOf(wss), undefined, { origin: 'https://a.trusted' });
    assert.equal((await refusalOf(new WS(urlOf(wss), { origin: 'https://a.untrusted' }))).statusCode, 403);
  });

  test('authenticate rejects with a custom status, header and body', async (t) => {
    const wss = await startServer(t, {
      authenticate: () => ({ accept: false, status: 401, headers: [['WWW-Authenticate', 'Bearer realm="sb"']], body: 'token required' }),
    });
    const response = await rawExchange(wss.port, upgradeRequest('/'));
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="sb"');
    assert.equal(response.body, 'token required');
  });

  test('authenticate accepts asynchronously with data and extra 101 headers', async (t) => {
    const wss = await startServer<{ user: string }>(t, {
      authenticate: async (req) => {
        await new Promise((resolve) => setImmediate(resolve));
        return req.headers.authorization === 'Bearer alice'
          ? { accept: true, data: { user: 'alice' }, headers: [['X-User', 'alice']] }
          : { accept: false, status: 403 };
      },
    });
    const connected = nextConnection(wss);
    const client = new WS(urlOf(wss), { headers: { Authorization: 'Bearer alice' } });
    t.after(() => client.terminate());
    let upgradeHeaders: IncomingMessage['headers'] = {};
    client.on('upgrade', (response: IncomingMessage) => (upgradeHeaders = response.headers));
    await once(client, 'open');
    assert.equal(upgradeHeaders['x-user'], 'alice');
    const ws = await connected;
    assert.deepEqual(ws.data, { user: 'alice' });
    assert.equal((await refusalOf(new WS(urlOf(wss), { headers: { Authorization: 'Bearer mallory' } }))).statusCode, 403);
  });

  test('authenticate that throws gives 500 with the error as cause; bad results give 500', async (t) => {
    const boom = new Error('database down');
    let mode: 'throw' | 'status' | 'header' = 'throw';
    const wss = await startServer(t, {
      authenticate: () => {
        if (mode === 'throw') throw boom;
        if (mode === 'status') return { accept: false, status: 200 };
        return { accept: true, headers: [['X-Bad', 'a\r\nInjected: yes']] };
      },
    });
    const rejected = once(wss, 'rejected');
    const response = await rawExchange(wss.port, upgradeRequest('/'));
    assert.equal(response.status, 500);
    assert.doesNotMatch(response.body, /database/);
    const [error] = (await rejected) as [HandshakeError];
    assert.equal(error.cause, boom);
    mode = 'status';
    assert.equal((await rawExchange(wss.port, upgradeRequest('/'))).status, 500);
    mode = 'header';
    const injected = await rawExchange(wss.port, upgradeRequest('/'));
    assert.equal(injected.status, 500);
    assert.equal(injected.headers.injected, undefined);
  });

  test('a client that leaves during an async authenticate never becomes a connection', async (t) => {
    const wss = new WebSocketServer({ noServer: true, authenticate: async (req) => {
      await new Promise((resolve) => {
        req.socket.once('end', resolve);
        req.socket.once('close', resolve);
      });
      return { accept: true };
    } });
    t.after(() => wss.close());
    let connections = 0;
    wss.on('connection', () => connections++);
    const server = createServer();
    const results: Array<Promise<ServerWebSocket | null>> = [];
    const upgraded = once(server, 'upgrade');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => results.push(wss.handleUpgrade(req, socket, head)));
    const port = await listen(t, server);
    const peer = await RawPeer.connect(port);
    peer.send(Buffer.from(upgradeRequest('/')));
    await upgraded;
    peer.socket.end();
    assert.equal(await results[0], null);
    assert.equal(connections, 0);
    assert.equal(wss.clients.size, 0);
  });

  test('handshakeTimeout refuses a hanging authenticate with 503', async (t) => {
    // 500 ms: the same timeout also bounds the request head, which a loaded machine may read late (408).
    const wss = await startServer(t, { handshakeTimeout: 500, authenticate: () => new Promise<never>(() => {}) });
    const rejected = once(wss, 'rejected');
    assert.equal((await rawExchange(wss.port, upgradeRequest('/'))).status, 503);
    const [error] = (await rejected) as [HandshakeError];
    assert.equal(error.code, 'SB_ERR_HANDSHAKE_TIMEOUT');
  });

  test('subprotocols: the server list picks by server preference', async (t) => {
    const wss = await startServer(t, { subprotocols: ['v2.chat', 'v1.chat'] });
    const connected = nextConnection(wss);
    const client = await openClient(t, urlOf(wss), ['v1.chat', 'v2.chat']);
    assert.equal(client.protocol, 'v2.chat');
    assert.equal((await connected).protocol, 'v2.chat');
    const none = await RawPeer.upgrade(wss.port, '/', { 'Sec-WebSocket-Protocol': 'other' });
    t.after(() => none.peer.destroy());
    assert.doesNotMatch(none.head, /Sec-WebSocket-Protocol/i);
  });

  test('subprotocols: a selector function sees the offer and the request', async (t) => {
    const wss = await startServer(t, {
      subprotocols: (offered, req) => (req.url === '/last' ? offered[offered.length - 1] : null),
    });
    const client = await openClient(t, urlOf(wss, '/last'), ['a', 'b', 'c']);
    assert.equal(client.protocol, 'c');
    const connected = nextConnection(wss);
    const { peer, head } = await RawPeer.upgrade(wss.port, '/first', { 'Sec-WebSocket-Protocol': 'a, b' });
    t.after(() => peer.destroy());
    assert.doesNotMatch(head, /Sec-WebSocket-Protocol/i);
    assert.equal((await connected).protocol, '');
  });

  test('wrong Sec-WebSocket-Version gets 426 with Sec-WebSocket-Version: 13', async (t) => {
    const wss = await startServer(t);
    const response = await rawExchange(wss.port, upgradeRequest('/', { 'Sec-WebSocket-Version': '8' }));
    assert.equal(response.status, 426);
    assert.equal(response.headers['sec-websocket-version'], '13');
  });

  test('a bad Sec-WebSocket-Key gets 400', async (t) => {
    const wss = await startServer(t);
    const rejected = once(wss, 'rejected');
    assert.equal((await rawExchange(wss.port, upgradeRequest('/', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }))).status, 400);
    const [error] = (await rejected) as [HandshakeError];
    assert.equal(error.code, 'SB_ERR_INVALID_KEY');
    assert.equal((await rawExchange(wss.port, upgradeRequest('/', { 'Sec-WebSocket-Key': '' }))).status, 400);
  });

  test('a plain GET to the standalone server gets 426 with Upgrade: websocket; POST gets 405', async (t) => {
    const wss = await startServer(t);
    const response = await rawExchange(wss.port, 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(response.status, 426);
    assert.equal(response.headers.upgrade, 'websocket');
    assert.equal((await httpGet(wss.port, '/')).status, 426);
    const post = await rawExchange(wss.port, 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
  });

  test('options: exactly one mode, valid limits', () => {
    const invalid = (error: unknown): boolean => error instanceof ServerError && error.code === 'SB_ERR_INVALID_OPTIONS';
    assert.throws(() => new WebSocketServer({}), invalid);
    assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), invalid);
    assert.throws(() => new WebSocketServer({ noServer: true, maxMessageSize: -1 }), invalid);
    assert.throws(() => new WebSocketServer({ noServer: true, tls: {} }), invalid);
    const wss = new WebSocketServer({ noServer: true });
    assert.equal(wss.address(), null);
    assert.throws(() => wss.port, (error: unknown) => error instanceof ServerError && error.code === 'SB_ERR_NOT_LISTENING');
  });
});

describe('modes', () => {
  test('attached to an existing http server: its normal requests still work', async (t) => {
    const server = createServer((_req, res) => res.end('plain http'));
    const wss = new WebSocketServer({ server });
    t.after(() => wss.close());
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo:${data.toString()}`)));
    await wss.ready();
    const port = await listen(t, server);
    assert.deepEqual(await httpGet(port, '/anything'), { status: 200, body: 'plain http' });
    const client = await openClient(t, `ws://127.0.0.1:${port}/`);
    client.send('hi');
    const [reply] = await once(client, 'message');
    assert.equal(reply.toString(), 'echo:hi');
    assert.equal(wss.address()?.port, port);
    client.close();
    await once(client, 'close');
    await wss.close();
    assert.equal(server.listening, true, 'a given server is only detached from');
    assert.equal(server.listenerCount('upgrade'), 0);
  });

  test('noServer with handleUpgrade resolves the connection', async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    t.after(() => wss.close());
    const server = createServer();
    const handled: Array<Promise<ServerWebSocket | null>> = [];
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url === '/ws') handled.push(wss.handleUpgrade(req, socket, head));
      else socket.destroy();
    });
    const port = await listen(t, server);
    const client = await openClient(t, `ws://127.0.0.1:${port}/ws`);
    const ws = await handled[0]!;
    assert.ok(ws instanceof ServerWebSocket);
    assert.equal(wss.clients.has(ws), true);
    ws.send('from handleUpgrade');
    const [message] = await once(client, 'message');
    assert.equal(message.toString(), 'from handleUpgrade');
  });

  test('TLS: a standalone https server with a self-signed certificate', async (t) => {
    const { key, cert } = selfSignedCertificate();
    const wss = await startServer(t, { tls: { key, cert } });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString().toUpperCase())));
    const client = await openClient(t, `wss://localhost:${wss.port}/`, undefined, { ca: cert });
    client.send('secure');
    const [message] = await once(client, 'message');
    assert.equal(message.toString(), 'SECURE');
  });
});

describe('heartbeat', () => {
  test('terminates a peer that never answers pings', async (t) => {
    // 300 ms: the listeners below are attached after the upgrade is read, which must come before the expiry.
    const wss = await startServer(t, { heartbeatInterval: 300 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const errored = once(ws, 'error');
    const closed = closeOf(ws);
    const ping = await peer.frame();
    assert.equal(ping.opcode, Opcode.PING);
    const [error] = (await errored) as [ConnectionError];
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.code, 'SB_ERR_HEARTBEAT_TIMEOUT');
    assert.deepEqual(await closed, { code: 1006, reason: '', wasClean: false });
    await peer.closed;
    assert.equal(wss.clients.size, 0);
  });

  test('keeps a client that answers pings alive', async (t) => {
    // 400 ms: a pong must come back within one interval, and the peer runs in this process too.
    const wss = await startServer(t, { heartbeatInterval: 400 });
    const connected = nextConnection(wss);
    const client = await openClient(t, urlOf(wss));
    const ws = await connected;
    for (let pongs = 0; pongs < 4; pongs++) await once(ws, 'pong');
    assert.equal(ws.readyState, ServerWebSocket.OPEN);
    assert.equal(client.readyState, WS.OPEN);
  });

  test('incoming data counts as alive', async (t) => {
    const wss = await startServer(t, { heartbeatInterval: 400 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    // Never answers pings, but sends a message after each one.
    for (let i = 0; i < 4; i++) {
      assert.equal((await peer.frame()).opcode, Opcode.PING);
      peer.send(clientFrame(Opcode.TEXT, `tick ${i}`));
      await once(ws, 'message');
    }
    assert.equal(ws.readyState, ServerWebSocket.OPEN);
  });
});

describe('backpressure', () => {
  test("send returns 'backpressure' for a client that stopped reading, then 'drain' fires", async (t) => {
    const wss = await startServer(t, { maxBufferedAmount: 256 * 1024 * 1024 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    peer.socket.pause();
    const message = Buffer.alloc(1024 * 1024, 1);
    const results = new Set<string>();
    const count = 24;
    for (let i = 0; i < count; i++) results.add(ws.send(message));
    assert.ok(results.has('backpressure'));
    assert.ok(!results.has('dropped'));
    assert.ok(ws.bufferedAmount > 0);
    const drained = once(ws, 'drain');
    peer.socket.resume();
    for (let i = 0; i < count; i++) assert.equal((await peer.frame()).payload.length, message.length);
    await drained;
    assert.equal(ws.bufferedAmount, 0);
  });

  test("policy 'drop' returns 'dropped' and keeps the connection", async (t) => {
    const wss = await startServer(t, { backpressurePolicy: 'drop', maxBufferedAmount: 4096, highWaterMark: 1024 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const results = Array.from({ length: 20 }, (_, i) => ws.send(Buffer.alloc(1000, i)));
    assert.ok(results.includes('dropped'));
    assert.ok(results.includes('backpressure'));
    assert.equal(ws.readyState, ServerWebSocket.OPEN);
    const kept = results.filter((result) => result !== 'dropped').length;
    for (let i = 0; i < kept; i++) assert.equal((await peer.frame()).payload.length, 1000);
    ws.send('after');
    assert.equal((await peer.frame()).payload.toString(), 'after');
  });

  test("policy 'close' disconnects the slow consumer", async (t) => {
    const wss = await startServer(t, { backpressurePolicy: 'close', maxBufferedAmount: 4096 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const errored = once(ws, 'error');
    const closed = closeOf(ws);
    const results = Array.from({ length: 10 }, () => ws.send(Buffer.alloc(1000)));
    assert.ok(results.includes('dropped'));
    assert.notEqual(ws.readyState, ServerWebSocket.OPEN);
    const [error] = (await errored) as [ConnectionError];
    assert.equal(error.code, 'SB_ERR_SLOW_CONSUMER');
    const { code, wasClean } = await closed;
    assert.equal(code, 1008);
    assert.equal(wasClean, false);
    await peer.closed;
  });
});

describe('broadcast', () => {
  test('delivers identical bytes to every client, framed once', async (t) => {
    const wss = await startServer(t);
    const peers: RawPeer[] = [];
    for (let i = 0; i < 5; i++) {
      const connected = nextConnection(wss);
      const { peer } = await RawPeer.upgrade(wss.port);
      t.after(() => peer.destroy());
      peers.push(peer);
      await connected;
    }
    const written: Uint8Array[] = [];
    for (const ws of wss.clients) {
      const binding = bindingOf(ws);
      t.mock.method(binding, 'sendFrames', function (this: typeof binding, frames: Uint8Array) {
        written.push(frames);
        return Object.getPrototypeOf(binding).sendFrames.call(this, frames);
      });
      t.mock.method(binding, 'send', () => assert.fail('broadcast must not frame per connection'));
    }
    const text = 'to everyone — ✓';
    assert.equal(wss.broadcast(text), 5);
    assert.equal(written.length, 5);
    assert.ok(written.every((frames) => frames === written[0]), 'the same buffer object goes to every connection');
    const frames = await Promise.all(peers.map((peer) => peer.frame()));
    for (const frame of frames) {
      assert.ok(frame.bytes.equals(frames[0]!.bytes));
      assert.equal(frame.opcode, Opcode.TEXT);
      assert.equal(frame.payload.toString('utf8'), text);
    }
    assert.ok(frames[0]!.bytes.equals(Buffer.from(written[0]!)));
  });

  test('binary broadcasts and filters', async (t) => {
    const wss = await startServer<{ room: string }>(t, {
      authenticate: (req) => ({ accept: true, data: { room: req.url === '/a' ? 'a' : 'b' } }),
    });
    const a = await openClient(t, urlOf(wss, '/a'));
    const b = await openClient(t, urlOf(wss, '/b'));
    while (wss.clients.size < 2) await once(wss, 'connection');
    let bGot = false;
    b.on('message', () => (bGot = true));
    assert.equal(wss.broadcast(new Uint8Array([1, 2, 3]), { filter: (ws) => ws.data.room === 'a' }), 1);
    const [data, isBinary] = await once(a, 'message');
    assert.equal(isBinary, true);
    assert.deepEqual([...data], [1, 2, 3]);
    assert.equal(wss.broadcast('all'), 2);
    const [[toA], [toB]] = await Promise.all([once(a, 'message'), once(b, 'message')]);
    assert.equal(toA.toString(), 'all');
    assert.equal(toB.toString(), 'all');
    assert.equal(bGot, true);
  });
});

describe('closing', () => {
  test('server close(4000, "bye") is seen by the client', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    const client = await openClient(t, urlOf(wss));
    const ws = await connected;
    const serverClosed = closeOf(ws);
    ws.close(4000, 'bye');
    assert.equal(ws.readyState, ServerWebSocket.CLOSING);
    assert.equal(wss.clients.size, 0);
    const [code, reason] = await once(client, 'close');
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'bye');
    const { code: echoed, wasClean } = await serverClosed;
    assert.equal(echoed, 4000, 'the client echoed our code');
    assert.equal(wasClean, true);
    assert.equal(ws.readyState, ServerWebSocket.CLOSED);
    assert.equal(ws.send('late'), 'dropped');
  });

  test('a client close is seen by the server with wasClean', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    const client = await openClient(t, urlOf(wss));
    const ws = await connected;
    const closed = closeOf(ws);
    client.close(4001, 'done');
    assert.deepEqual(await closed, { code: 4001, reason: 'done', wasClean: true });
    const [code] = await once(client, 'close');
    assert.equal(code, 4001);
  });

  test('close() refuses codes that may not be sent and long reasons', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    await openClient(t, urlOf(wss));
    const ws = await connected;
    const local = (code: string) => (error: unknown) => error instanceof LocalProtocolError && error.code === code;
    assert.throws(() => ws.close(1005), local('SB_ERR_INVALID_CLOSE_CODE'));
    assert.throws(() => ws.close(2000), local('SB_ERR_INVALID_CLOSE_CODE'));
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), local('SB_ERR_CLOSE_REASON_TOO_LONG'));
    assert.throws(() => ws.ping(Buffer.alloc(126)), local('SB_ERR_CONTROL_PAYLOAD_TOO_LONG'));
    assert.equal(ws.readyState, ServerWebSocket.OPEN);
  });

  test('terminate() closes at once with 1006', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    const client = await openClient(t, urlOf(wss));
    const ws = await connected;
    const closed = closeOf(ws);
    ws.terminate();
    assert.deepEqual(await closed, { code: 1006, reason: '', wasClean: false });
    const [code] = await once(client, 'close');
    assert.equal(code, 1006);
  });

  test('an unmasked frame from a raw client: close 1002 on the wire, error and close 1002 on the server', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const errored = once(ws, 'error');
    const closed = closeOf(ws);
    peer.send(clientFrame(Opcode.TEXT, 'not masked', false));
    const close = await peer.frame();
    assert.equal(close.opcode, Opcode.CLOSE);
    assert.equal(close.payload.readUInt16BE(0), 1002);
    const [error] = (await errored) as [RemoteProtocolError];
    assert.ok(error instanceof RemoteProtocolError);
    assert.equal(error.code, 'SB_ERR_UNMASKED_FRAME');
    assert.deepEqual(await closed, { code: 1002, reason: '', wasClean: false });
    await peer.closed;
  });

  test('a message over maxMessageSize gets 1009', async (t) => {
    const wss = await startServer(t, { maxMessageSize: 16 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const closed = closeOf(ws);
    peer.send(clientFrame(Opcode.BINARY, Buffer.alloc(17)));
    const close = await peer.frame();
    assert.equal(close.payload.readUInt16BE(0), 1009);
    assert.equal((await closed).code, 1009);
  });

  test('a violation without an error listener does not crash the server', async (t) => {
    const wss = await startServer(t);
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const closed = closeOf(ws);
    peer.send(Buffer.from([0x83, 0x80, 0, 0, 0, 0])); // reserved opcode 3
    assert.equal((await closed).code, 1002);
  });
});

/** A raw peer after its handshake that keeps writing after the server's FIN (half-open), and the server's side of its socket. */
async function halfOpenPeer<Data>(wss: WebSocketServer<Data>): Promise<{ peer: RawPeer; ws: ServerWebSocket<Data>; serverSocket: Socket }> {
  const connected = once(wss, 'connection') as Promise<[ServerWebSocket<Data>, IncomingMessage]>;
  const socket = connectTcp({ port: wss.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const peer = new RawPeer(socket);
  socket.write(upgradeRequest('/', { 'Sec-WebSocket-Key': generateKey() }));
  assert.match(await peer.readHead(), /^HTTP\/1\.1 101 /);
  const [ws, request] = await connected;
  return { peer, ws, serverSocket: request.socket as Socket };
}

/** Writes `mebibytes` MiB of 64 KiB binary frames without waiting for the socket to take them. */
function flood(peer: RawPeer, mebibytes: number): void {
  const frame = clientFrame(Opcode.BINARY, Buffer.alloc(64 * 1024));
  for (let i = 0; i < mebibytes * 16; i++) peer.socket.write(frame);
}

/** Resolves after `ms` milliseconds. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('reading flow control', () => {
  test('pause() stops reading: the peer is held back by TCP; resume() delivers every message', async (t) => {
    const wss = await startServer(t);
    const { peer, ws, serverSocket } = await halfOpenPeer(wss);
    t.after(() => peer.destroy());
    ws.pause();
    assert.equal(ws.isPaused, true);
    let messages = 0;
    ws.on('message', () => messages++);
    flood(peer, 16);
    await delay(300);
    assert.ok(serverSocket.bytesRead < 1024 * 1024, `${serverSocket.bytesRead} bytes read while paused`);
    assert.ok(messages <= 2, `${messages} messages while paused`);
    ws.resume();
    assert.equal(ws.isPaused, false);
    const deadline = Date.now() + 10_000;
    while (messages < 256 && Date.now() < deadline) await delay(20);
    assert.equal(messages, 256);
  });

  test('close() while paused: close frame and FIN at once, nothing parsed, at most 64 KiB read, destroyed after closeTimeout', async (t) => {
    const wss = await startServer(t, { closeTimeout: 500 });
    const { peer, ws, serverSocket } = await halfOpenPeer(wss);
    t.after(() => peer.destroy());
    let messages = 0;
    ws.on('message', () => messages++);
    ws.pause();
    flood(peer, 16);
    await delay(50);
    const readBefore = serverSocket.bytesRead;
    const closed = closeOf(ws);
    const started = Date.now();
    ws.close(4005, 'flood');
    const close = await peer.frame();
    assert.equal(close.opcode, Opcode.CLOSE);
    assert.equal(close.payload.readUInt16BE(0), 4005);
    const status = await closed;
    const elapsed = Date.now() - started;
    assert.equal(status.wasClean, false);
    assert.ok(elapsed < 3000, `closed after ${elapsed} ms`);
    assert.equal(messages, 0, 'no message parsed');
    const readAfter = serverSocket.bytesRead - readBefore;
    assert.ok(readAfter < 512 * 1024, `${readAfter} bytes read after the close`);
    await peer.closed;
  });

  test('close() while paused: a peer that answers and ends is closed at once, not after closeTimeout', async (t) => {
    const wss = await startServer(t, { closeTimeout: 10_000 });
    const { peer, ws } = await halfOpenPeer(wss);
    t.after(() => peer.destroy());
    ws.pause();
    const closed = closeOf(ws);
    const started = Date.now();
    ws.close(4005, 'flood');
    const close = await peer.frame();
    assert.equal(close.payload.readUInt16BE(0), 4005);
    peer.socket.end(clientFrame(Opcode.CLOSE, close.payload));
    await closed;
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `closed after ${elapsed} ms`);
  });

  test('after a protocol violation, a peer that keeps sending is read for at most 64 KiB', async (t) => {
    const wss = await startServer(t, { closeTimeout: 500 });
    const { peer, ws, serverSocket } = await halfOpenPeer(wss);
    t.after(() => peer.destroy());
    let readAtViolation = -1;
    ws.on('error', () => (readAtViolation = serverSocket.bytesRead));
    const closed = closeOf(ws);
    peer.send(clientFrame(Opcode.TEXT, 'not masked', false));
    flood(peer, 16);
    assert.equal((await closed).code, 1002);
    assert.ok(readAtViolation >= 0);
    const readAfter = serverSocket.bytesRead - readAtViolation;
    assert.ok(readAfter < 512 * 1024, `${readAfter} bytes read after the violation`);
  });
});

describe('graceful shutdown', () => {
  test('clients get 1001, the server closes and stops listening', async (t) => {
    const wss = await startServer(t);
    const port = wss.port;
    const clients: WS[] = [];
    for (let i = 0; i < 3; i++) clients.push(await openClient(t, urlOf(wss)));
    while (wss.clients.size < 3) await once(wss, 'connection');
    const codes = Promise.all(clients.map(async (client) => (await once(client, 'close'))[0] as number));
    const serverClosed = once(wss, 'close');
    await wss.close({ reason: 'maintenance' });
    await serverClosed;
    assert.deepEqual(await codes, [1001, 1001, 1001]);
    assert.equal(wss.clients.size, 0);
    const refused = new WS(`ws://127.0.0.1:${port}/`);
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(wss.close(), wss.close(), 'close() twice returns the same promise');
  });

  test('peers that do not answer the close frame are terminated after the timeout', async (t) => {
    const wss = await startServer(t, { closeTimeout: 60_000 });
    const connected = nextConnection(wss);
    const { peer } = await RawPeer.upgrade(wss.port);
    t.after(() => peer.destroy());
    const ws = await connected;
    const closed = closeOf(ws);
    await wss.close({ timeout: 50 });
    const close = await peer.frame();
    assert.equal(close.opcode, Opcode.CLOSE);
    assert.equal(close.payload.readUInt16BE(0), 1001);
    assert.equal((await closed).code, 1006);
  });

  test('an upgrade pending in authenticate is refused with 503 on close()', async (t) => {
    let entered!: () => void;
    const inAuth = new Promise<void>((resolve) => (entered = resolve));
    const wss = await startServer(t, {
      authenticate: () => {
        entered();
        return new Promise<never>(() => {});
      },
    });
    const response = rawExchange(wss.port, upgradeRequest('/'));
    await inAuth;
    await wss.close();
    assert.equal((await response).status, 503);
  });
});
