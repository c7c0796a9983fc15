// The peers of the interop tests: availability checks (`requirePeer`), the
// Debian Chromium launcher, the Python `websockets` server process, and the
// adapters that make each implementation a ClientPeer or a ServerPeer of the
// scenario matrix (scenarios.ts).
//
// Every implementation is loaded with a dynamic import inside its adapter, so
// a test file loads only the two sides it pairs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import {
  clientScenario,
  lowerCaseHeaders,
  PING_PAYLOAD,
  ReportBook,
  SERVER_PROTOCOLS,
  summarize,
  type ClientPeer,
  type ClientScenarioArgs,
  type HttpAnswer,
  type PeerOptions,
  type ServerPeer,
  type ServerReport,
  type WebSocketConstructorLike,
} from './scenarios.js';

// ------------------------------------------------------------------ availability

/** CI sets SWITCHBOARD_REQUIRE_PEERS=1: a missing peer is then a failure, not a skip. */
export const REQUIRE_PEERS = process.env.SWITCHBOARD_REQUIRE_PEERS === '1';

export interface PeerStatus {
  available: boolean;
  reason: string;
}

/**
 * Test options for the tests of a peer: `{}` when it is available; otherwise
 * `{ skip }` with a clear message (pass it to every test: a skipped suite
 * would not count its tests as skipped), and, when SWITCHBOARD_REQUIRE_PEERS=1,
 * a failing test that says which peer is missing and why.
 */
export function requirePeer(name: string, available: boolean, reason: string): PeerOptions {
  if (available) return {};
  const message = `interop peer ${name} is unavailable: ${reason}`;
  if (REQUIRE_PEERS) {
    it(`interop peer ${name} is available`, () => {
      assert.fail(`${message} (SWITCHBOARD_REQUIRE_PEERS=1, so a missing peer fails instead of skipping)`);
    });
    return { skip: `${message} (failed above: SWITCHBOARD_REQUIRE_PEERS=1)` };
  }
  return { skip: `${message} (set SWITCHBOARD_REQUIRE_PEERS=1 to make this a failure)` };
}

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Debian's interpreter, which has python3-websockets; NOT the first python3 on PATH. */
export const PYTHON_PATH = '/usr/bin/python3';
export const PYTHON_FIXTURE = fileURLToPath(new URL('./fixtures/python_server.py', import.meta.url));

/** An npm package of devDependencies (ws, undici, playwright-core) is installed. */
export function packageStatus(name: string): PeerStatus {
  try {
    createRequire(import.meta.url).resolve(name);
    return { available: true, reason: '' };
  } catch {
    return { available: false, reason: `the npm package ${name} is not installed (npm ci)` };
  }
}

export function chromiumStatus(): PeerStatus {
  if (!existsSync(CHROMIUM_PATH)) return { available: false, reason: `${CHROMIUM_PATH} not found (apt-get install chromium)` };
  return packageStatus('playwright-core');
}

export function pythonWebsocketsStatus(): PeerStatus {
  if (!existsSync(PYTHON_PATH)) return { available: false, reason: `${PYTHON_PATH} not found` };
  const probe = spawnSync(PYTHON_PATH, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8', timeout: 15_000 });
  if (probe.status !== 0) {
    return { available: false, reason: `${PYTHON_PATH} cannot import websockets (apt-get install python3-websockets): ${probe.stderr.trim().split('\n').pop() ?? ''}` };
  }
  const version = probe.stdout.trim();
  const major = Number(version.split('.')[0]);
  // The fixture uses the asyncio API of 10.x (websockets.serve, ws.path, close_code); 14 replaced it.
  if (!(major >= 10 && major < 14)) return { available: false, reason: `websockets ${version} found, the fixture is written for 10.x` };
  return { available: true, reason: '' };
}

// ------------------------------------------------------------------ Chromium

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Launches Debian's Chromium (never a Playwright-downloaded browser), with `extraArgs` after CHROMIUM_ARGS. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000 });
}

