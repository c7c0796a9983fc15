// The slow-consumer scenario shared by the attack test (1 000 consumers) and
// `scripts/slow-consumers.mjs` (10 000): a server broadcasts to consumers that
// never read, while a well-behaved client keeps echoing. It measures how long
// each broadcast call takes (it must never wait for a consumer), the bytes
// queued in user space (bounded by `maxBufferedAmount` per consumer) and the
// server process's memory before and after.
//
// The consumers live in a child process and talk over a Unix socket: a TCP
// consumer that does not read lets the kernel absorb ~4 MiB per connection on
// loopback (autotuned send buffer), a Unix socket about 208 KiB, so 1 000
// consumers stay affordable on a shared machine. The kernel's share is not in
// the process's RSS; it is reported separately as an estimate.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type BackpressurePolicy } from '../../src/node/server-index.js';
import { collectGarbage, echoRoundTrip, rssMiB, sleep } from './helpers.js';

export interface SlowConsumerOptions {
  consumers: number;
  /** Bytes per broadcast message. */
  messageSize: number;
  messages: number;
  maxBufferedAmount: number;
  policy: BackpressurePolicy;
}

export interface SlowConsumerResult {
  consumers: number;
  policy: BackpressurePolicy;
  messages: number;
  messageSize: number;
  maxBufferedAmount: number;
  /** Deliveries broadcast() reported, over all messages. */
  delivered: number;
  /** Longest and total time spent inside broadcast() calls (ms). */
  maxBroadcastMs: number;
  totalBroadcastMs: number;
  /**
   * Longest CPU time (`process.cpuUsage`) of one broadcast() call (ms): the work it did, which a loaded machine
   * does not stretch, unlike `maxBroadcastMs`, which also counts time the process waited for a core.
   */
  maxBroadcastCpuMs: number;
  /** Echo round trips of the well-behaved client during the broadcasts (ms). */
  echoMs: number[];
  /** Connections still open at the end (policy 'drop': all; 'close': none of the consumers). */
  openAtEnd: number;
  /** Bytes queued in user space over all connections at the end, and the most for one. */
  queuedBytes: number;
  maxQueuedBytes: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  rssGrowthMiB: number;
  /** consumers × (maxBufferedAmount + messageSize): what the cap allows at worst. */
  capBoundMiB: number;
}

const PEERS = fileURLToPath(new URL('./slow-consumer-peers.ts', import.meta.url));

export async function runSlowConsumers(options: SlowConsumerOptions): Promise<SlowConsumerResult> {
  const path = join(tmpdir(), `switchboard-slow-${process.pid}-${Date.now()}.sock`);
  const http = createServer();
  const wss = new WebSocketServer({
    server: http,
    maxBufferedAmount: options.maxBufferedAmount,
    backpressurePolicy: options.policy,
    heartbeatInterval: 0,
  });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  http.listen(path);
  await once(http, 'listening');
  const child = fork(PEERS, [path, String(options.consumers)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  try {
    const [message] = (await once(child, 'message')) as [{ ready: number }];
    if (message.ready !== options.consumers) throw new Error(`only ${message.ready} consumers connected`);
    while (wss.clients.size < options.consumers) await sleep(10);
    return await broadcastAndMeasure(wss, `ws+unix://${path}:/`, options);
  } finally {
    child.send('exit');
    await once(child, 'exit');
    await wss.close({ timeout: 500 });
    await new Promise<void>((resolve) => http.close(() => resolve()));
    rmSync(path, { force: true });
  }
}

async function broadcastAndMeasure(wss: WebSocketServer, url: string, options: SlowConsumerOptions): Promise<SlowConsumerResult> {
  collectGarbage();
  const rssBefore = rssMiB();
  const payload = Buffer.alloc(options.messageSize, 0x61);
  const echoMs: number[] = [];
  let broadcasting = true;
  const echoing = (async () => {
    while (broadcasting) echoMs.push(await echoRoundTrip(url, 10_000));
  })();
  let delivered = 0;
  let maxBroadcastMs = 0;
  let totalBroadcastMs = 0;
  let maxBroadcastCpuMs = 0;
  for (let i = 0; i < options.messages; i++) {
    const cpuStarted = process.cpuUsage();
    const started = performance.now();
    delivered += wss.broadcast(payload);
    const elapsed = performance.now() - started;
    const cpu = process.cpuUsage(cpuStarted);
    maxBroadcastCpuMs = Math.max(maxBroadcastCpuMs, (cpu.user + cpu.system) / 1000);
    maxBroadcastMs = Math.max(maxBroadcastMs, elapsed);
    totalBroadcastMs += elapsed;
    // Let the sockets write and the echo client run between broadcasts.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await sleep(200);
  broadcasting = false;
  await echoing;
  collectGarbage();
  const rssAfter = rssMiB();
  let queuedBytes = 0;
  let maxQueuedBytes = 0;
  for (const ws of wss.clients) {
    queuedBytes += ws.bufferedAmount;
    maxQueuedBytes = Math.max(maxQueuedBytes, ws.bufferedAmount);
  }
  const round = (value: number): number => Math.round(value * 10) / 10;
  return {
    consumers: options.consumers,
    policy: options.policy,
    messages: options.messages,
    messageSize: options.messageSize,
    maxBufferedAmount: options.maxBufferedAmount,
    delivered,
    maxBroadcastMs: round(maxBroadcastMs),
    totalBroadcastMs: round(totalBroadcastMs),
    maxBroadcastCpuMs: round(maxBroadcastCpuMs),
    echoMs: echoMs.map(round),
    openAtEnd: wss.clients.size,
    queuedBytes,
    maxQueuedBytes,
    rssBeforeMiB: round(rssBefore),
    rssAfterMiB: round(rssAfter),
    rssGrowthMiB: round(rssAfter - rssBefore),
    capBoundMiB: round((options.consumers * (options.maxBufferedAmount + options.messageSize)) / (1024 * 1024)),
  };
}
