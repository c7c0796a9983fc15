/**
 * The trading feed (/apps/ticker.js): a live table of 1,000 instruments from
 * `ticker:quotes` — subscribed with delta compression, conflated on the
 * server when this tab falls behind — with changes flashing, a canvas chart
 * of the chosen instrument's last price, and what delta compression and
 * conflation saved (`ticker:stats` from the server, added up over its
 * workers, and this tab's counts).
 * "Slow link" asks the server to pace this tab's downlink (`ticker.link`),
 * which makes it conflate this tab's quotes.
 */
import { formatBytes, formatNumber } from './charts.js';
import { byId, connectDemo, element, type DemoClient } from './common.js';
import { isQuote, isTickerStats, sumOfWorkers, TICKER_QUOTES, TICKER_STATS, type Quote, type TickerSample } from './ticker-api.js';

/** Points kept for the chart. */
const HISTORY = 600;
/** Rows drawn in the table at most (the filter narrows them). */
const MAX_ROWS = 1000;
/** Samples (seconds of the server's time) of each worker the "values skipped" tile averages over. */
const SKIPPED_WINDOW = 10;

interface Row {
  quote: Quote;
  element: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  /** Last prices of this instrument seen by this tab, oldest first. */
  history: number[];
  /** Direction of the last change: flashes in the next frame. */
  flash: 'up' | 'down' | null;
  dirty: boolean;
}

const rows = new Map<string, Row>();
const dirty = new Set<Row>();
let chosen: string | null = new URLSearchParams(location.search).get('symbol');
let frameScheduled = false;
let filter = '';
/** This tab's counts since the last second. */
const tab = { received: 0, deltas: 0, skipped: 0, totalSkipped: 0, totalReceived: 0, totalDeltas: 0 };
/** Publications this tab was told it skipped, since it opened (shown, and kept in the tile's `data-tab-skipped`). */
let tabSkipped = 0;

function figure(id: string, value: string, sub = ''): void {
  const tile = byId(`figure-${id}`);
  tile.querySelector('.value')!.textContent = value;
  tile.querySelector('.sub')!.textContent = sub;
}

function rowFor(quote: Quote): Row {
  let row = rows.get(quote.symbol);
  if (row !== undefined) return row;
  const tr = element('tr');
  tr.dataset.symbol = quote.symbol;
  const cells = ['symbol', 'num', 'num', 'num', 'num', 'num volume'].map((className) => element('td', className));
  tr.append(...cells);
  row = { quote, element: tr, cells, history: [], flash: null, dirty: true };
  rows.set(quote.symbol, row);
  insertSorted(row);
  return row;
}

/** Keeps the table in symbol order. */
function insertSorted(row: Row): void {
  const body = byId<HTMLTableSectionElement>('quotes');
  if (body.children.length >= MAX_ROWS) return;
  let before: Element | null = null;
  for (const child of Array.from(body.children)) {
    if ((child as HTMLElement).dataset.symbol! > row.quote.symbol) {
      before = child;
      break;
    }
  }
  body.insertBefore(row.element, before);
  row.element.hidden = filter !== '' && !row.quote.symbol.includes(filter);
}

function onQuote(quote: Quote): void {
  const row = rowFor(quote);
  const previous = row.quote;
  if (quote.last !== previous.last) row.flash = quote.last > previous.last ? 'up' : 'down';
  row.quote = quote;
  row.history.push(quote.last);
  if (row.history.length > HISTORY) row.history.shift();
  dirty.add(row);
  schedule();
}

function schedule(): void {
  if (frameScheduled) return;
  frameScheduled = true;
  requestAnimationFrame(() => {
    frameScheduled = false;
    draw();
  });
}

function draw(): void {
  for (const row of dirty) {
    const { quote, cells } = row;
    cells[0]!.textContent = quote.symbol;
    cells[1]!.textContent = quote.bid.toFixed(2);
    cells[2]!.textContent = quote.ask.toFixed(2);
    cells[3]!.textContent = quote.last.toFixed(2);
    cells[4]!.textContent = `${quote.change > 0 ? '+' : ''}${quote.change.toFixed(2)}`;
    cells[4]!.className = `num ${quote.change > 0 ? 'gain' : quote.change < 0 ? 'loss' : ''}`;
    cells[5]!.textContent = formatNumber(quote.volume);
    if (row.flash !== null) {
      // Restart the flash without forcing a layout: switch between two classes of the same animation.
      const list = row.element.classList;
      const next = list.contains(`flash-${row.flash}`) ? `flash-${row.flash}-again` : `flash-${row.flash}`;
      list.remove('flash-up', 'flash-down', 'flash-up-again', 'flash-down-again');
      list.add(next);
      row.flash = null;
    }
    row.element.classList.toggle('chosen', quote.symbol === chosen);
  }
  dirty.clear();
  drawChart();
}

