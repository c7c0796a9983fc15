/**
 * Command-line parsing shared by the `switchboard` commands, on top of
 * `node:util` parseArgs: typed numeric options and usage errors that say
 * what to do (exit code 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line; the CLI prints it with the command's help and exits with 2. */
export class UsageError extends Error {}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseCommandLine<O extends OptionSpec>(argv: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Parses a non-negative integer option, with an optional unit suffix (k, m for KiB, MiB). */
export function parseSize(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const match = /^(\d+)([kKmM]?)$/.exec(value.trim());
  if (!match) throw new UsageError(`--${name} expects a number (e.g. 1048576, 512k or 16m), got "${value}"`);
  const unit = match[2]!.toLowerCase();
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1;
  return Number(match[1]) * factor;
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port expects 0-65535, got "${value}"`);
  return port;
}

function rangeText(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return `≥ ${min}`;
  return `from ${min} to ${max}`;
}

/** Parses a whole-number option that must lie in [min, max]. */
export function parseInteger(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const trimmed = value.trim();
  const number = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`--${name} expects a whole number ${rangeText(min, max)}, got "${value}"`);
  }
  return number;
}

/** Parses a positive duration in seconds (decimals allowed, e.g. 0.5). */
export function parseSeconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = /^\s*\d*\.?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--${name} expects a number of seconds above 0 (e.g. 10 or 0.5), got "${value}"`);
  return seconds;
}

/**
 * Parses repeated `--header "Name: value"` options into a header record;
 * repeated names are joined with ", " as HTTP allows.
 */
export function parseHeaders(values: readonly string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of values ?? []) {
    const colon = raw.indexOf(':');
    const name = colon > 0 ? raw.slice(0, colon).trim() : '';
    if (name === '' || /\s/.test(name)) {
      throw new UsageError(`--header expects "Name: value" (e.g. --header "Authorization: Bearer abc"), got "${raw}"`);
    }
    const value = raw.slice(colon + 1).trim();
    const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
    if (existing === undefined) headers[name] = value;
    else headers[existing] = `${headers[existing]}, ${value}`;
  }
  return headers;
}

/**
 * The single `<url>` argument of a client command, as a ws:// or wss:// URL.
 * http(s):// becomes ws(s)://; a bare "host:port/path" gets ws://.
 */
export function parseUrlArgument(positionals: readonly string[]): URL {
  if (positionals.length === 0) throw new UsageError('missing <url> (e.g. ws://127.0.0.1:8080/)');
  if (positionals.length > 1) {
    throw new UsageError(`expects one <url>, got ${positionals.length} arguments (${positionals.join(' ')}); quote values that contain spaces`);
  }
  const raw = positionals[0]!;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `ws://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`"${raw}" is not a valid URL (e.g. ws://127.0.0.1:8080/ or wss://example.com/socket)`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new UsageError(`"${raw}" is not a WebSocket URL: use ws:// or wss:// (e.g. ws://127.0.0.1:8080/)`);
  }
  if (url.hash !== '') throw new UsageError(`a WebSocket URL may not have a #fragment: "${raw}"`);
  return url;
}
