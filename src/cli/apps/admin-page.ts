/**
 * The admin page (`/admin`), served only when the server API has a key;
 * its script is web/admin.ts. The page holds no data: the script asks for
 * the API key, keeps it in sessionStorage, and reads everything through the
 * server API (`POST /api/<method>` with `X-API-Key`).
 */
import { renderPage } from './layout.js';

const SUMMARY: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'nodes', label: 'Nodes' },
  { id: 'connections', label: 'Connections' },
  { id: 'users', label: 'Users' },
  { id: 'channels', label: 'Channels' },
  { id: 'subscriptions', label: 'Subscriptions' },
];

function tile({ id, label }: { id: string; label: string }): string {
  return `<div class="panel tile" id="sum-${id}"><div class="label">${label}</div><div class="value">–</div></div>`;
}

const MAIN = `<div class="dash-head"><h1>Admin</h1><span id="admin-meta">not signed in</span></div>
<form id="key-form" class="panel key-form" autocomplete="off">
  <h2>Server API key</h2>
  <p>This page reads and acts through the server API. Enter the key <code>switchboard serve</code> was started with
  (<code>--api-key</code>, <code>api.key</code> or <code>SWITCHBOARD_API_KEY</code>); it is kept in this tab only.</p>
  <div class="copy-row"><input id="key-input" type="password" autocomplete="off" placeholder="API key" aria-label="API key" required>
  <button class="button primary" type="submit">Open</button></div>
  <p id="key-error" class="error" role="alert" hidden></p>
</form>
<div id="admin" class="admin" hidden>
  <div class="admin-bar"><span id="admin-status" class="admin-status" data-state="ok"></span><button class="button" id="sign-out" type="button">Forget the key</button></div>
  <section class="tiles admin-tiles">${SUMMARY.map(tile).join('')}</section>
  <section class="panel admin-panel">
    <h2 class="panel-title">Nodes</h2>
    <div class="table-wrap"><table><thead><tr><th>Node</th><th class="count">Connections</th><th class="count wide-only">Users</th><th class="count wide-only">Channels</th><th class="count">Subscriptions</th><th class="count">Uptime</th></tr></thead><tbody id="nodes"></tbody></table></div>
  </section>
  <section class="panel admin-panel">
    <div class="panel-head"><h2 class="panel-title">Channels</h2><input id="channel-filter" placeholder="filter, e.g. chat:*" maxlength="255" aria-label="Channel pattern"></div>
    <div class="table-wrap"><table><thead><tr><th>Channel</th><th class="count">Subscribers</th><th></th></tr></thead><tbody id="channels"></tbody></table></div>
  </section>
  <section class="panel admin-panel" id="presence-panel" hidden>
    <div class="panel-head"><h2 class="panel-title">Here in <span id="presence-channel"></span></h2><button class="drawer-close" id="presence-close" type="button" aria-label="Close">×</button></div>
    <div class="table-wrap"><table><thead><tr><th>User</th><th>Connection</th><th></th></tr></thead><tbody id="presence"></tbody></table></div>
  </section>
  <section class="panel admin-panel">
    <h2 class="panel-title">A user</h2>
    <form id="user-form" class="user-form" autocomplete="off">
      <input id="user-input" placeholder="user id, e.g. guest-…" maxlength="255" aria-label="User id" required>
      <button class="button" type="submit">Look up</button>
    </form>
    <div id="user-result" class="user-result" hidden>
      <p id="user-summary"></p>
      <div class="table-wrap"><table><thead><tr><th>Connection</th><th class="wide-only">Node</th><th class="wide-only">Transport</th><th class="count">Subscriptions</th><th></th></tr></thead><tbody id="user-connections"></tbody></table></div>
      <button class="button danger" id="disconnect-user" type="button">Disconnect this user everywhere</button>
      <p id="user-note" class="note" role="status"></p>
    </div>
  </section>
</div>`;

/** The admin page: no data in it, and no real-time connection of its own. */
export const ADMIN_PAGE = renderPage({ app: 'admin', title: 'Admin', main: MAIN, script: 'admin.js', live: false });
