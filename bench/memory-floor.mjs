#!/usr/bin/env node
// Idle memory per connection, and the floor Node itself sets: how much RSS and
// heap one idle WebSocket connection costs in
//   net     a bare net.Server that answers the upgrade by hand (no WebSocket code at all),
//   http    Node's http server 'upgrade' event answered by hand,
//   switchboard, ws   the real servers,
// each measured in its own process, with the load generator (bench/loadgen)
// holding the idle connections from another process.
//
//   make -C bench/loadgen && npm run build
//   node bench/memory-floor.mjs [--conns 4000] [--servers net,http,switchboard,ws] [--defaults]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const LOADGEN = join(here, 'loadgen', 'loadgen');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

function acceptLine(key) {
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

const kept = new Set();

async function startServer(kind) {
  if (kind === 'net') {
    const server = net.createServer((socket) => {
      let head = '';
      const onData = (chunk) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        socket.on('data', () => {});
        socket.write(acceptLine(/sec-websocket-key:\s*(\S+)/i.exec(head)[1]));
      };
      socket.on('data', onData);
      socket.on('error', () => {});
      kept.add(socket);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.on('listening', resolve));
    return server.address().port;
  }
  if (kind === 'http') {
    const server = http.createServer();
    server.on('upgrade', (request, socket) => {
      socket.write(acceptLine(request.headers['sec-websocket-key']));
      socket.on('data', () => {});
      socket.on('error', () => {});
      kept.add(socket);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.on('listening', resolve));
    return server.address().port;
  }
  if (kind === 'switchboard') {
    const { WebSocketServer } = await import('../dist/node/server-index.js');
    // --defaults: the server's default options (heartbeat on) instead of the heartbeat off.
    const wss = new WebSocketServer(process.argv.includes('--defaults') ? { port: 0, host: '127.0.0.1' } : { port: 0, host: '127.0.0.1', heartbeatInterval: 0 });
    await wss.ready();
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', () => {});
    });
    return wss.port;
  }
  if (kind === 'ws') {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.on('listening', resolve));
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', () => {});
    });
    return wss.address().port;
  }
  throw new Error(`unknown server ${kind}`);
}

async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Child mode: start one server, hold `conns` idle connections, print one JSON line. */
async function measure(kind, conns) {
  const port = await startServer(kind);
  await settle();
  const before = process.memoryUsage();
  const dir = mkdtempSync(join(tmpdir(), 'sb-floor-'));
  const ready = join(dir, 'ready');
  const loadgen = spawn(LOADGEN, ['--mode', 'idle', '-p', String(port), '-c', String(conns), '-H', '60', '--ready-file', ready], { stdio: 'ignore' });
  while (!existsSync(ready)) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await settle();
  const after = process.memoryUsage();
  loadgen.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  const per = (field) => (after[field] - before[field]) / conns / 1024;
  console.log(JSON.stringify({ kind, conns, rssKiB: per('rss'), heapKiB: per('heapUsed') }));
  process.exit(0);
}

const child = option('child', null);
if (child !== null) {
  await measure(child, Number(option('conns', '4000')));
} else {
  if (!existsSync(LOADGEN)) throw new Error('build the load generator first: make -C bench/loadgen');
  const conns = option('conns', '4000');
  const kinds = option('servers', 'net,http,switchboard,ws').split(',');
  const rows = [];
  for (const kind of kinds) {
    const output = await new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', kind, '--conns', conns], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      proc.stdout.on('data', (chunk) => (text += chunk));
      proc.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`${kind} exited with ${code}`))));
    });
    rows.push(JSON.parse(output.trim().split('\n').at(-1)));
  }
  console.log(`idle connections: ${conns} per server, each server in its own process (RSS and V8 heap growth per connection)\n`);
  console.log('| server | RSS KiB/conn | heap KiB/conn |\n|---|---:|---:|');
  for (const row of rows) console.log(`| ${row.kind} | ${row.rssKiB.toFixed(2)} | ${row.heapKiB.toFixed(2)} |`);
}
