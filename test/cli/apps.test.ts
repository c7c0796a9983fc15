// The demo apps of `switchboard serve` in Chromium: several browser contexts
// (separate people) on the same server — chat messages, presence, typing,
// history, recovery after a network cut and after server restarts; the
// whiteboard's strokes, snapshot for late joiners, cursors and clear; the
// dashboard's live figures. Screenshots go to test-output/screenshots/
// (the chat's, with a conversation long enough to scroll, in apps-layout.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { BOARD_HEIGHT, BOARD_WIDTH } from '../../src/cli/apps/web/api.js';
import { RedisServer, redisAvailability } from '../realtime/broker/redis-server.js';
import { launchChromium, requirePeer } from '../interop/peers.js';
import { boardPixel, chromiumPeer, chromiumSuite, CONNECTED, isInk, messageTexts, send, visitAs, waitForMessage, type Person, waitForInk } from './browser-helpers.js';
import { startServe, TcpProxy } from './serve-helpers.js';

const SCREENSHOTS = 'test-output/screenshots';

/**
 * Opens `path` as a new person (own context, own storage) called `name`, and
 * waits until it is connected (unless `live` is false: a page without a connection).
 */
function visit(browser: Browser, base: string, path: string, name: string, live = true): Promise<Person> {
  return visitAs(browser, base, path, { name, ready: live ? CONNECTED : null });
}

/** The names in the people list, without their tags. */
function peopleNames(page: Page): Promise<string[]> {
  return page.$$eval('#people li .name', (items) => items.map((item) => item.firstChild?.textContent ?? ''));
}

/** Drags the mouse through `points` (board coordinates). */
async function drawPath(page: Page, points: Array<[number, number]>): Promise<void> {
  const box = (await page.locator('#canvas').boundingBox())!;
  const at = ([x, y]: [number, number]): [number, number] => [box.x + (x * box.width) / BOARD_WIDTH, box.y + (y * box.height) / BOARD_HEIGHT];
  await page.mouse.move(...at(points[0]!));
  await page.mouse.down();
  for (const point of points.slice(1)) {
    await page.mouse.move(...at(point));
    await page.waitForTimeout(8);
  }
  await page.mouse.up();
}

/** Drags the mouse along a straight line of board coordinates. */
function drawLine(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const points: Array<[number, number]> = [];
  for (let step = 0; step <= 20; step++) points.push([from[0] + ((to[0] - from[0]) * step) / 20, from[1] + ((to[1] - from[1]) * step) / 20]);
  return drawPath(page, points);
}

/** Points of a wave or a circle, for the screenshot. */
function wave(x: number, y: number, width: number, height: number): Array<[number, number]> {
  return Array.from({ length: 41 }, (_, i) => [x + (width * i) / 40, y + height * Math.sin((i / 40) * 2 * Math.PI)] as [number, number]);
}
function circle(cx: number, cy: number, r: number): Array<[number, number]> {
  return Array.from({ length: 49 }, (_, i) => [cx + r * Math.cos((i / 48) * 2 * Math.PI), cy + r * Math.sin((i / 48) * 2 * Math.PI)] as [number, number]);
}

async function tileValue(page: Page, id: string): Promise<number> {
  return Number(await page.getAttribute(`#tile-${id}`, 'data-value'));
}

