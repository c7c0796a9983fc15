#!/usr/bin/env node
// What hostile HTTP fallback sessions cost the server, next to WebSockets
// (docs/security.md, "HTTP fallback memory"):
//
//   node scripts/fallback-memory.mjs upload            one session uploads 27 × 1 MiB batches out of order
//   node scripts/fallback-memory.mjs never-ack  [--sessions 300] [--raw]  sessions that read the stream (with fetch,
//                                                    or --raw on a bare socket), never acknowledge
//   node scripts/fallback-memory.mjs never-read [--sessions 200]   sessions that never read their stream
//   node scripts/fallback-memory.mjs ws-reading [--sessions 300]   WebSockets that read (the comparison for never-ack)
//   node scripts/fallback-memory.mjs ws-never-read [--sessions 200] WebSockets that never read
//   node scripts/fallback-memory.mjs pong-flood [--pongs 4000]  one WebSocket sends 4 000 pongs of 60 KB
//
// --server-flags=--max-semi-space-size=1 passes V8 flags to the server process;
// --allocations prints what the server allocated during the publications (the
// objects already collected included), in all and by function, and skews the
// memory figures of that run (the profiler keeps its samples);
// --settle ms: how long to wait after the publications before measuring;
// --snapshot FILE writes a heap snapshot of the server after measuring (count
// its objects by constructor with scripts/heap-objects.mjs).
// The server runs in a child process with the default options (maxMessageSize
// 64 KiB, limits.maxQueuedBytes 1 MiB, ...), on 127.0.0.1; this process is the
// clients. Subscribed clients get --publications publications of --size bytes
// (default 400 × 4 KiB: more than the outbound buffer holds). Prints the
// server's RSS before the clients came, its peak, and after everything settled
// (a GC first), in MiB, and the difference per session. The pong flood prints
// the server's CPU time instead.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const MiB = 1024 * 1024;
const CHANNEL = 'chat:memory';

// ------------------------------------------------------------ the server (child process)

async function runServer() {
  register();
  const { createRealtimeServer } = await import('../src/realtime/server/index.ts');
  const server = createRealtimeServer({ port: 0, host: '127.0.0.1', path: '/rt', namespaces: { chat: { publish: 'clients' } } });
  await server.ready();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const memory = () => {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    return { rss: usage.rss, peak: Math.max(peak, usage.rss), heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external };
  };
  process.on('message', async (command) => {
    if (command.cmd === 'memory') process.send({ memory: memory() });
    else if (command.cmd === 'snapshot') {
      const { writeHeapSnapshot } = await import('node:v8');
      process.send({ snapshot: writeHeapSnapshot(command.file) });
    } else if (command.cmd === 'resetPeak') {
      peak = process.memoryUsage.rss();
      process.send({ ok: true });
    } else if (command.cmd === 'stats') process.send({ stats: { ...server.stats(), channels: undefined, subscribers: server.stats().channels.get(CHANNEL) ?? 0 } });
    else if (command.cmd === 'cpu') process.send({ cpu: process.cpuUsage() });
    else if (command.cmd === 'publish') {
      const profiler = command.allocations ? await startAllocationProfile() : null;
      const sentBefore = server.stats().messagesOut;
      const pad = 'x'.repeat(command.size);
      for (let n = 0; n < command.count; n++) {
        await server.publish(CHANNEL, { n, pad });
        if (n % 20 === 19) await sleep(1);
      }
      if (profiler !== null) {
        await sleep(2000);
        await reportAllocations(profiler, server.stats().messagesOut - sentBefore);
      }
      process.send({ published: command.count });
    } else if (command.cmd === 'close') {
      clearInterval(sampler);
      await server.close();
      process.exit(0);
    }
  });
  process.send({ port: server.port });
}

/** Samples every allocation from now on, the objects already collected included (V8's sampling heap profiler). */
async function startAllocationProfile() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return session;
}

