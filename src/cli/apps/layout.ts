/**
 * The frame every demo page shares: the head (shared stylesheet, icon), the
 * top bar with the app links, the connection badge and the user chip, and
 * the nickname dialog the pages' scripts open.
 */

/** The pages of the demo, as the top bar lists them. */
export type AppName = 'home' | 'chat' | 'dashboard' | 'whiteboard' | 'ticker' | 'game' | 'notifications' | 'admin';

const NAV: ReadonlyArray<{ app: AppName; href: string; label: string }> = [
  { app: 'chat', href: '/chat', label: 'Chat' },
  { app: 'dashboard', href: '/dashboard', label: 'Dashboard' },
  { app: 'whiteboard', href: '/whiteboard', label: 'Whiteboard' },
  { app: 'ticker', href: '/ticker', label: 'Ticker' },
  { app: 'game', href: '/game', label: 'Game' },
  { app: 'notifications', href: '/notifications', label: 'Notifications' },
];

/** The Switchboard mark: three nodes, one switch. */
export const LOGO_SVG = `<svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M9 11h6l4 10h4M9 21h6l4-10h4" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/><circle cx="9" cy="11" r="2.2" fill="#fff"/><circle cx="9" cy="21" r="2.2" fill="#fff"/><circle cx="23" cy="11" r="2.2" fill="#fff"/><circle cx="23" cy="21" r="2.2" fill="#fff"/></svg>`;

/** The favicon (/favicon.svg). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M9 11h6l4 10h4M9 21h6l4-10h4" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function navLinks(active: AppName): string {
  return NAV.map(({ app, href, label }) => `<a href="${href}"${app === active ? ' class="active" aria-current="page"' : ''}>${label}</a>`).join('');
}

/** The status part of the top bar: live pages show their connection and the user. */
function statusArea(live: boolean): string {
  if (!live) return '';
  return `<div class="status">
      <span id="connection" class="connection" data-state="connecting" title="Real-time connection"><i></i><span>connecting…</span></span>
      <button id="me" class="me" type="button" title="Change your nickname" hidden></button>
    </div>`;
}

const NICKNAME_DIALOG = `<dialog id="nickname-dialog" class="dialog">
  <form id="nickname-form" method="dialog">
    <h2>Pick a nickname</h2>
    <p>Others see it next to your messages, your strokes and your cursor. No account needed.</p>
    <input id="nickname-input" name="nickname" maxlength="24" required autocomplete="nickname" placeholder="e.g. Ada">
    <button class="button primary" type="submit">Join</button>
  </form>
</dialog>`;

/** What a page puts in the frame. */
export interface PageParts {
  app: AppName;
  title: string;
  /** The page's own markup, inside `<main>`. */
  main: string;
  /** The page's module script, served from /apps/ (e.g. 'chat.js'). */
  script?: string;
  /** Whether the page connects to /rt (the connection badge, the user chip, the nickname dialog). Default: when it has a script. */
  live?: boolean;
}

/** A complete HTML document in the shared frame. */
export function renderPage(parts: PageParts): string {
  const live = parts.live ?? parts.script !== undefined;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parts.title)} · Switchboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/apps/style.css">
${live ? '<link rel="modulepreload" href="/switchboard-sdk.js">\n' : ''}${parts.script === undefined ? '' : `<script type="module" src="/apps/${parts.script}"></script>`}
</head>
<body class="app-${parts.app}">
<header class="topbar">
  <a class="brand" href="/">${LOGO_SVG}<span>Switchboard</span></a>
  <nav>${navLinks(parts.app)}</nav>
  ${statusArea(live)}
</header>
<main>
${parts.main}
</main>
${live ? NICKNAME_DIALOG : ''}
</body>
</html>
`;
}
