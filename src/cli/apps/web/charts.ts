/**
 * Small line charts in inline SVG for the dashboard (/apps/charts.js): one
 * or more series over the same time axis, a y axis scaled to a round
 * maximum, gaps where a series has no value.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 170;
const PAD = { left: 56, right: 10, top: 10, bottom: 20 };

/** One line of a chart. */
export interface ChartSeries {
  label: string;
  color: string;
  /** Oldest first, one per time step; null where there is no value. */
  values: Array<number | null>;
}

/** Formats a value for an axis label or a legend. */
export type Formatter = (value: number) => string;

/** 1234567 → "1.2 MB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** 12.345 → "12.3", 1234 → "1,234". */
export function formatNumber(value: number): string {
  if (value !== 0 && Math.abs(value) < 10 && !Number.isInteger(value)) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

/** The smallest "round" number (1, 2, 2.5, 5 × 10ⁿ) at or above `value`. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function text(x: number, y: number, content: string, anchor: 'start' | 'middle' | 'end'): SVGTextElement {
  const label = svg('text', { x, y, 'text-anchor': anchor, 'dominant-baseline': 'middle' });
  label.textContent = content;
  return label;
}

/** Horizontal grid lines with their values, and the time labels. */
function axes(width: number, max: number, steps: number, format: Formatter): SVGGElement {
  const group = svg('g', { class: 'grid' });
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + plotHeight * (1 - i / 4);
    group.append(svg('line', { x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }), text(PAD.left - 8, y, format((max * i) / 4), 'end'));
  }
  const seconds = steps - 1;
  group.append(text(PAD.left, HEIGHT - 6, `-${Math.round(seconds / 60) >= 1 ? `${Math.round(seconds / 60)} min` : `${seconds} s`}`, 'start'));
  group.append(text(width - PAD.right, HEIGHT - 6, 'now', 'end'));
  return group;
}

/** The runs of consecutive non-null values as point lists. */
function segments(values: Array<number | null>, x: (i: number) => number, y: (v: number) => number): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let run: Array<[number, number]> = [];
  values.forEach((value, i) => {
    if (value === null) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else run.push([x(i), y(value)]);
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

function seriesPaths(series: ChartSeries, x: (i: number) => number, y: (v: number) => number): SVGGElement {
  const group = svg('g', {});
  const bottom = HEIGHT - PAD.bottom;
  for (const run of segments(series.values, x, y)) {
    const line = run.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ');
    const first = run[0]!;
    const last = run[run.length - 1]!;
    group.append(svg('polygon', { class: 'area', fill: series.color, points: `${first[0]},${bottom} ${line} ${last[0]},${bottom}` }));
    group.append(svg('polyline', { class: 'series', stroke: series.color, points: line }));
  }
  return group;
}

/** Draws `series` into `target` (replacing what was there), sized to its current width. */
export function drawChart(target: SVGSVGElement, series: ChartSeries[], format: Formatter): void {
  const width = Math.max(200, Math.round(target.clientWidth || 600));
  const steps = Math.max(2, ...series.map((s) => s.values.length));
  const max = 4 * niceCeiling(Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))) / 4);
  const plotWidth = width - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (plotWidth * i) / (steps - 1);
  const y = (value: number): number => PAD.top + plotHeight * (1 - value / max);
  target.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  target.replaceChildren(axes(width, max, steps, format), ...series.map((s) => seriesPaths(s, x, y)));
}

/** The legend: each series with its colour and latest value. */
export function drawLegend(target: HTMLElement, series: ChartSeries[], format: Formatter): void {
  target.replaceChildren(
    ...series.map((s) => {
      const item = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = s.color;
      const latest = [...s.values].reverse().find((v): v is number => v !== null);
      const value = document.createElement('b');
      value.textContent = latest === undefined ? '–' : format(latest);
      item.append(swatch, `${s.label} `, value);
      return item;
    }),
  );
}
