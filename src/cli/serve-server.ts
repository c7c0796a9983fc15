/**
 * One process of `switchboard serve`: an HTTP(S) server with the demo apps
 * (`/`, `/chat`, `/dashboard`, `/whiteboard`, `/ticker`, `/game`, `/notifications`, and
 * `/admin` when the server API has a key), the browser SDK
 * (`/switchboard-sdk.js`), `/metrics`, `/healthz` (or those two on a
 * separate listener, `metricsPort`), and the real-time server on `/rt` (its
 * HTTP fallback under `/rt/http`), with the broker in memory or in Redis.
 * The process dispatches every request and upgrade itself, after the
 * `Host` check (serve-http.ts).
 */
import { GameServer } from './game-server.js';
import { GameForwarder, GameOwnerRelay, GameRelayBus } from './game-relay.js';
import { TickerFeed } from './ticker-feed.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HostParts } from '../protocol/headers.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from '../node/server.js';
import { Http2Attachment, isHttp2Server, responseFields, type Http2Connections } from '../node/http2-server.js';
import type { Broker } from '../realtime/broker/broker.js';
import { MemoryBroker } from '../realtime/broker/memory-broker.js';
import { RedisBroker } from '../realtime/broker/redis-broker.js';
import { RpcError } from '../realtime/server/errors.js';
import type { AuthenticateContext, AuthorizeContext, AuthorizeDecision, AuthOutcome, WebSocketGuardOptions } from '../realtime/server/options.js';
import { createProxyHooks, type ProxyHooks } from '../realtime/server/proxy/hooks.js';
import { createRealtimeServer, type RealtimeServer } from '../realtime/server/server.js';
import { DEFAULT_API_PATH, type ApiRequestHandler } from '../realtime/server/api-http.js';
import type { Session } from '../realtime/server/session.js';
import { UsageError } from './args.js';
import { BOARD_META_OPTIONS, registerBoardMethods } from './apps/board.js';
import { DEMO_SCHEMAS } from './apps/schemas.js';
import { loadSite, notFoundPage, SECURITY_HEADERS, type Asset } from './apps/site.js';
import { BOARD_META_NAMESPACE, METRICS_CHANNEL, type DemoApi, type DemoConnectData, type DemoUserInfo } from './apps/web/api.js';
import type { ServeSettings } from './serve-config.js';
import { displayName, GUEST_PREFIX, GuestIdentities, normalizeName } from './serve-guests.js';
import {
  createHardenedServer,
  exemptionFor,
  hostCheckFor,
  hostVerdict,
  limitSockets,
  METRICS_MAX_SOCKETS,
  originCheckFor,
  wsHostCheck,
} from './serve-http.js';
import { ServerMetrics } from './serve-metrics.js';
import { createHardenedHttp2Server } from './serve-http2.js';

/** The path of the real-time endpoint. */
export const REALTIME_PATH = '/rt';

/** A running `switchboard serve` process. */
export interface RunningServe {
  /** The port listened on. */
  port: number;
  /** The port of the metrics listener, when there is one. */
  metricsPort?: number;
  /** Stops: clients are told to reconnect elsewhere (4006), then the HTTP server and the broker close. */
  close(): Promise<void>;
}

/** How one process runs. */
export interface ServeProcessOptions {
  /** 1 … N under `--workers N`, else 1. */
  worker: number;
  log(line: string): void;
  /** Signs guest tokens when the settings have no `auth.guestSecret` (the primary shares one with its workers); else random. */
  guestSecret?: string;
}

/** The connect result's `data` of a guest: its info, its process, and the token to send back as `id` next time. */
export interface GuestConnectData extends DemoConnectData {
  id: string;
}

/** Colours given to users, picked by a hash of the user id. */
const USER_COLORS = ['#0b57d0', '#b3261e', '#137333', '#8e24aa', '#e8710a', '#00838f', '#c2185b', '#5f6368', '#3949ab', '#6d4c41'];

/** A stable colour for a user id. */
export function colorOf(user: string): string {
  const digest = createHash('sha1').update(user).digest();
  return USER_COLORS[digest[0]! % USER_COLORS.length]!;
}

