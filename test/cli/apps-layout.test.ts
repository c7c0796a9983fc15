// The demo apps' layout in Chromium, at a laptop's 1280×800 and a phone's
// 390×844: a long chat scrolls inside the window and follows new messages
// (or says there are some below), every app fits a phone's width even with
// a long nickname, the chat's rooms and people panels open on a phone, and
// the composer neither cuts a long paste nor sends what the server would
// refuse — and says why when the server refuses. Screenshots go to
// test-output/screenshots/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumPeer, chromiumSuite, CONNECTED, LAPTOP, PHONE, send, visitAs, waitForMessage, type Person } from './browser-helpers.js';

const SCREENSHOTS = 'test-output/screenshots';
/** A room name of the longest kind (40 characters). */
const LONG_ROOM = 'quarterly-planning-and-review-for-phones';
/** A nickname of 60 characters without a space (the server keeps the first 24). */
const LONG_NAME = 'Maximiliana'.repeat(6).slice(0, 60);

/** Opens `path` as a new person called `name` at `viewport` (a phone's context at PHONE), connected unless `live` is false. */
function visit(browser: Browser, base: string, path: string, name: string, viewport = LAPTOP, live = true): Promise<Person> {
  return visitAs(browser, base, path, { name, viewport, mobile: viewport === PHONE, ready: live ? CONNECTED : null });
}

/** Where things are on the page, in viewport pixels. */
interface Geometry {
  viewportHeight: number;
  pageHeight: number;
  pageWidth: number;
  composerBottom: number;
  composerTop: number;
  lastMessageTop: number;
  lastMessageBottom: number;
  listTop: number;
  listBottom: number;
}

function geometry(page: Page): Promise<Geometry> {
  return page.evaluate(() => {
    const [composer, list] = ['#composer', '#messages'].map((selector) => document.querySelector(selector)!.getBoundingClientRect()) as [DOMRect, DOMRect];
    const items = document.querySelectorAll('#messages li.message');
    const last = items[items.length - 1]!.getBoundingClientRect();
    return {
      viewportHeight: window.innerHeight,
      pageHeight: document.documentElement.scrollHeight,
      pageWidth: document.documentElement.scrollWidth,
      composerTop: composer.top,
      composerBottom: composer.bottom,
      lastMessageTop: last.top,
      lastMessageBottom: last.bottom,
      listTop: list.top,
      listBottom: list.bottom,
    };
  });
}

/** Whether the last message is inside both the list's visible part and the window. */
function lastMessageInView(g: Geometry): boolean {
  return g.lastMessageTop >= g.listTop - 1 && g.lastMessageBottom <= g.listBottom + 1 && g.lastMessageBottom <= g.viewportHeight;
}

/** A conversation long enough to scroll. */
const CONVERSATION: Array<[speaker: 0 | 1, text: string]> = [
  [0, 'Morning! Did the deploy go out?'],
  [1, 'Yes, 09:12. Three workers behind the balancer, Redis as the broker.'],
  [0, 'Nice. Any reconnects?'],
  [1, 'A few during the rollout: every client came back and recovered what it missed.'],
  [0, 'No duplicates?'],
  [1, 'None. Messages are keyed by epoch and offset.'],
  [0, 'What about the whiteboard?'],
  [1, 'Late joiners get a position from board.snapshot and the strokes come through recovery.'],
  [0, 'How big is the snapshot answer?'],
  [1, 'About 35 bytes, however big the board.'],
  [0, 'Ha, that is small.'],
  [1, 'The strokes themselves replay from the history.'],
  [0, 'And the dashboard adds up all workers?'],
  [1, 'Yes, one sample per worker per second on metrics:server.'],
  [0, 'Can guests publish there?'],
  [1, 'No, it is server-published; the namespace refuses client publishes.'],
  [0, 'Good. What is the slow-consumer policy?'],
  [1, 'Disconnect with 4002 after 1 MiB of queued output, by default.'],
  [0, 'And the rate limit?'],
  [1, '100 commands a second, bursts of 200.'],
  [0, 'Fine for a chat.'],
  [1, 'Plenty. The typing indicator repeats at most every two seconds.'],
  [0, 'I will try it on my phone later.'],
  [1, 'The rooms and people are behind the buttons at the top of the conversation there.'],
  [0, 'Perfect.'],
  [1, 'Long pastes are not cut any more either: the composer counts and says what is over.'],
  [0, 'How long can a message be?'],
  [1, '2,000 characters.'],
  [0, 'Got it. Lunch?'],
  [1, 'Sure, 12:30.'],
  [0, 'See you then!'],
  [1, 'Deal.'],
];

