/**
 * Command-line parsing shared by the `switchboard` commands, on top of
 * `node:util` parseArgs: typed numeric options and usage errors that say
 * what to do (exit code 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from './suggest.js';

/** A mistake in the command line; the CLI prints it with the command's help and exits with 2. */
export class UsageError extends Error {}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

type Parsed<O extends OptionSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;
type Token = NonNullable<ReturnType<typeof parseArgs<{ args: string[]; options: OptionSpec; allowPositionals: true; strict: false; tokens: true }>>['tokens']>[number];
type OptionToken = Extract<Token, { kind: 'option' }>;

/** "unknown option --prot — did you mean --port?" (or without the suggestion when nothing is close). */
function unknownOption(token: OptionToken, options: OptionSpec): string {
  const written = token.rawName;
  const suggestion = closest(token.name, Object.keys(options));
  return suggestion === null ? `unknown option ${written}` : `unknown option ${written} — did you mean --${suggestion}?`;
}

/**
 * Checks one option as written: known, a value where one is expected and none
 * where none is. A value that starts with "--" is taken for a forgotten value
 * (write --name=--value to mean it); any other value, "-1" included, is left
 * to the option's own parser, which says what is wrong with it.
 */
function checkOption(token: OptionToken, options: OptionSpec, next: Token | undefined): void {
  const spec = options[token.name];
  if (spec === undefined) throw new UsageError(unknownOption(token, options));
  const name = `--${token.name}`;
  if (spec.type === 'boolean') {
    if (token.inlineValue === true) throw new UsageError(`${name} takes no value (got "${token.rawName}=${token.value ?? ''}")`);
    return;
  }
  if (token.value === undefined) {
    const followed = next?.kind === 'option' ? `, but ${next.rawName} follows it` : '';
    throw new UsageError(`${name} needs a value (${name} <value> or ${name}=<value>)${followed}`);
  }
  if (token.inlineValue !== true && token.value.startsWith('--')) {
    throw new UsageError(`${name} needs a value, but ${token.value} follows it (write ${name}=${token.value} if that is the value)`);
  }
}

/**
 * Parses a command line with `options`. Unlike parseArgs alone, mistakes come
 * out as plain sentences: an unknown option names the closest known one, and
 * a value that starts with a dash (`--duration -1`) reaches the option's
 * parser instead of being refused as "ambiguous".
 */
export function parseCommandLine<O extends OptionSpec>(argv: string[], options: O): Parsed<O> {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  const normalized: string[] = [];
  const positionals: string[] = [];
  tokens.forEach((token, index) => {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') return;
    checkOption(token, options, tokens[index + 1]);
    normalized.push(token.value === undefined ? `--${token.name}` : `--${token.name}=${token.value}`);
  });
  try {
    return parseArgs({ args: [...normalized, '--', ...positionals], options, allowPositionals: true, strict: true });
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
