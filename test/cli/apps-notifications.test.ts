// The notifications app of `switchboard serve --api-key` in Chromium: the
// README's curl command (its JSON body sent with fetch, the user id the page
// shows in place of USER_ID) puts a notification in the user's bell; the
// unread count and the list survive a reload (history, and the last-read
// offset in localStorage) and a dropped network (recovery); mark all read;
// `send` shows one live; the schema refuses malformed notifications; the
// data is never markup; another user cannot read the channel; 390 px wide.
// Screenshots go to test-output/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RealtimeError } from '../../src/realtime/sdk/index.js';
import { launchChromium } from '../interop/peers.js';
import { chromiumPeer, LAPTOP, PHONE, visitAs, type Person } from './browser-helpers.js';
import { guest, startServe, TcpProxy, type ServeProcess } from './serve-helpers.js';

const SCREENSHOTS = 'test-output/screenshots';
const KEY = 'notifications-test-key-0123456789';

/** The README's curl command: its URL path, its headers and its JSON body (with USER_ID). */
function readmeCurl(): { path: string; header: string; body: string } {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const match = /^\s*curl -X POST http:\/\/127\.0\.0\.1:8080(\/api\/\w+) -H "(X-API-Key: \$SWITCHBOARD_API_KEY)" -d '(\{.*\})'$/m.exec(readme);
  assert.ok(match !== null, 'the README has the curl command');
  return { path: match[1]!, header: match[2]!, body: match[3]! };
}

async function api(port: number, method: string, params: unknown): Promise<{ status: number; body: { result?: unknown; error?: { code: string; message: string } } }> {
  const response = await fetch(`http://127.0.0.1:${port}/api/${method}`, { method: 'POST', headers: { 'X-API-Key': KEY }, body: JSON.stringify(params) });
  return { status: response.status, body: (await response.json()) as { result?: unknown } };
}

function unread(page: Page): Promise<string> {
  return page.$eval('#bell', (bell) => (bell as HTMLElement).dataset.unread ?? '');
}

function titles(page: Page): Promise<string[]> {
  return page.$$eval('#notifications li .title', (items) => items.map((item) => item.textContent ?? ''));
}

async function waitForTitle(page: Page, title: string): Promise<void> {
  await page.waitForFunction((wanted) => Array.from(document.querySelectorAll('#notifications li .title')).some((item) => item.textContent === wanted), title);
}

