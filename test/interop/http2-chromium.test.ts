// Interop: Chromium's WebSocket over HTTP/2 (RFC 8441). A page is served over
// https by an http2 server (h2 + HTTP/1.1 by ALPN) that a WebSocketServer and a
// real-time server are attached to; the browser must open its WebSockets as
// streams of the page's h2 connection, which the server side proves: every
// accepted WebSocket's request has httpVersion "2.0" and the browser opened a
// single TCP connection. Debian's Chromium via playwright-core; a missing
// Chromium skips, or fails with SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { WebSocketServer } from '../../src/node/server-index.js';
import { createRealtimeServer, type RealtimeServer } from '../../src/realtime/server/index.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumStatus, requirePeer } from './peers.js';
import { SDK_BUNDLE, SDK_PAGE, SDK_ROUND_TRIP } from './sdk-page.js';

const WAIT = 10_000;

const status = chromiumStatus();
const peer = requirePeer('Chromium', status.available && existsSync(SDK_BUNDLE), status.available ? `${SDK_BUNDLE} missing (npm run build)` : status.reason);

/** Runs in the page: opens `count` WebSockets to the page's origin, echoes text and binary on each, closes with 4000. */
const ECHO = `async ({ count }) => {
  const results = [];
  await Promise.all(Array.from({ length: count }, (_, i) => new Promise((resolve, reject) => {
    const ws = new WebSocket('wss://' + location.host + '/ws', ['echo.v1']);
    ws.binaryType = 'arraybuffer';
    const got = [];
    ws.onerror = () => reject(new Error('error on ' + i));
    ws.onopen = () => {
      ws.send('hello ' + i);
      ws.send(new Uint8Array(200000).fill(i));
    };
    ws.onmessage = (event) => {
      got.push(typeof event.data === 'string' ? event.data : event.data.byteLength + ':' + new Uint8Array(event.data)[199999]);
      if (got.length === 2) ws.close(4000, 'done ' + i);
    };
    ws.onclose = (event) => {
      results.push({ i, got, protocol: ws.protocol, extensions: ws.extensions, code: event.code, clean: event.wasClean });
      resolve();
    };
  })));
  return results.sort((a, b) => a.i - b.i);
}`;


describe('interop: Chromium WebSockets over HTTP/2 (RFC 8441)', () => {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let server: Http2SecureServer | undefined;
  let wss: WebSocketServer | undefined;
  let realtime: RealtimeServer | undefined;
  let origin = '';
  let tcp = 0;
  const versions: string[] = [];
  const serverCloses: number[] = [];

  before(async () => {
    if (peer.skip) return;
    const certificate = selfSignedCertificate();
    server = createSecureServer({ ...certificate, allowHTTP1: true, settings: { enableConnectProtocol: true } }, (request, response) => {
      if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(SDK_PAGE);
      else if (request.url === '/switchboard-sdk.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(SDK_BUNDLE));
      else response.writeHead(404).end();
    });
    server.on('connection', () => tcp++);
    // Both servers in noServer mode, routed by path; the 'connect' listener keeps Node's compatibility layer
    // (active since the server has a request listener) from answering the extended CONNECTs 405.
    wss = new WebSocketServer({ noServer: true, paths: ['/ws'], subprotocols: ['echo.v1'], perMessageDeflate: true });
    server.on('connect', () => {});
    wss.on('connection', (ws, request) => {
      versions.push(request.httpVersion);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('close', (code) => serverCloses.push(code));
    });
    realtime = createRealtimeServer({ noServer: true, path: '/rt', httpFallback: false, namespaces: { chat: { publish: 'clients' } } });
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      if (headers[':method'] !== 'CONNECT' || headers[':protocol'] === undefined) return;
      if (headers[':path']?.startsWith('/rt')) realtime!.handleStream(stream, headers, rawHeaders);
      else void wss!.handleStream(stream, headers, rawHeaders);
    });
    server.listen(0, '127.0.0.1');
    await Promise.all([once(server, 'listening'), realtime.ready()]);
    origin = `https://localhost:${(server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'], timeout: 30_000 });
    context = await browser.newContext({ ignoreHTTPSErrors: true });
  });

  after(async () => {
    await browser?.close();
    await wss?.close({ timeout: 200 });
    await realtime?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('opens five WebSockets as streams of the page’s h2 connection, echoes, closes cleanly', peer, async () => {
    const page = await context!.newPage();
    try {
      const response = await page.goto(`${origin}/`);
      assert.equal(response?.status(), 200);
      await page.waitForFunction('window.sdkLoaded === true', undefined, { timeout: WAIT });
      const tcpBefore = tcp;
      const results = (await page.evaluate(`(${ECHO})({ count: 5 })`)) as Array<{
        i: number;
        got: string[];
        protocol: string;
        extensions: string;
        code: number;
        clean: boolean;
      }>;
      for (const result of results) {
        assert.deepEqual(result.got, [`hello ${result.i}`, `200000:${result.i}`]);
        assert.equal(result.protocol, 'echo.v1');
        assert.match(result.extensions, /^permessage-deflate/);
        assert.equal(result.code, 4000);
        assert.equal(result.clean, true);
      }
      assert.deepEqual(versions, ['2.0', '2.0', '2.0', '2.0', '2.0'], 'every WebSocket came over HTTP/2');
      assert.equal(tcp - tcpBefore, 0, 'no new TCP connection for the WebSockets');
      assert.equal(tcp, 1, 'the page and its WebSockets shared one TCP connection');
      const deadline = Date.now() + WAIT;
      while (serverCloses.length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(serverCloses, [4000, 4000, 4000, 4000, 4000]);
    } finally {
      await page.close();
    }
  });

  it('the real-time SDK connects, subscribes and publishes over h2 (createRealtimeServer)', peer, async () => {
    const page = await context!.newPage();
    try {
      await page.goto(`${origin}/`);
      await page.waitForFunction('window.sdkLoaded === true', undefined, { timeout: WAIT });
      let h2Sessions = 0;
      const tcpBefore = tcp;
      realtime!.wss.on('connection', (_ws, request) => {
        if (request.httpVersion === '2.0') h2Sessions++;
      });
      const data = await page.evaluate(`(${SDK_ROUND_TRIP})(${JSON.stringify({ path: '/rt', channel: 'chat:h2', data: { text: 'over h2' } })})`);
      await page.evaluate('window.sdkClient.close()');
      assert.deepEqual(data, { text: 'over h2' });
      assert.equal(h2Sessions, 1, 'the SDK’s WebSocket came over HTTP/2');
      assert.equal(tcp, tcpBefore, 'on the page’s connection');
    } finally {
      await page.close();
    }
  });
});