function drawChart(): void {
  const canvas = byId<HTMLCanvasElement>('chart');
  const row = chosen === null ? undefined : rows.get(chosen);
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const context = canvas.getContext('2d');
  if (context === null) return;
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  if (row === undefined) return;
  byId('chart-title').textContent = row.quote.symbol;
  byId('chart-price').textContent = `${row.quote.last.toFixed(2)} (${row.quote.change > 0 ? '+' : ''}${row.quote.change.toFixed(2)}%)`;
  const points = row.history;
  if (points.length < 2) return;
  const min = Math.min(...points);
  const max = Math.max(...points);
  const span = max - min || 1;
  const pad = 16;
  context.strokeStyle = '#e5e7eb';
  context.lineWidth = 1;
  context.fillStyle = '#6b7280';
  context.font = '11px system-ui, sans-serif';
  for (const value of [min, (min + max) / 2, max]) {
    const y = pad + (1 - (value - min) / span) * (height - 2 * pad);
    context.beginPath();
    context.moveTo(48, y);
    context.lineTo(width, y);
    context.stroke();
    context.fillText(value.toFixed(2), 2, y + 4);
  }
  context.strokeStyle = points[points.length - 1]! >= points[0]! ? '#12a150' : '#d93025';
  context.lineWidth = 2;
  context.beginPath();
  points.forEach((value, i) => {
    const x = 48 + (i / Math.max(points.length - 1, 1)) * (width - 52);
    const y = pad + (1 - (value - min) / span) * (height - 2 * pad);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}

function choose(symbol: string): void {
  const previous = chosen === null ? undefined : rows.get(chosen);
  chosen = symbol;
  if (previous !== undefined) dirty.add(previous);
  const row = rows.get(symbol);
  if (row !== undefined) dirty.add(row);
  const url = new URL(location.href);
  url.searchParams.set('symbol', symbol);
  history.replaceState(null, '', url);
  schedule();
}

/** Asks the server for a slow downlink, or a normal one, as the checkbox says; again after each reconnect. */
function watchSlowLink(client: DemoClient): void {
  const box = byId<HTMLInputElement>('slow-link');
  const apply = (): void => {
    const slow = box.checked;
    // The reply queues behind the quotes this tab has not read yet: a busy machine's tab can take long.
    client.call('ticker.link', { slow }, { timeout: 120_000 }).then(
      (link) => {
        delete document.body.dataset.slowLinkError;
        document.body.dataset.slowLink = link.bytesPerSecond === null ? 'off' : String(link.bytesPerSecond);
      },
      (error: unknown) => {
        // A call cut short by a lost connection is made again once reconnected (below); any other failure unticks the box.
        if (error instanceof Error && (error as Error & { code?: unknown }).code === 'disconnected') return;
        box.checked = false;
        document.body.dataset.slowLinkError = error instanceof Error ? error.message : String(error);
      },
    );
  };
  box.addEventListener('change', apply);
  client.on('connected', () => {
    if (box.checked) apply();
  });
}

async function main(): Promise<void> {
  byId('quotes').addEventListener('click', (event) => {
    const tr = (event.target as HTMLElement).closest('tr');
    if (tr?.dataset.symbol !== undefined) choose(tr.dataset.symbol);
  });
  byId<HTMLInputElement>('ticker-filter').addEventListener('input', (event) => {
    filter = (event.target as HTMLInputElement).value.trim().toUpperCase();
    for (const row of rows.values()) row.element.hidden = filter !== '' && !row.quote.symbol.includes(filter);
  });
  const { client } = await connectDemo(false);
  watchSlowLink(client);
  const quotes = client.subscribe(TICKER_QUOTES, { delta: true });
  quotes.on('publication', (publication) => {
    if (!isQuote(publication.data)) return;
    tab.received++;
    if (publication.delta === true) tab.deltas++;
    if (publication.skipped !== undefined) {
      tab.skipped += publication.skipped;
      tabSkipped += publication.skipped;
      byId('figure-skipped').dataset.tabSkipped = String(tabSkipped);
    }
    onQuote(publication.data);
    if (chosen === null) choose(publication.data.symbol);
  });
  // The server's figures come on `ticker:stats`, one sample a second from each worker with a subscriber;
  // this tab's are counted over its own seconds (on a slow link the samples arrive late and bunched, behind
  // the held quotes).
  const samples = new Map<number, TickerSample>();
  // Conflated quotes are counted when a lagging subscriber's held ones are flushed, every few seconds on a slow
  // link, and on this tab's slow link the samples themselves come bunched: the tile shows, per worker, the mean
  // of its last SKIPPED_WINDOW samples (each covers a second of the server's time), added up.
  const skippedByWorker = new Map<number, number[]>();
  const stats = client.subscribe(TICKER_STATS);
  stats.on('publication', (publication) => {
    const sample = publication.data;
    if (!isTickerStats(sample)) return;
    samples.set(sample.worker, { sample, at: performance.now() });
    let recent = skippedByWorker.get(sample.worker);
    if (recent === undefined) skippedByWorker.set(sample.worker, (recent = []));
    recent.push(sample.skipped);
    if (recent.length > SKIPPED_WINDOW) recent.shift();
    byId('ticker-meta').textContent = `${formatNumber(rows.size)} of ${formatNumber(sample.instruments)} instruments`;
  });
  setInterval(() => {
    const latest = sumOfWorkers(samples);
    if (latest === null) return;
    tab.totalReceived += tab.received;
    tab.totalDeltas += tab.deltas;
    tab.totalSkipped += tab.skipped;
    figure('received', formatNumber(tab.received), `of ${formatNumber(latest.published)} published /s`);
    figure('deltas', tab.totalReceived === 0 ? '–' : `${Math.round((tab.totalDeltas / tab.totalReceived) * 100)}%`, `${formatNumber(tab.totalDeltas)} of ${formatNumber(tab.totalReceived)} quotes`);
    figure('saved', `${formatBytes(latest.bytesSaved)}/s`, `${formatNumber(latest.deltas)} deltas /s to all subscribers`);
    let skippedPerSecond = 0;
    for (const [worker, recent] of skippedByWorker) {
      if (!samples.has(worker)) skippedByWorker.delete(worker);
      else skippedPerSecond += recent.reduce((sum, value) => sum + value, 0) / recent.length;
    }
    skippedPerSecond = Math.round(skippedPerSecond);
    figure('skipped', formatNumber(skippedPerSecond), `10 s mean, slow subscribers; this tab: ${formatNumber(tab.totalSkipped)} in all`);
    tab.received = 0;
    tab.deltas = 0;
    tab.skipped = 0;
  }, 1000);
}

void main();