describe('the demo apps at 1280×800 and 390×844', () => {
  const { chromium, options } = chromiumPeer();
  const suite = chromiumSuite(chromium.available, ['--port', '0'], { screenshots: SCREENSHOTS });
  const open = (path: string, name: string, viewport = LAPTOP, live = true): Promise<Person> => suite.open(path, { name, viewport, mobile: viewport === PHONE, ready: live ? CONNECTED : null });

  it('chat at 1280×800: 32 messages scroll inside the window, new ones are followed, a reader who scrolled up is told', options, async () => {
    const ada = await open('/chat?room=long', 'Ada');
    const bob = await open('/chat?room=long', 'Bob');
    await bob.page.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
    for (const [speaker, text] of CONVERSATION) {
      const from = speaker === 0 ? ada : bob;
      await send(from.page, text);
      await waitForMessage(from.page, text);
    }
    await waitForMessage(bob.page, 'Deal.');
    await waitForMessage(ada.page, 'Deal.');

    for (const { page } of [ada, bob]) {
      const g = await geometry(page);
      assert.ok(g.pageHeight <= g.viewportHeight, `the page (${g.pageHeight} px) is no taller than the window (${g.viewportHeight} px)`);
      assert.ok(g.composerTop >= 0 && g.composerBottom <= g.viewportHeight, `the composer (${g.composerTop}–${g.composerBottom} px) is in the window`);
      assert.ok(lastMessageInView(g), `the last message (${g.lastMessageTop}–${g.lastMessageBottom} px) is in view (list ${g.listTop}–${g.listBottom} px)`);
    }
    assert.ok(await bob.page.$eval('#messages', (list) => list.scrollHeight > list.clientHeight), 'the list does scroll');
    assert.equal(await bob.page.isVisible('#new-messages'), false, 'no notice while at the bottom');

    // Bob scrolls up to read; Ada writes: Bob's list stays where he is and says there is more below.
    await bob.page.$eval('#messages', (list) => list.scrollTo({ top: 0 }));
    await bob.page.waitForFunction(() => document.getElementById('messages')!.scrollTop === 0);
    await send(ada.page, 'Are you still there?');
    await waitForMessage(bob.page, 'Are you still there?');
    await bob.page.waitForSelector('#new-messages', { state: 'visible' });
    assert.match((await bob.page.textContent('#new-messages')) ?? '', /new message.*↓/i);
    assert.equal(await bob.page.$eval('#messages', (list) => list.scrollTop), 0, 'a reader who scrolled up is not moved');
    assert.equal(lastMessageInView(await geometry(bob.page)), false);
    await bob.page.click('#new-messages');
    await bob.page.waitForFunction(() => {
      const list = document.getElementById('messages')!;
      return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
    });
    assert.ok(lastMessageInView(await geometry(bob.page)), 'the notice scrolls to the last message');
    await bob.page.waitForSelector('#new-messages', { state: 'hidden' });

    // Back at the bottom, new messages are followed again.
    await send(ada.page, 'Lunch it is.');
    await waitForMessage(bob.page, 'Lunch it is.');
    await bob.page.waitForFunction(() => {
      const list = document.getElementById('messages')!;
      return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
    });
    assert.ok(lastMessageInView(await geometry(bob.page)), 'followed at the bottom');
    assert.equal(await bob.page.isVisible('#new-messages'), false);

    await ada.page.fill('#message-input', 'On my way');
    await bob.page.waitForFunction(() => /^Ada #[0-9a-z]{4} is typing…$/.test(document.getElementById('typing')?.textContent ?? ''));
    await bob.page.screenshot({ path: `${SCREENSHOTS}/chat.png` });
    await bob.page.$eval('#messages', (list) => list.scrollTo({ top: list.scrollHeight - list.clientHeight - 400 }));
    await send(ada.page, 'On my way');
    await bob.page.waitForSelector('#new-messages', { state: 'visible' });
    await bob.page.screenshot({ path: `${SCREENSHOTS}/chat-new-messages.png` });
  });

  it('390×844: no app is wider than the phone, with a 60-character nickname and a 40-character room', options, async () => {
    const long = await open(`/chat?room=${LONG_ROOM}`, LONG_NAME, PHONE);
    await send(long.page, `${LONG_NAME} says hello`);
    await waitForMessage(long.page, `${LONG_NAME} says hello`);
    const widths: Record<string, number> = {};
    for (const path of ['/', `/chat?room=${LONG_ROOM}`, `/whiteboard?board=${LONG_ROOM}`, '/dashboard']) {
      const { page } = path === `/chat?room=${LONG_ROOM}` ? long : await open(path, LONG_NAME, PHONE, path !== '/');
      if (path.startsWith('/dashboard')) await page.waitForSelector('#tile-connections[data-value]');
      if (path.startsWith('/whiteboard')) await page.waitForSelector('body[data-board=ready]');
      await page.waitForTimeout(300);
      widths[path] = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
      const shot = path === '/' ? 'home' : path.slice(1).split('?')[0];
      await page.screenshot({ path: `${SCREENSHOTS}/phone-wide-${shot}.png`, fullPage: shot === 'dashboard' });
    }
    assert.ok(Object.values(widths).every((width) => width <= PHONE.width), `page widths at ${PHONE.width} px: ${JSON.stringify(widths)}`);
  });

  it('390×844: the chat opens its rooms and people panels, switches rooms and shows who is here', options, async () => {
    const ada = await open('/chat?room=phone', 'Ada', PHONE);
    const max = await open('/chat?room=phone', LONG_NAME, LAPTOP);
    await ada.page.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
    await send(max.page, 'Are you on the train? The slides are in #random.');
    await send(ada.page, 'Yes, on my phone. Looking now.');
    await send(max.page, 'https://example.com/a-rather-long-link-without-any-spaces-in-it-at-all/slides/final-final-v2');
    await waitForMessage(ada.page, 'https://example.com/a-rather-long-link-without-any-spaces-in-it-at-all/slides/final-final-v2');
    assert.ok(await ada.page.evaluate(() => document.documentElement.scrollWidth <= 390), 'a long name and a long link wrap');
    await ada.page.screenshot({ path: `${SCREENSHOTS}/phone-chat.png` });
    assert.equal(await ada.page.isVisible('#people li >> nth=0'), false, 'the people panel starts closed on a phone');

    await ada.page.click('#people-toggle');
    await ada.page.waitForSelector('.people.open');
    const other = ada.page.locator('#people li', { hasText: LONG_NAME.slice(0, 24) });
    await other.waitFor({ state: 'visible' });
    const box = (await other.boundingBox())!;
    assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width && box.y >= 0 && box.y + box.height <= PHONE.height, 'the other person is on the screen');
    assert.ok(await ada.page.evaluate(() => document.documentElement.scrollWidth <= 390));
    await ada.page.screenshot({ path: `${SCREENSHOTS}/phone-chat-people.png` });
    await ada.page.click('#people-close');
    await ada.page.waitForSelector('.people.open', { state: 'detached' });
    assert.equal(await other.isVisible(), false);

    await ada.page.click('#rooms-toggle');
    await ada.page.waitForSelector('.rooms.open');
    await ada.page.screenshot({ path: `${SCREENSHOTS}/phone-chat-rooms.png` });
    await ada.page.click('#rooms a:has-text("# random")');
    await ada.page.waitForFunction(() => document.getElementById('room-title')?.textContent === '# random');
    await ada.page.waitForSelector('.rooms.open', { state: 'detached' });
    assert.match(ada.page.url(), /room=random/);

    await ada.page.click('#rooms-toggle');
    await ada.page.fill('#room-input', 'pocket');
    await ada.page.press('#room-input', 'Enter');
    await ada.page.waitForFunction(() => document.getElementById('room-title')?.textContent === '# pocket');
    await ada.page.waitForSelector('.rooms.open', { state: 'detached' });
    await send(ada.page, 'typed on a phone');
    await waitForMessage(ada.page, 'typed on a phone');
  });

  it('the composer keeps a 100 KB paste whole, counts it, and will not send it', options, async () => {
    const ada = await open('/chat?room=paste', 'Ada');
    const bob = await open('/chat?room=paste', 'Bob');
    await ada.page.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
    const pasted = 'All work and no play. '.repeat(5000).slice(0, 100_000);
    await ada.page.focus('#message-input');
    await ada.page.keyboard.insertText(pasted);
    assert.equal(await ada.page.$eval('#message-input', (input) => (input as HTMLInputElement).value.length), 100_000, 'nothing was cut');
    await ada.page.waitForSelector('#send:disabled');
    const note = (await ada.page.textContent('#composer-note')) ?? '';
    assert.match(note, /2,000 characters at most/);
    assert.match(note, /100,000/);
    assert.equal(await ada.page.isVisible('#composer-note'), true);
    await ada.page.screenshot({ path: `${SCREENSHOTS}/chat-too-long.png` });
    await ada.page.press('#message-input', 'Enter');
    await ada.page.waitForTimeout(500);
    assert.equal(await ada.page.$eval('#message-input', (input) => (input as HTMLInputElement).value.length), 100_000, 'still in the composer');
    assert.equal(await bob.page.locator('#messages li.message').count(), 0, 'nothing was sent');

    // Cut to the limit: the counter shows it, and it goes.
    const fits = pasted.slice(0, 1999) + '!';
    await ada.page.fill('#message-input', fits);
    await ada.page.waitForSelector('#send:enabled');
    assert.match((await ada.page.textContent('#composer-note')) ?? '', /2,000 \/ 2,000/);
    await ada.page.press('#message-input', 'Enter');
    await waitForMessage(bob.page, fits);
    assert.equal(await ada.page.$eval('#message-input', (input) => (input as HTMLInputElement).value), '');
    assert.equal(await ada.page.isVisible('#composer-note'), false, 'no counter for an empty composer');
  });
});