describe('the demo apps in Chromium', () => {
  const { chromium, options } = chromiumPeer();
  const suite = chromiumSuite(chromium.available, ['--port', '0'], { screenshots: SCREENSHOTS });
  const open = (path: string, name: string, live = true): Promise<Person> => suite.open(path, { name, ready: live ? CONNECTED : null });

  it('index page: links the apps', options, async () => {
    const { page } = await open('/', 'Visitor', false);
    const links = await page.$$eval('a.card', (cards) => cards.map((card) => card.getAttribute('href')));
    assert.deepEqual(links, ['/chat', '/dashboard', '/whiteboard', '/ticker', '/game', '/notifications', '/admin']);
    await page.screenshot({ path: `${SCREENSHOTS}/home.png` });
  });

  it('chat: messages cross, presence and typing follow, late joiners get the history', options, async () => {
    const ada = await open('/chat?room=demo', 'Ada');
    const bob = await open('/chat?room=demo', 'Bob');
    await bob.page.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
    assert.deepEqual(await peopleNames(bob.page), ['Ada', 'Bob']);

    await send(ada.page, 'Hello Bob! Ready for the demo?');
    await waitForMessage(bob.page, 'Hello Bob! Ready for the demo?');
    await send(bob.page, 'Hi Ada, all set.');
    await waitForMessage(ada.page, 'Hi Ada, all set.');

    await send(bob.page, 'Open the whiteboard in a second window and draw something.');
    await waitForMessage(ada.page, 'Open the whiteboard in a second window and draw something.');
    await ada.page.fill('#message-input', 'Let me show you the whiteboard');
    await bob.page.waitForFunction(() => /^Ada #[0-9a-z]{4} is typing…$/.test(document.getElementById('typing')?.textContent ?? ''));
    await ada.page.press('#message-input', 'Enter');
    await waitForMessage(bob.page, 'Let me show you the whiteboard');
    await bob.page.waitForFunction(() => document.getElementById('typing')?.textContent === '');

    const carol = await open('/chat?room=demo', 'Carol');
    await waitForMessage(carol.page, 'Let me show you the whiteboard');
    assert.deepEqual(await messageTexts(carol.page), [
      'Hello Bob! Ready for the demo?',
      'Hi Ada, all set.',
      'Open the whiteboard in a second window and draw something.',
      'Let me show you the whiteboard',
    ]);
    await ada.page.waitForFunction(() => document.querySelectorAll('#people li').length === 3);

    await carol.context.close();
    await ada.page.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
    await ada.page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.system')).some((item) => /^Carol #[0-9a-z]{4} left$/.test(item.textContent ?? '')));
    assert.deepEqual(await peopleNames(ada.page), ['Ada', 'Bob']);
  });

  it('asks a first-time visitor for a nickname', options, async () => {
    const context = await suite.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${suite.base}/chat?room=names`);
    await page.waitForSelector('#nickname-dialog[open]');
    await page.fill('#nickname-input', 'Newcomer');
    await page.click('#nickname-form button');
    await page.waitForSelector('body[data-connection=connected]');
    await page.waitForSelector('#me:has-text("Newcomer")');
    await page.waitForSelector('#people li:has-text("Newcomer")');
    await page.reload();
    await page.waitForSelector('body[data-connection=connected]');
    assert.equal(await page.locator('#nickname-dialog[open]').count(), 0, 'remembered on the next visit');
    await context.close();
  });

  it('chat: a page whose network is cut reconnects and recovers what was sent meanwhile, once each', options, async () => {
    const proxy = new TcpProxy(suite.serve.port);
    await proxy.start();
    try {
      const cut = await visit(suite.browser, `http://127.0.0.1:${proxy.port}`, '/chat?room=cut', 'Cy');
      suite.people.push(cut);
      const direct = await open('/chat?room=cut', 'Dee');
      await send(direct.page, 'one');
      await waitForMessage(cut.page, 'one');

      proxy.cut();
      await cut.page.waitForSelector('body[data-connection=connecting]');
      await send(direct.page, 'two');
      await send(direct.page, 'three');
      await send(cut.page, 'written while offline');
      await waitForMessage(direct.page, 'three');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(await messageTexts(cut.page), ['one'], 'nothing arrives while the network is down');

      proxy.restore();
      await cut.page.waitForSelector('body[data-connection=connected]', { timeout: 20_000 });
      await waitForMessage(cut.page, 'written while offline');
      await waitForMessage(direct.page, 'written while offline');
      assert.deepEqual(await messageTexts(cut.page), ['one', 'two', 'three', 'written while offline']);
      assert.deepEqual(await messageTexts(direct.page), ['one', 'two', 'three', 'written while offline']);
      assert.equal(await cut.page.locator('#messages li.system.warn').count(), 0, 'everything was recovered');
    } finally {
      await proxy.close();
    }
  });

  it('whiteboard: strokes cross, late joiners see the board, cursors show, clear clears', options, async () => {
    const ada = await open('/whiteboard?board=test', 'Ada');
    const bob = await open('/whiteboard?board=test', 'Bob');
    for (const { page } of [ada, bob]) await page.waitForSelector('body[data-board=ready]');
    await drawLine(ada.page, [300, 300], [900, 300]);
    await waitForInk(bob.page, 600, 300); // the stroke is on the other board
    await bob.page.waitForFunction(() => Number(document.getElementById('canvas')?.dataset.events) >= 2);
    assert.ok(!isInk(await boardPixel(bob.page, 600, 600)), 'and nothing else');

    const box = (await ada.page.locator('#canvas').boundingBox())!;
    await ada.page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.6, { steps: 4 });
    await bob.page.waitForSelector('.cursor:has-text("Ada")');
    await drawLine(bob.page, [300, 500], [700, 700]);
    await bob.page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.75, { steps: 4 });
    await ada.page.waitForSelector('.cursor:has-text("Bob")');
    await bob.page.click('.swatch >> nth=2');
    await drawPath(bob.page, circle(1150, 380, 150));
    await ada.page.click('.sizes .size >> nth=2');
    await ada.page.click('.swatch >> nth=5');
    await drawPath(ada.page, wave(850, 750, 600, 90));
    await ada.page.mouse.move(box.x + box.width * 0.62, box.y + box.height * 0.45, { steps: 4 });
    await bob.page.waitForFunction(() => Number(document.getElementById('canvas')?.dataset.events) >= 8);
    await bob.page.waitForTimeout(300);
    await bob.page.screenshot({ path: `${SCREENSHOTS}/whiteboard.png` });

    const late = await open('/whiteboard?board=test', 'Late');
    await late.page.waitForSelector('body[data-board=ready]');
    assert.ok(isInk(await boardPixel(late.page, 600, 300)), 'a late joiner sees the first stroke');
    assert.ok(isInk(await boardPixel(late.page, 500, 600)), 'and the second');

    await bob.page.click('#clear');
    for (const { page } of [ada, bob, late]) await page.waitForFunction(() => document.getElementById('canvas')?.dataset.events === '0');
    assert.ok(!isInk(await boardPixel(late.page, 600, 300)), 'clear empties every board');
    await late.context.close();
    await ada.page.waitForFunction(() => document.querySelector('#drawers span:last-child')?.textContent === '2 here');
  });

  it('dashboard: the figures move with the traffic', options, async () => {
    const viewer = await open('/dashboard', 'Dana');
    await viewer.page.waitForSelector('#tile-connections[data-value]');
    const connections = await tileValue(viewer.page, 'connections');
    const extra = await open('/chat?room=dash', 'Eli');
    await viewer.page.waitForFunction((before) => Number(document.getElementById('tile-connections')?.dataset.value) > before, connections);
    for (let i = 0; i < 5; i++) await send(extra.page, `burst ${i}`);
    await viewer.page.waitForFunction(() => Number(document.getElementById('tile-messages-in')?.dataset.value) > 0);
    await viewer.page.waitForFunction(() => Number(document.getElementById('tile-messages-out')?.dataset.value) > 0);
    await viewer.page.waitForFunction(() => document.querySelector('#channels tr[data-channel="chat:dash"]') !== null);
    assert.ok((await tileValue(viewer.page, 'rss')) > 0);
    assert.ok((await viewer.page.locator('#chart-messages svg polyline').count()) >= 2, 'the chart has its two series');
    await viewer.page.waitForTimeout(2500);
    await viewer.page.screenshot({ path: `${SCREENSHOTS}/dashboard.png`, fullPage: true });
  });
});

