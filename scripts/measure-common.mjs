// Shared parts of the scripts/measure-*.mjs measurements: a server of a given
// tree in a child process of its own (scripts/measure-server-child.mjs), a
// private redis-server on a free port (never 6379), and SDK clients of the
// same tree.
import { fork, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(ROOT, 'scripts', 'measure-server-child.mjs');
export const REDIS_BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `--trees a,b` style option: each tree must have a built dist/. */
export function checkTree(tree) {
  const dir = path.resolve(tree);
  if (!fs.existsSync(path.join(dir, 'dist/realtime/server/index.js'))) {
    throw new Error(`${dir}: no dist/realtime/server/index.js (build it: npx tsc -p tsconfig.build.json)`);
  }
  return dir;
}

/** The short commit of a tree, when it is a git work tree, else its path. */
export function treeLabel(tree) {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: tree, encoding: 'utf8' });
  return r.status === 0 && path.resolve(tree) === path.resolve(spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: tree, encoding: 'utf8' }).stdout.trim())
    ? `${path.basename(tree)}@${r.stdout.trim()}`
    : tree;
}

/**
 * Starts the server of `config.tree` in a fresh child process (with
 * --expose-gc); resolves once it listens. `request(op)` talks to it over IPC.
 */
export async function startServer(config, { execArgv = [], nice } = {}) {
  const child = fork(CHILD, [], {
    execArgv: ['--expose-gc', ...execArgv],
    env: { ...process.env, MEASURE_SERVER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (nice !== undefined) spawnSync('renice', ['-n', String(nice), '-p', String(child.pid)]);
  const pending = new Map();
  let nextId = 1;
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`server child exited (${code ?? signal}) before it was ready`)));
    child.on('message', (message) => {
      if (message.type === 'ready') resolve(message);
      else if (pending.has(message.id)) {
        const { resolve: ok, reject: ko } = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) ko(new Error(message.error));
        else ok(message.result);
      }
    });
  });
  const { port, pid } = await ready;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    port,
    pid,
    child,
    url: `ws://127.0.0.1:${port}/`,
    request(op) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, op });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.send({ id: nextId++, op: 'stop' });
      await exited;
      clearTimeout(t);
    },
  };
}

/** A port nobody listens on right now. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** A private redis-server on a free port, nothing kept on disk. */
export async function startRedis() {
  let port = await freePort();
  while (port === 6379) port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-measure-redis-'));
  const child = spawn(REDIS_BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  child.stdout.on('data', (d) => (tail = (tail + d).slice(-2000)));
  child.stderr.on('data', (d) => (tail = (tail + d).slice(-2000)));
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${tail}`);
    if ((await redisCommand(port, 'PING').catch(() => null)) === 'PONG') break;
    if (Date.now() - t0 > 10000) throw new Error(`redis-server did not answer: ${tail}`);
    await sleep(50);
  }
  return {
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    command: (...args) => redisCommand(port, ...args),
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One Redis command over RESP; resolves with the reply (simple, integer, bulk or an array of bulk strings). */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    socket.setTimeout(30000, () => {
      socket.destroy();
      reject(new Error(`redis ${args[0]}: time-out`));
    });
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseResp(buffer, 0);
      if (parsed === null) return;
      socket.destroy();
      if (parsed.value instanceof Error) reject(parsed.value);
      else resolve(parsed.value);
    });
    socket.once('error', reject);
  });
}

function parseResp(buf, at) {
  const end = buf.indexOf('\r\n', at);
  if (end < 0) return null;
  const kind = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, end);
  if (kind === '+') return { value: line, next: end + 2 };
  if (kind === '-') return { value: new Error(line), next: end + 2 };
  if (kind === ':') return { value: Number(line), next: end + 2 };
  if (kind === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, next: end + 2 };
    if (buf.length < end + 2 + n + 2) return null;
    return { value: buf.toString('utf8', end + 2, end + 2 + n), next: end + 2 + n + 2 };
  }
  if (kind === '*') {
    const n = Number(line);
    const out = [];
    let next = end + 2;
    for (let i = 0; i < n; i++) {
      const item = parseResp(buf, next);
      if (item === null) return null;
      out.push(item.value);
      next = item.next;
    }
    return { value: out, next };
  }
  return { value: new Error(`unknown RESP ${kind}`), next: end + 2 };
}

/** The Node SDK of `tree`. */
export async function sdkOf(tree) {
  return import(pathToFileURL(path.join(tree, 'dist/realtime/sdk/node.js')).href);
}

/** A connected SDK client of `tree` speaking `protocol` ('json' | 'msgpack'), accepting large messages. */
export async function connectClient(tree, url, protocol, extra = {}) {
  const { RealtimeClient } = await sdkOf(tree);
  const client = new RealtimeClient(url, {
    protocol,
    transports: ['websocket'],
    reconnect: false,
    timeout: 600_000,
    webSocketOptions: { maxMessageSize: 256 * 1024 * 1024, perMessageDeflate: false },
    ...extra,
  });
  const connected = new Promise((resolve, reject) => {
    client.on('connected', resolve);
    client.on('disconnected', (event) => reject(new Error(`disconnected ${event.code} ${event.reason}`)));
  });
  client.connect();
  await connected;
  return client;
}

/** Nearest-rank percentile of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The machine's state, for the report. */
export function machine() {
  return { date: new Date().toISOString(), loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), nproc: os.cpus().length, node: process.version };
}
