// The demo apps against hostile input, in Chromium and over plain HTTP: the
// security headers on every response and the CSP enforced by the browser;
// pages that keep working over history an older server stored before the
// schemas (null, junk objects); people with the same name told apart by
// their tag, "(you)" by user id; and a whiteboard whose history is gone
// (recovered: false). The board of 10,000 batches is whiteboard-big.test.ts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { userTag } from '../../src/cli/apps/web/guards.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { launchChromium, requirePeer } from '../interop/peers.js';
import { boardPixel, chromiumPeer, chromiumSuite, isInk, send, visitAs, waitForMessage, type Person } from './browser-helpers.js';
import { gridBatch, HOSTILE_BOARD, HOSTILE_CHAT, storeHostileHistory } from './demo-helpers.js';
import { guest, startServe, type ServeProcess } from './serve-helpers.js';

/** Opens `path` as a new person called `name`, and waits until it is connected. */
function visit(browser: Browser, base: string, path: string, name: string): Promise<Person> {
  return visitAs(browser, base, path, { name });
}

/** Everything `serve` sends over HTTP that a browser may load. */
const PATHS = ['/', '/index.html', '/chat', '/dashboard', '/whiteboard', '/ticker', '/game', '/apps/style.css', '/apps/chat.js', '/apps/common.js', '/apps/guards.js', '/apps/whiteboard.js', '/apps/game.js', '/apps/game-api.js', '/apps/game-interpolation.js', '/apps/api.js', '/switchboard-sdk.js', '/favicon.svg', '/no-such-page', '/rt', '/healthz'];

function checkSecurityHeaders(headers: Headers, what: string): void {
  const csp = headers.get('content-security-policy') ?? '';
  const directives = new Map(csp.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
  assert.deepEqual(directives.get('script-src'), ["'self'"], `${what}: scripts only from this origin, none inline`);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], `${what}: not framed`);
  assert.deepEqual(directives.get('default-src'), ["'none'"], `${what}: nothing else by default`);
  assert.ok(!csp.includes('unsafe'), `${what}: no unsafe-* source`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(headers.get('x-frame-options'), 'DENY', what);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', what);
}

describe('the demo apps: headers and CSP', () => {
  const { chromium, options } = chromiumPeer();
  let serve: ServeProcess;
  let base: string;
  before(async () => {
    serve = await startServe(['--port', '0']);
    base = `http://127.0.0.1:${serve.port}`;
  });
  after(async () => {
    await serve.stop();
  });

  it('sends the CSP, nosniff, X-Frame-Options and Referrer-Policy with every page, script and error, and 304s', async () => {
    for (const path of PATHS) {
      const response = await fetch(`${base}${path}`);
      checkSecurityHeaders(response.headers, `${path} (${response.status})`);
      const body = await response.text();
      if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
        assert.doesNotMatch(body, /<script(?![^>]*\ssrc=)[^>]*>/i, `${path}: no inline script`);
        assert.doesNotMatch(body, /\sstyle=/i, `${path}: no style attribute (the CSP refuses them)`);
        assert.doesNotMatch(body, /\son[a-z]+=/i, `${path}: no inline event handler`);
      }
      const etag = response.headers.get('etag');
      if (etag !== null) {
        const again = await fetch(`${base}${path}`, { headers: { 'If-None-Match': etag } });
        assert.equal(again.status, 304);
        checkSecurityHeaders(again.headers, `${path} (304)`);
      }
    }
  });

  it('the pages build nothing from markup: no innerHTML, outerHTML, insertAdjacentHTML or document.write in their scripts', () => {
    const folder = new URL('../../src/cli/apps/web/', import.meta.url);
    const scripts = readdirSync(folder).filter((name) => name.endsWith('.ts'));
    assert.ok(scripts.length >= 6, `the page scripts (${scripts.join(', ')})`);
    for (const name of scripts) {
      const source = readFileSync(new URL(name, folder), 'utf8');
      assert.doesNotMatch(source, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write/, `${name} builds DOM from text only`);
    }
  });

  it('Chromium enforces it: an injected inline script does not run, and no other site can frame a page', options, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/.test(message.text())) violations.push(message.text());
      });
      await page.goto(`${base}/chat?name=Csp`);
      await page.waitForSelector('body[data-connection=connected]');
      const ran = await page.evaluate(async () => {
        const script = document.createElement('script');
        script.textContent = 'document.body.dataset.injected = "ran"';
        document.body.append(script);
        await new Promise((resolve) => setTimeout(resolve, 100));
        return document.body.dataset.injected === 'ran';
      });
      assert.equal(ran, false, 'the inline script was refused');
      assert.ok(violations.length >= 1, 'Chromium reported the violation');

      const framer = await browser.newPage();
      await framer.setContent(`<iframe src="${base}/chat?name=Framed" width="800" height="600"></iframe>`);
      await framer.waitForTimeout(1500);
      const framed = framer.frames().find((frame) => frame !== framer.mainFrame());
      const shown = framed === undefined ? null : await framed.$('body.app-chat').catch(() => null);
      assert.equal(shown, null, 'the page did not render inside the frame');
    } finally {
      await browser.close();
    }
  });
});

