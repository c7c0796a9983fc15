/**
 * Everything `switchboard serve` sends over plain HTTP, by path: the pages,
 * the shared stylesheet, the pages' scripts (web/*.ts, compiled next to
 * this file into dist/cli/apps/web/), and the browser SDK bundle
 * (dist/browser/switchboard-sdk.js). Read once at start-up.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ADMIN_PAGE } from './admin-page.js';
import { CHAT_PAGE } from './chat-page.js';
import { DASHBOARD_PAGE } from './dashboard-page.js';
import { GAME_PAGE } from './game-page.js';
import { HOME_PAGE } from './home-page.js';
import { escapeHtml, FAVICON_SVG, renderPage } from './layout.js';
import { INBOX_ADMIN_CSS } from './inbox-admin-style.js';
import { NOTIFICATIONS_PAGE } from './notifications-page.js';
import { STYLE_CSS } from './style.js';
import { TICKER_PAGE } from './ticker-page.js';
import { WHITEBOARD_PAGE } from './whiteboard-page.js';

/** A response body with its type and validator. */
export interface Asset {
  contentType: string;
  body: string | Buffer;
  etag: string;
}

/**
 * The Content-Security-Policy of everything `serve` sends: scripts only from
 * this origin (no inline script, no eval), styles only from the stylesheet
 * (no style attributes in markup), connections only back to this origin
 * (/rt over ws:/wss: and its HTTP fallback), and no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Sent with every response of `serve`'s HTTP side: pages, scripts, the SDK, errors. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
});

const HTML = 'text/html; charset=utf-8';
const JAVASCRIPT = 'text/javascript; charset=utf-8';

const SDK_BUNDLE = new URL('../../browser/switchboard-sdk.js', import.meta.url);
const SCRIPTS = new URL('./web/', import.meta.url);

function asset(contentType: string, body: string | Buffer): Asset {
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
  return { contentType, body, etag };
}

async function readBuilt(url: URL): Promise<Buffer> {
  try {
    return await readFile(url);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${fileURLToPath(url)} is missing: run "npm run build" first`);
    throw error;
  }
}

/** The pages' scripts: every .js (and .js.map) file of the compiled web/ folder, under /apps/. */
async function loadScripts(site: Map<string, Asset>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(SCRIPTS);
  } catch {
    throw new Error(`${fileURLToPath(SCRIPTS)} is missing: run "npm run build" first (the demo pages are served from dist/)`);
  }
  for (const name of names.sort()) {
    if (name.endsWith('.js')) site.set(`/apps/${name}`, asset(JAVASCRIPT, await readFile(new URL(name, SCRIPTS))));
    else if (name.endsWith('.js.map')) site.set(`/apps/${name}`, asset('application/json', await readFile(new URL(name, SCRIPTS))));
  }
}

/** What the site serves beyond the demo apps. */
export interface SiteOptions {
  /** Serve the admin page (`/admin`): only when the server API has a key. */
  admin: boolean;
}

/** Reads every asset; rejects with a clear message when the build output is missing. */
export async function loadSite(options: SiteOptions = { admin: false }): Promise<ReadonlyMap<string, Asset>> {
  const site = new Map<string, Asset>([
    ['/', asset(HTML, HOME_PAGE)],
    ['/index.html', asset(HTML, HOME_PAGE)],
    ['/chat', asset(HTML, CHAT_PAGE)],
    ['/dashboard', asset(HTML, DASHBOARD_PAGE)],
    ['/whiteboard', asset(HTML, WHITEBOARD_PAGE)],
    ['/ticker', asset(HTML, TICKER_PAGE)],
    ['/game', asset(HTML, GAME_PAGE)],
    ['/notifications', asset(HTML, NOTIFICATIONS_PAGE)],
    ['/apps/style.css', asset('text/css; charset=utf-8', STYLE_CSS + INBOX_ADMIN_CSS)],
    ['/favicon.svg', asset('image/svg+xml', FAVICON_SVG)],
    ['/favicon.ico', asset('image/svg+xml', FAVICON_SVG)],
  ]);
  if (options.admin) site.set('/admin', asset(HTML, ADMIN_PAGE));
  site.set('/switchboard-sdk.js', asset(JAVASCRIPT, await readBuilt(SDK_BUNDLE)));
  const map = await readFile(new URL('switchboard-sdk.js.map', SDK_BUNDLE)).catch(() => null);
  if (map !== null) site.set('/switchboard-sdk.js.map', asset('application/json', map));
  await loadScripts(site);
  return site;
}

/** The 404 page, with the way back (and, at /admin without an API key, how to turn the admin page on). */
export function notFoundPage(path: string): string {
  const admin =
    path === '/admin'
      ? `<p>The admin page is off: it works through the server API, which needs a key. Start <code>switchboard serve</code> with <code>--api-key</code> (or <code>api.key</code>, <code>SWITCHBOARD_API_KEY</code>).</p>`
      : '';
  const main = `<section class="hero"><h1>Nothing at ${escapeHtml(path)}</h1>${admin}
  <p>This server has the demo apps at <a href="/chat">/chat</a>, <a href="/dashboard">/dashboard</a>, <a href="/whiteboard">/whiteboard</a>, <a href="/ticker">/ticker</a>, <a href="/game">/game</a> and <a href="/notifications">/notifications</a>,
  the real-time endpoint at <code>/rt</code>, and <a href="/metrics">/metrics</a> and <a href="/healthz">/healthz</a>.</p></section>`;
  return renderPage({ app: 'home', title: 'Not found', main });
}
