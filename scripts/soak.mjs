#!/usr/bin/env node
// Soak test (not part of CI): many connections with light traffic for a long
// time, watching the server's memory and event loop for growth.
//
//   node scripts/soak.mjs [--connections 10000] [--minutes 30] [--interval 10]
//                         [--warmup 60] [--clients 3] [--out soak-result]
//
// The server (a WebSocketServer from src/, echoing, broadcasting a small
// message every 5 s, heartbeat and every guard at its default) runs in a child
// process of its own, so its figures are not mixed with the clients'. The
// clients run in --clients child processes (Switchboard's own `WebSocket`),
// each connection sending a 64-byte message every 10 s (jittered) and timing
// its echo. Every --interval seconds the server reports RSS, heap, external
// memory and event-loop delay (perf_hooks.monitorEventLoopDelay at 10 ms
// resolution, reset each interval, the 10 ms period taken off: how late the
// loop ran); the clients report open connections, closes and echo times.
// Samples go to OUT.json and OUT.csv; the summary compares the end with the
// end of the warm-up. Children start through `sh -c 'ulimit -n <hard limit>'`
// so that each may hold its share of sockets.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    connections: { type: 'string', default: '10000' },
    minutes: { type: 'string', default: '30' },
    interval: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '60' },
    clients: { type: 'string', default: '3' },
    out: { type: 'string', default: 'soak-result' },
    port: { type: 'string', default: '0' },
    'send-every': { type: 'string', default: '10' },
    'connect-rate': { type: 'string', default: '1000' },
  },
});

const SELF = fileURLToPath(import.meta.url);
const round = (value, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const mib = (bytes) => round(bytes / 1048576);

if (values.role === 'server') await runServer();
else if (values.role === 'clients') await runClients();
else await runMain();

// ------------------------------------------------------------ server process

async function runServer() {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { WebSocketServer } = await import('../src/node/server-index.ts');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await wss.ready();
  let messagesIn = 0;
  let messagesOut = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      messagesIn++;
      if (ws.send(data, { binary: isBinary }) !== 'dropped') messagesOut++;
    });
  });
  const tick = Buffer.alloc(128, 0x62);
  // How long a broadcast holds the loop: the call, then the writes flushed right after it.
  let broadcastMaxMs = 0;
  const broadcaster = setInterval(() => {
    const started = performance.now();
    messagesOut += wss.broadcast(tick);
    setImmediate(() => (broadcastMaxMs = Math.max(broadcastMaxMs, performance.now() - started)));
  }, 5000);
  // The histogram's values include the sampling period itself: it is taken off below.
  const RESOLUTION_MS = 10;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const lateness = (nanoseconds) => round(Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS), 2);
  delay.enable();
  let lastCpu = process.cpuUsage();
  const sample = () => {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    const report = {
      connections: wss.clients.size,
      rssMiB: mib(memory.rss),
      heapUsedMiB: mib(memory.heapUsed),
      heapTotalMiB: mib(memory.heapTotal),
      externalMiB: mib(memory.external),
      arrayBuffersMiB: mib(memory.arrayBuffers),
      loopDelayP50Ms: lateness(delay.percentile(50)),
      loopDelayP99Ms: lateness(delay.percentile(99)),
      loopDelayMaxMs: lateness(delay.max),
      broadcastMaxMs: round(broadcastMaxMs, 1),
      messagesIn,
      messagesOut,
      cpuMs: round((cpu.user + cpu.system) / 1000, 0),
    };
    delay.reset();
    messagesIn = messagesOut = 0;
    broadcastMaxMs = 0;
    return report;
  };
  process.on('message', async (message) => {
    if (message === 'sample') process.send({ type: 'sample', sample: sample() });
    if (message === 'stop') {
      clearInterval(broadcaster);
      await wss.close({ timeout: 2000 });
      process.exit(0);
    }
  });
  process.send({ type: 'ready', port: wss.port });
}

// ------------------------------------------------------------ client process

