// WebSocketServer over HTTP/2 (RFC 8441), driven by Node's own http2 client
// sending hand-written extended CONNECTs and masked frames.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import {
  connect as http2Connect,
  constants as h2,
  createSecureServer,
  createServer as createH2cServer,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { describe, test, type TestContext } from 'node:test';
import { Opcode } from '../../src/protocol/frame.js';
import { WebSocketServer, type ServerOptions, type ServerWebSocket } from '../../src/node/server-index.js';
import { clientFrame, parseFrame, selfSignedCertificate, type RawFrame } from './server-helpers.js';

const certificate = selfSignedCertificate();

type Options = Omit<ServerOptions<undefined>, 'port' | 'server' | 'noServer' | 'tls' | 'http2'>;

async function startH2(t: TestContext, options: Options = {}, tls = true): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', http2: true, ...(tls && { tls: certificate }), ...options });
  t.after(() => wss.close({ timeout: 200 }));
  await wss.ready();
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return wss;
}

function session(t: TestContext, port: number, tls = true): ClientHttp2Session {
  const client = tls ? http2Connect(`https://localhost:${port}`, { ca: certificate.cert }) : http2Connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  t.after(() => client.destroy());
  return client;
}

/** Waits for the server's SETTINGS (Node refuses `:protocol` before it knows the peer allows it). */
async function settled(client: ClientHttp2Session): Promise<void> {
  if (!client.remoteSettings.enableConnectProtocol) await once(client, 'remoteSettings');
}

function connectHeaders(extra: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  return { ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/chat', 'sec-websocket-version': '13', ...extra };
}

interface Opened {
  stream: ClientHttp2Stream;
  headers: IncomingHttpHeaders;
  body: string;
}

async function extendedConnect(client: ClientHttp2Session, headers: OutgoingHttpHeaders): Promise<Opened> {
  await settled(client);
  const stream = client.request(headers, { endStream: false });
  stream.on('error', () => {});
  const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  if (Number(response[':status']) === 200) return { stream, headers: response, body: '' };
  let body = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) body += chunk as string;
  return { stream, headers: response, body };
}

