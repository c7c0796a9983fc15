/**
 * `switchboard serve`: the real-time server with its demo apps (chat, live
 * dashboard, whiteboard) on one HTTP(S) port — alone, or as N worker
 * processes behind that port (node:cluster) that share a Redis broker.
 */
import cluster from 'node:cluster';
import { parseCommandLine } from './args.js';
import { readConfigFile, resolveSettings, type ServeFlags, type ServeSettings } from './serve-config.js';
import { runPrimary, runWorker, WORKER_ENV } from './serve-cluster.js';
import { REALTIME_PATH, startServe, type RunningServe } from './serve-server.js';

export const SERVE_HELP = `Usage: switchboard serve [options]

The real-time server with three demo apps on one port: a chat (rooms,
presence, typing, recovery), a live dashboard of the server's own metrics,
and a collaborative whiteboard. Open the printed address in a browser.

Endpoints: / (the apps)  /rt (real-time WebSocket)  /switchboard-sdk.js
           /metrics (Prometheus)  /healthz

Options:
  --port N              port to listen on (default $PORT, else 8080; 0 picks a free one)
  --host ADDR           address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --config FILE         JSON settings: port, host, redis, workers, tls, namespaces,
                        limits, auth ({"jwt": {"secret": "…"}, "anonymous": true});
                        command-line options win over the file
  --redis URL           keep channels and presence in Redis (redis://host:6379)
                        instead of this process's memory
  --workers N           run N processes behind the one port (needs --redis)
  --tls-cert FILE       serve HTTPS and wss:// with this certificate (PEM) ...
  --tls-key FILE        ... and this private key (PEM)
  --quiet               do not log connections
  -h, --help            show this help

Examples:
  switchboard serve --port 8080
  switchboard serve --redis redis://127.0.0.1:6379 --workers 4 --host 0.0.0.0
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  config: { type: 'string' },
  redis: { type: 'string' },
  workers: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The address to show people: a wildcard host is reached through localhost. */
function browsableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** The lines printed once the server is up (the first one is what scripts look for). */
export function startupBanner(settings: ServeSettings, port: number): string {
  const scheme = settings.tls === undefined ? 'http' : 'https';
  const base = `${scheme}://${browsableHost(settings.host)}:${port}`;
  const ws = `${settings.tls === undefined ? 'ws' : 'wss'}://${browsableHost(settings.host)}:${port}${REALTIME_PATH}`;
  const broker = settings.redis === undefined ? 'in memory (this process)' : `Redis at ${settings.redis}`;
  const workers = settings.workers > 1 ? `, ${settings.workers} workers` : '';
  return [
    `switchboard serve listening on ${base}/ — open it in a browser`,
    `  chat        ${base}/chat`,
    `  dashboard   ${base}/dashboard`,
    `  whiteboard  ${base}/whiteboard`,
    `  real-time   ${ws}   metrics ${base}/metrics   health ${base}/healthz`,
    `  broker: ${broker}${workers}`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

/** Stops on SIGINT/SIGTERM: clients are told to reconnect, then the process exits 0. */
function stopOnSignals(server: RunningServe, log: (line: string) => void): void {
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
  const log = (line: string): void => console.log(line);
  if (cluster.isWorker && process.env[WORKER_ENV] !== undefined) return runWorker(settings);
  if (settings.workers > 1) {
    const port = await runPrimary(settings, log);
    process.stdout.write(startupBanner(settings, port));
    return;
  }
  const server = await startServe(settings, { worker: 1, log });
  process.stdout.write(startupBanner(settings, server.port));
  stopOnSignals(server, log);
}
