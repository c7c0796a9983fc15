/**
 * The live dashboard (/apps/dashboard.js). Every server process publishes a
 * sample of its metrics on `metrics:server` once a second (clients cannot
 * publish there). The page loads the kept samples (two minutes) for its
 * charts, subscribes from there, and adds up the workers' samples second by
 * second when there are several processes.
 */
import { METRICS_CHANNEL, type MetricsSample } from './api.js';
import { drawChart, drawLegend, formatBytes, formatNumber, type ChartSeries, type Formatter } from './charts.js';
import { byId, connectDemo, element, plural, whenPossible } from './common.js';
import { isMetricsSample } from './guards.js';

/** Seconds shown by the charts. */
const WINDOW = 120;
/** A worker whose last sample is older than this (ms) is not counted any more. */
const STALE = 5000;
const COLORS = { in: '#4f46e5', out: '#12a150', rss: '#e8710a', heap: '#c2185b', connections: '#0b57d0' };

/** Samples per worker, oldest first. */
const samples = new Map<number, MetricsSample[]>();
let drawScheduled = false;
/** When this page last received a sample (its own clock). */
let lastReceived = 0;

type NumericField = 'connections' | 'messagesInPerSecond' | 'messagesOutPerSecond' | 'bytesInPerSecond' | 'bytesOutPerSecond' | 'rss' | 'heapUsed' | 'heapTotal';

/** Adds a sample to its worker's series; anything that is not a well-formed sample is ignored. */
function addSample(sample: unknown): void {
  if (!isMetricsSample(sample)) return;
  lastReceived = Date.now();
  let list = samples.get(sample.worker);
  if (list === undefined) samples.set(sample.worker, (list = []));
  if (list.length > 0 && list[list.length - 1]!.time >= sample.time) return;
  list.push(sample);
  while (list.length > 0 && list[0]!.time < sample.time - (WINDOW + 10) * 1000) list.shift();
  scheduleDraw();
}

function scheduleDraw(): void {
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(() => {
    drawScheduled = false;
    draw();
  });
}

/** The newest sample time of any worker. */
function latestTime(): number {
  let latest = 0;
  for (const list of samples.values()) latest = Math.max(latest, list[list.length - 1]?.time ?? 0);
  return latest;
}

/** A worker's sample that stands for time `t`: its newest one at most ~1 s before (and not after) `t`. */
function sampleAt(list: MetricsSample[], t: number): MetricsSample | undefined {
  for (let i = list.length - 1; i >= 0; i--) {
    const sample = list[i]!;
    if (sample.time <= t + 500) return sample.time >= t - 1500 ? sample : undefined;
  }
  return undefined;
}

/** The samples of every worker at time `t`. */
function samplesAt(t: number): MetricsSample[] {
  return [...samples.values()].map((list) => sampleAt(list, t)).filter((sample): sample is MetricsSample => sample !== undefined);
}

/** The sum over workers of `field`, one value per second of the window, oldest first. */
function seriesOf(field: NumericField, end: number): Array<number | null> {
  const values: Array<number | null> = [];
  for (let k = WINDOW - 1; k >= 0; k--) {
    const present = samplesAt(end - k * 1000);
    values.push(present.length === 0 ? null : present.reduce((sum, sample) => sum + sample[field], 0));
  }
  return values;
}

function setTile(id: string, value: number, format: Formatter, sub = ''): void {
  const tile = byId(`tile-${id}`);
  tile.dataset.value = String(value);
  tile.querySelector('.value')!.textContent = format(value);
  tile.querySelector('.sub')!.textContent = sub;
}

function drawTiles(current: MetricsSample[]): void {
  const sum = (field: NumericField): number => current.reduce((total, sample) => total + sample[field], 0);
  const rate = (value: number): string => formatNumber(value);
  const perWorker = current.length > 1 ? `over ${current.length} workers` : '';
  setTile('connections', sum('connections'), formatNumber, perWorker);
  setTile('messages-in', sum('messagesInPerSecond'), rate);
  setTile('messages-out', sum('messagesOutPerSecond'), rate);
  setTile('bytes-in', sum('bytesInPerSecond'), formatBytes);
  setTile('bytes-out', sum('bytesOutPerSecond'), formatBytes);
  setTile('rss', sum('rss'), formatBytes, perWorker);
  setTile('heap', sum('heapUsed'), formatBytes, `of ${formatBytes(sum('heapTotal'))}`);
}

