/**
 * One process of `switchboard serve`: an HTTP(S) server with the demo apps
 * (`/`, `/chat`, `/dashboard`, `/whiteboard`), the browser SDK
 * (`/switchboard-sdk.js`), `/metrics`, `/healthz`, and the real-time server
 * on `/rt`, with the broker in memory or in Redis.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../realtime/broker/broker.js';
import { MemoryBroker } from '../realtime/broker/memory-broker.js';
import { RedisBroker } from '../realtime/broker/redis-broker.js';
import { RpcError } from '../realtime/server/errors.js';
import type { AuthenticateContext, AuthOutcome } from '../realtime/server/options.js';
import { createRealtimeServer, type RealtimeServer } from '../realtime/server/server.js';
import type { Session } from '../realtime/server/session.js';
import { UsageError } from './args.js';
import { BOARD_META_OPTIONS, registerBoardMethods } from './apps/board.js';
import { DEMO_SCHEMAS } from './apps/schemas.js';
import { loadSite, notFoundPage, SECURITY_HEADERS, type Asset } from './apps/site.js';
import { BOARD_META_NAMESPACE, type DemoApi, type DemoConnectData, type DemoUserInfo } from './apps/web/api.js';
import type { ServeSettings } from './serve-config.js';
import { ServerMetrics } from './serve-metrics.js';

/** The path of the real-time endpoint. */
export const REALTIME_PATH = '/rt';

/** A running `switchboard serve` process. */
export interface RunningServe {
  /** The port listened on. */
  port: number;
  /** Stops: clients are told to reconnect elsewhere (4006), then the HTTP server and the broker close. */
  close(): Promise<void>;
}

/** How one process runs. */
export interface ServeProcessOptions {
  /** 1 … N under `--workers N`, else 1. */
  worker: number;
  log(line: string): void;
}

/** Colours given to users, picked by a hash of the user id. */
const USER_COLORS = ['#0b57d0', '#b3261e', '#137333', '#8e24aa', '#e8710a', '#00838f', '#c2185b', '#5f6368', '#3949ab', '#6d4c41'];
const MAX_NAME_LENGTH = 24;
const GUEST_ID = /^[A-Za-z0-9_-]{6,40}$/;

/** A stable colour for a user id. */
export function colorOf(user: string): string {
  const digest = createHash('sha1').update(user).digest();
  return USER_COLORS[digest[0]! % USER_COLORS.length]!;
}

/** A display name: trimmed, without control characters, at most 24 characters; `fallback` when empty. */
export function cleanName(value: unknown, fallback: string): string {
  const text = typeof value === 'string' ? value.replace(/[\u0000-\u001f\u007f]/g, '').trim() : '';
  return text === '' ? fallback : [...text].slice(0, MAX_NAME_LENGTH).join('');
}

function field(data: unknown, name: string): unknown {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
}

/** A guest: the nickname and browser id of the connect data (a random id without one). */
function guestOutcome(data: unknown, worker: number): AuthOutcome {
  const id = field(data, 'id');
  const user = `guest-${typeof id === 'string' && GUEST_ID.test(id) ? id : Math.random().toString(36).slice(2, 12)}`;
  return outcomeFor(user, cleanName(field(data, 'name'), 'guest'), worker);
}

function outcomeFor(user: string, name: string, worker: number): AuthOutcome {
  const info: DemoUserInfo = { name, color: colorOf(user) };
  const data: DemoConnectData = { ...info, worker };
  return { user, info, data };
}

/**
 * The authenticate hook: a verified JWT's `sub` (named by its `name` claim),
 * else — when guests are allowed — the nickname sent as connect data.
 */
export function demoAuthenticate(anonymous: boolean, worker: number): (context: AuthenticateContext) => AuthOutcome | null {
  return ({ claims, token, data }) => {
    if (claims !== undefined) {
      const user = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null;
      if (user === null) throw new RpcError('unauthorized', 'the token has no "sub" claim');
      const outcome = outcomeFor(user, cleanName(claims['name'], user), worker);
      if (typeof claims.exp === 'number') outcome.expires = claims.exp * 1000;
      return outcome;
    }
    if (token === undefined && anonymous) return guestOutcome(data, worker);
    return null;
  };
}

function createBroker(settings: ServeSettings): Broker {
  return settings.redis === undefined ? new MemoryBroker() : new RedisBroker({ url: settings.redis });
}

async function createHttp(settings: ServeSettings): Promise<HttpServer | HttpsServer> {
  if (settings.tls === undefined) return createHttpServer();
  const [cert, key] = await Promise.all([settings.tls.cert, settings.tls.key].map(readTlsFile));
  return createHttpsServer({ cert, key });
}

