/** The styles of the notifications and admin pages, served after the shared stylesheet (style.ts) in /apps/style.css. */
export const INBOX_ADMIN_CSS = `
/* notifications */
.notify { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 420px); gap: 16px; align-items: start; }
.inbox { min-width: 0; }
.inbox-head { display: flex; align-items: center; gap: 14px; padding: 16px; border-bottom: 1px solid var(--line); }
.inbox-title { flex: 1; min-width: 0; display: flex; flex-direction: column; }
.inbox-title h1 { font-size: 20px; }
#inbox-meta { font-size: 13px; color: var(--muted); }
.bell { position: relative; flex: none; width: 44px; height: 44px; border-radius: 12px; display: grid; place-items: center; background: var(--accent-soft); color: var(--accent); }
.bell svg { width: 24px; height: 24px; }
.bell .badge { position: absolute; top: -6px; right: -8px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px; background: var(--bad); color: #fff; font-size: 12px; font-weight: 700; display: grid; place-items: center; border: 2px solid var(--panel); font-variant-numeric: tabular-nums; }
.bell[data-unread="0"] { background: var(--bg); color: var(--muted); }
.bell[data-unread="0"] .badge { display: none; }
.notifications { list-style: none; margin: 0; padding: 0; }
.notification { display: flex; gap: 12px; padding: 14px 16px; border-top: 1px solid var(--line); }
.notification:first-child { border-top: 0; }
.notification[data-unread=true] { background: #f7f8ff; }
.notification .level-dot { flex: none; width: 10px; height: 10px; margin-top: 6px; border-radius: 50%; background: var(--accent); }
.notification[data-level=success] .level-dot { background: var(--ok); }
.notification[data-level=warning] .level-dot { background: var(--warn); }
.notification[data-level=error] .level-dot { background: var(--bad); }
.notification .content { min-width: 0; flex: 1; }
.notification .title { font-weight: 650; overflow-wrap: anywhere; }
.notification[data-unread=true] .title::after { content: "new"; margin-left: 8px; font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .05em; color: var(--accent); }
.notification .body { margin: 2px 0 0; color: var(--ink); white-space: pre-wrap; overflow-wrap: anywhere; }
.notification .meta { margin-top: 4px; font-size: 12px; color: var(--muted); }
.inbox-empty { margin: 0; padding: 28px 16px; color: var(--muted); text-align: center; }
.sender-body { padding: 0 16px 16px; display: flex; flex-direction: column; gap: 8px; }
.sender-body p { margin: 0 0 6px; color: var(--muted); font-size: 14px; overflow-wrap: anywhere; }
.sender-body .hint { margin: 4px 0 0; font-size: 13px; }
.field-label { font-size: 13px; font-weight: 600; }
.copy-row { display: flex; gap: 8px; align-items: flex-start; }
.copy-row input, .copy-row textarea { flex: 1; min-width: 0; }
.copy-row textarea { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; padding: 8px 10px; border: 1px solid var(--line); border-radius: 8px; background: #f8f9fb; color: var(--ink); resize: vertical; word-break: break-all; }
#user-id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }

/* admin */
.key-form { padding: 22px; max-width: 560px; display: flex; flex-direction: column; gap: 10px; }
.key-form h2 { font-size: 18px; }
.key-form p { margin: 0; color: var(--muted); }
.key-form input { flex: 1; font: inherit; padding: 8px 12px; border: 1px solid var(--line); border-radius: 8px; min-width: 0; }
.error { margin: 0; color: var(--bad) !important; font-weight: 600; }
.admin { display: flex; flex-direction: column; gap: 16px; }
.admin-bar { display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
.admin-status { font-size: 13px; color: var(--muted); }
.admin-status[data-state=ok]::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: var(--ok); margin-right: 7px; vertical-align: middle; }
.admin-status[data-state=error] { color: var(--bad); }
.admin-tiles { margin-bottom: 0; }
.admin-panel { min-width: 0; }
.admin-panel .panel-head { padding-right: 12px; gap: 12px; }
.admin-panel .panel-head input { max-width: 240px; margin: 8px 0; }
.table-wrap { overflow-x: auto; }
.admin-panel table { width: 100%; border-collapse: collapse; font-size: 14px; }
.admin-panel td, .admin-panel th { padding: 8px 16px; text-align: left; border-top: 1px solid var(--line); vertical-align: middle; }
.admin-panel th { font-size: 12px; color: var(--muted); font-weight: 600; }
.admin-panel .count { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.admin-panel td.count { font-weight: 650; }
.admin-panel .actions { text-align: right; white-space: nowrap; width: 1%; }
.admin-panel .channel-name, .admin-panel .node-name { overflow-wrap: anywhere; }
.admin-panel .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
.admin-panel tr.empty td { color: var(--muted); }
.button.small { padding: 4px 10px; font-size: 13px; }
.button.danger { color: var(--bad); border-color: #f1c1bd; }
.button.danger:hover { background: #fdecea; border-color: var(--bad); }
.link-button { font: inherit; border: 0; background: none; padding: 0; color: var(--accent); cursor: pointer; text-align: left; overflow-wrap: anywhere; }
.user-form { display: flex; gap: 8px; padding: 0 16px 12px; }
.user-form input { flex: 1; min-width: 0; max-width: 420px; }
.user-result { padding: 0 0 14px; }
.user-result > p, .user-result > .button { margin: 0 16px 8px; }
.user-result #user-summary { overflow-wrap: anywhere; }
.user-result .note { color: var(--muted); font-size: 14px; margin: 4px 16px 0; }

@media (max-width: 900px) {
  .notify { grid-template-columns: minmax(0, 1fr); }
}
@media (max-width: 600px) {
  .inbox-head { padding: 12px; gap: 10px; flex-wrap: wrap; }
  .notification { padding: 12px; }
  .admin-panel td, .admin-panel th { padding: 8px 10px; }
  .admin-panel .panel-head { flex-wrap: wrap; padding: 0 10px 8px 0; }
  .admin-panel .panel-head input { max-width: none; flex: 1 1 100%; margin-left: 10px; }
  .admin-tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
  .admin-tiles .tile { padding: 10px 12px; }
  .admin-tiles .tile .value { font-size: 22px; }
  .admin-panel .wide-only { display: none; }
  .admin-panel .node-name { overflow-wrap: normal; }
  /* five links in the top bar: smaller on a phone, wrapping only when a name is longer */
  .topbar nav { flex-wrap: wrap; gap: 2px; }
  .topbar nav a { padding: 6px 6px; font-size: 14px; }
}
`;
