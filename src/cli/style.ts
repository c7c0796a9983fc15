/**
 * Terminal styling for the CLI: ANSI colours only when the output is a
 * terminal and the user has not asked for plain output (NO_COLOR, TERM=dumb).
 */

/** Wraps text in a colour, or returns it unchanged when colours are off. */
export type Paint = (text: string) => string;

/** The colours the commands use, as functions that may do nothing. */
export interface Style {
  readonly enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  cyan: Paint;
}

function ansi(open: number, close: number): Paint {
  return (text) => `\x1b[${open}m${text}\x1b[${close}m`;
}

const plain: Paint = (text) => text;

/** True when text written to `stream` may carry ANSI colours. */
export function supportsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** The style for a stream: colours when it is a terminal, plain text otherwise. */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (!supportsColor(stream, env)) {
    return { enabled: false, bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
  }
  return {
    enabled: true,
    bold: ansi(1, 22),
    dim: ansi(2, 22),
    red: ansi(31, 39),
    green: ansi(32, 39),
    yellow: ansi(33, 39),
    cyan: ansi(36, 39),
  };
}