/** The browser's own WebSocket, one page per scenario. */
export function chromiumClient(browser: () => Browser): ClientPeer {
  return {
    name: 'Chromium',
    async run(args: ClientScenarioArgs) {
      const page = await browser().newPage();
      try {
        // The function runs from its source text. tsx compiles with esbuild's keepNames,
        // which wraps inner functions in __name(...): give the page a no-op one.
        const source = `(async () => {
          const __name = (target) => target;
          const clientScenario = ${clientScenario.toString()};
          return clientScenario(WebSocket, ${JSON.stringify(args)});
        })()`;
        return await page.evaluate(source);
      } finally {
        await page.close();
      }
    },
    async httpGet(httpUrl: string): Promise<HttpAnswer> {
      const page = await browser().newPage();
      try {
        const response = await page.goto(httpUrl);
        assert.ok(response, 'Chromium got no response');
        return { status: response.status(), headers: response.headers(), via: 'Chromium page.goto' };
      } finally {
        await page.close();
      }
    },
    // A page cannot choose Sec-WebSocket-Version: the wrong-version handshake goes through node:http.
  };
}

// ------------------------------------------------------------------ Node clients

export async function undiciClient(): Promise<ClientPeer> {
  const undici = await import('undici');
  return {
    name: 'undici',
    run: (args) => clientScenario(undici.WebSocket as unknown as WebSocketConstructorLike, args),
    async httpGet(httpUrl) {
      const response = await undici.fetch(httpUrl);
      await response.arrayBuffer();
      return { status: response.status, headers: Object.fromEntries(response.headers), via: 'undici fetch' };
    },
    async wrongVersion(httpUrl) {
      // undici's request() refuses an Upgrade header; its dispatcher sends upgrade requests.
      const url = new URL(httpUrl);
      const client = new undici.Client(url.origin);
      try {
        return await new Promise<HttpAnswer>((resolve, reject) => {
          client.dispatch(
            {
              path: url.pathname,
              method: 'GET',
              upgrade: 'websocket',
              headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '8' },
            },
            {
              onConnect() {},
              onError: reject,
              onUpgrade(statusCode, _headers, socket) {
                socket.destroy();
                reject(new Error(`the server upgraded (status ${statusCode}) a version 8 handshake`));
              },
              onHeaders(statusCode, rawHeaders) {
                const headers: Record<string, string> = {};
                const raw = (rawHeaders ?? []) as Array<Buffer | string>;
                for (let i = 0; i + 1 < raw.length; i += 2) headers[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
                resolve({ status: statusCode, headers, via: 'undici Client.dispatch' });
                return true;
              },
              onData: () => true,
              onComplete() {},
            },
          );
        });
      } finally {
        await client.destroy();
      }
    },
  };
}

export async function wsClient(): Promise<ClientPeer> {
  const { WebSocket } = await import('ws');
  return {
    name: 'ws',
    run: (args) => clientScenario(WebSocket as unknown as WebSocketConstructorLike, args),
    // ws has no plain HTTP client: the plain GET goes through node:http.
    async wrongVersion(httpUrl) {
      const socket = new WebSocket(httpUrl.replace(/^http/, 'ws'), { protocolVersion: 8 });
      return await new Promise<HttpAnswer>((resolve, reject) => {
        socket.on('unexpected-response', (_req, res: IncomingMessage) => {
          const answer = { status: res.statusCode ?? 0, headers: lowerCaseHeaders(res.headers), via: 'ws (protocolVersion: 8)' };
          res.resume();
          socket.terminate();
          resolve(answer);
        });
        socket.on('open', () => {
          socket.terminate();
          reject(new Error('the server accepted a version 8 handshake'));
        });
        socket.on('error', (error) => reject(error));
      });
    },
  };
}

export async function switchboardClient(): Promise<ClientPeer> {
  const { WebSocket } = await import('../../src/node/client-index.js');
  return {
    name: 'Switchboard client',
    run: (args) => clientScenario(WebSocket as unknown as WebSocketConstructorLike, args),
  };
}

// ------------------------------------------------------------------ servers

/** What a server adapter lets the shared behaviour do on one connection. */
interface ServerSide {
  send(data: Buffer | string, binary: boolean): void;
  ping(payload: Buffer): void;
  close(code: number, reason: string): void;
}

interface ServerHandlers {
  message(data: Buffer, binary: boolean): void;
  pong(payload: Buffer): void;
  error(error: Error): void;
  close(code: number, reason: string, wasClean: boolean | null): void;
}

