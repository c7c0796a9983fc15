#!/usr/bin/env node
// WebSockets over one HTTP/2 connection (RFC 8441, h2c) against the same
// number over their own TCP connections (HTTP/1.1), Switchboard's server and
// client on both sides (dist/): server memory per open WebSocket (RSS and heap
// after GC, in the server's own process), handshakes per second (all opened at
// once), and echo throughput (1 KiB messages round-tripped over every socket).
//
//   npm run build
//   node bench/http2.mjs [--conns 1000] [--messages 20000] [--json]
//
// `npm run bench` runs it too (bench/run.mjs, with --json) and puts the table
// in its report.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const conns = Number(option('conns', '1000'));
const messages = Number(option('messages', '20000'));

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

if (process.argv[2] === 'server') {
  const { WebSocketServer } = await import('../dist/node/server-index.js');
  const http2 = process.argv[3] === 'h2';
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', http2, maxStreamsPerConnection: 100_000, heartbeatInterval: 0, maxConnectionsPerIp: 0 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await wss.ready();
  const measure = () => {
    global.gc();
    global.gc();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed, clients: wss.clients.size };
  };
  process.on('message', (message) => {
    if (message === 'measure') process.send({ measure: measure() });
    if (message === 'exit') void wss.close({ timeout: 100 }).then(() => process.exit(0));
  });
  process.send({ port: wss.port });
} else {
  const { WebSocket } = await import('../dist/node/client-index.js');
  const here = fileURLToPath(import.meta.url);

  async function run(kind) {
    const child = fork(here, ['server', kind], { execArgv: ['--expose-gc'] });
    const next = () => new Promise((resolve) => child.once('message', resolve));
    const { port } = await next();
    child.send('measure');
    const base = (await next()).measure;
    const started = performance.now();
    const sockets = Array.from({ length: conns }, () => new WebSocket(`ws://127.0.0.1:${port}/`, undefined, { http2: kind === 'h2', perMessageDeflate: false }));
    await Promise.all(sockets.map((ws) => new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('connection failed'));
    })));
    const handshakeMs = performance.now() - started;
    child.send('measure');
    const open = (await next()).measure;
    if (open.clients !== conns) throw new Error(`server holds ${open.clients} of ${conns}`);
    const payload = 'x'.repeat(1024);
    const echoStarted = performance.now();
    let received = 0;
    await new Promise((resolve) => {
      for (const ws of sockets) {
        ws.onmessage = () => {
          received++;
          if (received === messages) resolve();
        };
      }
      for (let i = 0; i < messages; i++) sockets[i % conns].send(payload);
    });
    const echoMs = performance.now() - echoStarted;
    for (const ws of sockets) ws.close();
    child.send('exit');
    await new Promise((resolve) => child.once('exit', resolve));
    return {
      kind: kind === 'h2' ? 'h2c, one connection' : 'HTTP/1.1, one TCP each',
      'handshakes/s': Math.round(conns / (handshakeMs / 1000)),
      'RSS/WebSocket (KiB)': ((open.rss - base.rss) / conns / 1024).toFixed(1),
      'heap/WebSocket (KiB)': ((open.heapUsed - base.heapUsed) / conns / 1024).toFixed(1),
      'echo msg/s': Math.round(messages / (echoMs / 1000)),
    };
  }

  const rows = [];
  for (const kind of ['h2', 'http1']) rows.push(await run(kind));
  if (process.argv.includes('--json')) console.log(JSON.stringify({ conns, messages, node: process.version, rows }));
  else {
    console.log(`${conns} WebSockets, ${messages} echoed messages of 1 KiB, node ${process.version}`);
    console.table(rows);
  }
  process.exit(0);
}
