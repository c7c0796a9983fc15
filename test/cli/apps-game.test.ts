// The multiplayer game of `switchboard serve` (/game) in Chromium, several
// people in separate browser contexts: two players see each other move, a
// late joiner sees both at once, a reloaded page and a page whose network
// was cut come back as the same player (seen as away meanwhile), names are
// text only. Screenshots at 1280×800 and 390×844 go to docs/screenshots/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumPeer, chromiumSuite, LAPTOP, ownId, PHONE, PLAYING, seen, steerUntilSeen, visitAs, waitUntilSeen } from './browser-helpers.js';
import { TcpProxy } from './serve-helpers.js';

const SCREENSHOTS = 'docs/screenshots';

/** Opens the game as `name`, its errors (prefixed with the name) into `errors`; resolves once it plays. */
async function openGame(browser: Browser, base: string, name: string, errors: string[], viewport = LAPTOP): Promise<Page> {
  const { page } = await visitAs(browser, base, '/game', { name, errors, prefix: `${name}: `, viewport, ready: PLAYING });
  return page;
}

describe('the game in Chromium', () => {
  const { chromium, options } = chromiumPeer();
  const suite = chromiumSuite(chromium.available, ['--port', '0', '--game-bots', '12'], { screenshots: SCREENSHOTS });

  it('two players see each other move; a late joiner sees both; a reload is the same player', options, async () => {
    const ada = await openGame(suite.browser, suite.base, 'Ada', suite.errors);
    const bob = await openGame(suite.browser, suite.base, 'Bob', suite.errors);
    const [adaId, bobId] = [await ownId(ada), await ownId(bob)];
    assert.notEqual(adaId, bobId);
    await waitUntilSeen(ada, bobId, () => true, 'Ada lists Bob');
    await waitUntilSeen(bob, adaId, () => true, 'Bob lists Ada');
    // Each page highlights its own player, and only it.
    assert.deepEqual(await ada.$$eval('#scores li.you', (rows) => rows.map((row) => Number((row as HTMLElement).dataset.player))), [adaId]);
    assert.deepEqual(await bob.$$eval('#scores li.you', (rows) => rows.map((row) => Number((row as HTMLElement).dataset.player))), [bobId]);

    // Keys held until the other page shows the move (a key press on a busy machine may move nothing).
    await steerUntilSeen(ada, adaId, bob, 'Bob sees Ada move');
    await steerUntilSeen(bob, bobId, ada, 'Ada sees Bob move');

    // A late joiner has both at once, from the join result, with their names.
    const cy = await openGame(suite.browser, suite.base, 'Cy', suite.errors);
    await waitUntilSeen(cy, adaId, () => true, 'Cy lists Ada', 3000);
    await waitUntilSeen(cy, bobId, () => true, 'Cy lists Bob', 3000);
    const names = await cy.$$eval('#scores li .name', (rows) => rows.map((row) => row.firstChild?.textContent ?? ''));
    assert.ok(names.includes('Ada') && names.includes('Bob') && names.includes('Cy'), names.join(', '));
    const adaNow = (await seen(cy, adaId))!;
    const adaAtAda = (await seen(ada, adaId))!;
    assert.ok(Math.abs(adaNow.x - adaAtAda.x) < 40, 'Cy sees Ada where Ada is');

    // Bob reloads: the same player, score and all; the others never lose him.
    const score = (await seen(bob, bobId))!.score;
    await bob.reload();
    await bob.waitForSelector(PLAYING);
    assert.equal(await ownId(bob), bobId, 'the same player after a reload');
    const back = await waitUntilSeen(ada, bobId, (now) => !now.away, 'Bob back, not away');
    assert.ok(back.score >= score);
    await steerUntilSeen(bob, bobId, ada, 'Bob steers again after the reload');

    // The canvas has the arena drawn (coins and ships are not the background).
    const ink = await ada.evaluate(() => {
      const canvas = document.getElementById('arena') as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let coloured = 0;
      for (let i = 0; i < data.length; i += 4) if (Math.max(data[i]!, data[i + 1]!, data[i + 2]!) - Math.min(data[i]!, data[i + 1]!, data[i + 2]!) > 40) coloured++;
      return coloured;
    });
    assert.ok(ink > 500, `${ink} coloured pixels`);
    await ada.mouse.move(640, 400);
    await ada.waitForTimeout(1500);
    await ada.screenshot({ path: `${SCREENSHOTS}/game.png` });
    for (const page of [ada, bob, cy]) await page.context().close();
  });

  it('a page whose network is cut is away meanwhile, and comes back as the same player', options, async () => {
    const proxy = new TcpProxy(suite.serve.port);
    await proxy.start();
    try {
      const dee = await openGame(suite.browser, `http://127.0.0.1:${proxy.port}`, 'Dee', suite.errors);
      const eve = await openGame(suite.browser, suite.base, 'Eve', suite.errors);
      const deeId = await ownId(dee);
      await waitUntilSeen(eve, deeId, (now) => !now.away, 'Eve sees Dee');
      proxy.cut();
      await dee.waitForSelector('#game-status:not([hidden])');
      await waitUntilSeen(eve, deeId, (now) => now.away, 'Eve sees Dee away', 15_000);
      proxy.restore();
      await dee.waitForSelector('body[data-connection=connected]', { timeout: 20_000 });
      await waitUntilSeen(eve, deeId, (now) => !now.away, 'Eve sees Dee back');
      assert.equal(await ownId(dee), deeId, 'the same player after the reconnect');
      assert.equal(await dee.locator('#game-status').isHidden(), true);
      await steerUntilSeen(dee, deeId, eve, 'Dee steers again');
      for (const page of [dee, eve]) await page.context().close();
    } finally {
      await proxy.close();
    }
  });

  it('names are text, never markup; on a phone', options, async () => {
    const name = '<img src=x id=injected>';
    const hostile = await openGame(suite.browser, suite.base, name, suite.errors);
    const id = await ownId(hostile);
    await waitUntilSeen(hostile, id, () => true, 'listed');
    const phone = await openGame(suite.browser, suite.base, 'Fay', suite.errors, PHONE);
    // Listed by both pages as text, with no element made of it.
    await waitUntilSeen(phone, id, () => true, 'Fay lists the markup name');
    for (const page of [hostile, phone]) {
      assert.equal(await page.locator('#injected').count(), 0);
      const shown = await page.$eval(`#scores li[data-player="${id}"] .name`, (row) => row.firstChild?.textContent ?? '');
      assert.equal(shown, name);
    }
    await hostile.context().close();
    const page = phone;
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page is ${width} px wide`);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${SCREENSHOTS}/game-phone.png` });
    await page.context().close();
  });
});
