/**
 * What the two modes of `switchboard connect` (interactive and JSON lines)
 * share: the parsed options, how a close maps to the exit status, and how a
 * failure is reported.
 */
import type { CloseEvent } from '../node/events.js';
import { explainConnectFailure } from './failure.js';

/** The parsed command line of `switchboard connect`. */
export interface ConnectOptions {
  url: URL;
  protocols: string[];
  headers: Record<string, string>;
  /** Accept any TLS certificate (self-signed, expired, wrong name). */
  insecure: boolean;
  /** JSON lines even when stdin is a terminal. */
  json: boolean;
  /** Print messages only: no open/close notices. */
  quiet: boolean;
  /** After stdin ends (JSON mode), wait this many ms for replies before closing. */
  waitMs: number;
  /** Give up when the connection and its handshake take longer than this many ms (0: never). */
  timeoutMs: number;
}

/** Status 1000 (normal closure) and 1001 (going away) end a session normally. */
const NORMAL_CODES = new Set([1000, 1001]);
/** A close frame without a code (reported as 1005). */
const NO_STATUS = 1005;

/**
 * The exit status after the connection closed: 0 for a normal close (1000,
 * 1001, or a clean close frame without a code), or a clean one this side
 * started (e.g. `/close 4000 bye`); 1 for an abnormal close (no closing
 * handshake, or an error code from the server).
 */
export function exitStatusAfterClose(event: CloseEvent, closeStartedHere: boolean): number {
  if (NORMAL_CODES.has(event.code)) return 0;
  return event.wasClean && (closeStartedHere || event.code === NO_STATUS) ? 0 : 1;
}

/** A line for stderr when the connection never opened. */
export function connectFailureLine(error: unknown, options: Pick<ConnectOptions, 'url' | 'timeoutMs'>): string {
  return `switchboard connect: ${explainConnectFailure(error ?? new Error('the connection failed'), options.url, options.timeoutMs)}\n`;
}

/** A line for stderr when an open connection ended abnormally, or null when it ended properly. */
export function lostConnectionLine(event: CloseEvent, error: unknown): string | null {
  if (event.code !== 1006) return null;
  const cause = error instanceof Error ? `: ${error.message}` : '';
  return `switchboard connect: the connection was lost without a closing handshake${cause}\n`;
}
