/**
 * Helpers for the tests of `switchboard serve`: the built command as a child
 * process (its port read from the banner), a TCP proxy that can cut the
 * network between a browser and the server, and the Node SDK pointed at it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { RealtimeClient } from '../../src/realtime/sdk/node.js';
import type { DemoApi, DemoConnectData } from '../../src/cli/apps/web/api.js';
import type { ConnectResult } from '../../src/realtime/wire/messages.js';
import { WORKER_ENV } from '../../src/cli/serve-cluster.js';
import { BIN } from './cli-helpers.js';

/** A running `switchboard serve`. */
export interface ServeProcess {
  child: ChildProcess;
  port: number;
  /** The port the banner gives for /metrics (the public port unless --metrics-port). */
  metricsPort: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once the output matches `pattern`. */
  waitFor(pattern: RegExp, timeout?: number): Promise<RegExpMatchArray>;
  /** SIGTERM (or `signal`); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `switchboard serve --quiet` (or without `--quiet` when `quiet` is false) with `args`; resolves once it prints its address. */
export async function startServe(args: string[], env: NodeJS.ProcessEnv = {}, quiet = true): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...(quiet ? ['--quiet'] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  const watchers = new Set<() => void>();
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const watcher of [...watchers]) watcher();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = once(child, 'exit');
  const waitFor = (pattern: RegExp, timeout = 20_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(output);
        if (match === null) return;
        cleanup();
        resolve(match);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${pattern} within ${timeout} ms; output:\n${output}`));
      }, timeout);
      const gone = (): void => {
        if (pattern.exec(output) !== null) return check();
        cleanup();
        reject(new Error(`serve exited before ${pattern}; output:\n${output}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
        child.off('exit', gone);
      };
      watchers.add(check);
      child.once('exit', gone);
      check();
    });
  const match = await waitFor(/listening on https?:\/\/[^\s]+:(\d+)\//);
  const metrics = /metrics https?:\/\/[^\s]+:(\d+)\/metrics/.exec(output);
  return {
    child,
    port: Number(match[1]),
    metricsPort: metrics === null ? 0 : Number(metrics[1]),
    output: () => output,
    waitFor,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** The connect data of a guest: its info and process, and its guest token (to send back as `id`). */
export type GuestData = DemoConnectData & { id: string };

/** A Node SDK client of the demo API, connected as guest `name` (presenting `id`, e.g. an earlier guest token). */
export async function guest(port: number, name: string, id = `test-${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<{ client: RealtimeClient<DemoApi>; connected: ConnectResult & { data: GuestData } }> {
  const client = new RealtimeClient<DemoApi>(`ws://127.0.0.1:${port}/rt`, { data: { name, id }, reconnect: { minDelay: 100, maxDelay: 1000 } });
  const connected = new Promise<ConnectResult>((resolve, reject) => {
    client.once('connected', resolve);
    client.once('disconnected', (event) => reject(new Error(`disconnected ${event.code} ${event.reason}`)));
  });
  client.connect();
  return { client, connected: (await connected) as ConnectResult & { data: GuestData } };
}

/**
 * A TCP proxy from a local port to the server: `cut()` drops every
 * connection and refuses new ones (the network is down), `restore()` lets
 * them through again.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  private up = true;
  port = 0;
  /** TCP connections accepted and passed on so far. */
  connections = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  cut(): void {
    this.up = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    if (this.server !== null) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    if (!this.up) {
      socket.destroy();
      return;
    }
    this.connections++;
    const upstream = connect(this.target, '127.0.0.1');
    for (const end of [socket, upstream]) {
      this.sockets.add(end);
      end.on('error', () => {});
      end.on('close', () => {
        this.sockets.delete(end);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream);
    upstream.pipe(socket);
  }
}

/** Polls `check` until it returns a value other than undefined (or throws after `timeout`). */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeout = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What a test reads of the Redis behind `serve --redis` (ioredis's `hget`). */
export interface RedisReader {
  hget(key: string, field: string): Promise<string | null>;
}

/** A channel's offset as the Redis broker keeps it (0 before its first publication). */
export async function channelOffset(redis: RedisReader, channel: string): Promise<number> {
  return Number(await redis.hget(`sb:{${channel}}:m`, 'offset'));
}

/** Resolves the channel's offset once it stood still for a second (nothing more published); rejects after `timeout` ms. */
export async function offsetStandingStill(redis: RedisReader, channel: string, timeout = 30_000): Promise<number> {
  let last = await channelOffset(redis, channel);
  return eventually(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = await channelOffset(redis, channel);
      const still = now === last;
      last = now;
      return still ? now : undefined;
    },
    timeout,
    `the offset of ${channel} to stand still`,
  );
}

/** The answer of a server API method (docs/server-api.md): the HTTP status and the body. */
export interface ApiAnswer {
  status: number;
  body: { result?: Record<string, unknown>; error?: { code: string; message?: string } };
}

/** Calls `method` of the server API of the serve on `port` with `key`. */
export async function serveApi(port: number, key: string, method: string, params: unknown = {}): Promise<ApiAnswer> {
  // A new connection each time, so that node:cluster hands requests to either worker.
  const response = await fetch(`http://127.0.0.1:${port}/api/${method}`, {
    method: 'POST',
    headers: { 'X-API-Key': key, 'Content-Type': 'application/json', Connection: 'close' },
    body: JSON.stringify(params),
  });
  return { status: response.status, body: (await response.json()) as ApiAnswer['body'] };
}

/**
 * The workers (1 … N of `--workers N`) that hold the connections of `user`,
 * as the server API's `connections` reports them: each node is named
 * "<host> worker N" (serve-server.ts).
 */
export async function workersOf(port: number, key: string, user: string): Promise<number[]> {
  const answer = await serveApi(port, key, 'connections', { user });
  if (answer.status !== 200) throw new Error(`connections: ${answer.status} ${JSON.stringify(answer.body)}`);
  const connections = Object.values(answer.body.result!['connections'] as Record<string, { node_name: string }>);
  return connections.map(({ node_name }) => {
    const worker = /worker (\d+)$/.exec(node_name);
    if (worker === null) throw new Error(`a node named ${node_name}, not after a worker`);
    return Number(worker[1]);
  });
}

/**
 * The pid of worker `index` of a `serve --workers N` (Linux: the child of
 * the primary whose environment names that worker), or undefined while it
 * is not running.
 */
export function workerPid(serve: ServeProcess, index: number): number | undefined {
  const primary = serve.child.pid;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== primary) continue;
      const environment = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (environment.includes(`${WORKER_ENV}=${index}`)) return Number(entry);
    } catch {
      // The process ended while it was read.
    }
  }
  return undefined;
}

/** The ticker's quotes a second on the feed's own clock (`time` is when the feed made the quote, so delivery bunching does not count). */
export function feedRate(quotes: ReadonlyArray<{ time: number }>): number {
  const times = quotes.map((quote) => quote.time);
  return quotes.length / ((Math.max(...times) - Math.min(...times)) / 1000);
}
