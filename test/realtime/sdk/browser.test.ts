// The browser bundle (dist/browser/switchboard-sdk.js, built by `npm run build`)
// in Debian's Chromium: a page served by a tiny HTTP server imports the bundle,
// connects to a real-time server with the browser's own WebSocket, subscribes,
// publishes and receives; a Node client on the same channel checks the other
// direction. Missing Chromium skips, or fails with SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createRealtimeServer, type RealtimeServer } from '../../../src/realtime/server/index.js';
import { RealtimeClient, type PublicationEvent } from '../../../src/realtime/sdk/node.js';
import { chromiumStatus, launchChromium, requirePeer } from '../../interop/peers.js';

const BUNDLE = fileURLToPath(new URL('../../../dist/browser/switchboard-sdk.js', import.meta.url));
const WAIT = 10_000;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>switchboard sdk</title>
<script type="module">
  import * as sdk from '/switchboard-sdk.js';
  window.sdk = sdk;
  window.sdkLoaded = true;
</script>`;

/** Runs in the page: connects, subscribes, publishes; leaves the client and what it received on `window`. */
const SCENARIO = `async ({ url, channel, protocol }) => {
  const { RealtimeClient } = window.sdk;
  const client = new RealtimeClient(url, { protocol });
  const connected = new Promise((resolve) => client.once('connected', resolve));
  client.connect();
  const result = await connected;
  const subscription = client.subscribe(channel);
  const received = [];
  subscription.on('publication', (publication) => received.push(publication.data));
  await subscription.ready();
  window.client = client;
  window.received = received;
  const published = await subscription.publish({ text: 'from the browser' });
  return { client: result.client, state: client.state, offset: published.offset, hasWebSocket: typeof WebSocket === 'function' };
}`;

/** Serves the page and the bundle. */
function startHttpServer(): Promise<Server> {
  const http = createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else if (request.url === '/switchboard-sdk.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(BUNDLE));
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http)));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('sdk browser bundle', () => {
  it('exists and imports nothing Node-only', () => {
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build`);
    const source = readFileSync(BUNDLE, 'utf8');
    assert.doesNotMatch(source, /["']node:[a-z_/]+["']/, 'no node: imports');
    assert.doesNotMatch(source, /\brequire\(/, 'no require()');
    assert.doesNotMatch(source, /^\s*import\s/m, 'self-contained: no imports at all');
    assert.match(source, /export\s*\{[^}]*\bRealtimeClient\b/, 'exports RealtimeClient');
  });
});

const status = chromiumStatus();
const peer = requirePeer('Chromium', status.available, status.reason);

describe('sdk browser bundle in Chromium', () => {
  let browser: Browser | undefined;
  let http: Server | undefined;
  let realtime: RealtimeServer | undefined;
  let pageUrl = '';
  let realtimeUrl = '';

  before(async () => {
    if (peer.skip) return;
    realtime = createRealtimeServer({ port: 0, host: '127.0.0.1', namespaces: { chat: { publish: 'clients' } } });
    [browser, http] = await Promise.all([launchChromium(), startHttpServer(), realtime.ready()]);
    pageUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    realtimeUrl = `ws://127.0.0.1:${realtime.port}/rt`;
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await realtime?.close();
  });

  for (const protocol of ['json', 'msgpack'] as const) {
    it(`connects, subscribes, publishes and receives (${protocol})`, peer, async () => {
      const channel = `chat:browser-${protocol}`;
      const node = new RealtimeClient(realtimeUrl);
      const page: Page = await browser!.newPage();
      try {
        const nodeSubscription = node.subscribe(channel);
        const nodeSeen: Array<PublicationEvent<unknown>> = [];
        nodeSubscription.on('publication', (publication) => nodeSeen.push(publication));
        node.connect();
        await nodeSubscription.ready();

        await page.goto(pageUrl);
        await page.waitForFunction('window.sdkLoaded === true', undefined, { timeout: WAIT });
        const result = (await page.evaluate(`(${SCENARIO})(${JSON.stringify({ url: realtimeUrl, channel, protocol })})`)) as {
          client: string;
          state: string;
          offset: number;
          hasWebSocket: boolean;
        };
        assert.equal(result.state, 'connected');
        assert.equal(result.offset, 1);
        assert.equal(result.hasWebSocket, true);
        const session = realtime!.sessions.get(result.client);
        assert.ok(session, 'the server has the browser’s session');
        assert.equal(session.protocol, `switchboard.v1.${protocol}`);

        // Browser → Node.
        await until(() => nodeSeen.length === 1, 'the browser’s publication in Node');
        assert.deepEqual(nodeSeen[0]!.data, { text: 'from the browser' });
        assert.equal(nodeSeen[0]!.info?.client, result.client);

        // Node → browser (the browser's own publication came first).
        await node.publish(channel, { text: 'from node' });
        await page.waitForFunction('window.received.length === 2', undefined, { timeout: WAIT });
        const received = await page.evaluate('window.received');
        assert.deepEqual(received, [{ text: 'from the browser' }, { text: 'from node' }]);

        // The server ends the session: the browser client reconnects by itself.
        session.disconnect(4000, 'test');
        await page.waitForFunction(`window.client.state === 'connected' && window.client.clientId !== ${JSON.stringify(result.client)}`, undefined, {
          timeout: WAIT,
        });
        await page.evaluate('window.client.close()');
      } finally {
        node.close();
        await page.close();
      }
    });
  }
});