describe('the chat across server restarts', () => {
  const { chromium, options } = chromiumPeer();
  const redis = redisAvailability();
  const redisOptions = chromium.available ? requirePeer('redis-server', redis.available, redis.reason) : options;
  let browser: Browser;
  before(async () => {
    if (chromium.available) browser = await launchChromium();
  });
  after(async () => {
    if (chromium.available) await browser.close();
  });

  it('with the memory broker: pages reconnect, say that history was lost, and go on', options, async () => {
    let serve = await startServe(['--port', '0']);
    const base = `http://127.0.0.1:${serve.port}`;
    const eve = await visit(browser, base, '/chat?room=restart', 'Eve');
    const finn = await visit(browser, base, '/chat?room=restart', 'Finn');
    try {
      await send(eve.page, 'before the restart');
      await waitForMessage(finn.page, 'before the restart');
      assert.equal(await serve.stop(), 0);
      await finn.page.waitForSelector('body[data-connection=connecting]');
      serve = await startServe(['--port', String(serve.port)]);
      for (const { page } of [eve, finn]) await page.waitForSelector('body[data-connection=connected]', { timeout: 20_000 });
      await finn.page.waitForSelector('#messages li.system.warn');
      await send(eve.page, 'after the restart');
      await waitForMessage(finn.page, 'after the restart');
      assert.deepEqual(await messageTexts(finn.page), ['before the restart', 'after the restart']);
      assert.deepEqual([...eve.errors, ...finn.errors], []);
    } finally {
      await eve.context.close();
      await finn.context.close();
      await serve.stop();
    }
  });

  it('with Redis: a page whose server was killed and restarted recovers what was sent through another server meanwhile', redisOptions, async () => {
    const store = await RedisServer.start();
    let first = await startServe(['--port', '0', '--redis', store.url]);
    const second = await startServe(['--port', '0', '--redis', store.url]);
    const gus = await visit(browser, `http://127.0.0.1:${first.port}`, '/chat?room=failover', 'Gus');
    const hal = await visit(browser, `http://127.0.0.1:${second.port}`, '/chat?room=failover', 'Hal');
    try {
      await send(hal.page, 'across servers');
      await waitForMessage(gus.page, 'across servers');
      await first.stop('SIGKILL');
      await gus.page.waitForSelector('body[data-connection=connecting]');
      await send(hal.page, 'while you were away');
      await send(hal.page, 'still away');
      await waitForMessage(hal.page, 'still away');
      first = await startServe(['--port', String(first.port), '--redis', store.url]);
      await gus.page.waitForSelector('body[data-connection=connected]', { timeout: 20_000 });
      await waitForMessage(gus.page, 'still away');
      assert.deepEqual(await messageTexts(gus.page), ['across servers', 'while you were away', 'still away']);
      assert.equal(await gus.page.locator('#messages li.system.warn').count(), 0, 'recovered, not reloaded');
      assert.deepEqual([...gus.errors, ...hal.errors], []);
    } finally {
      await gus.context.close();
      await hal.context.close();
      await first.stop();
      await second.stop();
      await store.stop();
    }
  });
});