async function runClients() {
  const { WebSocket } = await import('../src/node/client-index.ts');
  const count = Number(values.connections);
  const url = `ws://127.0.0.1:${values.port}/`;
  const sendEvery = Number(values['send-every']) * 1000;
  const perSecond = Number(values['connect-rate']);
  let open = 0;
  let closed = 0;
  let failed = 0;
  let rtts = [];
  const sockets = [];
  function start() {
    const socket = new WebSocket(url, [], { perMessageDeflate: false });
    socket.binaryType = 'nodebuffer';
    sockets.push(socket);
    let opened = false;
    socket.onopen = () => {
      opened = true;
      open++;
      const send = () => {
        if (socket.readyState !== 1) return;
        socket.send(`t=${performance.now().toFixed(3)};${'x'.repeat(40)}`);
        socket.timer = setTimeout(send, sendEvery * (0.5 + Math.random()));
      };
      socket.timer = setTimeout(send, Math.random() * sendEvery);
    };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string' && event.data.startsWith('t=')) rtts.push(performance.now() - Number(event.data.slice(2, event.data.indexOf(';'))));
    };
    socket.onerror = () => failed++;
    socket.onclose = () => {
      clearTimeout(socket.timer);
      if (!opened) return;
      closed++;
      open--;
    };
  }
  for (let started = 0; started < count; started++) {
    start();
    if (started % 50 === 49) await new Promise((resolve) => setTimeout(resolve, (50 / perSecond) * 1000));
  }
  process.on('message', (message) => {
    if (message === 'sample') {
      rtts.sort((a, b) => a - b);
      const at = (q) => (rtts.length === 0 ? 0 : round(rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))], 2));
      process.send({ type: 'sample', sample: { open, closed, failed, echoes: rtts.length, echoP50Ms: at(0.5), echoP99Ms: at(0.99), echoMaxMs: at(1), rssMiB: mib(process.memoryUsage().rss) } });
      rtts = [];
    }
    if (message === 'stop') {
      for (const socket of sockets) socket.close();
      setTimeout(() => process.exit(0), 500);
    }
  });
  process.send({ type: 'ready' });
}

// ------------------------------------------------------------ orchestration

/** Starts this script in another role, with the file-descriptor soft limit raised to the hard one. */
function child(args) {
  const command = `ulimit -n "$(ulimit -Hn)" && exec "${process.execPath}" --import tsx "${SELF}" ${args.map((arg) => `"${arg}"`).join(' ')}`;
  return spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function request(process, type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message.type !== type) return;
      process.off('message', listener);
      resolve(message);
    };
    process.on('message', listener);
  });
}

