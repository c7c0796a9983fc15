/**
 * `switchboard serve`: the real-time server with its demo apps (chat, live
 * dashboard, whiteboard) on one HTTP(S) port — alone, or as N worker
 * processes behind that port (node:cluster) that share a Redis broker.
 */
import cluster from 'node:cluster';
import { parseCommandLine } from './args.js';
import { PROXY_EVENTS, resolveProxyOptions } from '../realtime/server/proxy/options.js';
import { readConfigFile, resolveSettings, type ServeFlags, type ServeSettings } from './serve-config.js';
import { runPrimary, runWorker, WORKER_ENV } from './serve-cluster.js';
import { isLoopbackBind } from './serve-http.js';
import { createLog, escapeLogText, type LogFunction } from './serve-log.js';
import { REALTIME_PATH, startServe, type RunningServe } from './serve-server.js';

export const SERVE_HELP = `Usage: switchboard serve [options]

The real-time server with demo apps on one port: a chat (rooms, presence,
typing, recovery), a live dashboard of the server's own metrics, a
collaborative whiteboard, a trading feed (ticker), a multiplayer game,
notifications fed through the server API, and (with --api-key) an admin
page. Open the printed address in a browser.

Endpoints: / (the apps)  /rt (real-time WebSocket)  /rt/http (its HTTP fallback)
           /switchboard-sdk.js  /metrics (Prometheus)  /healthz
           (/metrics and /healthz on --metrics-port instead, when given)

Options:
  --port N              port to listen on (default $PORT, else 8080; 0 picks a free one)
  --host ADDR           address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --config FILE         JSON settings: port, host, redis, workers, tls, namespaces,
                        limits, auth ({"jwt": {"secret": "…"}, "anonymous": true,
                        "guestSecret": "…"}), allowedHosts, allowedOrigins,
                        websocket (the WebSocket guards), maxSockets,
                        maxSocketsPerIp, maxStreamsPerConnection, metricsPort,
                        metricsHost, api ({"key": "…", "maxBodySize": N});
                        command-line options win over the file
  --allowed-hosts LIST  Host names served, comma-separated (example.com,
                        .example.com, example.com:8443; * for any); loopback
                        names always. Default: bound to loopback, only
                        localhost, 127.0.0.1 and [::1]; otherwise any (warned)
  --allowed-origins LIST  Origins that may connect (https://example.com,…; * for
                        any). Default: origins whose host is served
  --max-sockets N       sockets open at once (default 10000; 0 = no limit)
  --max-sockets-per-ip N  sockets per client address (default 512; 0 = no limit;
                        loopback and private addresses exempt unless
                        websocket.connectionLimitExempt says otherwise)
  --metrics-port N      serve /metrics and /healthz on this port only; guests
                        then may not read metrics:server
  --metrics-host ADDR   address of the metrics port (default 127.0.0.1)
  --redis URL           keep channels and presence in Redis instead of this
                        process's memory: redis://host:6379 (one Redis, or any
                        node of a Redis Cluster), redis://h1:7000,h2:7000 (Cluster
                        seeds), redis+sentinel://h1:26379,h2:26379/mastername
                        (Sentinel); rediss:// for TLS
  --workers N           run N processes behind the one port (needs --redis)
  --tls-cert FILE       serve HTTPS and wss:// with this certificate (PEM) ...
  --tls-key FILE        ... and this private key (PEM); HTTP/2 and HTTP/1.1 share
                        the port, and over h2 a page's WebSockets (RFC 8441) and
                        fallback streams ride its own connection
  --max-streams N       streams one HTTP/2 connection may hold at once, WebSockets
                        included (default 100)
  --api-key KEY         serve the server API (POST /api/<method>, docs/server-api.md)
                        to callers that send this key (at least 16 characters);
                        also the config's api.key or $SWITCHBOARD_API_KEY
  --game-bots N         add N bot players to the game's arena (/game; 0-200,
                        default 0)
  --game-tick-rate N    the game's ticks per second (10-60, default 20)
  --ticker-rate N       the ticker's quotes per second over all its instruments
                        (20-20000, default 2000; in steps of 20: it ticks 20
                        times a second)
  --quiet               do not log connections
  -h, --help            show this help

Examples:
  switchboard serve --port 8080
  switchboard serve --redis redis://127.0.0.1:6379 --workers 4 --host 0.0.0.0 \\
    --allowed-hosts chat.example.com --metrics-port 9100
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  config: { type: 'string' },
  redis: { type: 'string' },
  workers: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'allowed-origins': { type: 'string' },
  'max-sockets': { type: 'string' },
  'max-sockets-per-ip': { type: 'string' },
  'max-streams': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'api-key': { type: 'string' },
  'game-bots': { type: 'string' },
  'game-tick-rate': { type: 'string' },
  'ticker-rate': { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The address to show people: a wildcard host is reached through localhost. */
function browsableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** The lines printed once the server is up, warnings included (the first one is what scripts look for). */
export function startupBanner(settings: ServeSettings, port: number, metricsPort?: number): string {
  const scheme = settings.tls === undefined ? 'http' : 'https';
  const base = `${scheme}://${browsableHost(settings.host)}:${port}`;
  const ws = `${settings.tls === undefined ? 'ws' : 'wss'}://${browsableHost(settings.host)}:${port}${REALTIME_PATH}`;
  const ops = settings.metrics === undefined || metricsPort === undefined ? base : `http://${browsableHost(settings.metrics.host)}:${metricsPort}`;
  const broker = settings.redis === undefined ? 'in memory (this process)' : `Redis at ${settings.redis}`;
  const workers = settings.workers > 1 ? `, ${settings.workers} workers` : '';
  return `${[
    `switchboard serve listening on ${base}/ — open it in a browser`,
    `  chat        ${base}/chat`,
    `  dashboard   ${base}/dashboard`,
    `  whiteboard  ${base}/whiteboard`,
    `  notifications ${base}/notifications`,
    `  real-time   ${ws}   metrics ${ops}/metrics   health ${ops}/healthz`,
    ...(settings.api === undefined ? [] : [`  server API  ${base}/api/<method>   (POST, X-API-Key header)`, `  admin       ${base}/admin`]),
    `  broker: ${broker}${workers}`,
    ...proxyLine(settings),
    ...startupWarnings(settings),
    'Press Ctrl-C to stop.',
  ]
    .map(escapeLogText)
    .join('\n')}\n`;
}

