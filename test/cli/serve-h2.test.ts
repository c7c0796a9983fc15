// `switchboard serve` with TLS: h2 and HTTP/1.1 on one port, as users run it
// (the built bin). Node's http2 client checks that the h2 side keeps the
// HTTP/1.1 server's guarantees (security headers, the Host check on
// :authority, SETTINGS, the idle-connection and request timeouts, the caps
// per address); the SDK opens its WebSockets over h2 and /metrics counts
// them per transport; Chromium loads a page over h2 and its WebSocket rides
// that same connection (one TCP connection through a counting proxy, and
// the server's per-transport count says h2).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect as http2Connect, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { UsageError } from '../../src/cli/args.js';
import { resolveSettings } from '../../src/cli/serve-config.js';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import type { DemoApi } from '../../src/cli/apps/web/api.js';
import { launchChromium } from '../interop/peers.js';
import { chromiumPeer } from './browser-helpers.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { eventually, startServe, TcpProxy, type ServeProcess } from './serve-helpers.js';

const certificate = selfSignedCertificate();
/** TLS options trusting the test certificate (a fresh object each time: Node's http2.connect writes into the one it is given). */
const tls = (): { ca: Buffer } => ({ ca: certificate.cert });
/** The fields whose values differ between two answers, or between HTTP versions by design. */
const VARYING = new Set([':status', 'date', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

function tempDir(): { path: string; write(name: string, content: string | object): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'serve-h2-'));
  return {
    path,
    write(name, content) {
      writeFileSync(join(path, name), typeof content === 'string' ? content : JSON.stringify(content));
      return join(path, name);
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

function session(port: number): ClientHttp2Session {
  const client = http2Connect(`https://localhost:${port}`, tls());
  client.on('error', () => {});
  return client;
}

/** Resolves true once the session is connected, false when it closed first (refused). */
function admitted(client: ClientHttp2Session): Promise<boolean> {
  return new Promise((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('close', () => resolve(false));
  });
}

/** An h2 request; resolves with the response headers and body. */
async function h2Get(client: ClientHttp2Session, headers: OutgoingHttpHeaders): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  const stream = client.request(headers);
  const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  stream.setEncoding('utf8');
  let body = '';
  for await (const chunk of stream) body += chunk as string;
  return { headers: response, body };
}

/** An HTTPS request over HTTP/1.1; resolves with the status and headers. */
function h1Get(port: number, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host: 'localhost', port, path, ca: certificate.cert, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** A metric's value in a Prometheus scrape (over HTTP/1.1, so the scrape opens no h2 connection). */
async function metric(port: number, line: RegExp): Promise<number | undefined> {
  const text = await new Promise<string>((resolve, reject) => {
    httpsRequest({ host: 'localhost', port, path: '/metrics', ca: certificate.cert, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  const match = line.exec(text);
  return match === null ? undefined : Number(match[1]);
}

const WS_OVER_H2 = /^switchboard_transport_connections\{transport="websocket",http="2",worker="1"\} (\d+)$/m;
const FALLBACK_OVER_H2 = /^switchboard_transport_connections\{transport="http",http="2",worker="1"\} (\d+)$/m;
const WS_OVER_H1 = /^switchboard_transport_connections\{transport="websocket",http="1",worker="1"\} (\d+)$/m;

function fieldsWithout(headers: Record<string, unknown>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!VARYING.has(name.toLowerCase())) kept[name.toLowerCase()] = String(value);
  return kept;
}

describe('--max-streams and maxStreamsPerConnection', () => {
  it('default to 100, take the flag over the file, refuse 0 and non-numbers', () => {
    assert.equal(resolveSettings({}).maxStreamsPerConnection, 100);
    assert.equal(resolveSettings({}, { maxStreamsPerConnection: 20 }).maxStreamsPerConnection, 20);
    assert.equal(resolveSettings({ 'max-streams': '9' }, { maxStreamsPerConnection: 20 }).maxStreamsPerConnection, 9);
    assert.throws(() => resolveSettings({ 'max-streams': '0' }), UsageError);
    assert.throws(() => resolveSettings({ 'max-streams': 'many' }), UsageError);
  });
});

describe('switchboard serve with TLS: h2 and HTTP/1.1 on one port', { timeout: 60_000 }, () => {
  let dir: ReturnType<typeof tempDir>;
  let serve: ServeProcess;

  before(async () => {
    dir = tempDir();
    const config = dir.write('h2.json', {
      tls: { cert: dir.write('cert.pem', certificate.cert.toString()), key: dir.write('key.pem', certificate.key.toString()) },
      maxStreamsPerConnection: 7,
      maxSocketsPerIp: 4,
      api: { key: 'an-api-key-for-the-h2-tests' },
      websocket: { handshakeTimeout: 1500, connectionLimitExempt: [] },
    });
    serve = await startServe(['--port', '0', '--config', config]);
  });

  after(async () => {
    await serve?.stop();
    dir?.remove();
  });

  it('advertises extended CONNECT (RFC 8441) and its stream cap in SETTINGS', async () => {
    const client = session(serve.port);
    try {
      const [settings] = (await once(client, 'remoteSettings')) as [{ enableConnectProtocol?: boolean; maxConcurrentStreams?: number }];
      assert.equal(settings.enableConnectProtocol, true);
      assert.equal(settings.maxConcurrentStreams, 7);
    } finally {
      client.destroy();
    }
  });

  it('answers pages over h2 with the same headers as over HTTP/1.1, without HTTP/1.1-only fields', async () => {
    const client = session(serve.port);
    try {
      for (const path of ['/chat', '/rt', '/nothing-here']) {
        const over2 = await h2Get(client, { ':path': path });
        const over1 = await h1Get(serve.port, path);
        assert.equal(Number(over2.headers[':status']), over1.status, path);
        assert.deepEqual(fieldsWithout(over2.headers), fieldsWithout(over1.headers), path);
        assert.match(String(over2.headers['content-security-policy']), /default-src 'none'/);
        assert.equal(over2.headers['upgrade'], undefined, 'no Upgrade field over h2');
      }
      assert.equal((await h1Get(serve.port, '/rt')).headers['upgrade'], 'websocket');
    } finally {
      client.destroy();
    }
  });

  it('checks :authority as HTTP/1.1 checks Host: 421 for a name not served, 400 when Host contradicts it', async () => {
    const client = session(serve.port);
    try {
      const foreign = await h2Get(client, { ':path': '/chat', ':authority': `rebind.example:${serve.port}` });
      assert.equal(foreign.headers[':status'], 421);
      assert.equal(foreign.headers['connection'], undefined);
      const conflicting = await h2Get(client, { ':path': '/chat', ':authority': `localhost:${serve.port}`, host: `other.localhost:${serve.port}` });
      assert.equal(conflicting.headers[':status'], 400);
      assert.equal((await h2Get(client, { ':path': '/chat' })).headers[':status'], 200);
    } finally {
      client.destroy();
    }
  });

  it('answers the server API and the fallback over h2 without the HTTP/1.1-only fields they send on HTTP/1.1 (no warning logged)', async () => {
    const client = session(serve.port);
    try {
      const api = client.request({ ':method': 'POST', ':path': '/api/info', 'content-type': 'application/json' });
      api.end('{}');
      const [apiHeaders] = (await once(api, 'response')) as [IncomingHttpHeaders];
      api.resume();
      assert.equal(apiHeaders[':status'], 401);
      assert.equal(apiHeaders['www-authenticate'], 'apikey');
      const fallback = client.request({ ':method': 'POST', ':path': '/rt/http', 'content-type': 'text/plain', 'x-switchboard-fallback': '2' });
      fallback.end('[]');
      const [fallbackHeaders] = (await once(fallback, 'response')) as [IncomingHttpHeaders];
      fallback.resume();
      assert.equal(fallbackHeaders[':status'], 415);
      assert.doesNotMatch(serve.output(), /Warning/);
    } finally {
      client.destroy();
    }
  });

  it('gives an HTTP/1.1 request head on the same port the handshake timeout: a dripping one gets 408 (Node’s http2 module alone: 60 s)', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: serve.port, servername: 'localhost', ca: certificate.cert, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => {});
    await once(socket, 'secureConnect');
    assert.equal(socket.alpnProtocol, 'http/1.1');
    const head = `GET /chat HTTP/1.1\r\nHost: localhost:${serve.port}\r\nX-Drip: ${'a'.repeat(100)}\r\n\r\n`;
    let index = 0;
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
    const drip = setInterval(() => {
      if (!socket.closed && index < head.length) socket.write(head[index++]!);
    }, 200);
    const started = Date.now();
    await once(socket, 'close');
    clearInterval(drip);
    const held = Date.now() - started;
    assert.match(response, /^HTTP\/1\.1 408 /);
    assert.ok(held >= 1000 && held < 6000, `closed after ${held} ms (handshake timeout 1500 ms)`);
  });

  it('closes an h2 connection that holds no stream (a fresh one included) after the idle timeout', async () => {
    const client = session(serve.port);
    await once(client, 'connect');
    const started = Date.now();
    await once(client, 'close');
    const held = Date.now() - started;
    assert.ok(held >= 1000 && held < 5000, `closed after ${held} ms (handshake timeout 1500 ms)`);
  });

  it('resets a request whose body does not arrive within the handshake timeout', async () => {
    const client = session(serve.port);
    try {
      const stream = client.request({ ':method': 'POST', ':path': '/rt/http', 'content-type': 'application/json', 'x-switchboard-fallback': '2' }, { endStream: false });
      stream.on('error', () => {});
      stream.write('[');
      const started = Date.now();
      await once(stream, 'close');
      assert.equal(stream.rstCode, h2.NGHTTP2_CANCEL);
      assert.ok(Date.now() - started >= 1000, 'not before the timeout');
    } finally {
      client.destroy();
    }
  });

  it('carries the SDK’s WebSockets over h2 and counts them per transport in /metrics', async () => {
    const url = `wss://localhost:${serve.port}/rt`;
    const sdkTls = tls();
    const clients = ['Ada', 'Bob'].map(
      (name) => new RealtimeClient<DemoApi>(url, { data: { name, id: `h2-${name.toLowerCase()}-0001` }, reconnect: false, webSocketOptions: { http2: true, tls: sdkTls } }),
    );
    // Other TLS options, so no pooled h2 session to reuse (the client would): HTTP/1.1.
    const h1 = new RealtimeClient<DemoApi>(url, { data: { name: 'Cy', id: 'h1-cy-00000001' }, reconnect: false, webSocketOptions: { tls: tls() } });
    try {
      await Promise.all(
        [...clients, h1].map(
          (client) =>
            new Promise((resolve) => {
              client.once('connected', resolve);
              client.connect();
            }),
        ),
      );
      assert.equal(await eventually(async () => ((await metric(serve.port, WS_OVER_H2)) === 2 ? 2 : undefined), 5000, 'two WebSockets over h2'), 2);
      assert.equal(await metric(serve.port, WS_OVER_H1), 1);
    } finally {
      for (const client of [...clients, h1]) client.close();
    }
  });

  it('caps TCP connections per address whichever protocol they speak', async () => {
    // The SDK test's connections may still be closing on the server's side: wait until four fit.
    const clients = await eventually(async () => {
      const four = [session(serve.port), session(serve.port), session(serve.port), session(serve.port)];
      const outcomes = await Promise.all(four.map(admitted));
      if (outcomes.every(Boolean)) return four;
      for (const client of four) client.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      return undefined;
    }, 5000, 'four connections admitted');
    try {
      const over = session(serve.port);
      assert.equal(await admitted(over), false, 'the 5th connection from 127.0.0.1 is refused');
      over.destroy();
    } finally {
      for (const client of clients) client.destroy();
    }
  });
});

const { options: peer } = chromiumPeer('Chromium');

describe('switchboard serve with TLS in Chromium', { timeout: 90_000 }, () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let serve: ServeProcess | undefined;
  let proxy: TcpProxy | undefined;
  let browser: Browser | undefined;

  before(async () => {
    if (peer.skip) return;
    dir = tempDir();
    serve = await startServe(['--port', '0', '--tls-cert', dir.write('cert.pem', certificate.cert.toString()), '--tls-key', dir.write('key.pem', certificate.key.toString())]);
    proxy = new TcpProxy(serve.port);
    await proxy.start();
    browser = await launchChromium(['--ignore-certificate-errors']);
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await serve?.stop();
    dir?.remove();
  });

  it('loads the chat over h2 and opens its WebSocket on that same connection; the HTTP fallback goes over h2 too', peer, async () => {
    const context = await browser!.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(`https://localhost:${proxy!.port}/chat?name=Ada`);
      await page.waitForSelector('body[data-connection=connected]');
      assert.equal(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol), 'h2');
      // The server's side: the page's one WebSocket came as an extended CONNECT stream, and the browser opened one TCP connection.
      assert.equal(await eventually(async () => ((await metric(serve!.port, WS_OVER_H2)) === 1 ? 1 : undefined), 5000, 'a WebSocket over h2'), 1);
      assert.equal(await metric(serve!.port, WS_OVER_H1), 0);
      assert.equal(proxy!.connections, 1, 'the page, its scripts and its WebSocket shared one TCP connection');

      // The HTTP fallback from the same page: its event stream and uplink POSTs are h2 streams too, of one more
      // connection: the SDK's fetches omit credentials, and Chromium keeps those on connections of their own.
      const received = await page.evaluate(async () => {
        const { RealtimeClient } = (await import('/switchboard-sdk.js' as string)) as typeof import('../../src/realtime/sdk/browser.js');
        const client = new RealtimeClient(`wss://${location.host}/rt`, { transports: ['http'], data: { name: 'Fallback' } });
        const connected = new Promise((resolve) => client.once('connected', resolve));
        client.connect();
        await connected;
        const subscription = client.subscribe('chat:h2-fallback');
        const publication = new Promise((resolve) => subscription.on('publication', (event) => resolve(event.data)));
        await subscription.ready();
        await subscription.publish({ text: 'over the fallback', sent: 1 });
        const data = await publication;
        (window as unknown as { fallbackClient: unknown }).fallbackClient = client;
        return { data, transport: client.transport };
      });
      assert.deepEqual(received, { data: { text: 'over the fallback', sent: 1 }, transport: 'http' });
      assert.equal(await metric(serve!.port, WS_OVER_H2), 1);
      assert.equal(await metric(serve!.port, FALLBACK_OVER_H2), 1, 'the fallback session came over h2');
      assert.equal(proxy!.connections, 2, 'one more TCP connection, for the uncredentialed fetches');
    } finally {
      await context.close();
    }
  });
});
