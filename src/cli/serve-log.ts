/**
 * The log of `switchboard serve`. Log lines carry text that clients chose
 * (a JWT `sub`, a nickname, a close reason, an error message): every line
 * goes through `escapeLogText`, so that a client can neither start a forged
 * line (CR, LF), drive the terminal (ESC, C1 controls) nor reorder what is
 * shown (bidi overrides and isolates).
 */

/** C0 and C1 controls, DEL, line and paragraph separators, bidi marks, embeddings, overrides and isolates, and the backslash itself. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g;

const NAMED: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(character: string): string {
  const named = NAMED[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control character, bidi control, line separator and
 * backslash written as an escape (`\n`, `\x1b`, `\u202e`, `\\`): one line
 * of visible text that reads back unambiguously.
 */
export function escapeLogText(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** Writes one log line.  */
export type LogFunction = (line: string) => void;

/** A log function writing escaped lines to stdout, after `prefix` (e.g. `[worker 2] `). */
export function createLog(prefix = ''): LogFunction {
  return (line) => console.log(`${prefix}${escapeLogText(line)}`);
}
