/**
 * The settings of `switchboard serve`: command-line flags over a JSON config
 * file (`--config`) over defaults, checked, with the namespaces the demo
 * apps need. Every mistake is a `UsageError` that says what to change.
 */
import { readFile } from 'node:fs/promises';
import type { JwtOptions } from '../realtime/server/auth.js';
import { parseRedisUrl } from '../realtime/broker/redis-connection.js';
import type { NamespaceOptions } from '../realtime/server/namespaces.js';
import type { LimitOptions } from '../realtime/server/options.js';
import { resolveProxyOptions, type ProxyOptions } from '../realtime/server/proxy/options.js';
import { MIN_API_KEY_LENGTH } from '../realtime/server/api-http.js';
import { DEFAULT_MAX_STREAMS_PER_CONNECTION } from '../node/http2-server.js';
import { parseInteger, parsePort, UsageError } from './args.js';
import { MAX_GAME_BOTS } from './game-bots.js';
import { MIN_GUEST_SECRET_LENGTH } from './serve-guests.js';
import { DEFAULT_MAX_SOCKETS, DEFAULT_MAX_SOCKETS_PER_IP, exemptionFor, type AllowList } from './serve-http.js';

/** Most worker processes `--workers` accepts. */
export const MAX_WORKERS = 64;

/** How clients prove who they are. */
export interface ServeAuth {
  /** Verify `connect` tokens as JWTs (their `sub` is the user id, a `name` claim the display name). */
  jwt?: JwtOptions;
  /** Let clients without a token in as guests with the nickname they pick. Default: true without `jwt`, false with it. */
  anonymous: boolean;
  /** Signs guest tokens (so that a guest stays the same user across reloads, restarts and workers). Default: random per start. */
  guestSecret?: string;
}

/** The WebSocket server's guards, as a config file sets them (docs/security.md). */
export interface ServeWebSocketGuards {
  /** Request head within this long (HTTP 408), upgrade answered within it (503). Also the HTTP server's head and request timeout. Default 10000 ms. */
  handshakeTimeout?: number;
  maxPendingHandshakes?: number;
  /** WebSocket connections per client address (429 over it). Default 256. */
  maxConnectionsPerIp?: number;
  /** Addresses and subnets exempt from `maxConnectionsPerIp` and `maxSocketsPerIp` (default: loopback, private, link-local); [] exempts none. */
  connectionLimitExempt?: string[];
  maxPingsPerSecond?: number;
  pingFloodTimeout?: number;
  idleTimeout?: number;
  maxFragments?: number;
  closeTimeout?: number;
}

/** The separate listener of `/metrics` and `/healthz`. */
export interface MetricsListen {
  port: number;
  host: string;
}

/** The environment variable that holds the server API key (below `--api-key` and the config file's `api.key`). */
export const API_KEY_ENV = 'SWITCHBOARD_API_KEY';

/** The server API (docs/server-api.md): on when a key is configured. */
export interface ServeApi {
  key: string;
  /** Largest request body (bytes). Default 1 MiB. */
  maxBodySize?: number;
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
  /** `Host` values served besides loopback names, or 'any'. Default: loopback names when bound to a loopback address, else any (with a warning). */
  allowedHosts?: AllowList;
  /** `Origin` values that may connect, or 'any'. Default: origins whose host is served. */
  allowedOrigins?: AllowList;
  websocket: ServeWebSocketGuards;
  /** Sockets at once on the public port (0 = no limit). */
  maxSockets: number;
  /** Sockets per client address on the public port (0 = no limit), exempt addresses as `websocket.connectionLimitExempt`. */
  maxSocketsPerIp: number;
  /** With TLS (h2 and HTTP/1.1 on the port): streams, WebSockets included, one HTTP/2 connection may hold at once (1 or more). */
  maxStreamsPerConnection: number;
  /** `/metrics` and `/healthz` there, and not on the public port. */
  metrics?: MetricsListen;
  /** Proxy hooks: a backend decides connects, subscribes, publishes and unknown methods (docs/realtime.md, "Proxy hooks"). */
  proxy?: ProxyOptions;
  /** Do not log connections. */
  quiet: boolean;
  /** The server API under /api, when a key is configured. */
  api?: ServeApi;
  /** The `/game` arena: bot players and ticks per second. */
  game: ServeGame;
  /** The `/ticker` feed: quotes per second over all instruments (`--ticker-rate`). Default 2000. */
  tickerRate: number;
}

/** Ticks per second `--game-tick-rate` accepts. */
export const GAME_TICK_RATES = { min: 10, max: 60, default: 20 } as const;

/** Quotes per second `--ticker-rate` accepts (the feed ticks 20 times a second: a rate is rounded to a multiple of 20). */
export const TICKER_RATES = { min: 20, max: 20_000, default: 2000 } as const;

