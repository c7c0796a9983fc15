// createRealtimeServer over HTTP/2 (RFC 8441), through real sockets with the
// Node SDK: standalone with TLS (h2 and HTTP/1.1 on one port, by ALPN),
// cleartext h2 with prior knowledge (h2c), attached to an application's
// `http2.createSecureServer({ allowHTTP1: true })`; the HTTP fallback over h2
// streams and over HTTP/1.1 on the same port; `stats().transports`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect as http2Connect, createSecureServer, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, it, type TestContext } from 'node:test';
import { selfSignedCertificate } from '../../node/server-helpers.js';
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type NodeRealtimeClientOptions, type PublicationEvent } from '../../../src/realtime/sdk/node.js';
import { http2Fetch, https1Fetch } from './fetch-clients.js';

const certificate = selfSignedCertificate();
const WAIT = 5_000;

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function start(t: TestContext, options: RealtimeServerOptions): Promise<RealtimeServer> {
  const rt = createRealtimeServer({ path: '/rt', namespaces: { chat: { publish: 'clients' } }, ...options });
  rt.method('add', (params) => {
    const { a, b } = params as { a: number; b: number };
    return a + b;
  });
  t.after(() => rt.close());
  await rt.ready();
  return rt;
}

/** The sockets under the WebSockets the server accepted (an h2 session's socket is shared by its streams). */
function acceptedSockets(rt: RealtimeServer): { sockets: Set<Socket>; versions: string[] } {
  const seen = { sockets: new Set<Socket>(), versions: [] as string[] };
  rt.wss.on('connection', (_ws, request: IncomingMessage) => {
    seen.sockets.add(request.socket);
    seen.versions.push(request.httpVersion);
  });
  return seen;
}

async function connected(t: TestContext, url: string, options: NodeRealtimeClientOptions): Promise<RealtimeClient> {
  const client = new RealtimeClient(url, { reconnect: false, ...options });
  t.after(() => client.close());
  const ready = new Promise<void>((resolve, reject) => {
    client.once('connected', () => resolve());
    client.once('disconnected', (event) => reject(new Error(`disconnected: ${JSON.stringify(event)}`)));
  });
  client.connect();
  await ready;
  return client;
}

function session(t: TestContext, origin: string): ClientHttp2Session {
  const client = origin.startsWith('https:') ? http2Connect(origin, { ca: certificate.cert }) : http2Connect(origin);
  client.on('error', () => {});
  t.after(() => client.destroy());
  return client;
}

const h2Tls = { http2: true, tls: { ca: certificate.cert } } as const;

