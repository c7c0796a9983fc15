// The admin page of `switchboard serve` in Chromium, against
// `--workers 2 --redis --api-key` (a redis-server of the test's own): a
// wrong key is refused, the right one lists both nodes and a channel a
// test client subscribed to (with its subscriber count), the user lookup
// finds that client's connection, and Disconnect closes it (the client sees
// the close). Without a key /admin is a 404. Screenshots go to
// test-output/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { DisconnectedEvent } from '../../src/realtime/sdk/index.js';
import { launchChromium, requirePeer } from '../interop/peers.js';
import { chromiumPeer, LAPTOP, PHONE, visitAs } from './browser-helpers.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { guest, startServe, type ServeProcess } from './serve-helpers.js';

const SCREENSHOTS = 'test-output/screenshots';
const KEY = 'admin-test-key-0123456789abcdef';

/** `promise`, or a failure naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms).unref())]);
}

async function tile(page: Page, id: string): Promise<string> {
  return (await page.getAttribute(`#sum-${id}`, 'data-value')) ?? '';
}

describe('the admin page in Chromium (serve --workers 2 --redis --api-key)', () => {
  const { chromium, options } = chromiumPeer();
  const redis = redisAvailability();
  const redisOptions = requirePeer('redis-server', redis.available, redis.reason);
  const both = { ...options, ...redisOptions };
  const ready = chromium.available && redis.available;
  let server: RedisServer;
  let serve: ServeProcess;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  const errors: string[] = [];

  const open = async (viewport = LAPTOP): Promise<Page> => {
    // The wrong key's 401 is logged by the browser as a failed resource.
    const { context, page } = await visitAs(browser, base, '/admin', { viewport, errors, expectedConsole: /status of 401/, ready: null });
    contexts.push(context);
    return page;
  };

  before(async () => {
    if (!ready) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await RedisServer.start();
    serve = await startServe(['--port', '0', '--workers', '2', '--redis', server.url, '--api-key', KEY]);
    base = `http://127.0.0.1:${serve.port}`;
    browser = await launchChromium();
  });
  after(async () => {
    if (!ready) return;
    await browser.close();
    assert.equal(await serve.stop(), 0);
    await server.stop();
    assert.deepEqual(errors, [], 'no page had an error');
  });

  it('the page holds no data and has the CSP of the other pages', both, async () => {
    const response = await fetch(`${base}/admin`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    const html = await response.text();
    assert.match(html, /<script type="module" src="\/apps\/admin\.js"><\/script>/);
    assert.doesNotMatch(html, /guest-[A-Za-z0-9_-]{16}|worker \d|<script>|style=/);
  });

  it('a wrong key is refused; the right one lists both nodes and a subscribed channel; Disconnect closes the user', both, async () => {
    const reader = await guest(serve.port, 'Reader');
    const closed = new Promise<DisconnectedEvent>((resolve) => reader.client.on('disconnected', resolve));
    let second: Awaited<ReturnType<typeof guest>> | undefined;
    try {
      await reader.client.subscribe('chat:admin-test').ready();
      const page = await open();
      assert.equal(await page.isVisible('#key-form'), true);
      assert.equal(await page.isVisible('#admin'), false);

      await page.fill('#key-input', 'not-the-key-at-all-0123');
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('#key-error:not([hidden])');
      assert.match((await page.textContent('#key-error')) ?? '', /refused this key \(401/);
      assert.equal(await page.isVisible('#admin'), false);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard-admin-key')), null);

      await page.fill('#key-input', KEY);
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('#admin:not([hidden])');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard-admin-key')), KEY);
      // Both workers answer `info`; the channel of the test's client is listed with its subscriber.
      await page.waitForFunction(() => document.querySelectorAll('#nodes tr').length === 2, undefined, { timeout: 10_000 });
      const nodes = await page.$$eval('#nodes tr .node-name', (cells) => cells.map((cell) => cell.textContent ?? ''));
      assert.deepEqual(nodes.map((name) => name.replace(/^.* /, '')).sort(), ['1', '2']);
      assert.equal(await tile(page, 'nodes'), '2');
      await page.waitForSelector('#channels tr[data-channel="chat:admin-test"]');
      assert.equal(await page.textContent('#channels tr[data-channel="chat:admin-test"] td.count'), '1');
      assert.ok(Number(await tile(page, 'connections')) >= 1);

      // Live: a second subscriber shows up within a poll or two.
      second = await guest(serve.port, 'Second');
      await second.client.subscribe('chat:admin-test').ready();
      await page.waitForFunction(() => document.querySelector('#channels tr[data-channel="chat:admin-test"] td.count')?.textContent === '2', undefined, { timeout: 6_000 });

      // The pattern filter.
      await page.fill('#channel-filter', 'notifications:*');
      await page.press('#channel-filter', 'Enter');
      await page.waitForSelector('#channels tr.empty', { timeout: 10_000 });
      await page.fill('#channel-filter', 'chat:*');
      await page.press('#channel-filter', 'Enter');
      await page.waitForSelector('#channels tr[data-channel="chat:admin-test"]');

      // Who is here, then the user: their connection, and Disconnect.
      await page.click('#channels tr[data-channel="chat:admin-test"] button');
      await page.waitForSelector(`#presence tr[data-client="${reader.client.clientId}"]`);
      await page.fill('#user-input', reader.connected.user);
      await page.click('#user-form button[type=submit]');
      await page.waitForSelector(`#user-connections tr[data-client="${reader.client.clientId}"]`);
      assert.match((await page.textContent('#user-summary')) ?? '', /: 1 connection on 1 node\./);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${SCREENSHOTS}/admin.png`, fullPage: true });

      await page.setViewportSize(PHONE);
      await page.waitForTimeout(300);
      await page.evaluate(() => window.scrollTo(0, 0));
      const width = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
      assert.ok(width <= PHONE.width, `the page is ${width} px wide at ${PHONE.width} px`);
      await page.screenshot({ path: `${SCREENSHOTS}/admin-phone.png` });
      await page.setViewportSize(LAPTOP);

      // One connection: Second's, from the presence list.
      const secondClosed = new Promise<DisconnectedEvent>((resolve) => second!.client.on('disconnected', resolve));
      await page.click(`#presence tr[data-client="${second.client.clientId}"] button.danger`);
      assert.equal((await within(secondClosed, 10_000, 'close of the second client')).code, 4000);

      await page.click('#disconnect-user');
      const event = await within(closed, 10_000, 'close of the reader');
      assert.equal(event.code, 4000);
      assert.equal(event.reason, 'disconnected by an administrator');
      await page.waitForFunction(() => /Disconnected 1 connection\./.test(document.getElementById('user-note')?.textContent ?? ''));

      // A reload keeps the key (this tab); Forget the key drops it.
      await page.reload();
      await page.waitForSelector('#admin:not([hidden])');
      await page.click('#sign-out');
      assert.equal(await page.isVisible('#key-form'), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard-admin-key')), null);
    } finally {
      reader.client.close();
      second?.client.close();
    }
  });
});

describe('the admin page without an API key', () => {
  let serve: ServeProcess;
  before(async () => {
    serve = await startServe(['--port', '0']);
  });
  after(async () => {
    assert.equal(await serve.stop(), 0);
  });

  it('is not served: /admin is a 404 that says how to turn it on', async () => {
    const response = await fetch(`http://127.0.0.1:${serve.port}/admin`);
    assert.equal(response.status, 404);
    assert.match(await response.text(), /admin page is off.*--api-key/s);
    assert.doesNotMatch(serve.output(), /\/admin/);
  });
});