/** The `/game` arena's settings (game-server.ts). */
export interface ServeGame {
  /** Bot players (`--game-bots`). Default 0. */
  bots: number;
  /** Ticks per second (`--game-tick-rate`). Default 20. */
  tickRate: number;
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
  auth?: { jwt?: JwtOptions; anonymous?: boolean; guestSecret?: string };
  /** `Host` values served besides loopback names; true: any. */
  allowedHosts?: string[] | true;
  /** `Origin` values that may connect; true: any. */
  allowedOrigins?: string[] | true;
  websocket?: ServeWebSocketGuards;
  maxSockets?: number;
  maxSocketsPerIp?: number;
  maxStreamsPerConnection?: number;
  metricsPort?: number;
  metricsHost?: string;
  /** Proxy hooks: event URLs (absolute, or relative to `baseUrl`), `timeout`, `headers`, `maxAnswerBytes`, `maxSockets`. */
  proxy?: ProxyOptions;
  /** The server API: its key (or SWITCHBOARD_API_KEY) and body limit. */
  api?: { key?: string; maxBodySize?: number };
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
  'allowed-hosts'?: string;
  'allowed-origins'?: string;
  'max-sockets'?: string;
  'max-sockets-per-ip'?: string;
  'max-streams'?: string;
  'metrics-port'?: string;
  'metrics-host'?: string;
  'api-key'?: string;
  'game-bots'?: string;
  'game-tick-rate'?: string;
  'ticker-rate'?: string;
  quiet?: boolean;
}

const CONFIG_KEYS = [
  'port', 'host', 'redis', 'workers', 'tls', 'namespaces', 'limits', 'auth',
  'allowedHosts', 'allowedOrigins', 'websocket', 'maxSockets', 'maxSocketsPerIp', 'maxStreamsPerConnection', 'metricsPort', 'metricsHost', 'proxy', 'api',
] as const;
const PROXY_KEYS = ['baseUrl', 'connect', 'refresh', 'subscribe', 'publish', 'rpc', 'timeout', 'headers', 'requestHeaders', 'maxAnswerBytes', 'maxSockets'] as const;
const AUTH_KEYS = ['jwt', 'anonymous', 'guestSecret'] as const;
const WEBSOCKET_NUMBERS = ['handshakeTimeout', 'maxPendingHandshakes', 'maxConnectionsPerIp', 'maxPingsPerSecond', 'pingFloodTimeout', 'idleTimeout', 'maxFragments', 'closeTimeout'] as const;
const WEBSOCKET_KEYS = [...WEBSOCKET_NUMBERS, 'connectionLimitExempt'] as const;
/** Most sockets `maxSockets` and `maxSocketsPerIp` accept. */
const MAX_SOCKETS_LIMIT = 1_000_000;
const JWT_KEYS = ['secret', 'publicKey', 'jwks', 'algorithms', 'issuer', 'audience', 'clockTolerance'] as const;

/**
 * The namespaces of the demo apps. `metrics` keeps two minutes of samples of
 * every worker, so that a dashboard opened now draws its charts at once.
 * `notifications:#<user>` keeps a user's last 100 notifications for a day;
 * only that user may read it, only the server API publishes in it.
 */