/** Prints the bytes allocated since `startAllocationProfile`, in all, per message delivered, and by function (the top 15). */
async function reportAllocations(session, deliveries) {
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  const totals = new Map();
  const walk = (node) => {
    const frame = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/.*\//, '')}`;
    if (node.selfSize > 0) totals.set(frame, (totals.get(frame) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  const all = [...totals.values()].reduce((sum, size) => sum + size, 0);
  const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([frame, size]) => `${mib(size)} MiB ${frame}`);
  console.log(JSON.stringify({ allocatedDuringPublicationsMiB: mib(all), deliveries, bytesPerDelivery: Math.round(all / deliveries), top }));
}

// ------------------------------------------------------------ the clients (this process)

class ServerProcess {
  static async start(flags = []) {
    const child = fork(fileURLToPath(import.meta.url), ['server'], { execArgv: ['--expose-gc', ...flags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [message] = await once(child, 'message');
    return new ServerProcess(child, message.port);
  }

  constructor(child, port) {
    this.child = child;
    this.port = port;
  }

  async ask(command, key) {
    const answer = new Promise((resolve) => {
      const onMessage = (message) => {
        if (key in message) {
          this.child.off('message', onMessage);
          resolve(message[key]);
        }
      };
      this.child.on('message', onMessage);
    });
    this.child.send(command);
    return answer;
  }

  memory() {
    return this.ask({ cmd: 'memory' }, 'memory');
  }

  async waitSubscribers(count, timeout = 60_000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const stats = await this.ask({ cmd: 'stats' }, 'stats');
      if (stats.subscribers >= count) return stats;
      if (Date.now() > deadline) throw new Error(`only ${stats.subscribers} of ${count} subscribed`);
      await sleep(100);
    }
  }

  async close() {
    this.child.send({ cmd: 'close' });
    await once(this.child, 'exit');
  }
}

const connectAndSubscribe = JSON.stringify([
  { type: 'connect', id: 1 },
  { type: 'subscribe', id: 2, channel: CHANNEL },
]);

/** A fallback session whose event stream is read (and discarded), never acknowledged. */
async function readingSession(port) {
  const response = await fetch(`http://127.0.0.1:${port}/rt/http`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-switchboard-fallback': '2' }, body: connectAndSubscribe });
  if (response.status !== 200) throw new Error(`open: ${response.status}`);
  const reader = response.body.getReader();
  void (async () => {
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch {
      // closed
    }
  })();
  return { id: response.headers.get('x-switchboard-session'), reader };
}

/** A raw TCP socket that sends `head` and never reads what comes back. */
async function deafSocket(port, head) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => {});
  socket.write(head);
  return socket;
}

function fallbackOpenRequest(port) {
  return `POST /rt/http HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nX-Switchboard-Fallback: 2\r\nContent-Length: ${Buffer.byteLength(connectAndSubscribe)}\r\n\r\n${connectAndSubscribe}`;
}

/** A masked client text frame. */
function clientFrame(text, opcode = 1) {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : length < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]) : null;
  let head = header;
  if (head === null) {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  for (let i = 0; i < length; i++) payload[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, payload]);
}

function webSocketUpgrade(port) {
  const key = randomBytes(16).toString('base64');
  const request = `GET /rt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: switchboard.v1.json\r\n\r\n`;
  return request;
}

/** A WebSocket on a raw socket: upgrade, connect, subscribe; reads (and discards) unless `deaf`. */
async function rawWebSocket(port, deaf) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => {});
  socket.write(webSocketUpgrade(port));
  await once(socket, 'data'); // the 101 (a subscriber that has not read it yet still gets its publications)
  socket.write(Buffer.concat([clientFrame(JSON.stringify({ type: 'connect', id: 1 })), clientFrame(JSON.stringify({ type: 'subscribe', id: 2, channel: CHANNEL }))]));
  if (deaf) socket.pause();
  else socket.on('data', () => {});
  return socket;
}

const mib = (bytes) => Math.round((bytes / MiB) * 10) / 10;

async function report(server, name, sessions, before, settleMs) {
  await sleep(settleMs);
  const after = await server.memory();
  const result = {
    scenario: name,
    sessions,
    rssBeforeMiB: mib(before.rss),
    rssPeakMiB: mib(after.peak),
    rssAfterMiB: mib(after.rss),
    heapAfterMiB: mib(after.heapUsed),
    heapTotalBeforeMiB: mib(before.heapTotal),
    heapTotalAfterMiB: mib(after.heapTotal),
    externalAfterMiB: mib(after.external),
    peakPerSessionKiB: Math.round((after.peak - before.rss) / sessions / 1024),
    afterPerSessionKiB: Math.round((after.rss - before.rss) / sessions / 1024),
    heapAndExternalPerSessionKiB: Math.round((after.heapUsed + after.external - before.heapUsed - before.external) / sessions / 1024),
  };
  console.log(JSON.stringify(result));
  if (snapshotFile !== undefined) console.log(JSON.stringify({ snapshot: await server.ask({ cmd: 'snapshot', file: snapshotFile }, 'snapshot') }));
  return result;
}

/** Where `report` writes a heap snapshot of the server (`--snapshot FILE`), if anywhere. */
let snapshotFile;

