/** The stylesheet every demo page shares (/apps/style.css). */
export const STYLE_CSS = `
:root {
  --bg: #f5f6fa; --panel: #fff; --ink: #1c2233; --muted: #667085; --line: #e4e7ee;
  --accent: #4f46e5; --accent-soft: #eef0ff; --ok: #12a150; --warn: #e59b0b; --bad: #d93025;
  --radius: 12px; --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .08);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; }
main { flex: 1; width: 100%; max-width: 1280px; margin: 0 auto; padding: 20px; display: flex; flex-direction: column; min-height: 0; }
h1, h2, h3 { margin: 0; line-height: 1.2; }
a { color: var(--accent); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f0f1f5; padding: 1px 5px; border-radius: 5px; }
[hidden] { display: none !important; }

.topbar { display: flex; align-items: center; gap: 24px; padding: 10px 20px; background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 10; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 17px; color: var(--ink); text-decoration: none; }
.logo { width: 28px; height: 28px; }
.topbar nav { display: flex; gap: 4px; }
.topbar nav a { padding: 6px 12px; border-radius: 8px; color: var(--muted); text-decoration: none; font-weight: 550; }
.topbar nav a:hover { background: var(--bg); color: var(--ink); }
.topbar nav a.active { background: var(--accent-soft); color: var(--accent); }
.status { margin-left: auto; display: flex; align-items: center; gap: 12px; }
.connection { display: inline-flex; align-items: center; gap: 7px; font-size: 13px; color: var(--muted); padding: 4px 10px; border: 1px solid var(--line); border-radius: 999px; }
.connection i { width: 8px; height: 8px; border-radius: 50%; background: var(--warn); }
.connection[data-state=connected] i { background: var(--ok); box-shadow: 0 0 0 3px rgba(18, 161, 80, .15); }
.connection[data-state=connecting] i { animation: pulse 1s ease-in-out infinite; }
.connection[data-state=disconnected] i, .connection[data-state=closed] i { background: var(--bad); }
@keyframes pulse { 50% { opacity: .3; } }
.me { display: inline-flex; align-items: center; gap: 8px; border: 0; background: none; font: inherit; font-weight: 550; cursor: pointer; padding: 2px 6px; border-radius: 8px; color: var(--ink); }
.me:hover { background: var(--bg); }
.me { min-width: 0; max-width: 100%; }
.me > span:not(.avatar) { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }

.avatar { --c: var(--accent); flex: none; width: 32px; height: 32px; border-radius: 50%; background: var(--c); color: #fff; display: inline-grid; place-items: center; font-weight: 650; font-size: 14px; text-transform: uppercase; }
.avatar.small { width: 24px; height: 24px; font-size: 12px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); box-shadow: var(--shadow); }
.panel-title { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); padding: 14px 16px 8px; }
.button { font: inherit; font-weight: 600; padding: 8px 14px; border-radius: 8px; border: 1px solid var(--line); background: var(--panel); color: var(--ink); cursor: pointer; }
.button:hover { border-color: #c9cdd8; }
.button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.button.primary:hover { background: #4338ca; }
.button:disabled, input:disabled { opacity: .55; cursor: default; }
input[type=text], input:not([type]) { font: inherit; padding: 8px 12px; border: 1px solid var(--line); border-radius: 8px; background: #fff; color: var(--ink); min-width: 0; }
input:focus { outline: 2px solid var(--accent-soft); border-color: var(--accent); }
.notice { font-size: 13px; color: #7a4d00; background: #fff6e0; border: 1px solid #f6dfa6; padding: 6px 10px; border-radius: 8px; }

.dialog { border: 0; border-radius: 16px; padding: 28px; width: min(420px, 92vw); box-shadow: 0 20px 50px rgba(16, 24, 40, .25); }
.dialog::backdrop { background: rgba(28, 34, 51, .45); }
.dialog form { display: flex; flex-direction: column; gap: 14px; }
.dialog p { margin: 0; color: var(--muted); }

/* home */
.hero { padding: 28px 4px 8px; }
.hero h1 { font-size: 32px; letter-spacing: -.02em; }
.hero p { color: var(--muted); font-size: 17px; max-width: 760px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(290px, 100%), 1fr)); gap: 18px; margin: 18px 0; }
.card { padding: 22px; display: flex; flex-direction: column; gap: 10px; text-decoration: none; color: inherit; transition: transform .12s, box-shadow .12s; }
.card:hover { transform: translateY(-2px); box-shadow: 0 8px 24px rgba(16, 24, 40, .12); }
.card .icon { width: 44px; height: 44px; border-radius: 12px; display: grid; place-items: center; background: var(--accent-soft); color: var(--accent); }
.card .icon svg { width: 24px; height: 24px; }
.card h2 { font-size: 20px; }
.card p { margin: 0; color: var(--muted); }
.card ul { margin: 0; padding-left: 18px; color: var(--ink); font-size: 14px; }
.card .go { margin-top: auto; font-weight: 650; color: var(--accent); }
.under-the-hood { padding: 18px 22px; }
.under-the-hood h2 { font-size: 16px; margin-bottom: 8px; }
.under-the-hood dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; font-size: 14px; }
.under-the-hood dd { margin: 0; color: var(--muted); min-width: 0; overflow-wrap: anywhere; }

/* chat: the page is the window's height; the message list scrolls inside it */
body.app-chat { height: 100vh; height: 100dvh; min-height: 0; }
.chat { flex: 1; display: grid; grid-template-columns: 210px minmax(0, 1fr) 230px; grid-template-rows: minmax(0, 1fr); gap: 16px; min-height: 0; }
.rooms, .people { min-height: 0; overflow-y: auto; }
.panel-head { display: flex; align-items: center; justify-content: space-between; }
.drawer-close, .drawer-toggle, .drawer-backdrop { display: none; }
.drawer-close { font: inherit; font-size: 22px; line-height: 1; border: 0; background: none; color: var(--muted); cursor: pointer; padding: 8px 14px; }
.rooms ul, .people ul { list-style: none; margin: 0; padding: 0 8px 8px; }
.rooms li a { display: block; padding: 7px 10px; border-radius: 8px; color: var(--ink); text-decoration: none; font-weight: 500; overflow-wrap: anywhere; }
@media (hover: hover) { .rooms li a:hover { background: var(--bg); } }
.rooms li a.active { background: var(--accent-soft); color: var(--accent); font-weight: 650; }
.rooms form { display: flex; gap: 6px; padding: 8px 16px 16px; }
.rooms form input { width: 100%; }
.conversation { display: flex; flex-direction: column; min-height: 0; min-width: 0; }
.conversation > header { display: flex; align-items: baseline; gap: 12px; padding: 16px 20px 12px; border-bottom: 1px solid var(--line); }
.conversation > header h1 { font-size: 19px; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.conversation > header span { color: var(--muted); font-size: 13px; }
.conversation > header .drawer-toggle { padding: 5px 10px; font-size: 14px; flex: none; }
.messages-wrap { position: relative; flex: 1; min-height: 0; display: flex; flex-direction: column; }
.messages { flex: 1; min-height: 0; overflow-y: auto; list-style: none; margin: 0; padding: 12px 20px; display: flex; flex-direction: column; gap: 2px; }
.new-messages { position: absolute; left: 50%; bottom: 12px; transform: translateX(-50%); font: inherit; font-size: 13px; font-weight: 600; padding: 6px 14px; border-radius: 999px; border: 0; background: var(--accent); color: #fff; box-shadow: 0 4px 12px rgba(16, 24, 40, .25); cursor: pointer; }
.new-messages:hover { background: #4338ca; }
.message { display: flex; gap: 12px; padding: 6px 0 2px; }
.message.continued { padding-top: 0; }
.message.continued .avatar, .message.continued .meta { visibility: hidden; height: 0; }
.message .body { min-width: 0; }
.message .meta { display: flex; gap: 8px; align-items: baseline; min-width: 0; }
.message .author { font-weight: 650; min-width: 0; overflow-wrap: anywhere; }
.message time { font-size: 12px; color: var(--muted); flex: none; }
.message .text { margin: 1px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.system { align-self: center; font-size: 12.5px; color: var(--muted); padding: 6px 0; text-align: center; overflow-wrap: anywhere; }
.system.warn { color: #7a4d00; }
.empty { color: var(--muted); text-align: center; margin: auto; padding: 40px 0; }
.typing { height: 22px; padding: 0 20px; font-size: 13px; color: var(--muted); font-style: italic; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.composer-note { margin: 0 16px; font-size: 13px; color: var(--muted); text-align: right; font-variant-numeric: tabular-nums; }
.composer-note[data-kind=over], .composer-note[data-kind=error] { text-align: left; color: #7a4d00; background: #fff6e0; border: 1px solid #f6dfa6; padding: 6px 10px; border-radius: 8px; }
.composer { display: flex; gap: 8px; padding: 12px 16px 16px; }
.composer input { flex: 1; }
.composer input[aria-invalid=true] { border-color: var(--bad); }
.people li { display: flex; align-items: center; gap: 10px; padding: 6px 8px; }
.people li .name { min-width: 0; overflow-wrap: anywhere; }
.people li .you { color: var(--muted); font-size: 12px; }
.people li .tabs { color: var(--muted); font-size: 12px; margin-left: auto; flex: none; }

/* dashboard */
.dash-head { display: flex; align-items: baseline; gap: 14px; margin-bottom: 14px; }
.dash-head h1 { font-size: 24px; }
.dash-head span { color: var(--muted); }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 16px; }
.tile { padding: 14px 16px; }
.tile .label { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.tile .value { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; letter-spacing: -.01em; }
.tile .sub { font-size: 12px; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); gap: 16px; margin-bottom: 16px; }
.chart { padding: 0 16px 12px; }
.chart header { display: flex; align-items: baseline; justify-content: space-between; padding: 14px 0 6px; }
.chart h2 { font-size: 14px; }
.legend { display: flex; gap: 14px; font-size: 12.5px; color: var(--muted); }
.legend b { color: var(--ink); font-variant-numeric: tabular-nums; }
.legend i { display: inline-block; width: 10px; height: 3px; border-radius: 2px; margin-right: 5px; vertical-align: middle; }
.chart svg { width: 100%; height: 170px; display: block; }
.chart .grid line { stroke: var(--line); }
.chart .grid text, .chart .axis text { fill: var(--muted); font-size: 11px; }
.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
.chart .area { opacity: .10; }
.channels-panel table { width: 100%; border-collapse: collapse; font-size: 14px; }
.channels-panel td:first-child { overflow-wrap: anywhere; }
.channels-panel td, .channels-panel th { padding: 8px 16px; text-align: left; border-top: 1px solid var(--line); }
.channels-panel th { font-size: 12px; color: var(--muted); font-weight: 600; }
.channels-panel td.count, .channels-panel th.count { width: 90px; text-align: right; font-variant-numeric: tabular-nums; font-weight: 650; }
.channels-panel .bar { height: 8px; border-radius: 4px; background: var(--accent); opacity: .75; min-width: 2px; }

/* whiteboard */
.board { flex: 1; display: flex; flex-direction: column; gap: 12px; min-height: 0; }
.toolbar { display: flex; align-items: center; gap: 16px; padding: 10px 14px; flex-wrap: wrap; }
.toolbar h1 { font-size: 17px; margin-right: 4px; }
.swatches, .sizes { display: flex; gap: 6px; }
.swatch { width: 26px; height: 26px; border-radius: 50%; border: 2px solid #fff; box-shadow: 0 0 0 1px var(--line); background: var(--c); cursor: pointer; padding: 0; }
.swatch.eraser { background: #fff linear-gradient(135deg, transparent 45%, #d0d4de 45%, #d0d4de 55%, transparent 55%); }
.swatch[aria-pressed=true] { box-shadow: 0 0 0 2px var(--ink); }
.size { width: 30px; height: 30px; border-radius: 8px; border: 1px solid var(--line); background: #fff; cursor: pointer; display: grid; place-items: center; padding: 0; }
.size span { display: block; border-radius: 50%; background: var(--ink); }
.size[aria-pressed=true] { border-color: var(--ink); background: var(--bg); }
.toolbar .spacer { flex: 1; }
.drawers { display: flex; align-items: center; gap: 4px; font-size: 13px; color: var(--muted); }
.drawers .avatar { margin-left: -6px; border: 2px solid #fff; }
.canvas-wrap { position: relative; flex: 1; min-height: 0; display: grid; place-items: center; }
.canvas-frame { position: relative; background: #fff; border-radius: var(--radius); box-shadow: var(--shadow); border: 1px solid var(--line); overflow: hidden; }
.canvas-frame canvas { display: block; touch-action: none; cursor: crosshair; }
.cursor { position: absolute; left: 0; top: 0; pointer-events: none; transition: transform 60ms linear, opacity .3s; z-index: 2; }
.cursor svg { width: 22px; height: 22px; display: block; filter: drop-shadow(0 1px 1px rgba(0, 0, 0, .3)); }
.cursor .label { position: absolute; left: 16px; top: 18px; white-space: nowrap; font-size: 12px; font-weight: 600; color: #fff; background: var(--c); padding: 1px 7px; border-radius: 6px; }
.cursor.idle { opacity: .35; }
.cursor .tag { color: inherit; opacity: .8; }
.tag { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .82em; font-weight: 500; margin-left: 4px; white-space: nowrap; }
.board-note { position: absolute; left: 50%; top: 12px; transform: translateX(-50%); z-index: 3; background: #fff8e6; color: #7a4d00; border: 1px solid #f3d48b; border-radius: 8px; padding: 6px 12px; font-size: 13px; }

/* narrow screens: one column; the chat's rooms and people open as drawers */
@media (max-width: 900px) {
  .topbar { gap: 8px 12px; flex-wrap: wrap; }
  .chat { grid-template-columns: minmax(0, 1fr); }
  .drawer-toggle, .drawer-close { display: inline-block; }
  .rooms, .people { position: fixed; top: 0; bottom: 0; z-index: 30; width: min(320px, 86vw); border-radius: 0; visibility: hidden; }
  .rooms { left: 0; transform: translateX(-100%); }
  .people { right: 0; transform: translateX(100%); }
  .rooms.open, .people.open { visibility: visible; transform: none; }
  .drawer-backdrop { display: block; position: fixed; inset: 0; z-index: 20; background: rgba(28, 34, 51, .45); }
  .drawer-backdrop[hidden] { display: none; }
  .conversation > header { align-items: center; gap: 8px; padding: 10px 12px; }
  .conversation > header h1 { flex: 1; }
  .conversation > header #room-meta { display: none; }
}

/* phones */
@media (max-width: 600px) {
  main { padding: 10px; }
  .topbar { padding: 8px 10px; }
  .brand span { display: none; }
  .topbar nav a { padding: 6px 9px; }
  .status { margin-left: 0; flex: 1 1 100%; min-width: 0; justify-content: space-between; }
  .hero h1 { font-size: 26px; }
  .messages { padding: 10px 12px; }
  .message { gap: 10px; }
  .composer { padding: 10px 12px 12px; }
  .typing { padding: 0 12px; }
  .composer-note { margin: 0 12px; }
  .dash-head { flex-wrap: wrap; }
  .channels-panel td, .channels-panel th { padding: 8px 10px; }
  .channels-panel td.count, .channels-panel th.count { width: 100px; }
  .channels-panel td:nth-child(2), .channels-panel th:nth-child(2) { width: 30%; }
  .chart header { flex-wrap: wrap; gap: 4px 12px; }
  .legend { flex-wrap: wrap; }
  .toolbar { gap: 10px; }
  .canvas-wrap { place-items: start center; }
  .under-the-hood dl { grid-template-columns: minmax(0, 1fr); }
  .under-the-hood dd { margin-bottom: 6px; }
}

/* ticker */
.ticker-tiles { grid-template-columns: repeat(4, minmax(0, 1fr)); }
.ticker-body { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.2fr); gap: 16px; margin-top: 16px; align-items: start; }
.ticker-chart { padding: 14px 16px; }
.ticker-chart header { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; margin-bottom: 8px; }
.ticker-chart canvas { display: block; width: 100%; height: 260px; }
.ticker-note { margin: 10px 0 0; font-size: 13px; color: #4b5563; }
.ticker-table-panel { padding: 10px 0 0; }
.ticker-slow { margin-left: auto; display: inline-flex; align-items: center; gap: 6px; color: var(--muted); font-size: 14px; cursor: pointer; }
.ticker-filter { margin: 0 12px 8px; padding: 6px 10px; border: 1px solid #d1d5db; border-radius: 8px; font: inherit; width: calc(100% - 24px); box-sizing: border-box; }
.ticker-scroll { max-height: 560px; overflow-y: auto; }
.ticker-table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
.ticker-table th { position: sticky; top: 0; background: #fff; text-align: left; padding: 6px 12px; border-bottom: 1px solid #e5e7eb; font-weight: 600; }
.ticker-table td { padding: 4px 12px; border-bottom: 1px solid #f3f4f6; }
.ticker-table tbody tr { cursor: pointer; }
.ticker-table tr.chosen { background: #eef2ff; }
.ticker-table .num { text-align: right; }
.ticker-table td.symbol { font-weight: 600; }
.ticker-table .gain { color: #12a150; }
.ticker-table .loss { color: #d93025; }
.ticker-table tr.flash-up { animation: flash-up 0.8s ease-out; }
.ticker-table tr.flash-up-again { animation: flash-up-again 0.8s ease-out; }
.ticker-table tr.flash-down { animation: flash-down 0.8s ease-out; }
.ticker-table tr.flash-down-again { animation: flash-down-again 0.8s ease-out; }
@keyframes flash-up { from { background: #bbf7d0; } to { background: transparent; } }
@keyframes flash-up-again { from { background: #bbf7d0; } to { background: transparent; } }
@keyframes flash-down { from { background: #fecaca; } to { background: transparent; } }
@keyframes flash-down-again { from { background: #fecaca; } to { background: transparent; } }
@media (max-width: 900px) {
  .ticker-body { grid-template-columns: minmax(0, 1fr); }
  .ticker-tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); }
}
@media (max-width: 600px) {
  .ticker-table .volume { display: none; }
  .ticker-table td, .ticker-table th { padding: 4px 8px; }
  .ticker-chart canvas { height: 180px; }
  .ticker-scroll { max-height: 420px; }
}
/* game */
.game-body { display: grid; grid-template-columns: minmax(0, 1fr) 280px; gap: 16px; align-items: start; }
.game-stage { padding: 12px; }
.game-canvas-wrap { position: relative; }
.game-stage canvas { display: block; width: 100%; aspect-ratio: 16 / 10; border-radius: 8px; border: 1px solid #e2e8f0; touch-action: none; cursor: crosshair; }
.game-status { position: absolute; inset: auto 12px 12px 12px; margin: 0; padding: 8px 12px; border-radius: 8px; background: rgba(17, 24, 39, .85); color: #fff; font-size: 14px; text-align: center; }
.game-help { margin: 10px 0 0; font-size: 13px; color: #4b5563; }
.game-side { padding: 14px 16px; }
.game-side h2 { font-size: 16px; margin: 0 0 8px; }
.game-you { margin: 0 0 8px; padding: 6px 8px; border-radius: 6px; background: #eef2ff; font-weight: 650; font-size: 14px; }
.game-scores { list-style: none; margin: 0; padding: 0; max-height: 440px; overflow-y: auto; font-size: 14px; font-variant-numeric: tabular-nums; }
.game-scores li { display: flex; align-items: center; gap: 8px; padding: 3px 6px; border-radius: 6px; }
.game-scores li.you { background: #eef2ff; font-weight: 650; }
.game-scores li[data-away] { opacity: .5; }
.game-scores .swatch { --c: #667085; flex: none; width: 12px; height: 12px; border-radius: 50%; background: var(--c); }
.game-scores .name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.game-scores .tag { color: var(--muted); margin-left: 4px; font-weight: 400; }
.game-scores .away-mark { color: var(--muted); font-weight: 400; }
.game-scores .score { flex: none; }
.game-figures { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 8px; margin: 14px 0 0; padding-top: 12px; border-top: 1px solid #e5e7eb; }
.game-figures dt { font-size: 12px; color: var(--muted); }
.game-figures dd { margin: 2px 0 0; font-weight: 650; font-variant-numeric: tabular-nums; }
@media (max-width: 900px) {
  .game-body { grid-template-columns: minmax(0, 1fr); }
  .game-scores { max-height: 240px; }
}
`;