describe('the chat when the server refuses a message', () => {
  const { chromium, options } = chromiumPeer();
  const suite = chromiumSuite(chromium.available, ['--port', '0'], { config: { limits: { maxPublishSize: 1000 } } });

  it('a message over the server’s publish limit: a sentence says so and the text stays in the composer', options, async () => {
    const ada = await visit(suite.browser, suite.base, '/chat?room=limits', 'Ada');
    try {
      const text = 'x'.repeat(1500);
      await send(ada.page, text);
      await ada.page.waitForFunction(() => /too large/i.test(document.getElementById('composer-note')?.textContent ?? ''));
      assert.equal(await ada.page.$eval('#message-input', (input) => (input as HTMLInputElement).value), text, 'the text is kept');
      assert.equal(await ada.page.locator('#messages li.message').count(), 0);
      assert.equal(await ada.page.evaluate(() => document.body.dataset.connection), 'connected', 'the connection stays up');
      await send(ada.page, 'short enough');
      await waitForMessage(ada.page, 'short enough');
      assert.deepEqual(ada.errors, []);
    } finally {
      await ada.context.close();
    }
  });

  it('a message the server’s schema refuses (a clock past 2100): a sentence says so and the text stays', options, async () => {
    const context = await suite.browser.newContext({ viewport: LAPTOP });
    try {
      await context.clock.setFixedTime(new Date('2101-06-01T12:00:00Z'));
      const page = await context.newPage();
      await page.goto(`${suite.base}/chat?room=clock&name=Ada`);
      await page.waitForSelector('body[data-connection=connected]');
      await send(page, 'hello from the future');
      await page.waitForFunction(() => /refused/i.test(document.getElementById('composer-note')?.textContent ?? ''));
      assert.equal(await page.$eval('#message-input', (input) => (input as HTMLInputElement).value), 'hello from the future');
    } finally {
      await context.close();
    }
  });
});
