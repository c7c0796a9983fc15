/**
 * The settings of `switchboard serve`: command-line flags over a JSON config
 * file (`--config`) over defaults, checked, with the namespaces the demo
 * apps need. Every mistake is a `UsageError` that says what to change.
 */
import { readFile } from 'node:fs/promises';
import type { JwtOptions } from '../realtime/server/auth.js';
import type { NamespaceOptions } from '../realtime/server/namespaces.js';
import type { LimitOptions } from '../realtime/server/options.js';
import { parsePort, UsageError } from './args.js';

/** Most worker processes `--workers` accepts. */
export const MAX_WORKERS = 64;

/** How clients prove who they are. */
export interface ServeAuth {
  /** Verify `connect` tokens as JWTs (their `sub` is the user id, a `name` claim the display name). */
  jwt?: JwtOptions;
  /** Let clients without a token in as guests with the nickname they pick. Default true. */
  anonymous: boolean;
}

/** Everything `switchboard serve` runs with. */
export interface ServeSettings {
  port: number;
  host: string;
  /** A Redis URL: the broker is a `RedisBroker`; otherwise one in memory. */
  redis?: string;
  workers: number;
  /** Certificate and key files: the server speaks HTTPS and wss://. */
  tls?: { cert: string; key: string };
  namespaces: Record<string, NamespaceOptions>;
  limits?: LimitOptions;
  auth: ServeAuth;
  /** Do not log connections. */
  quiet: boolean;
}

/** The JSON of a `--config` file. Every key is optional; command-line flags win. */
export interface ServeConfigFile {
  port?: number;
  host?: string;
  redis?: string;
  workers?: number;
  tls?: { cert: string; key: string };
  /** Added to (or replacing) the demo apps' namespaces, by name. */
  namespaces?: Record<string, NamespaceOptions>;
  limits?: LimitOptions;
  auth?: { jwt?: JwtOptions; anonymous?: boolean };
}

/** The command-line flags of `switchboard serve`, as parsed. */
export interface ServeFlags {
  port?: string;
  host?: string;
  config?: string;
  redis?: string;
  workers?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  quiet?: boolean;
}

const CONFIG_KEYS = ['port', 'host', 'redis', 'workers', 'tls', 'namespaces', 'limits', 'auth'] as const;
const AUTH_KEYS = ['jwt', 'anonymous'] as const;
const JWT_KEYS = ['secret', 'publicKey', 'jwks', 'algorithms', 'issuer', 'audience', 'clockTolerance'] as const;

/**
 * The namespaces of the demo apps. `metrics` keeps two minutes of samples of
 * every worker, so that a dashboard opened now draws its charts at once.
 */
export function demoNamespaces(workers: number): Record<string, NamespaceOptions> {
  return {
    chat: { history: { size: 100, ttl: 3_600_000 }, presence: true },
    typing: { publish: 'subscribers' },
    board: { history: { size: 10_000, ttl: 24 * 3_600_000 } },
    cursor: { presence: true },
    metrics: { history: { size: 120 * workers, ttl: 300_000 }, publish: false, publisherInfo: false },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function configError(path: string, message: string): UsageError {
  return new UsageError(`config file ${path}: ${message}`);
}

function checkKeys(path: string, where: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw configError(path, `unknown key "${where}${key}" (known: ${known.join(', ')})`);
  }
}

function checkType(path: string, key: string, value: unknown, type: 'string' | 'number' | 'boolean' | 'object'): void {
  if (value === undefined) return;
  const ok = type === 'object' ? isRecord(value) : typeof value === type;
  if (!ok) throw configError(path, `"${key}" must be ${type === 'object' ? 'an object' : `a ${type}`}, got ${JSON.stringify(value)}`);
}

function checkAuth(path: string, auth: unknown): void {
  checkType(path, 'auth', auth, 'object');
  if (!isRecord(auth)) return;
  checkKeys(path, 'auth.', auth, AUTH_KEYS);
  checkType(path, 'auth.anonymous', auth.anonymous, 'boolean');
  checkType(path, 'auth.jwt', auth.jwt, 'object');
  if (isRecord(auth.jwt)) checkKeys(path, 'auth.jwt.', auth.jwt, JWT_KEYS);
}

function checkTls(path: string, tls: unknown): void {
  checkType(path, 'tls', tls, 'object');
  if (!isRecord(tls)) return;
  checkKeys(path, 'tls.', tls, ['cert', 'key']);
  if (typeof tls.cert !== 'string' || typeof tls.key !== 'string') throw configError(path, '"tls" needs "cert" and "key": paths of PEM files');
}

/** Checks the shape of a parsed config file (the server checks namespaces and limits in depth). */
export function checkConfig(path: string, value: unknown): ServeConfigFile {
  if (!isRecord(value)) throw configError(path, 'expected a JSON object, e.g. {"port": 8080, "redis": "redis://127.0.0.1:6379"}');
  checkKeys(path, '', value, CONFIG_KEYS);
  checkType(path, 'port', value.port, 'number');
  checkType(path, 'host', value.host, 'string');
  checkType(path, 'redis', value.redis, 'string');
  checkType(path, 'workers', value.workers, 'number');
  checkType(path, 'namespaces', value.namespaces, 'object');
  checkType(path, 'limits', value.limits, 'object');
  if (isRecord(value.namespaces)) {
    for (const [name, options] of Object.entries(value.namespaces)) checkType(path, `namespaces.${name}`, options, 'object');
  }
  checkTls(path, value.tls);
  checkAuth(path, value.auth);
  return value as ServeConfigFile;
}

/** Reads and checks a `--config` file. */
export async function readConfigFile(path: string): Promise<ServeConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw configError(path, `not valid JSON: ${(error as Error).message}`);
  }
  return checkConfig(path, parsed);
}

