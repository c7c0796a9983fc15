// The browser bundle (dist/browser/switchboard-sdk.js) in Debian's Chromium,
// through a proxy that refuses WebSocket upgrades, to a chat channel on a
// real-time server: the SDK falls back to HTTP (fetch with a streaming body,
// cross-origin with CORS) and reports it; publications go both ways; a cut
// event stream resumes with nothing lost or repeated; after a server restart
// (Redis keeps the history) the client comes back over HTTP and recovers.
// Missing Chromium (or Redis, for the restart) skips, or fails with
// SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createRealtimeServer, RedisBroker, type RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type PublicationEvent } from '../../../src/realtime/sdk/node.js';
import { chromiumStatus, launchChromium, requirePeer } from '../../interop/peers.js';
import { RedisServer, redisAvailability } from '../broker/redis-server.js';
import { BlockingProxy } from './proxy.js';

const BUNDLE = fileURLToPath(new URL('../../../dist/browser/switchboard-sdk.js', import.meta.url));
const WAIT = 15_000;
const CHANNEL = 'chat:lobby';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>switchboard fallback</title>
<script type="module">
  import * as sdk from '/switchboard-sdk.js';
  window.sdk = sdk;
  window.sdkLoaded = true;
</script>`;

/** Runs in the page: connects through the proxy, joins the chat, publishes; leaves its state on `window`. */
const SCENARIO = `async ({ url, channel }) => {
  const { RealtimeClient } = window.sdk;
  const client = new RealtimeClient(url, { fallbackTimeout: 3000, reconnect: { minDelay: 50, maxDelay: 500 } });
  window.client = client;
  window.transports = [];
  window.received = [];
  window.subscribed = [];
  client.on('transport', (transport) => window.transports.push(transport));
  const connected = new Promise((resolve) => client.once('connected', resolve));
  client.connect();
  const result = await connected;
  const subscription = client.subscribe(channel);
  subscription.on('publication', (publication) => window.received.push(publication.offset));
  subscription.on('subscribed', (event) => window.subscribed.push(event.recovered));
  await subscription.ready();
  const published = await subscription.publish({ text: 'hello from the browser' });
  return { client: result.client, transport: client.transport, offset: published.offset };
}`;

/** Serves the page and the bundle (another origin than the real-time server's). */
function startPageServer(): Promise<Server> {
  const http = createServer((request, response) => {
    if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    else if (request.url === '/switchboard-sdk.js') response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(BUNDLE));
    else response.writeHead(404).end();
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http)));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const chromium = chromiumStatus();
const browserPeer = requirePeer('Chromium', chromium.available, chromium.reason);
const redis = redisAvailability();
const redisPeer = requirePeer('redis-server', redis.available, redis.reason);

describe('sdk browser bundle over the HTTP fallback in Chromium', () => {
  let browser: Browser | undefined;
  let pages: Server | undefined;
  let redisServer: RedisServer | undefined;
  let realtime: RealtimeServer | undefined;
  let proxy: BlockingProxy | undefined;
  let page: Page | undefined;
  let pageUrl = '';
  let port = 0;

  function serverOptions(): RealtimeServerOptions {
    return {
      port,
      host: '127.0.0.1',
      path: '/rt',
      namespaces: { chat: { history: { size: 1000 }, presence: true, publish: 'clients' } },
      broker: new RedisBroker({ url: redisServer!.url, prefix: `browser-${process.pid}`, connectTimeout: 20_000 }),
      httpFallback: { downlinkTimeout: 5_000 },
      // The page is on another origin: the fallback answers CORS only for allowed origins.
      allowedOrigins: (origin) => origin === undefined || origin === new URL(pageUrl).origin,
    };
  }

  before(async () => {
    if (browserPeer.skip || redisPeer.skip) return;
    redisServer = await RedisServer.start();
    realtime = createRealtimeServer(serverOptions());
    [browser, pages] = await Promise.all([launchChromium(), startPageServer(), realtime.ready()]);
    port = realtime.port;
    proxy = await BlockingProxy.start([{ host: '127.0.0.1', port }], 'refuse');
    pageUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await page?.close();
    await browser?.close();
    await new Promise((resolve) => (pages ? pages.close(resolve) : resolve(undefined)));
    await proxy?.close();
    await realtime?.close();
    await redisServer?.stop();
  });

  /** A Node client straight to the server (WebSocket). */
  async function nodeClient(): Promise<{ client: RealtimeClient; seen: Array<PublicationEvent<unknown>> }> {
    const client = new RealtimeClient(`ws://127.0.0.1:${port}/rt`, { reconnect: { minDelay: 50, maxDelay: 300 } });
    const seen: Array<PublicationEvent<unknown>> = [];
    client.subscribe(CHANNEL).on('publication', (publication) => seen.push(publication));
    client.connect();
    await client.getSubscription(CHANNEL)!.ready();
    return { client, seen };
  }

  async function received(): Promise<number[]> {
    return (await page!.evaluate('window.received')) as number[];
  }

  it('falls back to HTTP and chats both ways', { ...browserPeer, ...redisPeer }, async () => {
    const { client: node, seen } = await nodeClient();
    try {
      page = await browser!.newPage();
      await page.goto(pageUrl);
      await page.waitForFunction('window.sdkLoaded === true', undefined, { timeout: WAIT });
      const url = proxy!.url('/rt');
      const result = (await page.evaluate(`(${SCENARIO})(${JSON.stringify({ url, channel: CHANNEL })})`)) as { client: string; transport: string; offset: number };
      assert.equal(result.transport, 'http', 'the page reports the HTTP transport');
      assert.deepEqual(await page.evaluate('window.transports'), ['http']);
      assert.ok(proxy!.upgradesBlocked >= 1, 'the proxy refused the WebSocket');
      assert.equal(realtime!.sessions.get(result.client)?.transport, 'http');
      assert.ok(proxy!.log.some((entry) => entry.method === 'OPTIONS'), 'a cross-origin page: CORS preflights went through');

      // Browser → Node.
      await waitFor(() => seen.length === 1, 'the browser’s publication in Node');
      assert.deepEqual(seen[0]!.data, { text: 'hello from the browser' });
      assert.equal(seen[0]!.info?.client, result.client);
      // Node → browser.
      await node.publish(CHANNEL, { text: 'hello from node' });
      await page.waitForFunction('window.received.length === 2', undefined, { timeout: WAIT });
      assert.deepEqual(await received(), [1, 2]);
    } finally {
      node.close();
    }
  });

  it('resumes an event stream the proxy cuts: nothing lost, nothing twice', { ...browserPeer, ...redisPeer }, async () => {
    const { client: node } = await nodeClient();
    try {
      const clientId = await page!.evaluate('window.client.clientId');
      const start = (await received()).at(-1)!;
      let cuts = 0;
      for (let n = 1; n <= 100; n++) {
        await node.publish(CHANNEL, { n });
        if (n % 25 === 0) {
          // The previous cut's stream may still be coming back (a loaded machine): cut the resumed one, not nothing.
          await waitFor(() => proxy!.openStreams > 0, 'an event stream to cut');
          cuts += proxy!.cutStreams();
          await sleep(20);
        }
      }
      await page!.waitForFunction(`window.received.length >= ${start + 100}`, undefined, { timeout: WAIT });
      assert.ok(cuts >= 3, `the stream was cut (${cuts} times)`);
      assert.deepEqual(await received(), range(1, start + 100));
      assert.equal(await page!.evaluate('window.client.clientId'), clientId, 'the same session: each cut stream resumed');
    } finally {
      node.close();
    }
  });

  it('comes back over HTTP after a server restart and recovers what it missed', { ...browserPeer, ...redisPeer }, async () => {
    const before = (await received()).at(-1)!;
    const clientId = await page!.evaluate('window.client.clientId');
    await realtime!.close();
    realtime = createRealtimeServer(serverOptions());
    await realtime.ready();
    for (let n = 1; n <= 10; n++) await realtime.publish(CHANNEL, { missed: n });
    await page!.waitForFunction(`window.client.state === 'connected' && window.client.clientId !== ${JSON.stringify(clientId)}`, undefined, { timeout: WAIT });
    await page!.waitForFunction(`window.received.length >= ${before + 10}`, undefined, { timeout: WAIT });
    await sleep(200);
    assert.deepEqual(await received(), range(1, before + 10), 'no loss, no duplicates');
    assert.equal(((await page!.evaluate('window.subscribed')) as Array<boolean | undefined>).at(-1), true, 'recovered: true');
    assert.equal(await page!.evaluate('window.client.transport'), 'http');
    await page!.evaluate('window.client.close()');
  });
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
