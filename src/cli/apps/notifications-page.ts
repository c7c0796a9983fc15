/** The notifications app's page (`/notifications`); its script is web/notifications.ts. */
import { renderPage } from './layout.js';

/** A bell (24 × 24, current colour). */
const BELL = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/></svg>';

/**
 * The user's bell with the unread count, their notifications (newest
 * first), and how a backend sends one: the user id and the `curl` command,
 * filled in by the script, each with a copy button.
 */
const MAIN = `<div class="notify">
  <section class="panel inbox">
    <header class="inbox-head">
      <span class="bell" id="bell" data-unread="0">${BELL}<span class="badge" id="unread-count" aria-label="unread notifications">0</span></span>
      <div class="inbox-title"><h1>Notifications</h1><span id="inbox-meta">loading…</span></div>
      <button class="button" id="mark-read" type="button" disabled>Mark all read</button>
    </header>
    <ol id="notifications" class="notifications" aria-live="polite"></ol>
    <p id="inbox-empty" class="inbox-empty" hidden>Nothing yet. Send yourself one with the command on this page.</p>
  </section>
  <aside class="panel sender">
    <h2 class="panel-title">Send yourself a notification</h2>
    <div class="sender-body">
      <p>A backend in any language notifies this user with one request to the server API: a <code>publish</code> to the
      personal channel <code id="channel-name">notifications:#…</code>. Only you may subscribe to it; the server keeps
      the last 100 for a day, so they are here after a reload or a reconnect.</p>
      <label class="field-label" for="user-id">Your user id</label>
      <div class="copy-row"><input id="user-id" readonly value="connecting…" aria-label="Your user id"><button class="button" type="button" id="copy-user" data-copy="user-id">Copy</button></div>
      <label class="field-label" for="curl-command">With <code>switchboard serve --api-key</code> (the key in <code>$SWITCHBOARD_API_KEY</code>):</label>
      <div class="copy-row"><textarea id="curl-command" readonly rows="6" spellcheck="false"></textarea><button class="button" type="button" id="copy-curl" data-copy="curl-command">Copy</button></div>
      <p class="hint">Or <code>POST /api/send</code> with <code>{"user": "…", "data": {"title": "…"}}</code>: shown live, not kept.</p>
    </div>
  </aside>
</div>`;

/** The notifications page. */
export const NOTIFICATIONS_PAGE = renderPage({ app: 'notifications', title: 'Notifications', main: MAIN, script: 'notifications.js' });