async function upload(server, values) {
  const { id } = await readingSession(server.port);
  const before = await server.memory();
  // 27 batches of ~1 MiB (the body limit: 16 × maxMessageSize), numbered 2 … 28: batch 1 never comes.
  // Each holds 16 messages just under 64 KiB of empty objects: 3 bytes of JSON, tens of bytes parsed.
  const message = { type: 'send', data: Array.from({ length: 21_800 }, () => ({})) };
  const messages = Array.from({ length: 16 }, () => message);
  const body = JSON.stringify(messages);
  const statuses = [];
  for (let seq = 2; seq <= 28; seq++) {
    const response = await fetch(`http://127.0.0.1:${server.port}/rt/http/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchboard-session': id, 'x-switchboard-seq': String(seq) },
      body,
    });
    statuses.push(response.status);
    await response.arrayBuffer();
  }
  console.log(JSON.stringify({ batchBytes: Buffer.byteLength(body), messagesPerBatch: messages.length, statuses: statuses.join(' ') }));
  return report(server, 'upload 27 × 1 MiB out of order', 1, before, Number(values.settle ?? 6_000));
}

async function publishTo(server, count, values) {
  await server.waitSubscribers(count);
  await server.ask({ cmd: 'publish', count: Number(values.publications), size: Number(values.size), allocations: values.allocations }, 'published');
}

/** The same on a raw socket, read as fast as it comes (no fetch in between). */
async function rawReadingSession(port) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.write(fallbackOpenRequest(port));
  return socket;
}

async function neverAck(server, count, values) {
  const before = await server.memory();
  const sessions = [];
  for (let i = 0; i < count; i++) sessions.push(await (values.raw ? rawReadingSession(server.port) : readingSession(server.port)));
  await publishTo(server, count, values);
  return report(server, 'fallback sessions that read, never ack', count, before, Number(values.settle ?? 3_000));
}

async function sockets(server, count, values, name, open) {
  const before = await server.memory();
  const opened = [];
  for (let i = 0; i < count; i++) opened.push(await open());
  await publishTo(server, count, values);
  const result = await report(server, name, count, before, Number(values.settle ?? 8_000));
  for (const socket of opened) socket.destroy?.();
  return result;
}

async function pongFlood(server, total) {
  // Half-open: a hostile client keeps writing after the server's FIN.
  const socket = net.connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.on('error', () => {});
  socket.write(webSocketUpgrade(server.port));
  await once(socket, 'data');
  socket.write(clientFrame(JSON.stringify({ type: 'connect', id: 1 })));
  let closed = false;
  let disconnect = null;
  socket.on('data', (chunk) => {
    const match = /"type":"disconnect","code":(\d+)/.exec(chunk.toString('latin1'));
    if (match !== null) disconnect = Number(match[1]);
  });
  socket.on('close', () => (closed = true));
  const pong = clientFrame(JSON.stringify({ type: 'pong', pad: 'p'.repeat(60_000) }));
  const closing = new Promise((resolve) => socket.once('close', resolve));
  const cpuBefore = await server.ask({ cmd: 'cpu' }, 'cpu');
  const started = Date.now();
  let sent = 0;
  for (; sent < total && !closed; sent++) {
    if (!socket.write(pong)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closing]);
  }
  // Until the server took in everything it will (its byte counter stands still for a second).
  let last = -1;
  for (;;) {
    const { messagesIn } = await server.ask({ cmd: 'stats' }, 'stats');
    if (messagesIn === last) break;
    last = messagesIn;
    await sleep(1000);
  }
  const cpu = await server.ask({ cmd: 'cpu' }, 'cpu');
  const result = {
    scenario: `pong flood: ${total} × 60 KB pongs on one WebSocket`,
    pongsWritten: sent,
    messagesTakenIn: last,
    disconnectCode: disconnect,
    socketClosed: closed,
    wallMs: Date.now() - started - 1000,
    serverCpuMs: Math.round((cpu.user + cpu.system - cpuBefore.user - cpuBefore.system) / 1000),
  };
  console.log(JSON.stringify(result));
  socket.destroy();
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { pongs: { type: 'string', default: '4000' }, settle: { type: 'string' }, 'server-flags': { type: 'string' }, raw: { type: 'boolean', default: false }, allocations: { type: 'boolean', default: false }, snapshot: { type: 'string' }, sessions: { type: 'string' }, publications: { type: 'string', default: '400' }, size: { type: 'string', default: '4096' } },
  });
  const scenario = positionals[0];
  if (scenario === 'server') return runServer();
  snapshotFile = values.snapshot;
  const server = await ServerProcess.start(values['server-flags'] ? values['server-flags'].split(' ') : []);
  try {
    const sessions = (fallback) => Number(values.sessions ?? fallback);
    if (scenario === 'upload') await upload(server, values);
    else if (scenario === 'never-ack') await neverAck(server, sessions(300), values);
    else if (scenario === 'ws-reading') await sockets(server, sessions(300), values, 'WebSockets that read', () => rawWebSocket(server.port, false));
    else if (scenario === 'never-read') await sockets(server, sessions(200), values, 'fallback sessions that never read', () => deafSocket(server.port, fallbackOpenRequest(server.port)));
    else if (scenario === 'ws-never-read') await sockets(server, sessions(200), values, 'WebSockets that never read', () => rawWebSocket(server.port, true));
    else if (scenario === 'pong-flood') await pongFlood(server, Number(values.pongs));
    else throw new Error(`unknown scenario ${scenario}`);
  } finally {
    await server.close();
  }
  process.exit(0);
}

await main();
