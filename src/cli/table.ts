/** Plain-text tables for command output: aligned columns, a rule under the header. */

/** How a column's cells line up. */
export type Align = 'left' | 'right';

/** Layout of a table: an optional header row (ruled off) and each column's alignment (left by default). */
export interface TableLayout {
  header?: readonly string[];
  align?: readonly Align[];
}

/** Renders rows with each column as wide as its widest cell, two spaces between columns. */
export function renderTable(rows: ReadonlyArray<readonly string[]>, layout: TableLayout = {}): string {
  const { header, align = [] } = layout;
  const all = header ? [header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(0, ...all.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths
      .map((width, column) => {
        const cell = cells[column] ?? '';
        return align[column] === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const head = header ? [line(header), widths.map((width) => '-'.repeat(width)).join('  ')] : [];
  return `${[...head, ...rows.map(line)].join('\n')}\n`;
}

/** A whole number with thousands separators ("1,234,567"). */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A decimal number with `digits` decimals and thousands separators. */
export function formatDecimal(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Microseconds as milliseconds, with precision that suits the size ("0.045 ms", "1.84 ms", "230 ms"). */
export function formatMicros(micros: number): string {
  const ms = micros / 1000;
  const digits = ms < 1 ? 3 : ms < 100 ? 2 : 0;
  return `${formatDecimal(ms, digits)} ms`;
}
