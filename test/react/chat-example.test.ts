// examples/react-chat (the chat's core with switchboard/react) in Chromium:
// two users in the lobby see each other's messages and each other in the
// presence list, a new room is created and used, the lobby's messages come
// back from history on return; the server exits on SIGTERM. Missing Chromium
// skips, or fails with SWITCHBOARD_REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumStatus, launchChromium, requirePeer } from '../interop/peers.js';
import { startExample, type RunningExample } from '../integrations/harness.js';

const status = chromiumStatus();
const peer = requirePeer('Chromium', status.available, status.reason);
const WAIT = { timeout: 10_000 };

describe('examples/react-chat in Chromium', () => {
  let app: RunningExample | undefined;
  let browser: Browser | undefined;

  before(async () => {
    if (peer.skip) return;
    [app, browser] = await Promise.all([startExample('examples/react-chat/server.ts', 30_000), launchChromium()]);
  });

  after(async () => {
    await browser?.close();
    if (app?.child.exitCode === null) app.child.kill('SIGKILL');
  });

  const texts = (page: Page, selector: string) => page.$$eval(selector, (items) => items.map((item) => item.textContent ?? ''));
  const send = async (page: Page, text: string) => {
    await page.waitForSelector('.composer input:not([disabled])', WAIT);
    await page.fill('.composer input', text);
    await page.press('.composer input', 'Enter');
  };
  const shows = (page: Page, text: string) => page.waitForFunction((t) => document.querySelector('.messages')?.textContent?.includes(t) === true, text, WAIT);

  it('chats in rooms with presence and history, then exits on SIGTERM', peer, async () => {
    const ada = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const bob = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    for (const page of [ada, bob]) page.on('pageerror', (error) => errors.push(String(error)));
    await ada.goto(`${app!.origin}/?user=ada`);
    await bob.goto(`${app!.origin}/?user=bob`);
    await ada.waitForSelector('.state.connected', WAIT);
    await bob.waitForSelector('.state.connected', WAIT);

    await send(ada, 'hello from ada');
    await shows(bob, 'hello from ada');
    await send(bob, 'hi ada, bob here');
    await shows(ada, 'bob here');
    await ada.waitForFunction(() => document.querySelectorAll('aside li').length === 2, undefined, WAIT);
    assert.deepEqual(await texts(ada, 'aside li'), ['● ada', '● bob']);

    await ada.fill('nav input', 'Games');
    await ada.press('nav input', 'Enter');
    await ada.waitForFunction(() => document.querySelector<HTMLInputElement>('.composer input')?.placeholder === 'Message #games', undefined, WAIT);
    await send(ada, 'anyone for chess?');
    await shows(ada, 'anyone for chess?');
    await bob.waitForFunction(() => document.querySelector('aside')?.textContent === 'Here (1)● bob', undefined, WAIT); // ada left the lobby
    assert.deepEqual(await texts(ada, 'nav li'), ['# lobby', '# random', '# games']);

    await ada.click('nav li:first-child button');
    await shows(ada, 'bob here'); // from the lobby's history
    assert.deepEqual(await texts(ada, '.messages li'), ['ada hello from ada', 'bob hi ada, bob here']);
    assert.deepEqual(errors, []);

    app!.child.kill('SIGTERM');
    const code = await new Promise((resolve) => app!.child.once('exit', resolve));
    assert.equal(code, 0);
    await bob.waitForSelector('.state.connecting', WAIT);
  });
});
