/** The live dashboard's page (`/dashboard`); its script is web/dashboard.ts. */
import { renderPage } from './layout.js';

interface TileSpec {
  id: string;
  label: string;
}

const TILES: readonly TileSpec[] = [
  { id: 'connections', label: 'Connections' },
  { id: 'messages-in', label: 'Messages in /s' },
  { id: 'messages-out', label: 'Messages out /s' },
  { id: 'bytes-in', label: 'Bytes in /s' },
  { id: 'bytes-out', label: 'Bytes out /s' },
  { id: 'rss', label: 'Memory (RSS)' },
  { id: 'heap', label: 'Heap used' },
];

const CHARTS: ReadonlyArray<{ id: string; title: string }> = [
  { id: 'connections', title: 'Connections' },
  { id: 'messages', title: 'Messages per second' },
  { id: 'bytes', title: 'Bytes per second' },
  { id: 'memory', title: 'Memory' },
];

function tile({ id, label }: TileSpec): string {
  return `<div class="panel tile" id="tile-${id}"><div class="label">${label}</div><div class="value">–</div><div class="sub"></div></div>`;
}

function chart({ id, title }: { id: string; title: string }): string {
  return `<section class="panel chart" id="chart-${id}"><header><h2>${title}</h2><div class="legend"></div></header><svg role="img" aria-label="${title}"></svg></section>`;
}

const MAIN = `<div class="dash-head"><h1>Server dashboard</h1><span id="dash-meta">waiting for the first sample…</span></div>
<section class="tiles">${TILES.map(tile).join('')}</section>
<section class="charts">${CHARTS.map(chart).join('')}</section>
<section class="panel channels-panel">
  <h2 class="panel-title">Subscribers per channel</h2>
  <table><thead><tr><th>Channel</th><th></th><th class="count">Subscribers</th></tr></thead><tbody id="channels"></tbody></table>
</section>`;

/** The dashboard page. */
export const DASHBOARD_PAGE = renderPage({ app: 'dashboard', title: 'Dashboard', main: MAIN, script: 'dashboard.js' });