describe('the notifications app in Chromium', () => {
  const { chromium, options } = chromiumPeer();
  let serve: ServeProcess;
  let proxy: TcpProxy;
  let browser: Browser;
  const people: Person[] = [];

  const open = async (base: string, name: string, viewport = LAPTOP): Promise<Person & { user: string }> => {
    const { context, page, errors } = await visitAs(browser, base, '/notifications', { name, viewport });
    await page.waitForFunction(() => document.getElementById('inbox-meta')?.textContent !== 'loading…');
    const person = { context, page, errors, user: await page.inputValue('#user-id') };
    people.push(person);
    return person;
  };

  before(async () => {
    if (!chromium.available) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    serve = await startServe(['--port', '0', '--api-key', KEY]);
    proxy = new TcpProxy(serve.port);
    await proxy.start();
    browser = await launchChromium();
  });
  after(async () => {
    if (!chromium.available) return;
    const errors = people.flatMap((person) => person.errors);
    await browser.close();
    await proxy.close();
    assert.equal(await serve.stop(), 0);
    assert.deepEqual(errors, [], 'no page had an error');
  });

  it("the README's curl command notifies the user the page names; unread survives reloads and a dropped network", options, async () => {
    const base = `http://127.0.0.1:${proxy.port}`;
    const ada = await open(base, 'Ada');
    assert.match(ada.user, /^guest-[A-Za-z0-9_-]{16}$/);
    assert.equal(await ada.page.isVisible('#inbox-empty'), true);
    assert.equal(await unread(ada.page), '0');

    // The copy buttons put the user id and the command on the clipboard.
    await ada.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await ada.page.click('#copy-user');
    assert.equal(await ada.page.evaluate(() => navigator.clipboard.readText()), ada.user);
    await ada.page.click('#copy-curl');
    assert.equal(await ada.page.evaluate(() => navigator.clipboard.readText()), await ada.page.inputValue('#curl-command'));

    // The command the page shows is the README's, with this user's id in it.
    const curl = readmeCurl();
    const shown = await ada.page.inputValue('#curl-command');
    assert.equal(shown, `curl -X POST ${base}${curl.path} -H "${curl.header}" -d '${JSON.stringify(JSON.parse(curl.body.replace('USER_ID', ada.user)))}'`);

    const response = await fetch(`http://127.0.0.1:${serve.port}${curl.path}`, { method: 'POST', headers: { 'X-API-Key': KEY }, body: curl.body.replace('USER_ID', ada.user) });
    assert.equal(response.status, 200, await response.clone().text());
    await waitForTitle(ada.page, 'Build passed');
    assert.equal(await unread(ada.page), '1');
    assert.equal(await ada.page.textContent('#unread-count'), '1');
    assert.equal(await ada.page.getAttribute('#notifications li', 'data-level'), 'success');
    assert.equal(await ada.page.textContent('#notifications li .body'), 'main is green');
    assert.equal(await ada.page.title(), '(1) Notifications · Switchboard');

    // `send`: shown live, not kept.
    const sent = await api(serve.port, 'send', { user: ada.user, data: { title: 'Live only', body: 'from /api/send' } });
    assert.deepEqual(sent.body.result, { connections: 1 });
    await waitForTitle(ada.page, 'Live only');
    assert.equal(await unread(ada.page), '2');

    await ada.page.reload();
    await ada.page.waitForSelector('body[data-connection=connected]');
    await waitForTitle(ada.page, 'Build passed');
    assert.deepEqual(await titles(ada.page), ['Build passed']);
    assert.equal(await unread(ada.page), '1', 'the unread count survives a reload');
    assert.equal(await ada.page.inputValue('#user-id'), ada.user, 'the same user after a reload');

    await ada.page.click('#mark-read');
    assert.equal(await unread(ada.page), '0');
    assert.equal(await ada.page.isVisible('#unread-count'), false);
    assert.equal(await ada.page.isDisabled('#mark-read'), true);
    await ada.page.reload();
    await ada.page.waitForSelector('body[data-connection=connected]');
    await waitForTitle(ada.page, 'Build passed');
    assert.equal(await unread(ada.page), '0', 'read stays read after a reload');

    // Published while the network is down: there after the reconnect, unread.
    proxy.cut();
    await ada.page.waitForSelector('body[data-connection=connecting]');
    const channel = `notifications:#${ada.user}`;
    for (const data of [
      { title: 'Disk almost full', body: 'db-1: 91% used', level: 'warning', url: 'https://status.example.com/db-1' },
      { title: 'New reply from Grace', body: '“Looks good to me — merging after lunch.”' },
    ]) {
      const published = await api(serve.port, 'publish', { channel, data });
      assert.equal(published.status, 200, JSON.stringify(published.body));
    }
    proxy.restore();
    await ada.page.waitForSelector('body[data-connection=connected]', { timeout: 15_000 });
    await waitForTitle(ada.page, 'New reply from Grace');
    assert.deepEqual(await titles(ada.page), ['New reply from Grace', 'Disk almost full', 'Build passed']);
    assert.equal(await unread(ada.page), '2');
    assert.equal(await ada.page.getAttribute('#notifications li[data-level=warning] .title a', 'href'), 'https://status.example.com/db-1');
    assert.equal(await ada.page.getAttribute('#notifications li[data-level=warning] .title a', 'rel'), 'noopener noreferrer');
    await ada.page.screenshot({ path: `${SCREENSHOTS}/notifications.png` });

    await ada.page.setViewportSize(PHONE);
    await ada.page.waitForTimeout(200);
    const width = await ada.page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
    assert.ok(width <= PHONE.width, `the page is ${width} px wide at ${PHONE.width} px`);
    await ada.page.screenshot({ path: `${SCREENSHOTS}/notifications-phone.png` });

    // Markup in the data stays text.
    const hostile = { title: '<img src=x onerror="document.body.dataset.owned=1">', body: '<b>not bold</b>', url: 'https://example.com/"><script>' };
    assert.equal((await api(serve.port, 'publish', { channel, data: hostile })).status, 200);
    await waitForTitle(ada.page, hostile.title);
    assert.equal(await unread(ada.page), '3');
    assert.equal(await ada.page.textContent('#notifications li .body'), '<b>not bold</b>');
    assert.equal(await ada.page.$$eval('#notifications img, #notifications b, #notifications script', (found) => found.length), 0, 'data is text, never markup');
    assert.equal(await ada.page.evaluate(() => document.body.dataset.owned), undefined);
  });

  it('the schema refuses malformed notifications; nobody else may read the channel; clients may not publish in it', options, async () => {
    const { client, connected } = await guest(serve.port, 'Eve');
    try {
      const channel = 'notifications:#guest-AAAAAAAAAAAAAAAA';
      for (const data of [{ body: 'no title' }, { title: '' }, { title: 'x'.repeat(201) }, { title: 'ok', url: 'javascript:alert(1)' }, { title: 'ok', level: 'panic' }, { title: 'ok', extra: 1 }, { title: 'ok', body: 'y'.repeat(2001) }]) {
        const refused = await api(serve.port, 'publish', { channel, data });
        assert.deepEqual([refused.status, refused.body.error?.code], [400, 'invalid_data'], JSON.stringify(data));
      }
      await assert.rejects(client.history(channel), (error: RealtimeError) => error.code === 'forbidden');
      const own = `notifications:#${connected.user}` as const;
      await assert.rejects(client.publish(own, { title: 'self-made' }), (error: RealtimeError) => error.code === 'forbidden');
    } finally {
      client.close();
    }
  });
});
