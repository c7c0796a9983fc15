/**
 * Helpers for the Chromium tests of the `switchboard serve` demo pages: the
 * peer options, a person (a browser context of their own, its page and the
 * errors it logged) opened on a page, and the chat's, the whiteboard's, the
 * ticker's and the game's page helpers, and a describe's `switchboard serve`
 * (with a Redis of its own if asked) and Chromium, and people on each of its
 * workers. Chromium itself is launched by launchChromium of ../interop/peers.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { BOARD_WIDTH } from '../../src/cli/apps/web/api.js';
import { chromiumStatus, launchChromium, requirePeer, type PeerStatus } from '../interop/peers.js';
import { RedisServer } from '../realtime/broker/redis-server.js';
import { eventually, startServe, workersOf, type ServeProcess } from './serve-helpers.js';

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Console errors a dropped network, a restarting server or a closing context causes by design. */
export const EXPECTED_CONSOLE = /WebSocket connection to .* failed|Failed to load resource/;

/** Whether Chromium is here, and the options for its tests (a skip, or a failure with SWITCHBOARD_REQUIRE_PEERS=1). */
export function chromiumPeer(name = 'chromium'): { chromium: PeerStatus; options: ReturnType<typeof requirePeer> } {
  const chromium = chromiumStatus();
  return { chromium, options: requirePeer(name, chromium.available, chromium.reason) };
}

/** A person: a browser context of their own (own storage), its page, and the errors the page had. */
export interface Person {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors of the page. */
  errors: string[];
}

export interface ErrorWatch {
  /** Where the errors go (a new array by default). */
  errors?: string[];
  /** Put before each error (e.g. the person's name). */
  prefix?: string;
  /**
   * Console errors that match are not collected (EXPECTED_CONSOLE by
   * default); null: every console error is; false: the console is not watched.
   */
  expectedConsole?: RegExp | null | false;
}

/** Collects the page's uncaught errors and its console errors (but the expected ones) into `errors`. */
export function watchErrors(page: Page, { errors = [], prefix = '', expectedConsole = EXPECTED_CONSOLE }: ErrorWatch = {}): string[] {
  page.on('pageerror', (error) => errors.push(`${prefix}${error.message}`));
  if (expectedConsole !== false) {
    page.on('console', (message) => {
      if (message.type() === 'error' && (expectedConsole === null || !expectedConsole.test(message.text()))) errors.push(`${prefix}${message.text()}`);
    });
  }
  return errors;
}

export interface PersonOptions extends ErrorWatch {
  /** LAPTOP by default. */
  viewport?: { width: number; height: number };
  /** When set, the context is a phone's (touch, device scale 2) or explicitly not one. */
  mobile?: boolean;
}

/** A new context and page for a person, its errors watched; the page is still blank. */
export async function newPerson(browser: Browser, { viewport = LAPTOP, mobile, ...watch }: PersonOptions = {}): Promise<Person> {
  const context = await browser.newContext(mobile === undefined ? { viewport } : { viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1 });
  const page = await context.newPage();
  const errors = watchErrors(page, watch);
  return { context, page, errors };
}

export interface VisitOptions extends PersonOptions {
  /** Added to the path as `name=` (URL-encoded). */
  name?: string;
  /** The selector waited for after loading (the page is connected by default); null: no wait. */
  ready?: string | null;
}

export const CONNECTED = 'body[data-connection=connected]';

/** Opens `base` + `path` as a new person, and waits until the page is ready (connected, by default). */
export async function visitAs(browser: Browser, base: string, path: string, { name, ready = CONNECTED, ...options }: VisitOptions = {}): Promise<Person> {
  const person = await newPerson(browser, options);
  const query = name === undefined ? '' : `${path.includes('?') ? '&' : '?'}name=${encodeURIComponent(name)}`;
  await person.page.goto(`${base}${path}${query}`);
  if (ready !== null) await person.page.waitForSelector(ready);
  return person;
}

/** A `switchboard serve` and a Chromium for the tests of a describe (set once its before hook ran). */
export interface ChromiumSuite {
  serve: ServeProcess;
  /** http://127.0.0.1:port of the server. */
  base: string;
  browser: Browser;
  /** The people whose errors are checked after the tests (those opened with `open`, and any pushed here). */
  people: Person[];
  /** More errors checked after the tests (pass it as `errors` to pages not kept in `people`). */
  errors: string[];
  /** Opens `path` on the server as a new person (see visitAs), kept in `people`. */
  open(path: string, options?: VisitOptions): Promise<Person>;
  /** The private redis-server behind `--redis` (with the `redis` option). */
  redis?: RedisServer;
}