export function demoNamespaces(workers: number): Record<string, NamespaceOptions> {
  return {
    chat: { history: { size: 100, ttl: 3_600_000 }, presence: true },
    typing: { publish: 'subscribers' },
    board: { history: { size: 10_000, ttl: 24 * 3_600_000 } },
    cursor: { presence: true },
    metrics: { history: { size: 120 * workers, ttl: 300_000 }, publish: false, publisherInfo: false },
    ticker: { conflation: { key: 'symbol', maxKeys: 5000 }, delta: true, publish: false, publisherInfo: false },
    game: { publish: false, publisherInfo: false },
    notifications: { personal: true, history: { size: 100, ttl: 24 * 3_600_000 }, publish: false, publisherInfo: false },
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
  checkType(path, 'auth.guestSecret', auth.guestSecret, 'string');
  if (isRecord(auth.jwt)) checkKeys(path, 'auth.jwt.', auth.jwt, JWT_KEYS);
  if (typeof auth.guestSecret === 'string' && auth.guestSecret.length < MIN_GUEST_SECRET_LENGTH) {
    throw configError(path, `"auth.guestSecret" must be at least ${MIN_GUEST_SECRET_LENGTH} characters (random, kept secret)`);
  }
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((entry) => typeof entry === 'string' && entry.trim() !== '');
}

function checkAllowList(path: string, key: string, value: unknown): void {
  if (value === undefined || value === true || isStringList(value)) return;
  throw configError(path, `"${key}" must be a list of strings, or true for any, got ${JSON.stringify(value)}`);
}

function checkWebSocket(path: string, websocket: unknown): void {
  checkType(path, 'websocket', websocket, 'object');
  if (!isRecord(websocket)) return;
  if ('allowedHosts' in websocket || 'allowedOrigins' in websocket) {
    throw configError(path, '"allowedHosts" and "allowedOrigins" go at the top level (they apply to the pages and the HTTP fallback too)');
  }
  checkKeys(path, 'websocket.', websocket, WEBSOCKET_KEYS);
  for (const key of WEBSOCKET_NUMBERS) {
    const value = websocket[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw configError(path, `"websocket.${key}" must be a number ≥ 0, got ${JSON.stringify(value)}`);
    }
  }
  if (websocket.handshakeTimeout !== undefined && !((websocket.handshakeTimeout as number) >= 100)) {
    throw configError(path, `"websocket.handshakeTimeout" must be at least 100 (ms), got ${JSON.stringify(websocket.handshakeTimeout)}`);
  }
  const exempt = websocket.connectionLimitExempt;
  if (exempt === undefined) return;
  if (!Array.isArray(exempt) || !exempt.every((entry) => typeof entry === 'string')) {
    throw configError(path, '"websocket.connectionLimitExempt" must be a list of addresses and subnets, e.g. ["127.0.0.1", "10.0.0.0/8"]');
  }
  try {
    exemptionFor(exempt);
  } catch (error) {
    throw configError(path, `"websocket.connectionLimitExempt": ${(error as Error).message}`);
  }
}

function checkProxy(path: string, proxy: unknown): void {
  checkType(path, 'proxy', proxy, 'object');
  if (!isRecord(proxy)) return;
  checkKeys(path, 'proxy.', proxy, PROXY_KEYS);
  try {
    resolveProxyOptions(proxy as ProxyOptions);
  } catch (error) {
    throw configError(path, (error as Error).message);
  }
}

function checkApi(path: string, api: unknown): void {
  checkType(path, 'api', api, 'object');
  if (!isRecord(api)) return;
  checkKeys(path, 'api.', api, ['key', 'maxBodySize']);
  checkType(path, 'api.key', api.key, 'string');
  const max = api.maxBodySize;
  if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 1)) {
    throw configError(path, `"api.maxBodySize" must be a whole number of bytes ≥ 1, got ${JSON.stringify(max)}`);
  }
}

/** The server API's settings: the key from --api-key, else the file's api.key, else $SWITCHBOARD_API_KEY; none: the API is off. */
function apiSettings(flags: ServeFlags, file: ServeConfigFile, env: NodeJS.ProcessEnv): ServeApi | undefined {
  const key = flags['api-key'] ?? file.api?.key ?? env[API_KEY_ENV];
  if (key === undefined || key === '') {
    if (file.api?.maxBodySize !== undefined) throw new UsageError(`api.maxBodySize is set but no API key is: give one with --api-key, api.key or ${API_KEY_ENV}`);
    return undefined;
  }
  if (key.length < MIN_API_KEY_LENGTH || /\s/.test(key)) {
    throw new UsageError(`the server API key must be at least ${MIN_API_KEY_LENGTH} characters without spaces (e.g. from "openssl rand -hex 24")`);
  }
  return file.api?.maxBodySize === undefined ? { key } : { key, maxBodySize: file.api.maxBodySize };
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
  checkType(path, 'maxSockets', value.maxSockets, 'number');
  checkType(path, 'maxSocketsPerIp', value.maxSocketsPerIp, 'number');
  checkType(path, 'maxStreamsPerConnection', value.maxStreamsPerConnection, 'number');
  checkType(path, 'metricsPort', value.metricsPort, 'number');
  checkType(path, 'metricsHost', value.metricsHost, 'string');
  checkTls(path, value.tls);
  checkApi(path, value.api);
  checkAuth(path, value.auth);
  checkAllowList(path, 'allowedHosts', value.allowedHosts);
  checkAllowList(path, 'allowedOrigins', value.allowedOrigins);
  checkWebSocket(path, value.websocket);
  checkProxy(path, value.proxy);
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
  if (!/^rediss?(\+sentinel)?:\/\/\S+$/.test(url)) {
    throw new UsageError(
      `--redis expects a URL like redis://127.0.0.1:6379 (a Redis Cluster: any node, or redis://host:port,host:port; Sentinel: redis+sentinel://host:26379,host:26379/mastername), got "${url}"`,
    );
  }
  try {
    parseRedisUrl(url);
  } catch (error) {
    throw new UsageError(`--redis: ${(error as Error).message}`);
  }
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

/** A comma-separated flag (`*` alone: any) over the config file's list (true: any). */
function allowList(flag: string | undefined, file: string[] | true | undefined, name: string): AllowList | undefined {
  if (flag !== undefined) {
    const entries = flag.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    if (entries.length === 0) throw new UsageError(`--${name} expects a comma-separated list (or * for any), got "${flag}"`);
    return entries.includes('*') ? 'any' : entries;
  }
  if (file === undefined) return undefined;
  return file === true ? 'any' : file;
}

function socketCount(name: string, flag: string | undefined, file: number | undefined, fallback: number): number {
  return parseInteger(name, flag ?? (file === undefined ? undefined : String(file)), fallback, 0, MAX_SOCKETS_LIMIT);
}

/** `--max-streams` / `maxStreamsPerConnection`: 1 to 2^31 - 1 (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS), default 100. */
function streamCount(flag: string | undefined, file: number | undefined): number {
  return parseInteger('max-streams', flag ?? (file === undefined ? undefined : String(file)), DEFAULT_MAX_STREAMS_PER_CONNECTION, 1, 2 ** 31 - 1);
}

function metricsListen(flags: ServeFlags, file: ServeConfigFile): MetricsListen | undefined {
  const text = flags['metrics-port'] ?? (file.metricsPort === undefined ? undefined : String(file.metricsPort));
  if (text === undefined) {
    if (flags['metrics-host'] !== undefined) throw new UsageError('--metrics-host needs --metrics-port');
    return undefined;
  }
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65535) throw new UsageError(`--metrics-port expects 0-65535, got "${text}"`);
  return { port, host: flags['metrics-host'] ?? file.metricsHost ?? '127.0.0.1' };
}

