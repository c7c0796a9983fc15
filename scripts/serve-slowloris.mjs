#!/usr/bin/env node
// Slowloris against the built `switchboard serve` (run `npm run build` first):
//
//   node scripts/serve-slowloris.mjs [--sockets 1000] [--drip 1000] [-- <serve options>]
//
// Opens N sockets to a fresh `switchboard serve --port 0 --quiet` (batches of
// 100) and drips a request head into each, one byte every `--drip` ms, so
// that none ever completes; meanwhile a well-behaved client GETs /healthz
// every 500 ms. Prints how long the server held the sockets (from connect to
// close: min, median, max), how many got a 408, and the slowest healthy GET.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { sockets: { type: 'string', default: '1000' }, drip: { type: 'string', default: '1000' } },
  allowPositionals: true,
});
const count = Number(values.sockets);
const drip = Number(values.drip);

const child = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--port', '0', '--quiet', ...positionals], { stdio: ['ignore', 'pipe', 'inherit'] });
let banner = '';
const port = await new Promise((resolve, reject) => {
  child.stdout.on('data', (chunk) => {
    banner += chunk;
    const match = /listening on https?:\/\/[^\s]+:(\d+)\//.exec(banner);
    if (match) resolve(Number(match[1]));
  });
  child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${banner}`)));
});

const head = `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Padding: ${'a'.repeat(1000)}\r\n\r\n`;
const results = [];
const sockets = [];

function open() {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const entry = { connected: 0, closed: 0, response: '' };
    socket.on('error', () => {});
    socket.once('connect', () => {
      entry.connected = performance.now();
      let index = 0;
      const timer = setInterval(() => {
        if (index < head.length && !socket.destroyed) socket.write(head[index++]);
      }, drip);
      socket.on('data', (chunk) => (entry.response += chunk.toString('latin1')));
      socket.once('close', () => {
        clearInterval(timer);
        entry.closed = performance.now();
      });
      resolve();
    });
    socket.once('close', () => resolve());
    results.push(entry);
    sockets.push(socket);
  });
}

const started = performance.now();
for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: Math.min(100, count - i) }, open));
const opened = performance.now() - started;

let slowestHealth = 0;
let healthChecks = 0;
const health = setInterval(async () => {
  const before = performance.now();
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    await response.text();
    if (response.ok) healthChecks++;
    slowestHealth = Math.max(slowestHealth, performance.now() - before);
  } catch {
    slowestHealth = Infinity;
  }
}, 500);

await Promise.all(sockets.map((socket) => (socket.closed ? undefined : once(socket, 'close'))));
clearInterval(health);
const held = results.filter((entry) => entry.connected > 0).map((entry) => entry.closed - entry.connected).sort((a, b) => a - b);
const status408 = results.filter((entry) => entry.response.startsWith('HTTP/1.1 408')).length;
console.log(
  JSON.stringify(
    {
      sockets: count,
      connected: held.length,
      openedInMs: Math.round(opened),
      heldMs: { min: Math.round(held[0]), median: Math.round(held[Math.floor(held.length / 2)]), max: Math.round(held[held.length - 1]) },
      got408: status408,
      healthChecks,
      slowestHealthMs: Math.round(slowestHealth),
    },
    null,
    2,
  ),
);
child.kill('SIGTERM');
await once(child, 'exit');