export interface ChromiumSuiteOptions {
  /** A folder made before the tests (for their screenshots). */
  screenshots?: string;
  /** A serve.json (as JSON) written to a temporary folder and passed as `--config` after `args`; removed after the tests. */
  config?: unknown;
  /** Starts a private redis-server (a free port, never 6379) before the server, passed as `--redis`; stopped after the tests. */
  redis?: boolean;
}

/**
 * Registers the current describe's hooks: before its tests, (when
 * `available`) makes the `screenshots` folder, starts a redis-server (with
 * `redis`), starts `switchboard serve` with `args` (and `--redis`, and the
 * `config`) and launches Chromium; after them, closes Chromium, stops the
 * server and the redis-server and asserts that no page had an error.
 */
export function chromiumSuite(available: boolean, args: string[], { screenshots, config, redis }: ChromiumSuiteOptions = {}): ChromiumSuite {
  const suite = {
    people: [],
    errors: [],
    async open(path, options = {}) {
      const person = await visitAs(suite.browser, suite.base, path, options);
      suite.people.push(person);
      return person;
    },
  } as Partial<ChromiumSuite> as ChromiumSuite;
  let dir: string | undefined;
  before(async () => {
    if (!available) return;
    if (screenshots !== undefined) mkdirSync(screenshots, { recursive: true });
    let configArgs: string[] = [];
    if (config !== undefined) {
      dir = mkdtempSync(join(tmpdir(), 'switchboard-serve-'));
      writeFileSync(join(dir, 'serve.json'), JSON.stringify(config));
      configArgs = ['--config', join(dir, 'serve.json')];
    }
    let redisArgs: string[] = [];
    if (redis === true) {
      suite.redis = await RedisServer.start();
      redisArgs = ['--redis', suite.redis.url];
    }
    suite.serve = await startServe([...args, ...redisArgs, ...configArgs]);
    suite.base = `http://127.0.0.1:${suite.serve.port}`;
    suite.browser = await launchChromium();
  });
  after(async () => {
    if (!available) return;
    // The people's errors as they were before the browser closed; the other errors as they are after.
    const pageErrors = suite.people.flatMap((person) => person.errors);
    await suite.browser?.close();
    await suite.serve?.stop();
    await suite.redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    assert.deepEqual([...pageErrors, ...suite.errors], [], 'no page had an error');
  });
  return suite;
}

/** The user id a demo page connected as (its top bar's nameplate); waits until the page shows it. */
export async function pageUser(page: Page): Promise<string> {
  const plate = await page.waitForSelector('#me [data-user]');
  return (await plate.getAttribute('data-user')) ?? '';
}

/**
 * Under `serve --workers N`: opens `path` as new people (`options(i)` for
 * the i-th, from 0) until one person's connection is on each of `workers`,
 * as the server API (`key`) reports it; closes those on a worker that
 * already had one. node:cluster hands each TCP connection to the next
 * worker in turn, and a page opens several (the page, its scripts, its
 * WebSocket), so which worker a page's WebSocket lands on cannot be chosen.
 */
export async function peopleOnWorkers(suite: ChromiumSuite, key: string, path: string, options: (i: number) => VisitOptions = () => ({}), workers = [1, 2]): Promise<Map<number, Person>> {
  const byWorker = new Map<number, Person>();
  for (let i = 0; i < 16 && byWorker.size < workers.length; i++) {
    const person = await suite.open(path, options(i));
    const user = await pageUser(person.page);
    // A node that does not answer within the cluster timeout (a worker busy on a loaded machine) is left out
    // of that answer: ask again until the page's connection is listed.
    const held = await eventually(async () => {
      const workers = await workersOf(suite.serve.port, key, user);
      return workers.length > 0 ? workers : undefined;
    }, 20_000, `the connection of ${user} listed by the server API`);
    assert.equal(held.length, 1, 'one connection per page');
    const worker = held[0]!;
    if (!workers.includes(worker) || byWorker.has(worker)) await person.context.close();
    else byWorker.set(worker, person);
  }
  assert.deepEqual([...byWorker.keys()].sort(), [...workers].sort(), 'pages on each worker');
  return byWorker;
}

// ---------------------------------------------------------------- the chat

/** The texts of the chat's messages, in order. */
export function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval('#messages li.message .text', (items) => items.map((item) => item.textContent ?? ''));
}

/** Waits until the chat shows a message `text` (within Playwright's default timeout, or `timeout` ms). */
export async function waitForMessage(page: Page, text: string, timeout?: number): Promise<void> {
  await page.waitForFunction(
    (wanted) => Array.from(document.querySelectorAll('#messages li.message .text')).some((item) => item.textContent === wanted),
    text,
    timeout === undefined ? undefined : { timeout },
  );
}