function checkRedisUrl(url: string): string {
  if (!/^rediss?:\/\/\S+$/.test(url)) throw new UsageError(`--redis expects a URL like redis://127.0.0.1:6379, got "${url}"`);
  return url;
}

function tlsFiles(flags: ServeFlags, file: ServeConfigFile): ServeSettings['tls'] {
  const cert = flags['tls-cert'] ?? file.tls?.cert;
  const key = flags['tls-key'] ?? file.tls?.key;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both PEM files (certificate and private key)');
  return { cert, key };
}

function workerCount(flags: ServeFlags, file: ServeConfigFile): number {
  const text = flags.workers ?? (file.workers === undefined ? undefined : String(file.workers));
  if (text === undefined) return 1;
  const workers = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new UsageError(`--workers expects a whole number from 1 to ${MAX_WORKERS}, got "${text}"`);
  }
  return workers;
}

/**
 * Settings from the flags over the config file over the defaults (port:
 * `$PORT`, else 8080; host 127.0.0.1). Throws `UsageError` for `--workers`
 * above 1 without Redis: separate processes share no memory, so only a
 * shared broker lets their clients see each other.
 */
export function resolveSettings(flags: ServeFlags, file: ServeConfigFile = {}): ServeSettings {
  const fromFile = file.port === undefined ? undefined : String(file.port);
  const port = parsePort(flags.port ?? fromFile, Number(process.env.PORT ?? 8080));
  const workers = workerCount(flags, file);
  const redis = flags.redis ?? file.redis;
  if (workers > 1 && redis === undefined) {
    throw new UsageError(
      `--workers ${workers} needs --redis <url>: each worker is a separate process, and only a shared broker lets clients of different workers see each other's messages (start one with "redis-server", then add --redis redis://127.0.0.1:6379), or run one worker`,
    );
  }
  const settings: ServeSettings = {
    port,
    host: flags.host ?? file.host ?? '127.0.0.1',
    workers,
    namespaces: { ...demoNamespaces(workers), ...file.namespaces },
    auth: { anonymous: file.auth?.anonymous ?? true },
    quiet: flags.quiet ?? false,
  };
  if (redis !== undefined) settings.redis = checkRedisUrl(redis);
  const tls = tlsFiles(flags, file);
  if (tls !== undefined) settings.tls = tls;
  if (file.limits !== undefined) settings.limits = file.limits;
  if (file.auth?.jwt !== undefined) settings.auth.jwt = file.auth.jwt;
  if (!settings.auth.anonymous && settings.auth.jwt === undefined) {
    throw new UsageError('auth.anonymous is false but no auth.jwt is configured: nobody could connect (add "jwt": {"secret": "…"})');
  }
  return settings;
}
