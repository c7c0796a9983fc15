#!/usr/bin/env node
// The HTTP fallback transport against WebSocket, same machine, same run
// (docs/protocol.md §11.9): the real-time server runs in a child process, and
// the SDK's Node client talks to it over each transport in turn.
//
//   latency     RPC round trip (call → result) and publish → receive (one
//               client publishes, another one receives), one at a time: p50, p99
//   throughput  RPCs and publications with a window of W in flight: completed
//               calls per second, and publications delivered per second
//
// Usage: npm run build && node bench/fallback.mjs [--samples 2000] [--count 20000] [--window 64] [--json]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const WARMUP = 200;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

// ------------------------------------------------------------------ server (child)

async function serve() {
  const { createRealtimeServer } = await import('../dist/realtime/server/index.js');
  const server = createRealtimeServer({
    port: 0,
    host: '127.0.0.1',
    path: '/rt',
    namespaces: { bench: { publish: 'clients', publisherInfo: false } },
    limits: { rate: false, maxQueuedBytes: 64 * 1024 * 1024 },
  });
  server.method('echo', (params) => params);
  await server.ready();
  process.send({ port: server.port });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
}

// ------------------------------------------------------------------ measurements

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function connected(RealtimeClient, url, transport) {
  const client = new RealtimeClient(url, { transports: [transport], timeout: 30_000 });
  const ready = new Promise((resolve, reject) => {
    client.once('connected', resolve);
    client.once('disconnected', (event) => reject(new Error(`disconnected: ${event.code} ${event.reason}`)));
  });
  client.connect();
  await ready;
  if (client.transport !== transport) throw new Error(`expected ${transport}, got ${client.transport}`);
  return client;
}

/** Sequential calls: the round trip of each. */
async function rpcLatency(client, samples) {
  for (let i = 0; i < WARMUP; i++) await client.call('echo', i);
  const times = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await client.call('echo', { i });
    times.push(performance.now() - start);
  }
  return summary(times);
}

/** One publication at a time, from the publish call to its arrival at the other client. */
async function publishLatency(publisher, subscriber, channel, samples) {
  let arrived = null;
  const subscription = subscriber.subscribe(channel);
  subscription.on('publication', () => arrived?.(performance.now()));
  await subscription.ready();
  const times = [];
  for (let i = 0; i < WARMUP + samples; i++) {
    const received = new Promise((resolve) => (arrived = resolve));
    const start = performance.now();
    void publisher.publish(channel, { i });
    const end = await received;
    if (i >= WARMUP) times.push(end - start);
  }
  subscription.unsubscribe();
  return summary(times);
}

/** Runs `count` operations with at most `window` in flight; resolves the elapsed seconds once `done` resolves. */
async function windowed(count, window, operation, done) {
  const start = performance.now();
  let next = 0;
  const lanes = Array.from({ length: window }, async () => {
    while (next < count) await operation(next++);
  });
  await Promise.all(lanes);
  await done;
  return (performance.now() - start) / 1000;
}

async function rpcThroughput(client, count, window) {
  const seconds = await windowed(count, window, (i) => client.call('echo', { i }), Promise.resolve());
  return count / seconds;
}

async function publishThroughput(publisher, subscriber, channel, count, window) {
  let received = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const subscription = subscriber.subscribe(channel);
  subscription.on('publication', () => {
    if (++received === count) finish();
  });
  await subscription.ready();
  const seconds = await windowed(count, window, (i) => publisher.publish(channel, { i }), done);
  subscription.unsubscribe();
  return count / seconds;
}

async function measure(RealtimeClient, url, transport, options) {
  const [a, b] = [await connected(RealtimeClient, url, transport), await connected(RealtimeClient, url, transport)];
  try {
    const rpc = await rpcLatency(a, options.samples);
    const publish = await publishLatency(a, b, `bench:latency-${transport}`, options.samples);
    const rpcRate = await rpcThroughput(a, options.count, options.window);
    const deliveries = await publishThroughput(a, b, `bench:throughput-${transport}`, options.count, options.window);
    return { transport, rpc, publish, rpcRate, deliveries };
  } finally {
    a.close();
    b.close();
  }
}

// ------------------------------------------------------------------ main

function table(results, options) {
  const ms = (value) => value.toFixed(2);
  const rate = (value) => Math.round(value).toLocaleString('en-US');
  const lines = [
    `| transport | RPC p50 ms | RPC p99 ms | publish→receive p50 ms | publish→receive p99 ms | RPC calls/s (${options.window} in flight) | deliveries/s (${options.window} in flight) |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(`| ${r.transport} | ${ms(r.rpc.p50)} | ${ms(r.rpc.p99)} | ${ms(r.publish.p50)} | ${ms(r.publish.p99)} | ${rate(r.rpcRate)} | ${rate(r.deliveries)} |`);
  }
  return lines.join('\n');
}

async function main() {
  const options = { samples: option('samples', 2000), count: option('count', 20_000), window: option('window', 64) };
  const { RealtimeClient } = await import('../dist/realtime/sdk/node.js');
  const child = fork(SELF, ['--serve'], { stdio: 'inherit' });
  const [{ port }] = await once(child, 'message');
  const url = `ws://127.0.0.1:${port}/rt`;
  try {
    const results = [];
    for (const transport of ['websocket', 'http']) results.push(await measure(RealtimeClient, url, transport, options));
    if (process.argv.includes('--json')) console.log(JSON.stringify({ options, results }, null, 2));
    else {
      console.log(`samples ${options.samples} (after ${WARMUP} warm-up), ${options.count} operations per throughput figure; Node ${process.version}`);
      console.log(table(results, options));
    }
  } finally {
    child.disconnect();
    await once(child, 'exit');
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
