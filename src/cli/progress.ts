/**
 * Progress of a timed run on stderr: a bar redrawn in place on a terminal,
 * or a plain line every few seconds when the output is a file or a pipe.
 */
import { formatCount } from './table.js';

/** What the progress line shows. */
export interface ProgressState {
  elapsedS: number;
  durationS: number;
  /** Messages received so far (the rate shown is the average since the start). */
  received: number;
  /** Connections open now / asked for, and failed so far. */
  open: number;
  connections: number;
  failed: number;
}

/** The stream progress goes to (process.stderr, or a stand-in). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

const BAR_WIDTH = 24;

/** A bar of `width` cells, filled to `fraction` (0-1). */
export function renderBar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The progress as one line of text (without the bar). */
export function describeProgress(state: ProgressState): string {
  const rate = state.elapsedS > 0 ? state.received / state.elapsedS : 0;
  const failed = state.failed > 0 ? `, ${formatCount(state.failed)} failed` : '';
  return `${state.elapsedS.toFixed(1)}/${state.durationS} s  ${formatCount(rate)} msgs/s  ${formatCount(state.open)}/${formatCount(state.connections)} open${failed}`;
}

/** Shows progress on a terminal (in place) or as periodic lines. */
export class ProgressReporter {
  readonly #stream: ProgressStream;
  readonly #lineIntervalS: number;
  #nextLineAt: number;
  #drawn = false;

  constructor(stream: ProgressStream, durationS: number) {
    this.#stream = stream;
    this.#lineIntervalS = Math.max(1, Math.round(durationS / 10));
    this.#nextLineAt = this.#lineIntervalS;
  }

  /** How often `update` should be called, in ms. */
  get intervalMs(): number {
    return this.#stream.isTTY ? 200 : 250;
  }

  update(state: ProgressState): void {
    if (this.#stream.isTTY) {
      const line = `${renderBar(state.elapsedS / state.durationS)} ${describeProgress(state)}`;
      // A terminal of unknown size (0 columns, as in some pseudo-terminals) is taken as 80 wide.
      const width = (this.#stream.columns !== undefined && this.#stream.columns > 0 ? this.#stream.columns : 80) - 1;
      this.#stream.write(`\r${line.slice(0, width)}\x1b[K`);
      this.#drawn = true;
      return;
    }
    if (state.elapsedS + 0.05 < this.#nextLineAt) return;
    while (this.#nextLineAt <= state.elapsedS + 0.05) this.#nextLineAt += this.#lineIntervalS;
    this.#stream.write(`bench: ${describeProgress(state)}\n`);
  }

  /** Removes the bar (on a terminal) so the summary starts on a clean line. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}
