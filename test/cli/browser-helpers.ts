/**
 * Helpers for the Chromium tests of the `switchboard serve` demo pages: the
 * peer options, a person (a browser context of their own, its page and the
 * errors it logged) opened on a page, and the chat's and the whiteboard's
 * page helpers, and a describe's `switchboard serve` and Chromium. Chromium
 * itself is launched by launchChromium of ../interop/peers.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { BOARD_WIDTH } from '../../src/cli/apps/web/api.js';
import { chromiumStatus, launchChromium, requirePeer, type PeerStatus } from '../interop/peers.js';
import { startServe, type ServeProcess } from './serve-helpers.js';

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
}

export interface ChromiumSuiteOptions {
  /** A folder made before the tests (for their screenshots). */
  screenshots?: string;
  /** A serve.json (as JSON) written to a temporary folder and passed as `--config` after `args`; removed after the tests. */
  config?: unknown;
}

/**
 * Registers the current describe's hooks: before its tests, (when
 * `available`) makes the `screenshots` folder, starts `switchboard serve`
 * with `args` (and the `config`) and launches Chromium; after them, closes
 * Chromium, stops the server and asserts that no page had an error.
 */
export function chromiumSuite(available: boolean, args: string[], { screenshots, config }: ChromiumSuiteOptions = {}): ChromiumSuite {
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
    suite.serve = await startServe([...args, ...configArgs]);
    suite.base = `http://127.0.0.1:${suite.serve.port}`;
    suite.browser = await launchChromium();
  });
  after(async () => {
    if (!available) return;
    // The people's errors as they were before the browser closed; the other errors as they are after.
    const pageErrors = suite.people.flatMap((person) => person.errors);
    await suite.browser.close();
    await suite.serve.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    assert.deepEqual([...pageErrors, ...suite.errors], [], 'no page had an error');
  });
  return suite;
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

/** Whether a pixel is drawn on (not the board's near-white background). */
export function isInk(pixel: number[]): boolean {
  return pixel[0]! < 200 || pixel[1]! < 200 || pixel[2]! < 200;
}