/** Types `text` in the composer and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
}

// ---------------------------------------------------------- the whiteboard

/** The canvas pixel at board coordinates (x, y), as [r, g, b, a]. */
export function boardPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.evaluate(
    ([bx, by, width]) => {
      const canvas = document.getElementById('canvas') as HTMLCanvasElement;
      const scale = canvas.width / width;
      return [...canvas.getContext('2d')!.getImageData(Math.round(bx * scale), Math.round(by * scale), 1, 1).data];
    },
    [x, y, BOARD_WIDTH] as const,
  );
}

/**
 * Waits until a pixel of the board is ink: strokes travel in batches (every
 * 40 ms), so the first batches of a line can arrive before the one that
 * crosses a given point.
 */
export async function waitForInk(page: Page, x: number, y: number, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!isInk(await boardPixel(page, x, y))) {
    if (Date.now() > deadline) throw new Error(`no ink at (${x}, ${y}) after ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether a pixel is drawn on (not the board's near-white background). */
export function isInk(pixel: number[]): boolean {
  return pixel[0]! < 200 || pixel[1]! < 200 || pixel[2]! < 200;
}

// ---------------------------------------------------------------- the ticker

/** A tile of the ticker's figures: its value and the line under it. */
export function tickerFigure(page: Page, id: string): Promise<{ value: string; sub: string }> {
  return page.$eval(`#figure-${id}`, (tile) => ({ value: tile.querySelector('.value')?.textContent ?? '', sub: tile.querySelector('.sub')?.textContent ?? '' }));
}

/** A row of the ticker's table, as shown (the volume with its thousands separators). */
export interface TickerRow {
  symbol: string;
  last: string;
  volume: string;
}

/** The ticker's table as it shows now. */
export function tickerTable(page: Page): Promise<TickerRow[]> {
  return page.$$eval('#quotes tr', (rows) => rows.map((row) => ({ symbol: (row as HTMLElement).dataset.symbol ?? '', last: row.children[3]?.textContent ?? '', volume: row.children[5]?.textContent ?? '' })));
}

/** A number as the pages show it ("1,234,567"). */
export function shownNumber(text: string): number {
  return Number(text.replace(/,/g, ''));
}

// ---------------------------------------------------------------- the game

/** The game page is playing: connected, and joined as a player. */
export const PLAYING = 'body[data-connection=connected][data-player]';

/** A player as a game page shows it (its scoreboard row). */
export interface Position {
  x: number;
  y: number;
  score: number;
  away: boolean;
}

/** The game's player id of this page. */
export function ownId(page: Page): Promise<number> {
  return page.evaluate(() => Number(document.body.dataset.player));
}

/** Where `page` shows player `id` (its scoreboard row), or null when it does not list it. */
export function seen(page: Page, id: number): Promise<Position | null> {
  return page.evaluate((player) => {
    const row = document.querySelector<HTMLElement>(`#scores li[data-player="${player}"]`);
    if (row === null) return null;
    return { x: Number(row.dataset.x), y: Number(row.dataset.y), score: Number(row.dataset.score), away: row.dataset.away === 'true' };
  }, id);
}

/** Resolves once `page` shows player `id` so that `check` holds; throws after `timeout` ms with what it last showed. */
export async function waitUntilSeen(page: Page, id: number, check: (position: Position) => boolean, what: string, timeout = 10_000): Promise<Position> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const position = await seen(page, id);
    if (position !== null && check(position)) return position;
    if (Date.now() > deadline) throw new Error(`timed out: ${what} (last seen ${JSON.stringify(position)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Holds an arrow key for `ms` on `page`, towards the middle of the arena along x. */
export async function moveAcross(page: Page, id: number, ms = 1200): Promise<void> {
  // Right after a (re)load the page may not list its own player yet: its scoreboard fills with the next frames.
  const start = await waitUntilSeen(page, id, () => true, `player ${id} listed on the page`);
  const key = start.x < 800 ? 'ArrowRight' : 'ArrowLeft';
  await page.keyboard.down(key);
  await page.waitForTimeout(ms);
  await page.keyboard.up(key);
}

/**
 * Steers player `id` with the keys of `mover` (moveAcross, again while it
 * has not moved) until `watcher` shows it more than 100 units along x from
 * where it showed it first; throws after `timeout` ms. Again, because a page
 * whose main thread was held up longer than the key can send no input for it.
 */
export async function steerUntilSeen(mover: Page, id: number, watcher: Page, what: string, timeout = 30_000): Promise<void> {
  const before = await waitUntilSeen(watcher, id, () => true, `${what}: the player listed`, timeout);
  const deadline = Date.now() + timeout;
  for (;;) {
    await moveAcross(mover, id);
    try {
      await waitUntilSeen(watcher, id, (now) => Math.abs(now.x - before.x) > 100, what, 3000);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}
