/** The trading feed's page (`/ticker`); its script is web/ticker.ts. */
import { TICKER_SLOW_LINK_RATE } from './web/ticker-api.js';
import { renderPage } from './layout.js';

const FIGURES: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'received', label: 'Quotes received /s' },
  { id: 'deltas', label: 'Came as deltas' },
  { id: 'saved', label: 'Bytes saved /s (server)' },
  { id: 'skipped', label: 'Values skipped /s (server)' },
];

const MAIN = `<div class="dash-head"><h1>Trading feed</h1><span id="ticker-meta">waiting for quotes…</span><label class="ticker-slow" title="The server sends this tab at most ${TICKER_SLOW_LINK_RATE / 1024} KiB/s: its queue grows and the server conflates its quotes"><input type="checkbox" id="slow-link"> Slow link (${TICKER_SLOW_LINK_RATE / 1024} KiB/s)</label></div>
<section class="tiles ticker-tiles">${FIGURES.map(({ id, label }) => `<div class="panel tile" id="figure-${id}"><div class="label">${label}</div><div class="value">–</div><div class="sub"></div></div>`).join('')}</section>
<section class="ticker-body">
  <section class="panel ticker-chart">
    <header><h2 id="chart-title">Pick an instrument</h2><span id="chart-price"></span></header>
    <canvas id="chart" width="640" height="260" role="img" aria-label="Last price of the chosen instrument"></canvas>
    <p class="ticker-note">Quotes come as deltas against the previous quote of the same instrument. A subscriber that falls behind is conflated: it gets the latest quote of each instrument, and a count of the ones it skipped. Tick “Slow link” to have the server send this tab no faster than ${TICKER_SLOW_LINK_RATE / 1024} KiB/s and watch it conflate.</p>
  </section>
  <section class="panel ticker-table-panel">
    <input id="ticker-filter" class="ticker-filter" placeholder="Filter symbols" maxlength="8" autocomplete="off" aria-label="Filter symbols">
    <div class="ticker-scroll">
      <table class="ticker-table"><thead><tr><th>Symbol</th><th class="num">Bid</th><th class="num">Ask</th><th class="num">Last</th><th class="num">Chg %</th><th class="num volume">Volume</th></tr></thead><tbody id="quotes"></tbody></table>
    </div>
  </section>
</section>`;

/** The ticker page. */
export const TICKER_PAGE = renderPage({ app: 'ticker', title: 'Trading feed', main: MAIN, script: 'ticker.js' });