describe('the demo apps over history written before the schemas', () => {
  const { chromium, options } = chromiumPeer();
  const redis = redisAvailability();
  const both = chromium.available ? requirePeer('redis-server', redis.available, redis.reason) : options;
  const ready = chromium.available && redis.available;
  let store: RedisServer;
  let serve: ServeProcess;
  let browser: Browser;
  let base: string;
  before(async () => {
    if (!ready) return;
    store = await RedisServer.start();
    await storeHostileHistory(store.url);
    serve = await startServe(['--port', '0', '--redis', store.url]);
    base = `http://127.0.0.1:${serve.port}`;
    browser = await launchChromium();
  });
  after(async () => {
    if (!ready) return;
    await browser.close();
    await serve.stop();
    await store.stop();
  });

  it('chat: null and junk messages are skipped and counted; the room shows the rest and the composer works', both, async () => {
    const reader = await visit(browser, base, '/chat?room=hostile', 'Reader');
    try {
      await waitForMessage(reader.page, 'still readable', 15_000);
      assert.equal(await reader.page.locator('#messages li.message').count(), 1);
      assert.equal(await reader.page.getAttribute('#messages', 'data-skipped'), String(HOSTILE_CHAT.length - 1));
      assert.match((await reader.page.textContent('#messages li.skipped')) ?? '', /^4 messages could not be shown/);
      assert.equal(await reader.page.isDisabled('#message-input'), false, 'the composer is enabled');
      await send(reader.page, 'the room still works');
      await waitForMessage(reader.page, 'the room still works');
      assert.deepEqual(reader.errors, []);
    } finally {
      await reader.context.close();
    }
  });

  it('whiteboard: the board loads, draws the valid stroke, skips and counts the rest, and clears', both, async () => {
    const painter = await visit(browser, base, '/whiteboard?board=hostile', 'Painter');
    try {
      await painter.page.waitForSelector('body[data-board=ready]', { timeout: 15_000 });
      await painter.page.waitForFunction((skipped) => document.getElementById('canvas')?.dataset.skipped === skipped, String(HOSTILE_BOARD.length - 1));
      assert.equal(await painter.page.getAttribute('#canvas', 'data-events'), '1');
      assert.equal(await painter.page.getAttribute('#canvas', 'data-lost'), null, 'the replay was recovered');
      assert.ok(isInk(await boardPixel(painter.page, 0, 10)), 'the valid stroke is drawn');
      await painter.page.click('#clear');
      await painter.page.waitForFunction(() => document.getElementById('canvas')?.dataset.events === '0');
      assert.deepEqual(painter.errors, []);
    } finally {
      await painter.context.close();
    }
  });
});