/**
 * Settings from the flags over the config file over the defaults (port:
 * `$PORT`, else 8080; host 127.0.0.1). Throws `UsageError` for `--workers`
 * above 1 without Redis: separate processes share no memory, so only a
 * shared broker lets their clients see each other.
 */
export function resolveSettings(flags: ServeFlags, file: ServeConfigFile = {}, env: NodeJS.ProcessEnv = process.env): ServeSettings {
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
    // A JWT turns guests off unless the file lets them in explicitly.
    auth: { anonymous: file.auth?.anonymous ?? file.auth?.jwt === undefined },
    websocket: { ...file.websocket },
    maxSockets: socketCount('max-sockets', flags['max-sockets'], file.maxSockets, DEFAULT_MAX_SOCKETS),
    maxSocketsPerIp: socketCount('max-sockets-per-ip', flags['max-sockets-per-ip'], file.maxSocketsPerIp, DEFAULT_MAX_SOCKETS_PER_IP),
    maxStreamsPerConnection: streamCount(flags['max-streams'], file.maxStreamsPerConnection),
    quiet: flags.quiet ?? false,
    game: {
      bots: parseInteger('game-bots', flags['game-bots'], 0, 0, MAX_GAME_BOTS),
      tickRate: parseInteger('game-tick-rate', flags['game-tick-rate'], GAME_TICK_RATES.default, GAME_TICK_RATES.min, GAME_TICK_RATES.max),
    },
    tickerRate: parseInteger('ticker-rate', flags['ticker-rate'], TICKER_RATES.default, TICKER_RATES.min, TICKER_RATES.max),
  };
  const allowedHosts = allowList(flags['allowed-hosts'], file.allowedHosts, 'allowed-hosts');
  if (allowedHosts !== undefined) settings.allowedHosts = allowedHosts;
  const allowedOrigins = allowList(flags['allowed-origins'], file.allowedOrigins, 'allowed-origins');
  if (allowedOrigins !== undefined) settings.allowedOrigins = allowedOrigins;
  const metrics = metricsListen(flags, file);
  if (metrics !== undefined) settings.metrics = metrics;
  if (file.auth?.guestSecret !== undefined) settings.auth.guestSecret = file.auth.guestSecret;
  if (redis !== undefined) settings.redis = checkRedisUrl(redis);
  const tls = tlsFiles(flags, file);
  if (tls !== undefined) settings.tls = tls;
  if (file.limits !== undefined) settings.limits = file.limits;
  const api = apiSettings(flags, file, env);
  if (api !== undefined) settings.api = api;
  if (file.auth?.jwt !== undefined) settings.auth.jwt = file.auth.jwt;
  if (file.proxy !== undefined) settings.proxy = file.proxy;
  if (!settings.auth.anonymous && settings.auth.jwt === undefined && settings.proxy?.connect === undefined) {
    throw new UsageError('auth.anonymous is false but no auth.jwt is configured: nobody could connect (add "jwt": {"secret": "…"})');
  }
  return settings;
}
