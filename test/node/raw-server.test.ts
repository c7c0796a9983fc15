// The raw-socket path of a standalone WebSocketServer (the default), through
// real sockets: heads in pieces, the request the hooks see (the same as on
// the http.Server path), bounded heads, ordinary requests answered by the
// internal http.Server, and shutdown with connections still in their head.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { IncomingMessage, Server as HttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import WS from 'ws';
import { Opcode } from '../../src/protocol/frame.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { ServerError, WebSocketServer, type ServerOptions } from '../../src/node/server-index.js';
import { clientFrame, rawExchange, RawPeer, selfSignedCertificate, upgradeRequest } from './server-helpers.js';

type Options = Omit<ServerOptions<undefined>, 'port' | 'server' | 'noServer'>;

async function startServer(t: TestContext, options: Options = {}): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  t.after(() => wss.close({ timeout: 200 }));
  await wss.ready();
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

/** What a hook sees of the request, in plain data. */
interface SeenRequest {
  isIncomingMessage: boolean;
  method: string | undefined;
  url: string | undefined;
  httpVersion: string;
  headers: Record<string, unknown>;
  rawHeaders: string[];
  remotePort: number | undefined;
  /** True when Node's http.Server accepted the socket. */
  viaHttpServer: boolean;
}

function seen(request: IncomingMessage): SeenRequest {
  return {
    isIncomingMessage: request instanceof IncomingMessage,
    method: request.method,
    url: request.url,
    httpVersion: request.httpVersion,
    headers: { ...request.headers },
    rawHeaders: request.rawHeaders,
    remotePort: request.socket.remotePort,
    viaHttpServer: (request.socket as { server?: unknown }).server instanceof HttpServer,
  };
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const REQUEST =
  'GET /room/1?x=%20y HTTP/1.1\r\n' +
  'Host: app.example:8080\r\n' +
  'Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n' +
  `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
  'Cookie: a=1\r\nCookie: b=2\r\nX-Trace: one\r\nx-trace: two\r\nUser-Agent: first\r\nUser-Agent: second\r\n' +
  'Origin: https://app.example\r\n\r\n';

describe('raw-socket path', () => {
  test('a head sent one byte at a time, with a frame right behind it, opens the connection and the frame is read', async (t) => {
    const wss = await startServer(t);
    const peer = await RawPeer.connect(wss.port);
    t.after(() => peer.destroy());
    const bytes = Buffer.concat([Buffer.from(REQUEST), clientFrame(Opcode.TEXT, 'early')]);
    for (let i = 0; i < bytes.length; i++) {
      peer.send(bytes.subarray(i, i + 1));
      if (i % 16 === 0) await sleep(1);
    }
    const head = await peer.readHead();
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.ok(head.includes(`Sec-WebSocket-Accept: ${computeAccept(KEY)}`));
    const frame = await peer.frame();
    assert.equal(frame.payload.toString(), 'early');
  });

  test('the hooks see the request the http.Server path gives them: an IncomingMessage with the same fields', async (t) => {
    const requests: SeenRequest[] = [];
    const ports: number[] = [];
    for (const rawSocket of [true, false]) {
      const wss = await startServer(t, {
        rawSocket,
        authenticate: (request) => {
          requests.push(seen(request));
          return { accept: false, status: 403 };
        },
      });
      const peer = await RawPeer.connect(wss.port);
      ports.push(peer.socket.localPort!);
      peer.send(Buffer.from(REQUEST));
      assert.match(await peer.readHead(), /^HTTP\/1\.1 403 /);
      peer.destroy();
    }
    const [raw, http] = requests;
    assert.ok(raw && http);
    assert.equal(raw.viaHttpServer, false, 'rawSocket (default) does not go through http.Server');
    assert.equal(http.viaHttpServer, true, 'rawSocket: false does');
    assert.equal(raw.remotePort, ports[0]);
    assert.equal(http.remotePort, ports[1]);
    const comparable = (request: SeenRequest): Omit<SeenRequest, 'viaHttpServer' | 'remotePort'> => {
      const { viaHttpServer: _via, remotePort: _port, ...rest } = request;
      return rest;
    };
    assert.deepEqual(comparable(raw), comparable(http));
    assert.equal(raw.isIncomingMessage, true);
    assert.equal(raw.headers.cookie, 'a=1; b=2');
    assert.equal(raw.headers['user-agent'], 'first');
  });

  test('heads over the bounds get 431 or 414, malformed ones 400, and are closed; the server keeps serving', async (t) => {
    const wss = await startServer(t);
    const rejected: unknown[] = [];
    wss.on('rejected', (error) => rejected.push(error));
    const cases: Array<[string, number]> = [
      [`GET / HTTP/1.1\r\nHost: x\r\n${'X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(90)}${'X-Big: ' + 'b'.repeat(14000)}\r\n\r\n`, 431],
      [`GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(101)}\r\n`, 431],
      [`GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      ['GET / HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 400],
      ['NOT HTTP AT ALL\r\n\r\n', 400],
    ];
    for (const [request, status] of cases) {
      const peer = await RawPeer.connect(wss.port);
      peer.send(Buffer.from(request, 'latin1'));
      const answer = (await peer.readToEnd()).toString('latin1');
      assert.equal(answer.split('\r\n')[0]!.split(' ')[1], String(status), request.slice(0, 40));
      assert.match(answer, /\r\nConnection: close\r\n/i);
    }
    assert.deepEqual(rejected, [], 'no request object, no rejected event (as with the http.Server path)');
    const client = new WS(`ws://127.0.0.1:${wss.port}/`);
    t.after(() => client.terminate());
    await once(client, 'open');
  });

  test('ordinary requests are answered by the internal http.Server: heads in pieces, bodies behind them, then the connection closes', async (t) => {
    const wss = await startServer(t);
    const get = await RawPeer.connect(wss.port);
    get.send(Buffer.from('GET / HTTP/1.1\r\nHo'));
    await sleep(20);
    get.send(Buffer.from('st: localhost\r\n\r\n'));
    const getAnswer = (await get.readToEnd()).toString('latin1');
    assert.match(getAnswer, /^HTTP\/1\.1 426 /);
    assert.match(getAnswer, /\r\nUpgrade: websocket\r\n/i);
    assert.match(getAnswer, /\r\nConnection: close\r\n/i);

    const post = await RawPeer.connect(wss.port);
    post.send(Buffer.from('POST /submit HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello'));
    await sleep(20);
    post.send(Buffer.from(' world'));
    const postAnswer = (await post.readToEnd()).toString('latin1');
    assert.match(postAnswer, /^HTTP\/1\.1 405 /);
    assert.match(postAnswer, /\r\nAllow: GET\r\n/i);

    // HTTP/1.0 cannot upgrade: 400, as acceptHandshake answers.
    const response = await rawExchange(wss.port, 'GET /x HTTP/1.0\r\nHost: localhost\r\n\r\n');
    assert.equal(response.status, 400);
  });

  test('close() destroys connections still sending their head and resolves without waiting for the handshake timeout', async (t) => {
    const wss = await startServer(t, { handshakeTimeout: 30_000 });
    const silent = await RawPeer.connect(wss.port);
    const partial = await RawPeer.connect(wss.port);
    partial.send(Buffer.from('GET / HTTP/1.1\r\nHost: loc'));
    await sleep(20);
    const started = performance.now();
    await wss.close({ timeout: 100 });
    await Promise.all([silent.closed, partial.closed]);
    assert.ok(performance.now() - started < 2000, `closed after ${(performance.now() - started).toFixed(0)} ms`);
  });

  test('TLS: a client that resets right after its TLS handshake does not hold close() back', async (t) => {
    const { key, cert } = selfSignedCertificate();
    const wss = await startServer(t, { tls: { key, cert } });
    for (let i = 0; i < 5; i++) {
      const socket = tlsConnect({ port: wss.port, host: '127.0.0.1', servername: 'localhost', ca: cert });
      socket.on('error', () => {});
      await once(socket, 'secureConnect');
      assert.equal(socket.alpnProtocol, false, 'no ALPN offered, none chosen');
      socket.destroy();
    }
    const alpn = tlsConnect({ port: wss.port, host: '127.0.0.1', servername: 'localhost', ca: cert, ALPNProtocols: ['h2', 'http/1.1'] });
    await once(alpn, 'secureConnect');
    assert.equal(alpn.alpnProtocol, 'http/1.1', 'a browser offering h2 gets HTTP/1.1');
    alpn.destroy();
    const closed = await Promise.race([wss.close({ timeout: 100 }).then(() => 'closed'), sleep(3000).then(() => 'stuck')]);
    assert.equal(closed, 'closed');
  });

  test('TLS: an ordinary https request is answered by the internal http.Server, a wss client connects', async (t) => {
    const { key, cert } = selfSignedCertificate();
    const wss = await startServer(t, { tls: { key, cert } });
    const request = httpsRequest({ host: '127.0.0.1', port: wss.port, path: '/page', servername: 'localhost', ca: cert, headers: { Connection: 'close' } });
    request.end();
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    let body = '';
    for await (const chunk of response) body += String(chunk);
    assert.equal(response.statusCode, 426);
    assert.equal(response.headers.upgrade, 'websocket');
    assert.match(body, /Upgrade: websocket/);
    const client = new WS(`wss://localhost:${wss.port}/`, { ca: cert });
    t.after(() => client.terminate());
    await once(client, 'open');
    client.send('over tls');
    assert.equal(((await once(client, 'message')) as [Buffer])[0].toString(), 'over tls');
  });

  test('rawSocket: false keeps the http.Server path with the same answers', async (t) => {
    const wss = await startServer(t, { rawSocket: false, handshakeTimeout: 300 });
    const client = new WS(`ws://127.0.0.1:${wss.port}/`);
    t.after(() => client.terminate());
    await once(client, 'open');
    assert.equal((await rawExchange(wss.port, 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')).status, 426);
    const silent = await RawPeer.connect(wss.port);
    assert.match((await silent.readToEnd()).toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.equal((await rawExchange(wss.port, upgradeRequest('/', { Host: '' }))).status, 400);
  });

  test('rawSocket applies to a server created by port, without http2', () => {
    const invalid = (error: unknown): boolean => error instanceof ServerError && error.code === 'SB_ERR_INVALID_OPTIONS';
    assert.throws(() => new WebSocketServer({ noServer: true, rawSocket: true }), invalid);
    assert.throws(() => new WebSocketServer({ server: new HttpServer(), rawSocket: false }), invalid);
    assert.throws(() => new WebSocketServer({ port: 0, http2: true, rawSocket: true }), invalid);
  });
});