function drawCharts(end: number): void {
  const charts: Array<{ id: string; series: ChartSeries[]; format: Formatter }> = [
    { id: 'connections', format: formatNumber, series: [{ label: 'clients', color: COLORS.connections, values: seriesOf('connections', end) }] },
    {
      id: 'messages',
      format: formatNumber,
      series: [
        { label: 'in', color: COLORS.in, values: seriesOf('messagesInPerSecond', end) },
        { label: 'out', color: COLORS.out, values: seriesOf('messagesOutPerSecond', end) },
      ],
    },
    {
      id: 'bytes',
      format: formatBytes,
      series: [
        { label: 'in', color: COLORS.in, values: seriesOf('bytesInPerSecond', end) },
        { label: 'out', color: COLORS.out, values: seriesOf('bytesOutPerSecond', end) },
      ],
    },
    {
      id: 'memory',
      format: formatBytes,
      series: [
        { label: 'RSS', color: COLORS.rss, values: seriesOf('rss', end) },
        { label: 'heap used', color: COLORS.heap, values: seriesOf('heapUsed', end) },
      ],
    },
  ];
  for (const { id, series, format } of charts) {
    const chart = byId(`chart-${id}`);
    drawChart(chart.querySelector('svg')!, series, format);
    drawLegend(chart.querySelector<HTMLElement>('.legend')!, series, format);
  }
}

/** Subscribers per channel, added up over the workers. */
function drawChannels(current: MetricsSample[]): void {
  const totals = new Map<string, number>();
  for (const sample of current) {
    for (const [channel, count] of sample.channels) totals.set(channel, (totals.get(channel) ?? 0) + count);
  }
  const rows = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const max = Math.max(1, ...rows.map(([, count]) => count));
  const body = byId('channels');
  if (rows.length === 0) {
    body.replaceChildren(element('tr'));
    body.firstElementChild!.append(Object.assign(element('td', '', 'No subscribers yet.'), { colSpan: 3 }));
    return;
  }
  body.replaceChildren(
    ...rows.map(([channel, count]) => {
      const row = element('tr');
      row.dataset.channel = channel;
      const bar = element('div', 'bar');
      bar.style.width = `${(100 * count) / max}%`;
      const barCell = element('td');
      barCell.append(bar);
      row.append(element('td', '', channel), barCell, element('td', 'count', String(count)));
      return row;
    }),
  );
}

function uptimeText(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function draw(): void {
  const end = latestTime();
  if (end === 0) return;
  const current = samplesAt(end).filter((sample) => sample.time >= end - STALE);
  drawTiles(current);
  drawCharts(end);
  drawChannels(current);
  const oldest = Math.max(...current.map((sample) => sample.uptime));
  byId('dash-meta').textContent = `${plural(current.length, 'worker')} · up ${uptimeText(oldest)} · pid ${current.map((sample) => sample.pid).join(', ')}`;
}

/** Says so when samples stop arriving (server gone, network down). */
function watchFreshness(): void {
  setInterval(() => {
    const age = Date.now() - lastReceived;
    if (lastReceived > 0 && age > 3000) byId('dash-meta').textContent = `no sample for ${Math.round(age / 1000)} s — waiting for the server…`;
  }, 1000);
}

const { client } = await connectDemo();
const history = await whenPossible(client, () => client.history(METRICS_CHANNEL, { limit: 1000 }));
for (const publication of history?.publications ?? []) addSample(publication.data);
const subscription = client.subscribe(METRICS_CHANNEL, history === null ? {} : { since: { offset: history.offset, epoch: history.epoch } });
subscription.on('publication', ({ data }) => addSample(data));
window.addEventListener('resize', scheduleDraw);
watchFreshness();