/** The proxy hooks' events and their backend URLs, when there are any. */
function proxyLine(settings: ServeSettings): string[] {
  if (settings.proxy === undefined) return [];
  const { urls } = resolveProxyOptions(settings.proxy);
  // Origin and path only: a URL's user and password stay out of the output.
  const events = PROXY_EVENTS.filter((event) => urls[event] !== undefined).map((event) => `${event} ${urls[event]!.origin}${urls[event]!.pathname}`);
  return [`  proxy: ${events.join(', ')}`];
}

/** What the settings leave open that someone reaching the port could use; one line each. */
export function startupWarnings(settings: ServeSettings): string[] {
  if (isLoopbackBind(settings.host)) return [];
  const warnings: string[] = [];
  if (settings.allowedHosts === undefined) {
    warnings.push(
      `warning: listening on ${settings.host} without allowedHosts: any Host name is served, which lets a web page reach this server through DNS rebinding; name yours with --allowed-hosts example.com (or * to accept any)`,
    );
  }
  if (settings.metrics === undefined) {
    warnings.push(`warning: /metrics and /healthz are served to anyone who reaches ${settings.host}; give them their own port with --metrics-port`);
  }
  return warnings;
}

/** Stops on SIGINT/SIGTERM: clients are told to reconnect, then the process exits 0. */
function stopOnSignals(server: RunningServe, log: LogFunction): void {
  const stop = (): void => {
    log('shutting down');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function settingsFrom(argv: string[]): Promise<ServeSettings | null> {
  const { values } = parseCommandLine(argv, OPTIONS);
  if (values.help) return null;
  const flags: ServeFlags = { ...values };
  const file = flags.config === undefined ? {} : await readConfigFile(flags.config);
  return resolveSettings(flags, file);
}

/** Runs the command; resolves once the server is up (it keeps running). */
export async function runServe(argv: string[]): Promise<void> {
  const settings = await settingsFrom(argv);
  if (settings === null) {
    process.stdout.write(SERVE_HELP);
    return;
  }
  const log = createLog();
  if (cluster.isWorker && process.env[WORKER_ENV] !== undefined) return runWorker(settings);
  if (settings.workers > 1) {
    const ports = await runPrimary(settings, log);
    process.stdout.write(startupBanner(settings, ports.port, ports.metricsPort));
    return;
  }
  const server = await startServe(settings, { worker: 1, log });
  process.stdout.write(startupBanner(settings, server.port, server.metricsPort));
  stopOnSignals(server, log);
}
