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