async function readTlsFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read the TLS file ${path}: ${(error as Error).message}`);
  }
}

/** The configured namespaces, and the boards' clear marks (server-published; a config file cannot replace them). */
function demoNamespacesWithMeta(settings: ServeSettings): ServeSettings['namespaces'] {
  return { ...settings.namespaces, [BOARD_META_NAMESPACE]: BOARD_META_OPTIONS };
}

/** The real-time server for the settings; a namespace or limit the server refuses is a usage error. */
function createRealtime(settings: ServeSettings, http: HttpServer | HttpsServer, worker: number): RealtimeServer<DemoApi> {
  const auth = { anonymous: false, authenticate: demoAuthenticate(settings.auth.anonymous, worker), ...(settings.auth.jwt && { jwt: settings.auth.jwt }) };
  const broker = createBroker(settings);
  try {
    return createRealtimeServer<DemoApi>({ server: http, path: REALTIME_PATH, namespaces: demoNamespacesWithMeta(settings), schemas: DEMO_SCHEMAS, limits: settings.limits, auth, broker });
  } catch (error) {
    void broker.close().catch(() => {});
    if (error instanceof TypeError) throw new UsageError(`invalid configuration: ${error.message}`);
    throw error;
  }
}

function sessionName(session: Session<DemoApi>): string {
  const name = (session.info as DemoUserInfo | undefined)?.name;
  return name === undefined ? session.user : `${name} (${session.user})`;
}

function logSessions(rt: RealtimeServer<DemoApi>, log: (line: string) => void): void {
  rt.on('connect', (session) => log(`connected ${sessionName(session)} ${session.id} from ${session.remoteAddress ?? '?'}`));
  rt.on('disconnect', (session, code, reason) => log(`disconnected ${sessionName(session)} ${session.id}: ${code}${reason === '' ? '' : ` ${reason}`}`));
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { ...SECURITY_HEADERS, ETag: asset.etag, 'Cache-Control': 'no-cache' });
    res.end();
    return;
  }
  send(res, 200, asset.contentType, asset.body, { ETag: asset.etag, 'Cache-Control': 'no-cache' });
}

/** The HTTP side: pages and assets, health, metrics, and a hint for plain GETs of the real-time path. */
function requestHandler(site: ReadonlyMap<string, Asset>, health: () => { status: number; body: object }, metrics: ServerMetrics) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'Only GET and HEAD are served here.\n', { Allow: 'GET, HEAD' });
      return;
    }
    const asset = site.get(path);
    if (asset !== undefined) return sendAsset(req, res, asset);
    if (path === '/healthz') {
      const { status, body } = health();
      return send(res, status, 'application/json', `${JSON.stringify(body)}\n`, { 'Cache-Control': 'no-store' });
    }
    if (path === '/metrics') {
      metrics.prometheus().then(
        ({ contentType, body }) => send(res, 200, contentType, body, { 'Cache-Control': 'no-store' }),
        (error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${(error as Error).message}\n`),
      );
      return;
    }
    if (path === REALTIME_PATH) {
      send(res, 426, 'text/plain; charset=utf-8', 'This is the real-time WebSocket endpoint (docs/protocol.md): connect with the SDK.\n', { Upgrade: 'websocket' });
      return;
    }
    send(res, 404, 'text/html; charset=utf-8', notFoundPage(path));
  };
}

function listen(http: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

function closeHttp(http: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    http.close(() => resolve());
    http.closeAllConnections();
  });
}

/** Waits for the broker: Redis that cannot be reached is a runtime failure that says what to check. */
async function brokerReady(rt: RealtimeServer<DemoApi>, settings: ServeSettings): Promise<void> {
  try {
    await rt.ready();
  } catch (error) {
    await rt.close().catch(() => {});
    const where = settings.redis === undefined ? 'the broker' : `Redis at ${settings.redis}`;
    throw new Error(`cannot start: ${where} is not reachable (${(error as Error).message}) — is redis-server running?`);
  }
}

/** Starts one serve process; resolves once it listens. */
export async function startServe(settings: ServeSettings, options: ServeProcessOptions): Promise<RunningServe> {
  const site = await loadSite();
  const http = await createHttp(settings);
  const rt = createRealtime(settings, http, options.worker);
  let brokerUp = true;
  rt.on('error', (error) => options.log(`error: ${error.message}`));
  registerBoardMethods(rt, settings.namespaces['board']?.history?.size ?? 0);
  const metrics = new ServerMetrics(rt, options.worker, (error) => options.log(`metrics: ${error.message}`));
  rt.on('broker', (state, error) => {
    brokerUp = state === 'up';
    metrics.brokerState(state);
    options.log(state === 'up' ? 'broker: up' : `broker: down${error === undefined ? '' : ` (${error.message})`}`);
  });
  if (!settings.quiet) logSessions(rt, options.log);
  const health = (): { status: number; body: object } => ({
    status: brokerUp ? 200 : 503,
    body: { status: brokerUp ? 'ok' : 'broker unavailable', worker: options.worker, pid: process.pid, connections: rt.sessions.size, broker: settings.redis === undefined ? 'memory' : 'redis' },
  });
  http.on('request', requestHandler(site, health, metrics));
  await brokerReady(rt, settings);
  let port: number;
  try {
    port = await listen(http, settings.port, settings.host);
  } catch (error) {
    await rt.close().catch(() => {});
    throw error;
  }
  metrics.start();
  return {
    port,
    async close() {
      metrics.stop();
      await rt.close();
      await closeHttp(http);
    },
  };
}