describe('createRealtimeServer over HTTP/2', { timeout: 30_000 }, () => {
  it('standalone with TLS: subscribe, publish and RPC over h2, two clients on one connection, HTTP/1.1 on the same port', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true });
    const seen = acceptedSockets(rt);
    const url = `wss://localhost:${rt.port}/rt`;
    const a = await connected(t, url, { webSocketOptions: h2Tls });
    const b = await connected(t, url, { webSocketOptions: h2Tls });
    assert.deepEqual(seen.versions, ['2.0', '2.0']);
    assert.equal(seen.sockets.size, 1, 'both WebSockets are streams of one TLS connection');

    const received: Array<PublicationEvent<unknown>> = [];
    const subA = a.subscribe('chat:h2');
    const subB = b.subscribe('chat:h2');
    subB.on('publication', (publication) => received.push(publication));
    await Promise.all([subA.ready(), subB.ready()]);
    await subA.publish({ text: 'over h2' });
    await until(() => received.length === 1, 'the publication');
    assert.deepEqual(received[0]!.data, { text: 'over h2' });
    assert.equal(await b.call('add', { a: 20, b: 22 }), 42);

    const h1 = await connected(t, url, { webSocketOptions: { tls: { ca: certificate.cert } } });
    assert.equal(await h1.call('add', { a: 1, b: 1 }), 2);
    assert.equal(seen.versions.at(-1), '1.1');
    assert.equal(seen.sockets.size, 2);
    assert.deepEqual(rt.stats().transports, { websocket: { http1: 1, http2: 2 }, http: { http1: 0, http2: 0 } });
    assert.equal(rt.stats().connections, 3);
    assert.deepEqual([...rt.sessions.values()].map((s) => s.httpVersion).sort(), [1, 2, 2]);

    a.close();
    await until(() => rt.stats().transports.websocket.http2 === 1, 'the closed session to leave the count');
  });

  it('carries many WebSockets over one h2 connection', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true });
    const seen = acceptedSockets(rt);
    const url = `wss://localhost:${rt.port}/rt`;
    const clients = await Promise.all(Array.from({ length: 40 }, () => connected(t, url, { webSocketOptions: h2Tls })));
    assert.equal(seen.sockets.size, 1);
    assert.equal(rt.stats().transports.websocket.http2, 40);
    const counts = clients.map(() => 0);
    await Promise.all(clients.map((client, i) => {
      const subscription = client.subscribe('chat:many');
      subscription.on('publication', () => counts[i]!++);
      return subscription.ready();
    }));
    await rt.publish('chat:many', { n: 1 });
    await until(() => counts.every((count) => count === 1), 'every client to get the publication');
    const sums = await Promise.all(clients.map((client, i) => client.call('add', { a: i, b: 1 })));
    assert.deepEqual(sums, clients.map((_, i) => i + 1));
  });

  it('h2c with prior knowledge, without TLS (for proxies that speak h2 upstream)', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', http2: true });
    const seen = acceptedSockets(rt);
    const client = await connected(t, `ws://127.0.0.1:${rt.port}/rt`, { webSocketOptions: { http2: true } });
    assert.equal(await client.call('add', { a: 2, b: 3 }), 5);
    assert.deepEqual(seen.versions, ['2.0']);
    assert.deepEqual(rt.stats().transports.websocket, { http1: 0, http2: 1 });
  });

  it('serves the HTTP fallback over h2 streams and over HTTP/1.1 on the same TLS port', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true });
    const origin = `https://localhost:${rt.port}`;
    const h2 = session(t, origin);
    const overH2 = await connected(t, `${origin}/rt`, { transports: ['http'], fetch: http2Fetch(h2) });
    const overH1 = await connected(t, `${origin}/rt`, { transports: ['http'], fetch: https1Fetch(certificate.cert) });
    assert.equal(overH2.transport, 'http');
    assert.deepEqual(rt.stats().transports, { websocket: { http1: 0, http2: 0 }, http: { http1: 1, http2: 1 } });

    const received: unknown[] = [];
    const subscription = overH2.subscribe('chat:fallback');
    subscription.on('publication', (publication) => received.push(publication.data));
    await subscription.ready();
    await overH1.publish('chat:fallback', { text: 'from HTTP/1.1' });
    await until(() => received.length === 1, 'the publication over the h2 event stream');
    assert.deepEqual(received, [{ text: 'from HTTP/1.1' }]);
    assert.equal(await overH2.call('add', { a: 40, b: 2 }), 42);
  });

  it('holds fallback events under the event stream’s HTTP/2 flow control, and delivers them all in order once it is read again', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true });
    const h2 = session(t, `https://localhost:${rt.port}`);
    const eventStreams: ClientHttp2Stream[] = [];
    const fetch = http2Fetch(h2, (stream, headers) => {
      if (String(headers['content-type']).startsWith('text/event-stream')) eventStreams.push(stream);
    });
    const client = await connected(t, `https://localhost:${rt.port}/rt`, { transports: ['http'], fetch });
    const offsets: number[] = [];
    const subscription = client.subscribe('chat:flow');
    subscription.on('publication', (publication) => offsets.push(publication.offset));
    await subscription.ready();
    const downlink = eventStreams.at(-1)!;
    downlink.pause();
    const count = 200;
    const text = 'x'.repeat(1024);
    for (let i = 0; i < count; i++) await rt.publish('chat:flow', { i, text });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(offsets.length < count, `the paused stream held back publications (${offsets.length} of ${count} arrived)`);
    downlink.resume();
    await until(() => offsets.length === count, 'every publication after the stream was read again');
    assert.deepEqual(offsets, Array.from({ length: count }, (_, i) => i + 1));
    assert.equal(client.transport, 'http');
  });

  it('answers plain h2 requests as a WebSocket endpoint does, without HTTP/1.1-only fields', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true });
    const h2 = session(t, `https://localhost:${rt.port}`);
    const ask = async (path: string): Promise<{ status: number; upgrade: unknown }> => {
      const stream = h2.request({ ':path': path });
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      stream.resume();
      await once(stream, 'end');
      return { status: Number(headers[':status']), upgrade: headers['upgrade'] };
    };
    assert.deepEqual(await ask('/rt'), { status: 426, upgrade: undefined });
    assert.deepEqual(await ask('/elsewhere'), { status: 404, upgrade: undefined });
  });

  it('refuses an h2 fallback request whose :authority is not an allowed host (421)', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true, websocket: { allowedHosts: ['localhost'] } });
    const h2 = session(t, `https://localhost:${rt.port}`);
    const status = async (authority: string): Promise<number> => {
      const stream = h2.request({ ':method': 'POST', ':path': '/rt/http', ':authority': authority, 'content-type': 'application/json' });
      stream.end('[]');
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      stream.resume();
      return Number(headers[':status']);
    };
    assert.equal(await status('evil.example'), 421);
    assert.notEqual(await status(`localhost:${rt.port}`), 421);
    const conflicting = h2.request({ ':method': 'POST', ':path': '/rt/http', ':authority': `localhost:${rt.port}`, host: 'evil.example', 'content-type': 'application/json' });
    conflicting.end('[]');
    const [headers] = (await once(conflicting, 'response')) as [Record<string, unknown>];
    conflicting.resume();
    assert.equal(headers[':status'], 400, 'a host field that contradicts :authority');
  });

  it('gives an HTTP/1.1 request head on the h2 port the handshake timeout (408), as without http2', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true, websocket: { handshakeTimeout: 500 } });
    const socket = tlsConnect({ host: '127.0.0.1', port: rt.port, servername: 'localhost', ca: certificate.cert, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => {});
    await once(socket, 'secureConnect');
    assert.equal(socket.alpnProtocol, 'http/1.1');
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
    socket.write('GET /rt HTTP/1.1\r\nHost: localhost\r\n');
    const started = Date.now();
    await once(socket, 'close');
    assert.match(response, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 3_000);
  });

  it('closes an h2 connection that opens no stream within the handshake timeout, with GOAWAY', async (t) => {
    const rt = await start(t, { port: 0, host: '127.0.0.1', tls: certificate, http2: true, websocket: { handshakeTimeout: 300 } });
    const h2 = session(t, `https://localhost:${rt.port}`);
    await once(h2, 'connect');
    const started = Date.now();
    let goaway = false;
    h2.once('goaway', () => (goaway = true));
    await once(h2, 'close');
    assert.ok(Date.now() - started < 3_000);
    assert.equal(goaway, true, 'closed with GOAWAY, not a reset');
  });

  it('attached to an application’s http2.createSecureServer({ allowHTTP1: true }): its routes, WebSockets and the fallback over h2', async (t) => {
    const app = createSecureServer({ ...certificate, allowHTTP1: true }, (request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' }).end(`app over ${request.httpVersion}`);
    });
    const rt = await start(t, { server: app });
    const seen = acceptedSockets(rt);
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    // An http2 server's close() waits for its sessions: the clients close first (hooks run in order).
    let appClosed: Promise<unknown> = Promise.resolve();
    t.after(() => appClosed);
    const origin = `https://localhost:${(app.address() as AddressInfo).port}`;
    const ws = await connected(t, `${origin.replace('https', 'wss')}/rt`, { webSocketOptions: h2Tls });
    assert.equal(await ws.call('add', { a: 1, b: 2 }), 3);
    assert.deepEqual(seen.versions, ['2.0']);

    const h2 = session(t, origin);
    const page = h2.request({ ':path': '/' });
    page.setEncoding('utf8');
    let body = '';
    for await (const chunk of page) body += chunk as string;
    assert.equal(body, 'app over 2.0');
    const fallback = await connected(t, `${origin}/rt`, { transports: ['http'], fetch: http2Fetch(h2) });
    assert.equal(await fallback.call('add', { a: 3, b: 4 }), 7);
    assert.deepEqual(rt.stats().transports, { websocket: { http1: 0, http2: 1 }, http: { http1: 0, http2: 1 } });
    ws.close();
    fallback.close();
    h2.destroy();
    await rt.close();
    appClosed = new Promise((resolve) => app.close(resolve));
  });
});