async function runMain() {
  const connections = Number(values.connections);
  const minutes = Number(values.minutes);
  const intervalMs = Number(values.interval) * 1000;
  const warmupMs = Number(values.warmup) * 1000;
  const clientCount = Math.max(1, Number(values.clients));
  console.log(`soak: ${connections} connections in ${clientCount} client processes for ${minutes} min, a sample every ${intervalMs / 1000} s, warm-up ${warmupMs / 1000} s`);

  const server = child(['--role', 'server']);
  const { port } = await request(server, 'ready');
  const clients = [];
  for (let i = 0; i < clientCount; i++) {
    const share = Math.floor(connections / clientCount) + (i < connections % clientCount ? 1 : 0);
    const proc = child(['--role', 'clients', '--port', String(port), '--connections', String(share), '--send-every', values['send-every'], '--connect-rate', String(Number(values['connect-rate']) / clientCount)]);
    clients.push(proc);
  }
  await Promise.all(clients.map((proc) => request(proc, 'ready')));

  const samples = [];
  const started = Date.now();
  const end = started + minutes * 60_000;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, end - Date.now())));
    const serverSample = request(server, 'sample');
    server.send('sample');
    const clientSamples = clients.map((proc) => {
      const reply = request(proc, 'sample');
      proc.send('sample');
      return reply;
    });
    const { sample } = await serverSample;
    const fromClients = (await Promise.all(clientSamples)).map((message) => message.sample);
    const row = {
      t: round((Date.now() - started) / 1000, 0),
      ...sample,
      clientsOpen: fromClients.reduce((sum, c) => sum + c.open, 0),
      clientCloses: fromClients.reduce((sum, c) => sum + c.closed, 0),
      clientErrors: fromClients.reduce((sum, c) => sum + c.failed, 0),
      echoes: fromClients.reduce((sum, c) => sum + c.echoes, 0),
      echoP50Ms: Math.max(...fromClients.map((c) => c.echoP50Ms)),
      echoP99Ms: Math.max(...fromClients.map((c) => c.echoP99Ms)),
      echoMaxMs: Math.max(...fromClients.map((c) => c.echoMaxMs)),
    };
    samples.push(row);
    console.log(`  t=${row.t}s conns=${row.connections} rss=${row.rssMiB}MiB heap=${row.heapUsedMiB}MiB ext=${row.externalMiB}MiB loop p99=${row.loopDelayP99Ms}ms max=${row.loopDelayMaxMs}ms broadcast=${row.broadcastMaxMs}ms in=${row.messagesIn} out=${row.messagesOut} echo p99=${row.echoP99Ms}ms closes=${row.clientCloses}`);
  }

  server.send('stop');
  for (const proc of clients) proc.send('stop');
  await Promise.all([once(server, 'exit'), ...clients.map((proc) => once(proc, 'exit'))]);

  const summary = summarize(samples, warmupMs / 1000, { connections, minutes, clients: clientCount, intervalSeconds: intervalMs / 1000 });
  writeFileSync(`${values.out}.json`, `${JSON.stringify({ summary, samples }, null, 2)}\n`);
  const columns = Object.keys(samples[0] ?? {});
  writeFileSync(`${values.out}.csv`, `${[columns.join(','), ...samples.map((row) => columns.map((column) => row[column]).join(','))].join('\n')}\n`);
  console.log(JSON.stringify(summary, null, 2));
  console.log(`samples: ${values.out}.json, ${values.out}.csv`);
}

/** Least-squares slope of `key` over time, per minute. */
function slopePerMinute(rows, key) {
  if (rows.length < 2) return 0;
  const xs = rows.map((row) => row.t / 60);
  const ys = rows.map((row) => row[key]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : round(num / den, 2);
}

function summarize(samples, warmupSeconds, settings) {
  const after = samples.filter((row) => row.t >= warmupSeconds);
  const first = after[0] ?? samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined) return { ...settings, samples: 0 };
  const max = (key) => Math.max(...after.map((row) => row[key]));
  return {
    ...settings,
    samples: samples.length,
    samplesAfterWarmup: after.length,
    connectionsAtEnd: last.connections,
    clientClosesTotal: last.clientCloses,
    clientErrorsTotal: last.clientErrors,
    rssMiB: { afterWarmup: first.rssMiB, end: last.rssMiB, growth: round(last.rssMiB - first.rssMiB), slopePerMinute: slopePerMinute(after, 'rssMiB'), max: max('rssMiB') },
    heapUsedMiB: { afterWarmup: first.heapUsedMiB, end: last.heapUsedMiB, growth: round(last.heapUsedMiB - first.heapUsedMiB), slopePerMinute: slopePerMinute(after, 'heapUsedMiB'), max: max('heapUsedMiB') },
    externalMiB: { afterWarmup: first.externalMiB, end: last.externalMiB, growth: round(last.externalMiB - first.externalMiB) },
    loopDelayMs: { p99Max: max('loopDelayP99Ms'), max: max('loopDelayMaxMs'), p50Median: median(after.map((row) => row.loopDelayP50Ms)) },
    broadcastToAllMs: { median: median(after.map((row) => row.broadcastMaxMs)), max: max('broadcastMaxMs') },
    echoMs: { p50Median: median(after.map((row) => row.echoP50Ms)), p99Max: max('echoP99Ms'), max: max('echoMaxMs') },
    messagesPerSecond: { in: round(median(after.map((row) => row.messagesIn)) / settings.intervalSeconds, 0), out: round(median(after.map((row) => row.messagesOut)) / settings.intervalSeconds, 0) },
    serverCpuPercent: round((median(after.map((row) => row.cpuMs)) / (settings.intervalSeconds * 1000)) * 100),
  };
}

function median(values) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
