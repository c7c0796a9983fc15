// Chromium's WebSockets through Debian's HAProxy, started by the test on a free
// port, to the real-time server: the page comes over https from HAProxy (TLS,
// ALPN h2 + http/1.1), so Chromium opens the SDK's WebSocket as an RFC 8441
// stream of the page's h2 connection to HAProxy (HAProxy's own log says which
// HTTP version each request came with), and HAProxy carries it to
// Switchboard over h2c (extended CONNECT) or HTTP/1.1 (Upgrade), which the
// server's stats().transports counts. Missing haproxy or Chromium skips, or
// fails with SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { createRealtimeServer, type RealtimeServer } from '../../src/realtime/server/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumStatus, requirePeer } from '../interop/peers.js';
import { SDK_BUNDLE, SDK_PAGE, SDK_ROUND_TRIP } from '../interop/sdk-page.js';
import { selfSignedCertificate } from '../node/server-helpers.js';
import { haproxyStatus, startHaproxy, type RunningHaproxy } from './haproxy.js';

const WAIT = 15_000;

const haproxyProbe = haproxyStatus();
const chromium = chromiumStatus();
const available = haproxyProbe.available && chromium.available && existsSync(SDK_BUNDLE);
const reason = !haproxyProbe.available ? haproxyProbe.reason : chromium.available ? `${SDK_BUNDLE} missing (npm run build)` : chromium.reason;
const peer = requirePeer('HAProxy and Chromium', available, reason);


/** One line of HAProxy's log (the log-format below): HTTP version, method, path, status. */
interface LogLine {
  version: string;
  method: string;
  path: string;
  status: string;
}

describe('Chromium behind HAProxy (RFC 8441 in front) to the real-time server', () => {
  let haproxy: RunningHaproxy | undefined;
  let pages: Server | undefined;
  let h2c: RealtimeServer | undefined;
  let http1: RealtimeServer | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let origin = '';
  const log: LogLine[] = [];

  before(async () => {
    if (peer.skip) return;
    const bundle = readFileSync(SDK_BUNDLE);
    pages = createServer((request, response) => {
      if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(SDK_PAGE);
      else if (request.url === '/switchboard-sdk.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      else response.writeHead(404).end();
    });
    pages.listen(0, '127.0.0.1');
    await once(pages, 'listening');
    const namespaces = { chat: { publish: 'clients' as const } };
    // The servers' defaults: WebSockets from any origin, any Host.
    const common = { host: '127.0.0.1', port: 0, httpFallback: false as const, namespaces };
    h2c = createRealtimeServer({ ...common, path: '/rt-h2c', http2: true });
    http1 = createRealtimeServer({ ...common, path: '/rt-http1' });
    await Promise.all([h2c.ready(), http1.ready()]);
    const backends = { pages: (pages.address() as AddressInfo).port, h2c: h2c.port, http1: http1.port };
    haproxy = await startHaproxy(
      selfSignedCertificate(),
      (port, pem) => `global
  maxconn 256
  log stderr format raw local0 info
defaults
  mode http
  log global
  log-format "request %HV %HM %HP %ST"
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
frontend fe
  bind 127.0.0.1:${port} ssl crt ${pem} alpn h2,http/1.1
  use_backend rt_h2c if { path_beg /rt-h2c }
  use_backend rt_http1 if { path_beg /rt-http1 }
  default_backend pages
backend pages
  server s1 127.0.0.1:${backends.pages}
backend rt_h2c
  server s1 127.0.0.1:${backends.h2c} proto h2
backend rt_http1
  server s1 127.0.0.1:${backends.http1}
`,
    );
    let pending = '';
    const stderr = haproxy.process.stderr!;
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const match = /request (\S+) (\S+) (\S+) (\S+)/.exec(line);
        if (match) log.push({ version: match[1]!, method: match[2]!, path: match[3]!, status: match[4]! });
      }
    });
    origin = `https://localhost:${haproxy.port}`;
    const { chromium: launcher } = await import('playwright-core');
    browser = await launcher.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'], timeout: 30_000 });
    context = await browser.newContext({ ignoreHTTPSErrors: true });
  });

  after(async () => {
    await browser?.close();
    haproxy?.stop();
    await Promise.all([h2c?.close(), http1?.close()]);
    await new Promise((resolve) => (pages ? pages.close(resolve) : resolve(undefined)));
  });

  for (const backend of ['h2c', 'http1'] as const) {
    it(`the page's SDK WebSocket is an h2 stream to HAProxy, carried to Switchboard over ${backend === 'h2c' ? 'h2c (extended CONNECT)' : 'HTTP/1.1 (Upgrade)'}`, peer, async () => {
      const server = backend === 'h2c' ? h2c! : http1!;
      const path = `/rt-${backend}`;
      const page = await context!.newPage();
      try {
        const response = await page.goto(`${origin}/`);
        assert.equal(response?.status(), 200);
        assert.equal(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol), 'h2', 'the page came over h2');
        await page.waitForFunction('window.sdkLoaded === true', undefined, { timeout: WAIT });
        const data = await page.evaluate(`(${SDK_ROUND_TRIP})(${JSON.stringify({ path, channel: `chat:${backend}`, data: { text: 'through haproxy', path } })})`);
        assert.deepEqual(data, { text: 'through haproxy', path });
        // Switchboard's side: one WebSocket session, over the HTTP version HAProxy speaks to it.
        const { websocket } = server.stats().transports;
        assert.deepEqual(websocket, backend === 'h2c' ? { http1: 0, http2: 1 } : { http1: 1, http2: 0 });
        // HAProxy's side: Chromium's WebSocket request to it came over HTTP/2 (RFC 8441), not as an HTTP/1.1 Upgrade.
        await page.evaluate('window.sdkClient.close()');
        const deadline = Date.now() + WAIT;
        // Over h2 HAProxy logs the request's URI in absolute form (https://host/path).
        const mine = (): LogLine[] => log.filter((line) => new URL(line.path, origin).pathname === path);
        while (mine().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.ok(mine().length > 0, `HAProxy logged no request for ${path}: ${JSON.stringify(log)}`);
        for (const line of mine()) {
          assert.equal(line.version, 'HTTP/2.0', `${JSON.stringify(line)} in ${JSON.stringify(log)}`);
          assert.equal(line.status, '101', 'HAProxy reports the stream’s WebSocket as switched');
        }
      } finally {
        await page.close();
      }
    });
  }
});