/** A display name without its discriminator (serve-guests.ts): normalised, at most 24 characters; `fallback` when empty. */
export const cleanName = normalizeName;

function field(data: unknown, name: string): unknown {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[name] : undefined;
}

/** A guest: a server-assigned id (the same one when `id` is a token this server issued), the nickname of the connect data. */
function guestOutcome(data: unknown, worker: number, guests: GuestIdentities): AuthOutcome {
  const { user, token } = guests.identify(field(data, 'id'));
  const outcome = outcomeFor(user, displayName(field(data, 'name'), user, 'guest'), worker);
  outcome.data = { ...(outcome.data as DemoConnectData), id: token } satisfies GuestConnectData;
  return outcome;
}

function outcomeFor(user: string, name: string, worker: number): AuthOutcome {
  const info: DemoUserInfo = { name, color: colorOf(user) };
  const data: DemoConnectData = { ...info, worker };
  return { user, info, data };
}

/**
 * The authenticate hook: a verified JWT's `sub` (named by its `name` claim),
 * else — when guests are allowed — a guest named by its connect data.
 * Every display name ends with the discriminator of its user id.
 */
export function demoAuthenticate(anonymous: boolean, worker: number, guests = new GuestIdentities()): (context: AuthenticateContext) => AuthOutcome | null {
  return ({ claims, token, data }) => {
    if (claims !== undefined) {
      const user = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null;
      if (user === null) throw new RpcError('unauthorized', 'the token has no "sub" claim');
      const outcome = outcomeFor(user, displayName(claims['name'], user, 'user'), worker);
      if (typeof claims.exp === 'number') outcome.expires = claims.exp * 1000;
      return outcome;
    }
    if (token === undefined && anonymous) return guestOutcome(data, worker, guests);
    return null;
  };
}

/**
 * With the metrics on their own listener they are private: guests may not
 * read `metrics:*` (subscribe, history, presence); signed-in (JWT) users may.
 */
export function metricsAuthorize(metricsPrivate: boolean): ((context: AuthorizeContext<DemoApi>) => boolean) | undefined {
  if (!metricsPrivate) return undefined;
  const namespace = `${METRICS_CHANNEL.split(':')[0]}:`;
  return ({ session, channel }) => !(channel.startsWith(namespace) && session.user.startsWith(GUEST_PREFIX));
}

type DemoAuthorize = (context: AuthorizeContext<DemoApi>) => AuthorizeDecision | Promise<AuthorizeDecision>;

/** The metrics rule first, then the proxy backend (which may replace a publication's data). */
function bothAuthorize(first: DemoAuthorize | undefined, second: DemoAuthorize | undefined): DemoAuthorize | undefined {
  if (first === undefined || second === undefined) return first ?? second;
  return async (context) => ((await first(context)) === false ? false : second(context));
}

/** The proxy hooks of the settings; options the library refuses are a usage error. */
function createProxy(settings: ServeSettings): ProxyHooks<DemoApi> | null {
  if (settings.proxy === undefined) return null;
  try {
    return createProxyHooks<DemoApi>(settings.proxy);
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(`invalid configuration: ${error.message}`);
    throw error;
  }
}

function createBroker(settings: ServeSettings): Broker {
  return settings.redis === undefined ? new MemoryBroker() : new RedisBroker({ url: settings.redis });
}

function handshakeTimeoutOf(settings: ServeSettings): number {
  return settings.websocket.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
}

/** The public server: HTTP, or with TLS h2 and HTTP/1.1 on one port (serve-http2.ts), whose h2 connections shutdown closes. */
interface PublicServer {
  http: HttpServer | HttpsServer | Http2SecureServer;
  h2: Http2Connections | null;
}

function publicServer(tls: { cert: Buffer; key: Buffer } | undefined, handshakeTimeout: number, maxStreams: number): PublicServer {
  if (tls === undefined) return { http: createHardenedServer(undefined, handshakeTimeout), h2: null };
  const { server, connections } = createHardenedHttp2Server(tls, handshakeTimeout, maxStreams);
  return { http: server, h2: connections };
}

