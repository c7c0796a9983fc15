// The Node WebSocket client over HTTP/2 (RFC 8441) against WebSocketServer:
// one session per origin shared by many WebSockets, h2c, fallback to HTTP/1.1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { describe, test, type TestContext } from 'node:test';
import { WebSocket, type ErrorEvent } from '../../src/node/client-index.js';
import { WebSocketServer, type ServerOptions, type ServerWebSocket } from '../../src/node/server-index.js';
import { closed, messages, nextMessage, opened } from './client-helpers.js';
import { selfSignedCertificate } from './server-helpers.js';

const certificate = selfSignedCertificate();
const tls = { ca: certificate.cert };

type Options = Omit<ServerOptions<undefined>, 'port' | 'server' | 'noServer' | 'tls' | 'http2'>;

interface Counted {
  wss: WebSocketServer;
  /** TCP connections the server accepted. */
  tcp: () => number;
  /** HTTP versions of the accepted WebSockets, in order. */
  versions: string[];
}

async function start(t: TestContext, options: Options & { http2?: boolean; secure?: boolean } = {}): Promise<Counted> {
  const { http2 = true, secure = true, ...rest } = options;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', http2, ...(secure && { tls: certificate }), ...rest });
  t.after(() => wss.close({ timeout: 200 }));
  await wss.ready();
  let tcp = 0;
  // The listening server: the http2/https one, or the raw-socket path's net/tls server.
  type Listener = { on(event: string, listener: () => void): void };
  const internals = wss as unknown as { httpServer: Listener | null; raw: { server: Listener } | null };
  (internals.raw?.server ?? internals.httpServer)!.on('connection', () => tcp++);
  const versions: string[] = [];
  wss.on('connection', (ws, request) => {
    versions.push(request.httpVersion);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return { wss, tcp: () => tcp, versions };
}

function client(t: TestContext, url: string, protocols?: string[], options: ConstructorParameters<typeof WebSocket>[2] = {}): WebSocket {
  const ws = new WebSocket(url, protocols, { http2: true, tls, ...options });
  t.after(() => ws.close());
  return ws;
}

describe('WebSocket client over HTTP/2', () => {
  test('ten WebSockets over one TLS connection, echoing text and binary', async (t) => {
    const { wss, tcp, versions } = await start(t);
    const sockets = Array.from({ length: 10 }, () => client(t, `wss://localhost:${wss.port}/chat`));
    await Promise.all(sockets.map(opened));
    assert.deepEqual(versions, Array(10).fill('2.0'));
    assert.equal(tcp(), 1);
    await Promise.all(
      sockets.map(async (ws, i) => {
        ws.binaryType = 'nodebuffer';
        const got = messages(ws, 2);
        ws.send(`text ${i}`);
        ws.send(Buffer.from([i, 255]));
        const [text, binary] = await got;
        assert.equal(text, `text ${i}`);
        assert.deepEqual([...(binary as Buffer)], [i, 255]);
      }),
    );
  });

  test('h2c with prior knowledge (ws:)', async (t) => {
    const { wss, versions } = await start(t, { secure: false });
    const ws = client(t, `ws://127.0.0.1:${wss.port}/`);
    await opened(ws);
    ws.send('clear');
    assert.equal(await nextMessage(ws), 'clear');
    assert.deepEqual(versions, ['2.0']);
  });

  test('subprotocol and permessage-deflate negotiated; a large compressed message both ways', async (t) => {
    const { wss } = await start(t, { subprotocols: ['v2', 'v1'], perMessageDeflate: true });
    const ws = client(t, `wss://localhost:${wss.port}/`, ['v1', 'v2']);
    await opened(ws);
    assert.equal(ws.protocol, 'v2');
    assert.match(ws.extensions, /^permessage-deflate/);
    const big = 'x'.repeat(900 * 1024);
    ws.send(big);
    assert.equal(await nextMessage(ws), big);
  });

  test('8 MiB sent in 1 MiB messages under flow control: bufferedAmount rises, then drains to 0', async (t) => {
    const { wss } = await start(t);
    const ws = client(t, `wss://localhost:${wss.port}/`);
    ws.binaryType = 'nodebuffer';
    await opened(ws);
    const chunk = Buffer.alloc(1024 * 1024, 3);
    const got = messages(ws, 8);
    for (let i = 0; i < 8; i++) ws.send(chunk);
    assert.ok(ws.bufferedAmount >= 7 * 1024 * 1024, `bufferedAmount ${ws.bufferedAmount}`);
    const received = await got;
    assert.equal(received.length, 8);
    for (const data of received) assert.ok((data as Buffer).equals(chunk));
    assert.equal(ws.bufferedAmount, 0);
  });

  test('close codes: client close ends the stream, the session stays for the others', async (t) => {
    const { wss, tcp } = await start(t);
    const seen: Array<[number, string]> = [];
    let serverClosed!: () => void;
    const onServerClose = new Promise<void>((resolve) => (serverClosed = resolve));
    wss.on('connection', (sws: ServerWebSocket) =>
      sws.on('close', (code, reason) => {
        seen.push([code, reason]);
        serverClosed();
      }),
    );
    const a = client(t, `wss://localhost:${wss.port}/`);
    const b = client(t, `wss://localhost:${wss.port}/`);
    await Promise.all([opened(a), opened(b)]);
    const done = closed(a);
    a.close(4000, 'done');
    const event = await done;
    assert.equal(event.code, 4000);
    assert.equal(event.wasClean, true);
    await onServerClose;
    assert.deepEqual(seen, [[4000, 'done']]);
    b.send('alive');
    assert.equal(await nextMessage(b), 'alive');
    // A new WebSocket reuses the open session.
    const c = client(t, `wss://localhost:${wss.port}/`);
    await opened(c);
    assert.equal(tcp(), 1);
  });

  test('the session is shared while WebSockets use it and closed once the last one is gone', async (t) => {
    const { wss, tcp } = await start(t);
    const sessionClosed: Array<Promise<unknown>> = [];
    (wss as unknown as { httpServer: { on(event: string, listener: (session: NodeJS.EventEmitter) => void): void } }).httpServer.on('session', (session) =>
      sessionClosed.push(once(session, 'close')),
    );
    const a = client(t, `wss://localhost:${wss.port}/`);
    const b = client(t, `wss://localhost:${wss.port}/`);
    await Promise.all([opened(a), opened(b)]);
    assert.equal(sessionClosed.length, 1);
    const aClosed = closed(a);
    a.close(1000);
    await aClosed;
    b.send('after a');
    assert.equal(await nextMessage(b), 'after a');
    const bClosed = closed(b);
    b.close(1000);
    await bClosed;
    await sessionClosed[0];
    // A later WebSocket opens a new session.
    const c = client(t, `wss://localhost:${wss.port}/`);
    await opened(c);
    assert.equal(sessionClosed.length, 2);
    assert.equal(tcp(), 2);
  });

  test('server close code reaches the client; a server terminate (RST_STREAM) gives 1006', async (t) => {
    const { wss } = await start(t);
    const a = client(t, `wss://localhost:${wss.port}/`);
    const b = client(t, `wss://localhost:${wss.port}/`);
    await Promise.all([opened(a), opened(b)]);
    const [first, second] = [...wss.clients];
    const aClosed = closed(a);
    const bClosed = closed(b);
    first!.close(4100, 'server says bye');
    const aEvent = await aClosed;
    assert.equal(aEvent.code, 4100);
    assert.equal(aEvent.reason, 'server says bye');
    second!.terminate();
    const bEvent = await bClosed;
    assert.equal(bEvent.code, 1006);
    assert.equal(bEvent.wasClean, false);
  });

  test('a refused extended CONNECT fails the WebSocket (error, then close 1006)', async (t) => {
    const { wss } = await start(t, { paths: ['/only'] });
    const ws = client(t, `wss://localhost:${wss.port}/elsewhere`);
    const errors: unknown[] = [];
    ws.addEventListener('error', (event) => errors.push((event as ErrorEvent).error));
    const event = await closed(ws);
    assert.equal(event.code, 1006);
    assert.equal((errors[0] as { status?: number }).status, 404);
  });

  test('falls back to HTTP/1.1 against a server without h2', async (t) => {
    const { wss, versions } = await start(t, { http2: false });
    const ws = client(t, `wss://localhost:${wss.port}/`);
    await opened(ws);
    ws.send('one-one');
    assert.equal(await nextMessage(ws), 'one-one');
    assert.deepEqual(versions, ['1.1']);
  });

  test('falls back to HTTP/1.1 when the h2 server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL', async (t) => {
    const { createSecureServer } = await import('node:http2');
    const server = createSecureServer({ ...certificate, allowHTTP1: true, settings: { enableConnectProtocol: false } });
    const plain = new WebSocketServer({ noServer: true });
    server.on('upgrade', (request, socket, head) => void plain.handleUpgrade(request, socket, head));
    const versions: string[] = [];
    plain.on('connection', (ws, request) => {
      versions.push(request.httpVersion);
      ws.on('message', (data) => ws.send(data.toString()));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(async () => {
      await plain.close({ timeout: 200 });
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const ws = client(t, `wss://localhost:${port}/`);
    await opened(ws);
    ws.send('fallback');
    assert.equal(await nextMessage(ws), 'fallback');
    assert.deepEqual(versions, ['1.1']);
  });

  test('without the option, HTTP/1.1 is used; with a session open to the origin, it is reused', async (t) => {
    const { wss, versions, tcp } = await start(t);
    const first = new WebSocket(`wss://localhost:${wss.port}/`, undefined, { tls });
    t.after(() => first.close());
    await opened(first);
    assert.deepEqual(versions, ['1.1']);
    const h2 = client(t, `wss://localhost:${wss.port}/`);
    await opened(h2);
    const implicit = new WebSocket(`wss://localhost:${wss.port}/`, undefined, { tls });
    t.after(() => implicit.close());
    await opened(implicit);
    assert.deepEqual(versions, ['1.1', '2.0', '2.0']);
    assert.equal(tcp(), 2);
  });

  test('an https server that speaks only HTTP/1.1 (no ALPN h2): fallback', async (t) => {
    const server = createHttpsServer(certificate);
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(async () => {
      await wss.close({ timeout: 200 });
      server.close();
    });
    const ws = client(t, `wss://localhost:${wss.port}/`);
    await opened(ws);
    ws.send('old');
    assert.equal(await nextMessage(ws), 'old');
  });
});
