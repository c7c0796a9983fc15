#!/usr/bin/env node
// Publish rate through the server API (docs/server-api.md): one
// `switchboard serve --api-key` process (one node, broker in memory), a
// subscriber on the channel over WebSocket, and an undici Pool of keep-alive
// connections with one request in flight each, POSTing /api/publish for a
// fixed time. Prints requests/s (answered 200) and latency percentiles.
//
//   npm run build && node bench/api-publish.mjs [--connections 16] [--seconds 10] [--warmup 2]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { RealtimeClient } from '../dist/realtime/sdk/node.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
  },
});
const connections = Number(values.connections);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const KEY = 'bench-api-key-0123456789abcdef';

const server = spawn(process.execPath, [...(process.env.BENCH_SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SERVER_PROF] : []), 'dist/cli/main.js', 'serve', '--port', '0', '--quiet', '--api-key', KEY], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).on('line', (line) => {
    const match = /listening on http:\/\/[^\s]+:(\d+)\//.exec(line);
    if (match) resolve(Number(match[1]));
  });
  server.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
});

let delivered = 0;
const subscriber = new RealtimeClient(`ws://127.0.0.1:${port}/rt`, { data: { name: 'Bench' } });
subscriber.connect();
const room = subscriber.subscribe('chat:bench');
room.on('publication', () => delivered++);
await room.ready();

const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
const body = JSON.stringify({ channel: 'chat:bench', data: { text: 'hello from the API', sent: 0 } });
const headers = { 'X-API-Key': KEY, 'Content-Type': 'application/json' };

let measuring = false;
let stopped = false;
let ok = 0;
let failed = 0;
const latencies = [];

async function worker() {
  while (!stopped) {
    const start = performance.now();
    const response = await pool.request({ path: '/api/publish', method: 'POST', headers, body });
    await response.body.text();
    if (!measuring) continue;
    if (response.statusCode === 200) ok++;
    else failed++;
    latencies.push(performance.now() - start);
  }
}

const workers = Array.from({ length: connections }, () => worker());
await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
measuring = true;
const started = performance.now();
const deliveredBefore = delivered;
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - started) / 1000;
const deliveredDuring = delivered - deliveredBefore;
stopped = true;
await Promise.all(workers);
await pool.close();
subscriber.close();
server.kill('SIGTERM');
await once(server, 'exit');

latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(2);
console.log(
  JSON.stringify({
    connections,
    seconds: Number(elapsed.toFixed(2)),
    requestsPerSecond: Math.round(ok / elapsed),
    failed,
    deliveredPerSecond: Math.round(deliveredDuring / elapsed),
    latencyMs: { p50: Number(at(0.5)), p99: Number(at(0.99)) },
  }),
);