async function createHttp(settings: ServeSettings): Promise<PublicServer> {
  const tls = settings.tls === undefined ? undefined : await Promise.all([settings.tls.cert, settings.tls.key].map(readTlsFile));
  const created = publicServer(tls === undefined ? undefined : { cert: tls[0]!, key: tls[1]! }, handshakeTimeoutOf(settings), settings.maxStreamsPerConnection);
  limitSockets(created.http, { maxSockets: settings.maxSockets, maxSocketsPerIp: settings.maxSocketsPerIp, exempt: exemptionFor(settings.websocket.connectionLimitExempt) });
  return created;
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

/** Where the public port's `Host` and `Origin` checks come from. */
interface Gate {
  hostCheck: ((host: HostParts) => boolean) | undefined;
}

/** The WebSocket guards of the settings, with serve's `Host` check and address exemption. */
function webSocketGuards(settings: ServeSettings, gate: Gate): WebSocketGuardOptions {
  const { connectionLimitExempt, ...numbers } = settings.websocket;
  const guards: WebSocketGuardOptions = { ...numbers, connectionLimitExempt: exemptionFor(connectionLimitExempt) };
  const allowedHosts = wsHostCheck(gate.hostCheck);
  if (allowedHosts !== undefined) guards.allowedHosts = allowedHosts;
  return guards;
}

/** The real-time server for the settings (upgrades and fallback requests are handed to it); a namespace or limit the server refuses is a usage error. */
function createRealtime(settings: ServeSettings, gate: Gate, worker: number, guests: GuestIdentities, proxy: ProxyHooks<DemoApi> | null): RealtimeServer<DemoApi> {
  const authenticate = proxy?.authenticate ?? demoAuthenticate(settings.auth.anonymous, worker, guests);
  const auth = { anonymous: false, authenticate, ...(settings.auth.jwt && { jwt: settings.auth.jwt }) };
  const broker = createBroker(settings);
  try {
    return createRealtimeServer<DemoApi>({
      noServer: true,
      path: REALTIME_PATH,
      namespaces: demoNamespacesWithMeta(settings),
      schemas: DEMO_SCHEMAS,
      limits: settings.limits,
      auth,
      broker,
      websocket: webSocketGuards(settings, gate),
      allowedOrigins: originCheckFor(settings.allowedOrigins, gate.hostCheck),
      authorize: bothAuthorize(metricsAuthorize(settings.metrics !== undefined), proxy?.authorize),
      fallbackMethod: proxy?.fallbackMethod,
      nodeName: `${hostname()} worker ${worker}`,
    });
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
  res.writeHead(status, responseFields(res, { ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), ...headers }));
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

/** Without a key the server API is off: its paths answer 404 and say how to turn it on. */
function apiOff(req: IncomingMessage, res: ServerResponse): boolean {
  if (!(req.url ?? '/').startsWith(`${DEFAULT_API_PATH}/`)) return false;
  const body = { error: { code: 'not_found', message: 'the server API is off: start switchboard serve with --api-key (or api.key, SWITCHBOARD_API_KEY)' } };
  send(res, 404, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, { 'Cache-Control': 'no-store' });
  req.resume();
  return true;
}

/** What `/healthz` answers: the public one without the pid or the load. */
type Health = (detailed: boolean) => { status: number; body: object };

/** `/healthz` and `/metrics`; false for other paths. */
function serveOps(path: string, res: ServerResponse, health: Health, metrics: ServerMetrics, detailed: boolean): boolean {
  if (path === '/healthz') {
    const { status, body } = health(detailed);
    send(res, status, 'application/json', `${JSON.stringify(body)}\n`, { 'Cache-Control': 'no-store' });
    return true;
  }
  if (path !== '/metrics') return false;
  metrics.prometheus().then(
    ({ contentType, body }) => send(res, 200, contentType, body, { 'Cache-Control': 'no-store' }),
    (error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${(error as Error).message}\n`),
  );
  return true;
}

/** 400 for a missing, repeated or malformed `Host`, 421 for one not served (DNS rebinding). */
function refuseHost(res: ServerResponse, verdict: 'invalid' | 'forbidden'): void {
  if (verdict === 'invalid') send(res, 400, 'text/plain; charset=utf-8', 'Bad Request: missing or malformed Host header.\n', { Connection: 'close' });
  else send(res, 421, 'text/plain; charset=utf-8', 'Misdirected Request: this server does not serve that host name (see allowedHosts).\n', { Connection: 'close' });
}

function onlyGetAndHead(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  send(res, 405, 'text/plain; charset=utf-8', 'Only GET and HEAD are served here.\n', { Allow: 'GET, HEAD' });
  return false;
}

/**
 * The public port's requests: the `Host` check, then the real-time
 * server's HTTP fallback, then pages and assets, health and metrics (unless
 * they have their own listener), and a hint for plain GETs of the real-time path.
 */
function requestHandler(
  site: ReadonlyMap<string, Asset>,
  gate: Gate,
  rt: RealtimeServer<DemoApi>,
  ops: { health: Health; metrics: ServerMetrics } | null,
  api: ApiRequestHandler | null,
) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const verdict = hostVerdict(gate.hostCheck, req);
    if (verdict !== 'ok') return refuseHost(res, verdict);
    if (api !== null ? api(req, res) : apiOff(req, res)) return;
    if (rt.handleRequest(req, res)) return;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!onlyGetAndHead(req, res)) return;
    const asset = site.get(path);
    if (asset !== undefined) return sendAsset(req, res, asset);
    if (ops !== null && serveOps(path, res, ops.health, ops.metrics, false)) return;
    if (path === REALTIME_PATH) {
      send(res, 426, 'text/plain; charset=utf-8', 'This is the real-time WebSocket endpoint (docs/protocol.md): connect with the SDK.\n', { Upgrade: 'websocket' });
      return;
    }
    send(res, 404, 'text/html; charset=utf-8', notFoundPage(path));
  };
}

/** The metrics listener's requests: `/metrics` and `/healthz` (with the pid and the load), after its own `Host` check. */
function opsHandler(hostCheck: Gate['hostCheck'], health: Health, metrics: ServerMetrics) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const verdict = hostVerdict(hostCheck, req);
    if (verdict !== 'ok') return refuseHost(res, verdict);
    if (!onlyGetAndHead(req, res)) return;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!serveOps(path, res, health, metrics, true)) send(res, 404, 'text/plain; charset=utf-8', 'Only /metrics and /healthz are served here.\n');
  };
}

function listen(http: HttpServer | HttpsServer | Http2SecureServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve((http.address() as AddressInfo).port);
    });
  });
}

function closeHttp(http: HttpServer | HttpsServer | Http2SecureServer, h2: Http2Connections | null = null): Promise<void> {
  return new Promise((resolve) => {
    http.close(() => resolve());
    if ('closeAllConnections' in http) http.closeAllConnections();
    h2?.destroyAll();
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

/** The metrics listener: plain HTTP, the same timeouts, a few sockets, loopback `Host` names when bound to loopback. */
async function startMetricsListener(settings: ServeSettings, health: Health, metrics: ServerMetrics): Promise<{ http: HttpServer | HttpsServer; port: number } | null> {
  if (settings.metrics === undefined) return null;
  const http = createHardenedServer(undefined, handshakeTimeoutOf(settings));
  limitSockets(http, { maxSockets: METRICS_MAX_SOCKETS, maxSocketsPerIp: 0, exempt: () => true });
  http.on('request', opsHandler(hostCheckFor(settings.allowedHosts, settings.metrics.host), health, metrics));
  const port = await listen(http, settings.metrics.port, settings.metrics.host);
  return { http, port };
}

/**
 * Hands upgrades, and over h2 extended CONNECTs (RFC 8441), to the real-time
 * server (its WebSocket guards check `Host` or `:authority`, `Origin`, the
 * path and the limits).
 */
function dispatchUpgrades(http: HttpServer | HttpsServer | Http2SecureServer, rt: RealtimeServer<DemoApi>): void {
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => rt.handleUpgrade(req, socket, head));
  if (isHttp2Server(http)) new Http2Attachment(http, (stream, headers, rawHeaders) => rt.handleStream(stream, headers, rawHeaders), false);
}

/**
 * The `/game` arena: in a single process, an arena of its own. Under
 * `--workers N` one arena for the cluster: worker 1 runs it (ticking while
 * any worker has a subscriber, with the bots), and the other workers forward
 * their connections' calls to it over the relay of a second Redis broker,
 * the game's own (game-relay.ts).
 */
async function startGame(rt: RealtimeServer<DemoApi>, settings: ServeSettings, options: ServeProcessOptions): Promise<{ stop(): Promise<void> }> {
  const onError = (error: Error): void => options.log(`game: ${error.message}`);
  if (settings.workers <= 1 || settings.redis === undefined) {
    const game = new GameServer(rt, { ...settings.game, onError });
    game.start();
    return { stop: async () => game.stop() };
  }
  const bus = new GameRelayBus(new RedisBroker({ url: settings.redis }));
  const owner = options.worker === 1;
  const game = owner ? new GameServer(rt, { ...settings.game, cluster: true, onError }) : null;
  const forwarder = owner ? null : new GameForwarder(rt, bus, { worker: options.worker, onError });
  try {
    await bus.start();
    if (game !== null) await new GameOwnerRelay(bus, game, onError).start();
    await forwarder?.start();
  } catch (error) {
    // The calls answer `unavailable` (the forwarder finds nobody, or no bus); the rest of the server works.
    onError(new Error(`the relay to the arena's worker is down: ${(error as Error).message}`));
  }
  game?.start();
  return {
    async stop() {
      game?.stop();
      forwarder?.stop();
      await bus.close().catch(() => {});
    },
  };
}

/** Starts one serve process; resolves once it listens. */
export async function startServe(settings: ServeSettings, options: ServeProcessOptions): Promise<RunningServe> {
  const site = await loadSite({ admin: settings.api !== undefined });
  const { http, h2 } = await createHttp(settings);
  const gate: Gate = { hostCheck: hostCheckFor(settings.allowedHosts, settings.host) };
  const guests = new GuestIdentities(settings.auth.guestSecret ?? options.guestSecret);
  const proxy = createProxy(settings);
  const rt = createRealtime(settings, gate, options.worker, guests, proxy);
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
  const broker = settings.redis === undefined ? 'memory' : 'redis';
  const health: Health = (detailed) => {
    const body: Record<string, unknown> = { status: brokerUp ? 'ok' : 'broker unavailable', worker: options.worker, broker };
    if (detailed) Object.assign(body, { pid: process.pid, connections: rt.sessions.size });
    return { status: brokerUp ? 200 : 503, body };
  };
  const ops = settings.metrics === undefined ? { health, metrics } : null;
  const api = settings.api === undefined ? null : rt.api({ key: settings.api.key, ...(settings.api.maxBodySize !== undefined && { maxBodySize: settings.api.maxBodySize }) });
  http.on('request', requestHandler(site, gate, rt, ops, api));
  dispatchUpgrades(http, rt);
  await brokerReady(rt, settings);
  let port: number;
  let metricsListener: { http: HttpServer | HttpsServer; port: number } | null = null;
  try {
    port = await listen(http, settings.port, settings.host);
    metricsListener = await startMetricsListener(settings, health, metrics);
  } catch (error) {
    await rt.close().catch(() => {});
    if (http.listening) await closeHttp(http, h2);
    throw error;
  }
  metrics.start();
  // One feed for the cluster: worker 1 runs it while any worker has a subscriber (ticker-feed.ts).
  const ticker = new TickerFeed(rt, { rate: settings.tickerRate, worker: options.worker, workers: settings.workers, onError: (error) => options.log(`ticker: ${error.message}`) });
  ticker.start();
  const game = await startGame(rt, settings, options);
  const running: RunningServe = {
    port,
    async close() {
      metrics.stop();
      ticker.stop();
      await game.stop();
      await rt.close();
      proxy?.close();
      await Promise.all([closeHttp(http, h2), metricsListener === null ? undefined : closeHttp(metricsListener.http)]);
    },
  };
  if (metricsListener !== null) running.metricsPort = metricsListener.port;
  return running;
}