/** The behaviours of SERVER_BEHAVIOURS (twin of fixtures/python_server.py), for in-process servers. */
function behave(requestUrl: string, protocol: string, side: ServerSide, book: ReportBook): ServerHandlers {
  const url = new URL(requestUrl, 'http://localhost');
  const report: ServerReport = {
    id: url.searchParams.get('id') ?? '',
    path: url.pathname,
    protocol,
    messages: [],
    pongs: [],
    close: null,
    error: null,
  };
  const handlers: ServerHandlers = {
    message(data, binary) {
      report.messages.push(summarize(data, binary));
      side.send(data, binary);
    },
    pong(payload) {
      report.pongs.push(payload.toString('utf8'));
      if (report.path === '/ping') side.send(`pong:${payload.toString('utf8')}`, false);
    },
    error(error) {
      report.error ??= `${error.name}: ${error.message}`;
    },
    close(code, reason, wasClean) {
      report.close = { code, reason, wasClean };
      book.add(report);
    },
  };
  if (report.path === '/server-close') side.close(4002, 'server bye');
  else if (report.path === '/ping') side.ping(Buffer.from(PING_PAYLOAD));
  return handlers;
}

export interface LocalServerPeer extends ServerPeer {
  readonly port: number;
  /** http://host:port, for the HTTP checks. */
  readonly httpUrl: string;
}

/** Switchboard's WebSocketServer on a free port of 127.0.0.1. */
export async function startSwitchboardServer(): Promise<LocalServerPeer> {
  const { WebSocketServer } = await import('../../src/node/server-index.js');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', subprotocols: SERVER_PROTOCOLS, heartbeatInterval: 0 });
  const book = new ReportBook();
  wss.on('connection', (ws, req) => {
    const on = behave(req.url ?? '/', ws.protocol, {
      send: (data, binary) => void ws.send(data, { binary }),
      ping: (payload) => ws.ping(payload),
      close: (code, reason) => ws.close(code, reason),
    }, book);
    ws.on('message', (data: Buffer, binary: boolean) => on.message(data, binary));
    ws.on('pong', (payload: Buffer) => on.pong(payload));
    ws.on('error', (error: Error) => on.error(error));
    ws.on('close', (code: number, reason: string, wasClean: boolean) => on.close(code, reason, wasClean));
  });
  await wss.ready();
  const port = wss.port;
  return {
    name: 'Switchboard server',
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    report: (id, timeoutMs) => book.wait(id, timeoutMs),
    close: () => wss.close({ timeout: 1000 }),
  };
}

/** ws's WebSocketServer on a free port of 127.0.0.1. */
export async function startWsServer(): Promise<LocalServerPeer> {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (offered) => SERVER_PROTOCOLS.find((name) => offered.has(name)) ?? false,
  });
  const book = new ReportBook();
  wss.on('connection', (ws, req) => {
    const on = behave(req.url ?? '/', ws.protocol, {
      send: (data, binary) => ws.send(data, { binary }),
      ping: (payload) => ws.ping(payload),
      close: (code, reason) => ws.close(code, reason),
    }, book);
    ws.on('message', (data, binary) => on.message(data as Buffer, binary));
    ws.on('pong', (payload) => on.pong(payload));
    ws.on('error', (error) => on.error(error));
    // ws's server side does not say whether the closing handshake completed.
    ws.on('close', (code, reason) => on.close(code, reason.toString('utf8'), null));
  });
  await once(wss, 'listening');
  const address = wss.address();
  assert.ok(typeof address === 'object' && address !== null);
  const port = address.port;
  return {
    name: 'ws server',
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    report: (id, timeoutMs) => book.wait(id, timeoutMs),
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The Python `websockets` server of fixtures/python_server.py, in its own process. */
export async function startPythonServer(): Promise<ServerPeer & { version: string }> {
  const child = spawn(PYTHON_PATH, [PYTHON_FIXTURE], { stdio: ['pipe', 'pipe', 'pipe'] });
  const book = new ReportBook();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = once(child, 'exit');
  const listening = new Promise<{ port: number; version: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Python server did not start within 15 s; stderr: ${stderr}`)), 15_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the Python server exited (${code ?? signal}) before listening; stderr: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: { event?: string; port?: number; version?: string } & Partial<ServerReport>;
      try {
        event = JSON.parse(line);
      } catch {
        return; // not ours
      }
      if (event.event === 'listening') {
        clearTimeout(timer);
        resolve({ port: event.port!, version: event.version ?? '?' });
      } else if (event.event === 'report') {
        const { event: _kind, ...report } = event;
        book.add(report as ServerReport);
      }
    });
  });
  let info: { port: number; version: string };
  try {
    info = await listening;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    name: `Python websockets ${info.version}`,
    version: info.version,
    url: `ws://127.0.0.1:${info.port}`,
    report: (id, timeoutMs) => book.wait(id, timeoutMs),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end(); // the fixture stops at end of stdin
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