/** Reads frames from a stream. */
class FrameReader {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;
  constructor(stream: ClientHttp2Stream) {
    stream.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (const wake of this.waiters.splice(0)) wake();
    });
    stream.on('end', () => {
      this.ended = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
  async next(): Promise<RawFrame> {
    for (;;) {
      const frame = parseFrame(this.buffer);
      if (frame !== null) {
        this.buffer = this.buffer.subarray(frame.bytes.length);
        return frame;
      }
      if (this.ended) throw new Error('stream ended');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

describe('WebSocketServer over HTTP/2', () => {
  test('standalone TLS: h2 extended CONNECT gets 200 without Sec-WebSocket-Accept, and echoes', async (t) => {
    const wss = await startH2(t);
    const versions: string[] = [];
    wss.on('connection', (_ws, request) => versions.push(request.httpVersion));
    const client = session(t, wss.port);
    await settled(client);
    assert.equal(client.remoteSettings.enableConnectProtocol, true);
    const { stream, headers } = await extendedConnect(client, connectHeaders());
    assert.equal(headers[':status'], 200);
    assert.equal(headers['sec-websocket-accept'], undefined);
    const frames = new FrameReader(stream);
    stream.write(clientFrame(Opcode.TEXT, 'hello h2'));
    const echoed = await frames.next();
    assert.equal(echoed.opcode, Opcode.TEXT);
    assert.equal(echoed.payload.toString(), 'hello h2');
    assert.deepEqual(versions, ['2.0']);
  });

  test('cleartext h2c with prior knowledge', async (t) => {
    const wss = await startH2(t, {}, false);
    const client = session(t, wss.port, false);
    const { stream, headers } = await extendedConnect(client, connectHeaders({ ':scheme': 'http' }));
    assert.equal(headers[':status'], 200);
    const frames = new FrameReader(stream);
    stream.write(clientFrame(Opcode.BINARY, Buffer.from([1, 2, 3])));
    assert.deepEqual([...(await frames.next()).payload], [1, 2, 3]);
  });

  test('a connection that holds no stream is closed after handshakeTimeout; open WebSockets keep it, however quiet', async (t) => {
    // 800 ms: the second session below must open its stream within it, on a machine that may be loaded.
    const wss = await startH2(t, { handshakeTimeout: 800, heartbeatInterval: 0 }, false);
    // Opens nothing at all: closed by the server.
    const started = Date.now();
    const silent = session(t, wss.port, false);
    await once(silent, 'close');
    const silentFor = Date.now() - started;
    assert.ok(silentFor >= 700 && silentFor < 5000, `an empty connection closed after ${silentFor} ms`);
    // A quiet WebSocket keeps its connection open past the timeout; once it ends, the connection goes too.
    const client = session(t, wss.port, false);
    const { stream } = await extendedConnect(client, connectHeaders({ ':scheme': 'http' }));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(client.closed || client.destroyed, false, 'the connection with a WebSocket stayed');
    assert.equal(wss.clients.size, 1);
    stream.close();
    const ended = Date.now();
    await once(client, 'close');
    assert.ok(Date.now() - ended < 3000);
  });

  test('several WebSockets share one session and one TCP connection', async (t) => {
    const wss = await startH2(t);
    let tcp = 0;
    (wss as unknown as { httpServer: { on(event: string, listener: () => void): void } }).httpServer.on('connection', () => tcp++);
    const client = session(t, wss.port);
    const opened = await Promise.all(Array.from({ length: 5 }, () => extendedConnect(client, connectHeaders())));
    assert.equal(wss.clients.size, 5);
    await Promise.all(
      opened.map(async ({ stream }, i) => {
        const frames = new FrameReader(stream);
        stream.write(clientFrame(Opcode.TEXT, `n${i}`));
        assert.equal((await frames.next()).payload.toString(), `n${i}`);
      }),
    );
    assert.equal(tcp, 1);
  });

  test('subprotocol and permessage-deflate are negotiated', async (t) => {
    const wss = await startH2(t, { subprotocols: ['b', 'a'], perMessageDeflate: true });
    const client = session(t, wss.port);
    const { headers } = await extendedConnect(
      client,
      connectHeaders({ 'sec-websocket-protocol': 'a, b', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    assert.equal(headers[':status'], 200);
    assert.equal(headers['sec-websocket-protocol'], 'b');
    assert.match(String(headers['sec-websocket-extensions']), /^permessage-deflate/);
    const [ws] = [...wss.clients];
    assert.equal(ws!.protocol, 'b');
    assert.match(ws!.extensions, /^permessage-deflate/);
  });

  const refusals: Array<{ name: string; headers: OutgoingHttpHeaders; options?: Options; status: number }> = [
    { name: 'wrong version', headers: { 'sec-websocket-version': '8' }, status: 426 },
    { name: 'no version', headers: { 'sec-websocket-version': undefined }, status: 426 },
    { name: 'other :protocol', headers: { ':protocol': 'webtransport' }, status: 400 },
    { name: 'unknown path', headers: { ':path': '/elsewhere' }, options: { paths: ['/chat'] }, status: 404 },
    { name: 'origin not allowed', headers: { origin: 'https://evil.example' }, options: { allowedOrigins: ['https://good.example'] }, status: 403 },
    { name: 'host not served', headers: {}, options: { allowedHosts: ['example.com'] }, status: 421 },
    { name: 'repeated subprotocol', headers: { 'sec-websocket-protocol': 'a, a' }, options: { subprotocols: ['a'] }, status: 400 },
    { name: 'authenticate refuses', headers: {}, options: { authenticate: () => ({ accept: false, status: 401, headers: [['WWW-Authenticate', 'Bearer']] }) }, status: 401 },
    { name: 'authenticate throws', headers: {}, options: { authenticate: () => { throw new Error('boom'); } }, status: 500 },
  ];
  for (const { name, headers, options, status } of refusals) {
    test(`refuses an extended CONNECT: ${name} → ${status}`, async (t) => {
      const wss = await startH2(t, options);
      const rejected: number[] = [];
      wss.on('rejected', (error) => rejected.push(error.status));
      const client = session(t, wss.port);
      const answer = await extendedConnect(client, connectHeaders(headers));
      assert.equal(answer.headers[':status'], status);
      assert.deepEqual(rejected, [status]);
      assert.equal(wss.clients.size, 0);
      if (status === 426) assert.equal(answer.headers['sec-websocket-version'], '13');
      if (status === 401) assert.equal(answer.headers['www-authenticate'], 'Bearer');
    });
  }

  test('a CONNECT without :protocol is not a WebSocket (405 from a standalone server)', async (t) => {
    const wss = await startH2(t);
    const client = session(t, wss.port);
    await settled(client);
    const stream = client.request({ ':method': 'CONNECT', ':authority': `localhost:${wss.port}` }, { endStream: false });
    stream.on('error', () => {});
    const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    assert.equal(response[':status'], 405);
    assert.equal(wss.clients.size, 0);
  });

  test('an ordinary h2 GET gets 400, an HTTP/1.1 GET on the same port gets 426', async (t) => {
    const wss = await startH2(t);
    const client = session(t, wss.port);
    const stream = client.request({ ':path': '/chat' });
    stream.on('error', () => {});
    const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    assert.equal(response[':status'], 400);
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpsRequest({ host: '127.0.0.1', port: wss.port, path: '/chat', ca: certificate.cert, servername: 'localhost' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      request.on('error', reject);
      request.end();
    });
    assert.equal(status, 426);
  });

  test('closing a WebSocket ends its stream and leaves the session open', async (t) => {
    const wss = await startH2(t);
    const client = session(t, wss.port);
    const [a, b] = await Promise.all([extendedConnect(client, connectHeaders()), extendedConnect(client, connectHeaders())]);
    const [first] = [...wss.clients];
    const closed = once(first!, 'close');
    const frames = new FrameReader(a.stream);
    first!.close(4001, 'bye');
    const frame = await frames.next();
    assert.equal(frame.opcode, Opcode.CLOSE);
    assert.equal(frame.payload.readUInt16BE(0), 4001);
    a.stream.write(clientFrame(Opcode.CLOSE, frame.payload.subarray(0, 2)));
    a.stream.end();
    const [code, , wasClean] = await closed;
    assert.equal(code, 4001);
    assert.equal(wasClean, true);
    await once(a.stream, 'close');
    assert.equal(client.closed, false);
    const other = new FrameReader(b.stream);
    b.stream.write(clientFrame(Opcode.TEXT, 'still here'));
    assert.equal((await other.next()).payload.toString(), 'still here');
  });

  test('RST_STREAM closes the WebSocket with 1006; the others go on', async (t) => {
    const wss = await startH2(t);
    const client = session(t, wss.port);
    const [a, b] = await Promise.all([extendedConnect(client, connectHeaders()), extendedConnect(client, connectHeaders())]);
    const sockets = [...wss.clients];
    const closed = once(sockets[0]!, 'close') as Promise<[number, string, boolean]>;
    a.stream.close(h2.NGHTTP2_CANCEL);
    const [code, , wasClean] = await closed;
    assert.equal(code, 1006);
    assert.equal(wasClean, false);
    assert.equal(wss.clients.size, 1);
    const frames = new FrameReader(b.stream);
    b.stream.write(clientFrame(Opcode.TEXT, 'ok'));
    assert.equal((await frames.next()).payload.toString(), 'ok');
  });

  test('server close(): 1001 on each stream, GOAWAY, and the session ends', async (t) => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', http2: true, tls: certificate });
    await wss.ready();
    const client = session(t, wss.port);
    const { stream } = await extendedConnect(client, connectHeaders());
    const frames = new FrameReader(stream);
    const goaway = once(client, 'goaway');
    const closing = wss.close();
    const frame = await frames.next();
    assert.equal(frame.opcode, Opcode.CLOSE);
    assert.equal(frame.payload.readUInt16BE(0), 1001);
    await goaway;
    stream.write(clientFrame(Opcode.CLOSE, frame.payload.subarray(0, 2)));
    stream.end();
    await closing;
    await once(client, 'close');
  });

  test('large messages both ways under HTTP/2 flow control, with drain', async (t) => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', http2: true, tls: certificate });
    t.after(() => wss.close({ timeout: 200 }));
    await wss.ready();
    const client = session(t, wss.port);
    const connected = once(wss, 'connection') as Promise<[ServerWebSocket]>;
    const { stream } = await extendedConnect(client, connectHeaders());
    const [ws] = await connected;
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    // The client does not read yet: the stream's flow-control window (64 KiB) fills, the rest stays buffered.
    stream.pause();
    assert.equal(ws.send(big), 'backpressure');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(ws.bufferedAmount > 1024 * 1024, `bufferedAmount ${ws.bufferedAmount}`);
    const drained = once(ws, 'drain');
    const frames = new FrameReader(stream);
    stream.resume();
    const frame = await frames.next();
    await drained;
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(frame.payload.length, big.length);
    assert.ok(frame.payload.equals(big));
    // And the other way: a 1 MiB masked frame (the default maxFrameSize) reaches the server whole.
    const mib = big.subarray(0, 1024 * 1024);
    const received = once(ws, 'message') as Promise<[Buffer, boolean]>;
    stream.write(clientFrame(Opcode.BINARY, mib));
    const [data] = await received;
    assert.ok(data.equals(mib));
  });

  test('attached to http2.createSecureServer({ allowHTTP1 }): h2 streams and HTTP/1.1 upgrades on one port, app requests untouched', async (t) => {
    const server = createSecureServer({ ...certificate, allowHTTP1: true }, (request, response) => {
      response.end(`app ${request.httpVersion}`);
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const versions: string[] = [];
    wss.on('connection', (_ws, request) => versions.push(request.httpVersion));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(async () => {
      await wss.close({ timeout: 200 });
      server.close();
    });
    const port = wss.port;
    const client = session(t, port);
    const { headers, stream } = await extendedConnect(client, connectHeaders());
    assert.equal(headers[':status'], 200);
    const frames = new FrameReader(stream);
    stream.write(clientFrame(Opcode.TEXT, 'x'));
    assert.equal((await frames.next()).payload.toString(), 'x');
    const page = client.request({ ':path': '/' });
    page.setEncoding('utf8');
    let body = '';
    for await (const chunk of page) body += chunk as string;
    assert.equal(body, 'app 2.0');
    const { WebSocket: WS } = await import('ws');
    const http1 = new WS(`wss://localhost:${port}/chat`, { ca: certificate.cert });
    await once(http1, 'open');
    http1.send('over 1.1');
    const [echo] = (await once(http1, 'message')) as [Buffer];
    assert.equal(echo.toString(), 'over 1.1');
    http1.close();
    assert.deepEqual(versions.sort(), ['1.1', '2.0']);
  });

  test('after close(), an attached server answers extended CONNECTs 405 (Node), not silence', async (t) => {
    const server = createSecureServer({ ...certificate, allowHTTP1: true }, (_request, response) => response.end('app'));
    const wss = new WebSocketServer({ server });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const port = wss.port;
    await wss.close();
    const client = session(t, port);
    const answer = await extendedConnect(client, connectHeaders());
    assert.equal(answer.headers[':status'], 405);
  });

  test('attached to an h2c server without a request listener', async (t) => {
    const server = createH2cServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(async () => {
      await wss.close({ timeout: 200 });
      server.close();
    });
    const client = session(t, wss.port, false);
    const { headers, stream } = await extendedConnect(client, connectHeaders({ ':scheme': 'http' }));
    assert.equal(headers[':status'], 200);
    const frames = new FrameReader(stream);
    stream.write(clientFrame(Opcode.TEXT, 'plain'));
    assert.equal((await frames.next()).payload.toString(), 'plain');
  });

  test('maxConnectionsPerIp counts each WebSocket stream; a closed stream frees its place', async (t) => {
    const wss = await startH2(t, { maxConnectionsPerIp: 2, connectionLimitExempt: () => false });
    const client = session(t, wss.port);
    const [a] = await Promise.all([extendedConnect(client, connectHeaders()), extendedConnect(client, connectHeaders())]);
    const third = await extendedConnect(client, connectHeaders());
    assert.equal(third.headers[':status'], 429);
    a.stream.close(h2.NGHTTP2_CANCEL);
    await once(a.stream, 'close');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const fourth = await extendedConnect(client, connectHeaders());
    assert.equal(fourth.headers[':status'], 200);
  });

  test('maxStreamsPerConnection is advertised as SETTINGS_MAX_CONCURRENT_STREAMS', async (t) => {
    const wss = await startH2(t, { maxStreamsPerConnection: 3 });
    const client = session(t, wss.port);
    await settled(client);
    assert.equal(client.remoteSettings.maxConcurrentStreams, 3);
  });

  test('heartbeat pings go over the stream and pongs keep it alive', async (t) => {
    // 400 ms: each pong crosses TLS and HTTP/2 and this process's own event loop within one interval.
    const wss = await startH2(t, { heartbeatInterval: 400 });
    const client = session(t, wss.port);
    const { stream } = await extendedConnect(client, connectHeaders());
    const frames = new FrameReader(stream);
    const ping = await frames.next();
    assert.equal(ping.opcode, Opcode.PING);
    stream.write(clientFrame(Opcode.PONG, ping.payload));
    const again = await frames.next();
    assert.equal(again.opcode, Opcode.PING);
    stream.write(clientFrame(Opcode.PONG, again.payload));
    assert.equal(wss.clients.size, 1);
  });

  test('broadcast reaches h2 and HTTP/1.1 clients alike', async (t) => {
    const wss = await startH2(t);
    const client = session(t, wss.port);
    const { stream } = await extendedConnect(client, connectHeaders());
    const { WebSocket: WS } = await import('ws');
    const http1 = new WS(`wss://localhost:${wss.port}/chat`, { ca: certificate.cert });
    t.after(() => http1.terminate());
    await once(http1, 'open');
    const frames = new FrameReader(stream);
    const got = once(http1, 'message') as Promise<[Buffer]>;
    assert.equal(wss.broadcast('to all'), 2);
    assert.equal((await frames.next()).payload.toString(), 'to all');
    assert.equal((await got)[0].toString(), 'to all');
  });
});