describe('the demo apps: telling people apart', () => {
  const { chromium, options } = chromiumPeer();
  const suite = chromiumSuite(chromium.available, ['--port', '0']);

  /** The people list: name (without tag), tag, user id, and whether it says "(you)". */
  function people(page: Page): Promise<Array<{ name: string; tag: string; user: string; you: boolean }>> {
    return page.$$eval('#people li', (items) =>
      items.map((item) => ({
        name: item.querySelector('.name')?.firstChild?.textContent ?? '',
        tag: item.querySelector('.name .tag')?.textContent ?? '',
        user: item.getAttribute('data-user') ?? '',
        you: item.querySelector('.you') !== null,
      })),
    );
  }

  it('two people named Ada: each shows with the tag of their user id, and only the own user id is "(you)"', options, async () => {
    const first = await visit(suite.browser, suite.base, '/chat?room=twins', 'Ada');
    const second = await visit(suite.browser, suite.base, '/chat?room=twins', 'Ada');
    try {
      for (const { page } of [first, second]) await page.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
      const own = async (page: Page): Promise<string> => (await page.getAttribute('#me [data-user]', 'data-user')) ?? '';
      const users = [await own(first.page), await own(second.page)];
      assert.notEqual(users[0], users[1]);
      for (const [index, { page }] of [first, second].entries()) {
        const list = await people(page);
        assert.deepEqual(list.map((person) => person.name), ['Ada', 'Ada']);
        for (const person of list) assert.equal(person.tag, userTag(person.user), 'the tag is derived from the user id');
        assert.notEqual(list[0]!.tag, list[1]!.tag, 'the two Adas look different');
        assert.deepEqual(list.filter((person) => person.you).map((person) => person.user), [users[index]], '"(you)" only on the own user id');
        assert.equal(await page.textContent('#me .tag'), userTag(users[index]!));
      }
      await send(first.page, 'which Ada am I?');
      await second.page.waitForSelector('#messages li.message .author .tag');
      assert.equal(await second.page.textContent('#messages li.message .author .tag'), userTag(users[0]!));
      assert.deepEqual([...first.errors, ...second.errors], []);
    } finally {
      await first.context.close();
      await second.context.close();
    }
  });

  it('a guest stays the same user across reloads by its server-signed token; another guest\'s id cannot be taken', options, async () => {
    const victim = await visit(suite.browser, suite.base, '/chat?room=spoof', 'Ada');
    const attacker = await visit(suite.browser, suite.base, '/chat?room=spoof', 'Mallory');
    try {
      const own = async (page: Page): Promise<string> => {
        await page.waitForSelector('#me [data-user]');
        return (await page.getAttribute('#me [data-user]', 'data-user')) ?? '';
      };
      const victimUser = await own(victim.page);
      const token = await victim.page.evaluate(() => localStorage.getItem('switchboard-demo-id'));
      assert.match(token ?? '', /^[A-Za-z0-9_-]{20,64}$/, 'the page keeps the token the server signed');
      await victim.page.reload();
      assert.equal(await own(victim.page), victimUser, 'a reload is the same user');
      // The attacker copies the victim's user id (what the page shows) as its own id: it gets a guest of its own.
      await attacker.page.evaluate((id) => localStorage.setItem('switchboard-demo-id', id.replace(/^guest-/, '')), victimUser);
      await attacker.page.reload();
      const attackerUser = await own(attacker.page);
      assert.notEqual(attackerUser, victimUser);
      const list = await people(victim.page);
      assert.deepEqual(list.filter((person) => person.you).map((person) => person.user), [victimUser], 'the victim sees only itself as "(you)"');
      assert.deepEqual([...victim.errors, ...attacker.errors], []);
    } finally {
      await victim.context.close();
      await attacker.context.close();
    }
  });

  it('whiteboard: cursors carry the tag, built from text (a name with markup stays text)', options, async () => {
    const first = await visit(suite.browser, suite.base, '/whiteboard?board=tags', '<img src=x>');
    const second = await visit(suite.browser, suite.base, '/whiteboard?board=tags', 'Bob');
    try {
      for (const { page } of [first, second]) await page.waitForSelector('body[data-board=ready]');
      const box = (await first.page.locator('#canvas').boundingBox())!;
      await first.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
      await second.page.waitForSelector('.cursor .label');
      const label = await second.page.$eval('.cursor .label', (node) => ({ name: node.firstChild?.textContent ?? '', tag: node.querySelector('.tag')?.textContent ?? '', user: node.getAttribute('data-user') ?? '', images: node.closest('.cursor')!.querySelectorAll('img').length }));
      assert.equal(label.name, '<img src=x>');
      assert.equal(label.tag, userTag(label.user));
      assert.equal(label.images, 0);
      assert.deepEqual([...first.errors, ...second.errors], []);
    } finally {
      await first.context.close();
      await second.context.close();
    }
  });
});

describe('the whiteboard when its history is gone', () => {
  const { chromium, options } = chromiumPeer();
  let browser: Browser;
  before(async () => {
    if (chromium.available) browser = await launchChromium();
  });
  after(async () => {
    if (chromium.available) await browser.close();
  });

  it('after a restart of a memory-broker server (recovered: false) the page starts over empty, says so, and draws on', options, async () => {
    let serve = await startServe(['--port', '0']);
    const base = `http://127.0.0.1:${serve.port}`;
    const ada = await visit(browser, base, '/whiteboard?board=restart', 'Ada');
    const bob = await visit(browser, base, '/whiteboard?board=restart', 'Bob');
    try {
      for (const { page } of [ada, bob]) await page.waitForSelector('body[data-board=ready]');
      const { client } = await guest(serve.port, 'Filler');
      const board = client.subscribe('board:restart');
      await board.ready();
      await board.publish(gridBatch(0));
      client.close();
      await bob.page.waitForFunction(() => document.getElementById('canvas')?.dataset.events === '1');
      assert.equal(await serve.stop(), 0);
      await bob.page.waitForSelector('body[data-connection=connecting]');
      serve = await startServe(['--port', String(serve.port)]);
      for (const { page } of [ada, bob]) {
        await page.waitForSelector('body[data-connection=connected]', { timeout: 20_000 });
        await page.waitForFunction(() => document.getElementById('canvas')?.dataset.lost === '1', undefined, { timeout: 20_000 });
        assert.equal(await page.getAttribute('#canvas', 'data-events'), '0');
        assert.match((await page.textContent('.board-note')) ?? '', /earlier strokes are gone/);
        assert.ok(!isInk(await boardPixel(page, 4, 3)), 'the old stroke is gone');
      }
      const again = await guest(serve.port, 'Filler');
      const fresh = again.client.subscribe('board:restart');
      await fresh.ready();
      await fresh.publish(gridBatch(5));
      again.client.close();
      for (const { page } of [ada, bob]) await page.waitForFunction(() => document.getElementById('canvas')?.dataset.events === '1');
      assert.ok(isInk(await boardPixel(bob.page, 5 * 16 + 2, 3)), 'a new stroke after the restart is drawn');
      assert.deepEqual([...ada.errors, ...bob.errors], []);
    } finally {
      await ada.context.close();
      await bob.context.close();
      await serve.stop();
    }
  });
});
